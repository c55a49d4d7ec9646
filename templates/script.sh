#!/bin/bash
{%- for line in sbatch %}
#SBATCH {{ line|safe }}
{%- endfor %}
#
{%- for line in header %}
# {{ line|safe }}
{%- endfor %}

set -uo pipefail

{{ runtime|safe }}
# ───────────────────────────── workflow ─────────────────────────────
SFLOW_WORKFLOW_NAME={{ workflow }}
SFLOW_BACKEND_KIND={{ kind|safe }}
SFLOW_NODE_COUNT={{ node_count|safe }}
SFLOW_WORKFLOW_TIMEOUT={{ workflow_timeout|safe }}
SFLOW_STOP_GRACE=${SFLOW_STOP_GRACE:-{{ stop_grace|safe }}}
SFLOW_DEFAULT_WORKSPACE={{ workspace }}
SFLOW_DEFAULT_OUTPUT={{ output_dir }}
SFLOW_SLURM_OUTPUT={{ slurm_output }}
{%- if !env.is_empty() %}

# Exported inside every task's step (variables, then artifacts).
{%- for line in env %}
sflow_env {{ line|safe }}
{%- endfor %}
{%- endif %}
{%- for file in files %}

# Artifact {{ file.name|safe }}: written when the job starts, exactly as below.
sflow_file {{ file.path|safe }} {{ file.final_newline|safe }} <<'{{ file.delimiter|safe }}'
{{ file.content|safe }}
{{ file.delimiter|safe }}
{%- endfor %}
{%- for group in groups %}

# ── {{ group.title|safe }} ──
{%- for note in group.notes %}
# {{ note|safe }}
{%- endfor %}
{%- if !group.notes.is_empty() %}
SFLOW_ARITY[{{ group.ident|safe }}]={{ group.notes.len() }}
{%- endif %}
sflow_group_{{ group.ident|safe }}() {
{%- for line in group.lines %}
  {{ line|safe }}
{%- endfor %}
  sflow_script "$@" <<'{{ group.delimiter|safe }}'
{{ group.script|safe }}
{{ group.delimiter|safe }}
}
{%- endfor %}

# ───────────────────────────── tasks ─────────────────────────────
# In planned order. after: the tasks it waits for (done, or ready for services);
# nodes: allocation indices; gpus: its CUDA_VISIBLE_DEVICES on each of those nodes;
# then the values of its group's $1, $2, …{% if !table.values.is_empty() %} (@K: SFLOW_VALUE[K]){% endif %}.
{%- for value in table.values %}
{{ value|safe }}
{%- endfor %}
{{ table.header|safe }}
sflow_tasks '
{{ table.rows|safe }}
'
sflow_main "$@"
