//! `sflow plan`: the plan for people and for programs. Input: a `plan::Plan`. Output: a
//! table (tasks, dependencies, nodes, GPUs) and the GPU map of `gpumap`, or the JSON of
//! SPEC section 7 (one object per concrete task in planned order, with its environment;
//! values known only in the job as `<runtime:…>` placeholders). Guarantee: deterministic output; JSON keys in fixed order.

use crate::plan::{self, Plan, Task, Word, placeholder_text};
use serde_json::{Map, Value as Json, json};
use std::fmt::Write;

/// The task's environment as the step will see it (slots filled, runtime placeholders).
pub fn task_env(plan: &Plan, task: &Task) -> Vec<(String, String)> {
    let group = &plan.groups[task.group];
    let mut env: Vec<(String, String)> = plan
        .env
        .iter()
        .map(|(k, v)| (k.clone(), placeholder_text(v)))
        .collect();
    let mut set = |k: &str, v: String| match env.iter_mut().find(|(name, _)| name == k) {
        Some(entry) => entry.1 = v,
        None => env.push((k.to_string(), v)),
    };
    for (name, word) in &group.exports {
        let value = match word {
            Word::Text(t) => placeholder_text(t),
            Word::Slot(k) => task
                .slots
                .get(k - 1)
                .map(placeholder_text)
                .unwrap_or_default(),
        };
        set(name, value);
    }
    set("SFLOW_REPLICA_INDEX", task.replica.to_string());
    let local = group.local || plan.kind == plan::Kind::Local;
    let names: Vec<String> = task
        .nodes
        .iter()
        .map(|&k| {
            if local {
                if k == 0 {
                    "localhost".into()
                } else {
                    format!("localhost-{k}")
                }
            } else {
                format!("<runtime:backend.node[{k}].name>")
            }
        })
        .collect();
    let ips: Vec<String> = task
        .nodes
        .iter()
        .map(|&k| {
            if local {
                "127.0.0.1".into()
            } else {
                format!("<runtime:backend.node[{k}].ip_address>")
            }
        })
        .collect();
    set("SFLOW_TASK_ASSIGNED_NODE_NAMES", names.join(","));
    set("SFLOW_TASK_ASSIGNED_NODE_IPS", ips.join(","));
    if let Some(g) = &task.gpus {
        set("CUDA_VISIBLE_DEVICES", join(g, ","));
    }
    set("SFLOW_WORKSPACE_DIR", "<runtime:workspace_dir>".into());
    set("SFLOW_OUTPUT_DIR", "<runtime:output_dir>".into());
    set(
        "SFLOW_WORKFLOW_OUTPUT_DIR",
        "<runtime:workflow_output_dir>".into(),
    );
    set(
        "SFLOW_TASK_OUTPUT_DIR",
        format!("<runtime:workflow_output_dir>/{}", task.name),
    );
    set(
        "SFLOW_TASK_RESULT_FILE",
        format!("<runtime:workflow_output_dir>/{}/result.json", task.name),
    );
    set(
        "SFLOW_WORKFLOW_RESULT_FILE",
        "<runtime:workflow_output_dir>/results.json".into(),
    );
    env
}

fn join(items: &[u32], sep: &str) -> String {
    items
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// `sflow plan --json`.
pub fn json(plan: &Plan) -> String {
    let tasks: Vec<Json> = plan
        .tasks
        .iter()
        .map(|t| {
            let mut sweep = Map::new();
            for (k, v) in plan.sweep(t) {
                sweep.insert(k.to_string(), Json::String(v.to_string()));
            }
            let mut env = Map::new();
            for (k, v) in task_env(plan, t) {
                env.insert(k, Json::String(v));
            }
            json!({
                "name": t.name,
                "base_name": plan.base(t),
                "replica_index": t.replica,
                "backend": plan.backends[t.backend].name,
                "depends_on": t.deps.iter().map(|&d| plan.tasks[d].name.clone()).collect::<Vec<_>>(),
                "node_indices": t.nodes,
                "cuda_visible_devices": t.gpus.as_ref().map(|g| join(g, ",")),
                "gpu_release_after": t.gpu_release.map(|r| r.name()),
                "service": t.service,
                "sweep": sweep,
                "env": env,
            })
        })
        .collect();
    let doc = json!({ "workflow": plan.workflow, "tasks": tasks });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// `sflow plan`: one line per task.
pub fn table(plan: &Plan) -> String {
    let mut out = String::new();
    let backends: Vec<String> = plan
        .backends
        .iter()
        .map(|b| {
            let gpus = b
                .gpus_per_node
                .map_or("GPUs unknown".to_string(), |g| format!("{g} GPUs"));
            format!(
                "{} ({}, {} node{} × {gpus})",
                b.name,
                match b.kind {
                    plan::Kind::Slurm => "slurm",
                    plan::Kind::Local => "local",
                },
                b.nodes,
                if b.nodes == 1 { "" } else { "s" }
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "workflow {}: {} task{} on {}",
        plan.workflow,
        plan.tasks.len(),
        if plan.tasks.len() == 1 { "" } else { "s" },
        backends.join(", ")
    );
    let rows: Vec<[String; 6]> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let after = if t.deps.is_empty() {
                "-".to_string()
            } else {
                t.deps
                    .iter()
                    .map(|&d| plan.tasks[d].name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut notes = Vec::new();
            if t.service {
                notes.push("service".to_string());
            }
            for (k, v) in plan.sweep(t) {
                notes.push(format!("{k}={v}"));
            }
            [
                (i + 1).to_string(),
                t.name.clone(),
                after,
                join(&t.nodes, ","),
                t.gpus.as_ref().map_or("-".into(), |g| join(g, ",")),
                notes.join(" "),
            ]
        })
        .collect();
    let header = ["#", "TASK", "AFTER", "NODES", "GPUS", "NOTES"].map(String::from);
    let mut widths = [0usize; 6];
    for row in rows.iter().chain([&header]) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count().min(40));
        }
    }
    out.push('\n');
    for row in [&header].into_iter().chain(rows.iter()) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&crate::gpumap::render(plan));
    out
}
