# ───────────────────────────── sflow runtime ─────────────────────────────
# The same block in every script sflow writes (templates/runtime.sh in the sflow
# sources). Needs bash >= 4.4 and coreutils; srun and scontrol for Slurm tasks;
# curl only for HTTP probes. The workflow section at the end of this file
# declares the tasks; `sflow_main` runs them.
#
# How it runs: the main shell is the parent of every task. Each attempt of a
# task runs in a background "runner" with its own process group; runners and
# probe loops report events ("exit", "probe-ok", ...) as single lines into a
# FIFO that main holds open. Main blocks on that FIFO (`read -t` only for the
# next timer: a timeout or a retry), so a finished dependency starts its
# dependents at once. Stopping a task: SIGTERM (to an srun step through scancel,
# to a local task's process group), a grace period, then SIGKILL.

shopt -u patsub_replacement 2>/dev/null || true

# ── clock ────────────────────────────────────────────────────────────────────
# Milliseconds since the epoch in SFLOW_NOW. bash < 5 has no EPOCHREALTIME, so
# its clock is whole seconds and timers add one second of slack to stay safe.
if [[ -n ${EPOCHREALTIME:-} ]]; then
  SFLOW_SLACK=0
  sflow_clock() { local t=${EPOCHREALTIME/[.,]/}; SFLOW_NOW=$((10#$t / 1000)); }
else
  SFLOW_SLACK=1000
  sflow_clock() { printf -v SFLOW_NOW '%(%s)T' -1; SFLOW_NOW=$((SFLOW_NOW * 1000)); }
fi

# ── declarations used by the workflow section ────────────────────────────────
SFLOW_ENV_TEXT=''
declare -a SFLOW_ENV_NAMES=() SFLOW_ENV_VALUES=()
declare -a SFLOW_TABLE=() SFLOW_VALUE=() SFLOW_T_AT=() SFLOW_T_WAIT=()
declare -a SFLOW_T_NEXT=() SFLOW_ROOTS=()
declare -A SFLOW_ID=() SFLOW_ARITY=()

# sflow_env NAME VALUE: exported inside every task's step.
sflow_env() {
  SFLOW_ENV_NAMES+=("$1")
  SFLOW_ENV_VALUES+=("$2")
}

# sflow_file PATH FINAL_NEWLINE <<'EOF' … EOF: an artifact's inline content, written
# at job start exactly as given (FINAL_NEWLINE 0: without the heredoc's last newline).
declare -a SFLOW_FILE_PATHS=() SFLOW_FILE_TEXTS=()
sflow_file() {
  local text
  IFS= read -r -d '' text || true
  (($2)) || text=${text%$'\n'}
  SFLOW_FILE_PATHS+=("$1")
  SFLOW_FILE_TEXTS+=("$text")
}

# sflow_tasks ' ROWS ': the task table, one row per task in
# planned order: NAME GROUP REPLICA AFTER NODES GPUS, then the SFLOW_ARITY[GROUP]
# values the group function gets as $1, $2, …. AFTER: comma-separated tasks it
# waits for (done, or ready for services), or "-". NODES: allocation indices.
# GPUS: planned CUDA_VISIBLE_DEVICES or "-". A value written @K is SFLOW_VALUE[K]
# (one that is empty, starts with @, or holds blanks or quotes). One word split
# reads the whole table; task i's words start at SFLOW_TABLE[SFLOW_T_AT[i]].
sflow_tasks() {
  local - IFS=$' \t\n' n p i=0 after dep k w
  set -f
  # shellcheck disable=SC2206 # split on blanks, no globbing: the rows are words
  SFLOW_TABLE=($1)
  n=${#SFLOW_TABLE[@]} IFS=,
  for ((p = 0; p < n; i++)); do
    SFLOW_ID[${SFLOW_TABLE[p]}]=$i SFLOW_T_AT[i]=$p after=${SFLOW_TABLE[p + 3]}
    case $after in
      -) SFLOW_ROOTS+=("$i") SFLOW_T_WAIT[i]=0 ;;
      *,*)
        w=0
        for dep in $after; do
          k=${SFLOW_ID[$dep]} w=$((w + 1))
          SFLOW_T_NEXT[k]+=" $i"
        done
        SFLOW_T_WAIT[i]=$w
        ;;
      *)
        k=${SFLOW_ID[$after]}
        SFLOW_T_WAIT[i]=1 SFLOW_T_NEXT[k]+=" $i"
        ;;
    esac
    ((p += 6 + ${SFLOW_ARITY[${SFLOW_TABLE[p + 1]}]:-0}))
  done
}

# Called by a group function (sflow_group_<task>) each time main launches one
# of its tasks. They fill SFLOW_G_*, which the task's runner inherits.
sflow_launch() { SFLOW_G_LAUNCH=("$@"); }
sflow_backend() { SFLOW_G_BACKEND=$1; }
sflow_export() {
  SFLOW_G_EXPORT_NAMES+=("$1")
  SFLOW_G_EXPORT_VALUES+=("$2")
}
sflow_retry() { SFLOW_G_RETRIES=$1 SFLOW_G_RETRY_INTERVAL=$2 SFLOW_G_RETRY_BACKOFF=$3; }
sflow_timeout() { SFLOW_G_TIMEOUT=$1; }
# sflow_probe readiness|failure TYPE --option value …
sflow_probe() {
  SFLOW_G_PROBE_AT+=("${#SFLOW_G_PROBE_ARGS[@]}")
  SFLOW_G_PROBE_N+=("$#")
  SFLOW_G_PROBE_ARGS+=("$@")
  [[ $1 == readiness ]] && SFLOW_G_READY_PROBES=$((SFLOW_G_READY_PROBES + 1))
  return 0
}
# sflow_script "$@" <<'EOF' … EOF: the task's own lines; @@sflow:K@@ is slot K.
sflow_script() {
  IFS= read -r -d '' SFLOW_G_SCRIPT || true
  local k=1 v
  for v in "$@"; do
    SFLOW_G_SCRIPT=${SFLOW_G_SCRIPT//"@@sflow:$k@@"/"$v"}
    k=$((k + 1))
  done
}

# sflow_sweep NAME VALUE: a swept variable's value in this replica (exported too).
sflow_sweep() {
  sflow_export "$1" "$2"
  SFLOW_G_SWEEP_NAMES+=("$1")
  SFLOW_G_SWEEP_VALUES+=("$2")
}
# Results, read from the task's log after it exits 0 (see "results" below).
sflow_results() { SFLOW_G_BASE=$1; }
sflow_result() { SFLOW_G_RESULTS+=("$@"); } # NAME AGGREGATE GROUP ERE
sflow_result_file() { SFLOW_G_RESULT_FILE=1; }
sflow_expect() { SFLOW_G_EXPECT+=("$@"); } # NAME OPERATOR NUMBER
sflow_output() { SFLOW_G_OUTPUTS+=("$1"); } # a parse-style pattern

sflow_group_reset() {
  SFLOW_G_SWEEP_NAMES=() SFLOW_G_SWEEP_VALUES=() SFLOW_G_BASE='' SFLOW_G_RESULTS=()
  SFLOW_G_RESULT_FILE=0 SFLOW_G_EXPECT=() SFLOW_G_OUTPUTS=()
  SFLOW_G_LAUNCH=() SFLOW_G_BACKEND=$SFLOW_BACKEND_KIND SFLOW_G_EXPORT_NAMES=() SFLOW_G_EXPORT_VALUES=()
  SFLOW_G_RETRIES=0 SFLOW_G_RETRY_INTERVAL=0 SFLOW_G_RETRY_BACKOFF=1
  SFLOW_G_TIMEOUT=0 SFLOW_G_SCRIPT='' SFLOW_G_READY_PROBES=0
  SFLOW_G_PROBE_AT=() SFLOW_G_PROBE_N=() SFLOW_G_PROBE_ARGS=()
}

# ── messages ─────────────────────────────────────────────────────────────────
# One line per state change on stdout (the job's output file) and in events.log.
sflow_event() {
  local ts
  printf -v ts '%(%Y-%m-%d %H:%M:%S)T' -1
  printf '%s sflow: %s\n' "$ts" "$*"
  [[ -n ${SFLOW_RUN_DIR:-} ]] && printf '%s %s\n' "$ts" "$*" >>"$SFLOW_RUN_DIR/events.log"
  return 0
}
sflow_die() {
  printf 'sflow: error: %s\n' "$*" >&2
  exit 2
}

# ── allocation facts ─────────────────────────────────────────────────────────
# SFLOW_NODE_NAME[k] and SFLOW_NODE_IP[k] for allocation index k.
sflow_find_nodes() {
  SFLOW_NODE_NAME=() SFLOW_NODE_IP=()
  local k name ip line
  if [[ $SFLOW_BACKEND_KIND == local ]]; then
    for ((k = 0; k < SFLOW_NODE_COUNT; k++)); do
      sflow_local_name "$k"
      SFLOW_NODE_NAME[k]=$SFLOW_NAME
      SFLOW_NODE_IP[k]=127.0.0.1
    done
    return 0
  fi
  [[ -n ${SLURM_JOB_ID:-} ]] || sflow_die "SLURM_JOB_ID is not set: submit this script with sbatch (or run it inside an allocation)"
  local nodelist=${SLURM_JOB_NODELIST:-${SLURM_NODELIST:-}}
  [[ -n $nodelist ]] || sflow_die "SLURM_JOB_NODELIST is not set"
  mapfile -t SFLOW_NODE_NAME < <(scontrol show hostnames "$nodelist")
  ((${#SFLOW_NODE_NAME[@]} >= SFLOW_NODE_COUNT)) ||
    sflow_die "the plan needs $SFLOW_NODE_COUNT nodes but the allocation has ${#SFLOW_NODE_NAME[@]} ($nodelist)"
  # One resolver call for every node: `getent ahostsv4` prints a block per name it
  # resolves, whose first line alone ends with the name ("IP STREAM NAME").
  while read -r ip _ line; do
    [[ -n $line ]] && SFLOW_NODE_IP+=("$ip")
  done < <(getent ahostsv4 "${SFLOW_NODE_NAME[@]}" 2>/dev/null)
  if ((${#SFLOW_NODE_IP[@]} != ${#SFLOW_NODE_NAME[@]})); then
    # Some name did not resolve, so the blocks do not line up: one call per name.
    SFLOW_NODE_IP=()
    for ((k = 0; k < ${#SFLOW_NODE_NAME[@]}; k++)); do
      name=${SFLOW_NODE_NAME[k]}
      ip=''
      while read -r line _; do
        ip=$line
        break
      done < <(getent ahostsv4 "$name" 2>/dev/null)
      SFLOW_NODE_IP[k]=$ip
    done
  fi
  # Names the resolver does not know: ask each node once, in one step.
  if [[ " ${SFLOW_NODE_IP[*]} " == *"  "* ]]; then
    while read -r name ip _; do
      for ((k = 0; k < ${#SFLOW_NODE_NAME[@]}; k++)); do
        [[ ${SFLOW_NODE_NAME[k]} == "$name" && -z ${SFLOW_NODE_IP[k]} ]] && SFLOW_NODE_IP[k]=$ip
      done
    done < <(srun --nodes "${#SFLOW_NODE_NAME[@]}" --ntasks-per-node 1 --overlap --export=ALL \
      bash -c 'echo "$(hostname) $(hostname -I)"' 2>/dev/null)
  fi
  for ((k = 0; k < ${#SFLOW_NODE_NAME[@]}; k++)); do
    [[ ${SFLOW_NODE_NAME[k]} =~ ^[A-Za-z0-9._-]+$ ]] || sflow_die "unexpected node name '${SFLOW_NODE_NAME[k]}'"
    [[ ${SFLOW_NODE_IP[k]} =~ ^[0-9A-Fa-f.:]+$ ]] || sflow_die "no IP address found for node ${SFLOW_NODE_NAME[k]}"
  done
}

# The local backend's node names: localhost, localhost-1, localhost-2, …
sflow_local_name() {
  SFLOW_NAME=localhost
  if (($1 > 0)); then SFLOW_NAME=localhost-$1; fi
}

# Fills the markers for values only the job knows, in the variable named $1:
# @@sflow:nodeK.name@@, @@sflow:nodeK.ip@@, @@sflow:workspace@@, @@sflow:outdir@@,
# @@sflow:rundir@@ and (for a task, when SFLOW_TASK_DIR is set) @@sflow:taskdir@@.
sflow_fill() {
  local -n sflow_text=$1
  [[ $sflow_text == *@@sflow:* ]] || return 0
  local k
  if [[ $sflow_text == *@@sflow:node* ]]; then
    for ((k = 0; k < ${#SFLOW_NODE_NAME[@]}; k++)); do
      sflow_text=${sflow_text//"@@sflow:node$k.name@@"/"${SFLOW_NODE_NAME[k]}"}
      sflow_text=${sflow_text//"@@sflow:node$k.ip@@"/"${SFLOW_NODE_IP[k]}"}
    done
  fi
  sflow_text=${sflow_text//"@@sflow:workspace@@"/"$SFLOW_WORKSPACE_DIR"}
  sflow_text=${sflow_text//"@@sflow:outdir@@"/"$SFLOW_OUTPUT_DIR"}
  sflow_text=${sflow_text//"@@sflow:rundir@@"/"$SFLOW_RUN_DIR"}
  if [[ -n ${SFLOW_TASK_DIR:-} ]]; then
    sflow_text=${sflow_text//"@@sflow:taskdir@@"/"$SFLOW_TASK_DIR"}
  fi
  return 0
}

# "export NAME=VALUE" lines, values filled and quoted, from two arrays.
sflow_exports() {
  local -n sflow_names=$1 sflow_values=$2
  local k v
  SFLOW_EXPORTS=''
  for k in "${!sflow_names[@]}"; do
    v=${sflow_values[k]}
    sflow_fill v
    printf -v v '%q' "$v"
    SFLOW_EXPORTS+="export ${sflow_names[k]}=$v"$'\n'
  done
}

# ── the task's process: runner, step, log prefixer ───────────────────────────
# Timestamps each line: "YYYY-mm-dd HH:MM:SS,mmm - sflow.task.NAME - INFO - …".
sflow_prefix() {
  trap '' TERM INT
  local line t ts ms pfx=" - sflow.task.$1 - INFO - "
  while IFS= read -r line || [[ -n $line ]]; do
    t=${EPOCHREALTIME:-}
    if [[ -n $t ]]; then
      printf -v ts '%(%Y-%m-%d %H:%M:%S)T' "${t%[.,]*}"
      ms=${t#*[.,]}
      ms=${ms:0:3}
    else
      printf -v ts '%(%Y-%m-%d %H:%M:%S)T' -1
      ms=000
    fi
    printf '%s,%s%s%s\n' "$ts" "$ms" "$pfx" "$line"
  done
}

# Inside the step: export the SFLOW_* facts Slurm knows, and narrow the GPUs to
# the planned slice (kept when Slurm gave exactly that many, narrowed by
# position when it gave more, an error when it gave fewer).
read -r -d '' SFLOW_STEP_PRELUDE <<'SFLOW_STEP_PRELUDE' || true
if [ -n "${SLURM_JOB_ID:-${SLURM_JOBID:-}}" ]; then export SFLOW_BACKEND_JOB_ID="${SLURM_JOB_ID:-${SLURM_JOBID:-}}"; fi
if [ -n "${SLURM_JOB_NODELIST:-${SLURM_NODELIST:-}}" ]; then export SFLOW_BACKEND_NODELIST="${SLURM_JOB_NODELIST:-${SLURM_NODELIST:-}}"; fi
if [ -n "${SLURM_NNODES:-}" ]; then export SFLOW_BACKEND_NUM_NODES="$SLURM_NNODES"; fi
if [ -n "${SLURM_STEP_ID:-}" ]; then export SFLOW_BACKEND_STEP_ID="$SLURM_STEP_ID"; fi
if [ -n "${SLURMD_NODENAME:-}" ]; then export SFLOW_TASK_NODE_NAME="$SLURMD_NODENAME"; fi
if [ -n "${SLURM_NODEID:-}" ]; then export SFLOW_TASK_NODE_INDEX="$SLURM_NODEID"; fi
if [ -n "${SLURM_PROCID:-}" ]; then export SFLOW_TASK_PROCESS_ID="$SLURM_PROCID"; fi
if [ -n "${SLURM_LOCALID:-}" ]; then export SFLOW_TASK_LOCAL_PROCESS_ID="$SLURM_LOCALID"; fi
if [ -n "${SLURM_NTASKS:-}" ]; then export SFLOW_TASK_NUM_PROCESSES="$SLURM_NTASKS"; fi
if [ -n "${SFLOW_GPU_PLAN:-}" ]; then
  if [ -z "${CUDA_VISIBLE_DEVICES:-}" ]; then
    export CUDA_VISIBLE_DEVICES=$SFLOW_GPU_PLAN
  else
    IFS=, read -r -a sflow_seen <<<"$CUDA_VISIBLE_DEVICES"
    IFS=, read -r -a sflow_want <<<"$SFLOW_GPU_PLAN"
    if [ "${#sflow_seen[@]}" -lt "${#sflow_want[@]}" ]; then
      echo "sflow: planned GPUs $SFLOW_GPU_PLAN but this step sees only CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES" >&2
      exit 97
    elif [ "${#sflow_seen[@]}" -gt "${#sflow_want[@]}" ]; then
      sflow_list=
      for sflow_k in "${sflow_want[@]}"; do
        if [ "$sflow_k" -ge "${#sflow_seen[@]}" ]; then
          echo "sflow: planned GPU $sflow_k is not among the visible CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES" >&2
          exit 97
        fi
        sflow_list=${sflow_list:+$sflow_list,}${sflow_seen[$sflow_k]}
      done
      export CUDA_VISIBLE_DEVICES=$sflow_list
    fi
    unset sflow_seen sflow_want sflow_list sflow_k
  fi
fi
SFLOW_STEP_PRELUDE

# Builds the launch command of task $1 into SFLOW_CMD and the task's exports
# into SFLOW_TASK_ENV. Uses the SFLOW_G_* of its group.
sflow_build_command() {
  local i=$1 name=${SFLOW_TABLE[SFLOW_T_AT[$1]]} p=${SFLOW_T_AT[$1]} k names='' ips='' dir gpus
  local -a nodes
  dir=$SFLOW_RUN_DIR/$name
  SFLOW_TASK_DIR=$dir
  IFS=, read -r -a nodes <<<"${SFLOW_TABLE[p + 4]}"
  gpus=${SFLOW_TABLE[p + 5]}
  for k in "${nodes[@]}"; do
    if [[ $SFLOW_G_BACKEND == local ]]; then
      sflow_local_name "$k"
      names+=${names:+,}$SFLOW_NAME
      ips+=${ips:+,}127.0.0.1
    else
      names+=${names:+,}${SFLOW_NODE_NAME[k]}
      ips+=${ips:+,}${SFLOW_NODE_IP[k]}
    fi
  done
  sflow_exports SFLOW_G_EXPORT_NAMES SFLOW_G_EXPORT_VALUES
  local env=$SFLOW_ENV_TEXT$SFLOW_EXPORTS q
  printf -v q 'export SFLOW_REPLICA_INDEX=%q SFLOW_TASK_ASSIGNED_NODE_NAMES=%q SFLOW_TASK_ASSIGNED_NODE_IPS=%q SFLOW_TASK_OUTPUT_DIR=%q SFLOW_TASK_RESULT_FILE=%q\n' \
    "${SFLOW_TABLE[p + 2]}" "$names" "$ips" "$dir" "$dir/result.json"
  env+=$q$SFLOW_RUN_ENV
  [[ $SFLOW_G_BACKEND != local ]] && env+=$SFLOW_SLURM_ENV
  [[ $gpus != - ]] && env+="export SFLOW_GPU_PLAN=$gpus"$'\n'
  SFLOW_TASK_ENV=$env SFLOW_TASK_IPS=$ips
  local script=$SFLOW_G_SCRIPT
  sflow_fill script
  local body=$env$SFLOW_STEP_PRELUDE$'\n'$script
  SFLOW_CMD=()
  local arg
  # Linux caps one argument at 128 KiB: a longer body goes through a file in the task's
  # directory (which a step's nodes must then see, like any shared run directory).
  # (Declared, then assigned: `local -a run=(…)` would parse the body as shell text again.)
  local -a run
  run=(bash -c "$body")
  SFLOW_BODY_FILE=''
  if ((${#body} > 100000)); then
    SFLOW_BODY_FILE=$dir/$name.sh SFLOW_BODY=$body
    run=(bash "$SFLOW_BODY_FILE")
  fi
  case ${SFLOW_G_LAUNCH[0]} in
    srun)
      for arg in "${SFLOW_G_LAUNCH[@]}"; do
        arg=${arg//"@@sflow:task.nodelist@@"/"$names"}
        arg=${arg//"@@sflow:task.name@@"/"$name"}
        sflow_fill arg
        SFLOW_CMD+=("$arg")
      done
      SFLOW_CMD+=("${run[@]}")
      ;;
    bash) SFLOW_CMD=("${run[@]}") ;;
    python)
      # Python reads its code from -c; the task's exports go into the runner's env.
      SFLOW_CMD=("${SFLOW_G_LAUNCH[@]:1}" -c "$script")
      ;;
    ssh)
      # ssh hands the remote login shell one string; quote the body for it.
      q=\'${body//\'/\'\\\'\'}\'
      SFLOW_CMD=("${SFLOW_G_LAUNCH[@]:1}" "bash -lc $q")
      ;;
  esac
}

# Runs one attempt of task $1 (attempt $2) in its own process group and reports
# "exit I A RC" when the step and its probes are gone.
sflow_runner() {
  local i=$1 a=$2 name=${SFLOW_TABLE[SFLOW_T_AT[$1]]} dir log rc k
  set +m
  exec </dev/null
  dir=$SFLOW_RUN_DIR/$name
  log=$dir/$name.log
  # The task's directory and log, made here rather than in main (a fork there would
  # hold up every other launch).
  [[ -d $dir ]] || mkdir -p "$dir" || {
    echo "exit $i $a 1" >&"$SFLOW_FIFO_FD"
    return
  }
  if ((a > 1)) && [[ -e $log ]]; then
    mv -f "$log" "$dir/$name.attempt$((a - 1)).log"
  fi
  : >"$log"
  [[ -n $SFLOW_BODY_FILE ]] && printf '%s\n' "$SFLOW_BODY" >"$SFLOW_BODY_FILE"
  if [[ ${SFLOW_G_LAUNCH[0]} == python ]]; then
    eval "$SFLOW_TASK_ENV"
    eval "$SFLOW_STEP_PRELUDE"
  fi
  {
    printf '# attempt %s of %s\n' "$a" "$name"
    printf '%q ' "${SFLOW_CMD[@]}"
    printf '\n'
  } >"$dir/$name.cmd"
  (
    trap 'true' TERM INT
    "${SFLOW_CMD[@]}" 2>&1 | sflow_prefix "$name" >>"$log"
    exit "${PIPESTATUS[0]}"
  ) 2>/dev/null &
  local step=$! stopping=0
  local -a probes=()
  for ((k = 0; k < ${#SFLOW_G_PROBE_AT[@]}; k++)); do
    sflow_probe_loop "$i" "$a" "${SFLOW_G_PROBE_ARGS[@]:SFLOW_G_PROBE_AT[k]:SFLOW_G_PROBE_N[k]}" &
    probes+=($!)
  done
  trap 'stopping=1' TERM INT
  while :; do
    wait "$step"
    rc=$?
    kill -0 "$step" 2>/dev/null || break
  done
  trap - TERM INT
  ((${#probes[@]})) && kill -TERM "${probes[@]}" 2>/dev/null
  wait "${probes[@]}" 2>/dev/null
  # A service that exited before its probes fired gets one last look (a log
  # line written just before exiting still counts).
  if ((SFLOW_G_READY_PROBES > 0 && rc == 0 && stopping == 0)) && [[ ! -e $dir/.ready.$a ]]; then
    local ok=0
    for ((k = 0; k < ${#SFLOW_G_PROBE_AT[@]}; k++)); do
      set -- "${SFLOW_G_PROBE_ARGS[@]:SFLOW_G_PROBE_AT[k]:SFLOW_G_PROBE_N[k]}"
      [[ $1 == readiness ]] || continue
      sflow_probe_parse "$i" "${@:2}"
      sflow_probe_check && ok=$((ok + 1))
    done
    ((ok == SFLOW_G_READY_PROBES)) && echo "probe-ok $i $a final" >&"$SFLOW_FIFO_FD"
  fi
  if ((rc == 0 && stopping == 0)) && [[ -n $SFLOW_G_BASE ]]; then
    sflow_collect "$i" "$a"
    [[ -n $SFLOW_FAILS ]] && echo "result-failed $i $a $SFLOW_FAILS" >&"$SFLOW_FIFO_FD"
  fi
  echo "exit $i $a $rc" >&"$SFLOW_FIFO_FD"
}

# ── results ──────────────────────────────────────────────────────────────────
# After a task with `result` or `outputs` exits 0, its log (timestamps removed) is
# read with sed and awk: `outputs` patterns into outputs.json; `result` rules (or the
# JSON the task wrote to $SFLOW_TASK_RESULT_FILE) into result.json, checked against
# the `expect` gates; an entry for results.json and a row for results.csv. Values that
# look like JSON numbers stay numbers; everything else is an escaped JSON string.
read -r -d '' SFLOW_AWK_JSON <<'SFLOW_AWK' || true
function jinit(   i) { for (i = 1; i < 32; i++) ord[sprintf("%c", i)] = i }
function jstr(s,   out, i, c, n) {
  # POSIX sub/gsub: "\\\\\\\\" writes a backslash pair, "\\\"" a backslash and a quote.
  gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s)
  gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s); gsub(/\n/, "\\n", s)
  if (s ~ /[[:cntrl:]]/) {
    out = ""; n = length(s)
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1)
      if (c in ord) out = out sprintf("\\u%04x", ord[c]); else out = out c
    }
    s = out
  }
  return "\"" s "\""
}
function isnum(s) { return s ~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/ }
function jval(s) { return isnum(s) ? s : jstr(s) }
SFLOW_AWK
read -r -d '' SFLOW_AWK_RESULT <<'SFLOW_AWK' || true
BEGIN { FS = "\t"; failfile = ENVIRON["SFLOW_FAILFILE"]; jinit() }
$1 == "R" { nrules++; rule[nrules] = $2; agg[$2] = $3; next }
$1 == "v" { k = $2; cnt[k]++; val[k, cnt[k]] = substr($0, length($2) + 4); next }
$1 == "f" { file = file (nf++ ? "\n" : "") substr($0, 3); next }
$1 == "G" { ng++; gname[ng] = $2; gop[ng] = $3; garg[ng] = $4; next }
$1 == "S" { ns++; sname[ns] = $2; sval[ns] = substr($0, length($2) + 4); next }
# --- a small JSON reader for task-written result files (objects of scalars or nested) ---
function skip() { while (pos <= len && index(" \t\n\r", substr(text, pos, 1))) pos++ }
function pstring(   s, c, start) {
  pos++; start = pos
  while (pos <= len) {
    c = substr(text, pos, 1)
    if (c == "\\") {
      c = substr(text, pos + 1, 1)
      if (index("\"\\/bfnrt", c)) { pos += 2; continue }
      if (c == "u" && substr(text, pos + 2, 4) ~ /^[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]$/) { pos += 6; continue }
      bad = 1; return ""
    }
    if (c == "\"") { s = substr(text, start, pos - start); pos++; return "\"" s "\"" }
    if (c ~ /[[:cntrl:]]/) { bad = 1; return "" }
    pos++
  }
  bad = 1; return ""
}
function pvalue(   c, s, out, first) {
  skip(); c = substr(text, pos, 1)
  if (c == "{") {
    pos++; out = "{"; first = 1; skip()
    if (substr(text, pos, 1) == "}") { pos++; return "{}" }
    while (!bad) {
      skip(); if (substr(text, pos, 1) != "\"") { bad = 1; return "" }
      s = pstring(); skip()
      if (substr(text, pos, 1) != ":") { bad = 1; return "" }
      pos++
      out = out (first ? "" : ", ") s ": " pvalue(); first = 0; skip()
      c = substr(text, pos, 1); pos++
      if (c == "}") return out "}"
      if (c != ",") { bad = 1; return "" }
    }
    return ""
  }
  if (c == "[") {
    pos++; out = "["; first = 1; skip()
    if (substr(text, pos, 1) == "]") { pos++; return "[]" }
    while (!bad) {
      out = out (first ? "" : ", ") pvalue(); first = 0; skip()
      c = substr(text, pos, 1); pos++
      if (c == "]") return out "]"
      if (c != ",") { bad = 1; return "" }
    }
    return ""
  }
  if (c == "\"") return pstring()
  if (match(substr(text, pos), /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null)/)) {
    s = substr(text, pos, RLENGTH); pos += RLENGTH; return s
  }
  bad = 1; return ""
}
# The value of a result rule: its aggregate over the extracted values.
function aggregate(k,   a, n, i, x, s, all) {
  a = agg[k]; n = cnt[k]
  if (a == "count") return n
  if (n == 0) return ""
  if (a == "first") return jval(val[k, 1])
  if (a == "list") { s = "["; for (i = 1; i <= n; i++) s = s (i > 1 ? ", " : "") jval(val[k, i]); return s "]" }
  if (a == "last" || a == "") return jval(val[k, n])
  all = 1
  for (i = 1; i <= n; i++) if (!isnum(val[k, i])) all = 0
  if (!all) return jval(val[k, n])
  x = val[k, 1] + 0; s = 0
  for (i = 1; i <= n; i++) {
    if (a == "max" && val[k, i] + 0 > x) x = val[k, i] + 0
    if (a == "min" && val[k, i] + 0 < x) x = val[k, i] + 0
    s += val[k, i]
  }
  if (a == "sum") x = s
  if (a == "mean") x = s / n
  return sprintf("%.15g", x)
}
function gate_value(name,   v) {
  if (!(name in have)) return ""
  return have[name]
}
END {
  out = ""
  for (r = 1; r <= nrules; r++) {
    k = rule[r]; v = aggregate(k)
    if (v == "") continue
    have[k] = v
    out = out (out == "" ? "" : ", ") jstr(k) ": " v
  }
  if (nf) {
    text = file; len = length(text); pos = 1; bad = 0
    v = pvalue(); skip()
    if (bad || pos <= len || substr(v, 1, 1) != "{") {
      # Best effort, unless gates depend on it.
      if (ng) { failures++; printf "the result file is not a JSON object\n" > failfile }
      else printf "sflow: %s: the result file is not a JSON object; ignored\n", task > "/dev/stderr"
    } else {
      out = substr(v, 2, length(v) - 2)
      # Top-level scalar members, for gates.
      text = v; len = length(text); pos = 2
      while (pos < len) {
        skip(); if (substr(text, pos, 1) != "\"") break
        s = pstring(); skip(); pos++
        gv = pvalue(); key = substr(s, 2, length(s) - 2)
      if (!(key in have)) fkeys[++nfk] = key
      have[key] = gv; skip(); pos++
      }
    }
  }
  gates = ""
  for (g = 1; g <= ng; g++) {
    v = gate_value(gname[g]); ok = 0
    if (v != "" && isnum(v)) {
      x = v + 0; y = garg[g] + 0
      if (gop[g] == ">") ok = x > y
      if (gop[g] == ">=") ok = x >= y
      if (gop[g] == "<") ok = x < y
      if (gop[g] == "<=") ok = x <= y
      if (gop[g] == "==") ok = x == y
      if (gop[g] == "!=") ok = x != y
    }
    rule_text = gop[g] " " garg[g]
    gok[g] = ok
    gates = gates (g > 1 ? ", " : "") "{\"name\": " jstr(gname[g]) ", \"rule\": " jstr(rule_text) ", \"value\": " (v == "" ? "null" : v) ", \"ok\": " (ok ? "true" : "false") "}"
    if (!ok) {
      failures++
      if (v == "") printf "%s: no value (expected %s)\n", gname[g], rule_text > failfile
      else printf "%s = %s, expected %s\n", gname[g], v, rule_text > failfile
    }
  }
  sweep = ""
  for (j = 1; j <= ns; j++) sweep = sweep (j > 1 ? ", " : "") jstr(sname[j]) ": " jval(sval[j])
  meta = "\"task\": " jstr(task) ", \"base_task\": " jstr(base) ", \"replica_index\": " replica ", \"sweep\": {" sweep "}"
  status = failures ? "false" : "true"
  # result.json, the run index's entry, and a row for results.csv.
  printf "{\"schema_version\": \"sflow.result.v1\", %s, \"values\": {%s}, \"gates\": [%s], \"ok\": %s}\n", meta, out, gates, status
  printf "%s: {%s, \"values\": {%s}, \"ok\": %s}\n", jstr(task), meta, out, status
  row = task "\t" base "\t" replica "\t"
  for (j = 1; j <= ns; j++) row = row (j > 1 ? "\036" : "") sname[j] "\037" jval(sval[j])
  row = row "\t"
  first = 1
  gatetext = ""
  for (g = 1; g <= ng; g++) gatetext = gatetext (g > 1 ? "; " : "") gname[g] " " gop[g] " " garg[g] ": " (gok[g] ? "ok" : "FAILED")
  for (r = 1; r <= nrules; r++) if (rule[r] in have) { row = row (first ? "" : "\036") rule[r] "\037" have[rule[r]]; first = 0 }
  for (k = 1; k <= nfk; k++) { row = row (first ? "" : "\036") fkeys[k] "\037" have[fkeys[k]]; first = 0 }
  print row "\t" gatetext
}
SFLOW_AWK
read -r -d '' SFLOW_AWK_OUTPUTS <<'SFLOW_AWK' || true
BEGIN {
  jinit()
  np = split(ENVIRON["SFLOW_PATTERNS"], pats, "\036")
  for (p = 1; p <= np; p++) {
    # "TTFT: {ttft:f} ms" -> L"TTFT: ", F"ttft:f", L" ms"; "{{" and "}}" are braces.
    s = pats[p]; k = 0; lit = ""
    while (s != "") {
      c = substr(s, 1, 1)
      if (substr(s, 1, 2) == "{{" || substr(s, 1, 2) == "}}") { lit = lit c; s = substr(s, 3); continue }
      if (c == "{") {
        if (lit != "") pt[p, ++k] = "L" lit
        lit = ""; e = index(s, "}")
        pt[p, ++k] = "F" substr(s, 2, e - 2); s = substr(s, e + 1); continue
      }
      lit = lit c; s = substr(s, 2)
    }
    if (lit != "") pt[p, ++k] = "L" lit
    n[p] = k
  }
}
function typed(v, t) {
  if (t == "d") return (v ~ /^[-+]?[0-9]+$/) ? sprintf("%d", v + 0) : ""
  if (t == "f" || t == "g" || t == "e") {
    if (v !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) return ""
    sub(/^\+/, "", v); sub(/^\./, "0.", v); sub(/^-\./, "-0.", v); sub(/\.$/, ".0", v)
    sub(/\.[eE]/, ".0e", v)
    if (v !~ /[.eE]/) v = v ".0"
    return v
  }
  if (t == "w") return (v ~ /^[A-Za-z0-9_]+$/) ? jstr(v) : ""
  return (v != "") ? jstr(v) : ""
}
# Tries pattern p on the line s; on success the fields are in got_name[1..nf], got[].
function try(p, s,   k, part, name, t, rest, v, next_lit, cut) {
  nf = 0; rest = s
  for (k = 1; k <= n[p]; k++) {
    part = pt[p, k]
    if (substr(part, 1, 1) == "L") {
      part = substr(part, 2)
      if (substr(rest, 1, length(part)) != part) return 0
      rest = substr(rest, length(part) + 1)
      continue
    }
    name = substr(part, 2); t = ""
    if (index(name, ":")) { t = substr(name, index(name, ":") + 1); name = substr(name, 1, index(name, ":") - 1) }
    if (k == n[p]) { v = rest; rest = "" }
    else {
      # Fields are lazy: the shortest text (at least one character) before the next literal.
      next_lit = substr(pt[p, k + 1], 2)
      cut = index(substr(rest, 2), next_lit)
      if (cut == 0) return 0
      v = substr(rest, 1, cut); rest = substr(rest, cut + 1)
    }
    v = typed(v, t)
    if (v == "") return 0
    got_name[++nf] = name; got[name] = v
  }
  return rest == ""
}
{
  for (p = 1; p <= np; p++) if (try(p, $0)) {
    for (f = 1; f <= nf; f++) {
      name = got_name[f]
      if (!(name in count)) order[++norder] = name
      count[name]++; vals[name, count[name]] = got[name]
    }
    break
  }
}
END {
  out = "{"
  for (i = 1; i <= norder; i++) {
    name = order[i]
    out = out (i > 1 ? ", " : "") jstr(name) ": "
    if (count[name] == 1) out = out vals[name, 1]
    else {
      out = out "["
      for (j = 1; j <= count[name]; j++) out = out (j > 1 ? ", " : "") vals[name, j]
      out = out "]"
    }
  }
  specs = ""
  for (p = 1; p <= np; p++) specs = specs (p > 1 ? ", " : "") "{\"pattern\": " jstr(pats[p]) ", \"source\": \"stdout\"}"
  printf "{\"task\": %s, \"specs\": [%s], \"outputs\": %s}}\n", jstr(task), specs, out
}
SFLOW_AWK
read -r -d '' SFLOW_AWK_TABLE <<'SFLOW_AWK' || true
# Input: results.tsv rows "position \t task \t base \t replica \t sweep pairs \t value pairs
# \t gates", in planned order (a pair is
# name \037 JSON value; pairs joined by \036). Output: results.csv (-v mode=csv) or the
# summary's table (mode=table): one row per task, its swept values, then its values.
BEGIN { FS = "\t" }
function raw(v,   out, i, c) {
  if (substr(v, 1, 1) != "\"") return v
  v = substr(v, 2, length(v) - 2); out = ""
  while ((i = index(v, "\\")) > 0) {
    out = out substr(v, 1, i - 1); c = substr(v, i + 1, 1)
    if (c == "n") out = out "\n"; else if (c == "t") out = out "\t"; else if (c == "r") out = out "\r"
    else if (c == "u") { out = out "\\u"; }
    else out = out c
    v = substr(v, i + 2)
  }
  return out v
}
function csv(v) {
  if (v ~ /[",\n\r]/) { gsub(/"/, "\"\"", v); return "\"" v "\"" }
  return v
}
function add(kind, name) {
  if (!((kind, name) in seen)) { seen[kind, name] = 1; cols[kind, ++ncols[kind]] = name }
}
{
  nrow++; task[nrow] = $2; base[nrow] = $3; rep[nrow] = $4
  if ($7 != "") { add("g", "gates"); cell[nrow, "g", "gates"] = $7 }
  np = split($5, pairs, "\036")
  for (j = 1; j <= np; j++) { split(pairs[j], kv, "\037"); add("s", kv[1]); cell[nrow, "s", kv[1]] = raw(kv[2]) }
  np = split($6, pairs, "\036")
  for (j = 1; j <= np; j++) { split(pairs[j], kv, "\037"); add("v", kv[1]); cell[nrow, "v", kv[1]] = raw(kv[2]) }
}
END {
  if (nrow == 0) exit
  head[1] = "task"; head[2] = "base_task"; head[3] = "replica_index"; nh = 3
  for (j = 1; j <= ncols["s"]; j++) head[++nh] = cols["s", j]
  for (j = 1; j <= ncols["v"]; j++) head[++nh] = cols["v", j]
  if (ncols["g"]) head[++nh] = "gates"
  for (r = 1; r <= nrow; r++) {
    row[r, 1] = task[r]; row[r, 2] = base[r]; row[r, 3] = rep[r]; k = 3
    for (j = 1; j <= ncols["s"]; j++) row[r, ++k] = cell[r, "s", cols["s", j]]
    for (j = 1; j <= ncols["v"]; j++) row[r, ++k] = cell[r, "v", cols["v", j]]
    if (ncols["g"]) row[r, ++k] = cell[r, "g", "gates"]
  }
  if (mode == "csv") {
    for (c = 1; c <= nh; c++) printf "%s%s", (c > 1 ? "," : ""), csv(head[c]); print ""
    for (r = 1; r <= nrow; r++) { for (c = 1; c <= nh; c++) printf "%s%s", (c > 1 ? "," : ""), csv(row[r, c]); print "" }
    exit
  }
  # The table leaves out base_task and replica_index (the task name says them).
  for (c = 1; c <= nh; c++) if (c != 2 && c != 3) {
    w[c] = length(head[c])
    for (r = 1; r <= nrow; r++) { v = row[r, c]; gsub(/[\t\r\n]/, " ", v); if (length(v) > 60) v = substr(v, 1, 57) "..."; row[r, c] = v; if (length(v) > w[c]) w[c] = length(v) }
  }
  line = ""; for (c = 1; c <= nh; c++) if (c != 2 && c != 3) line = line sprintf("%-*s  ", w[c], toupper(head[c]) == head[c] ? head[c] : toupper(head[c]))
  sub(/ +$/, "", line); print line
  for (r = 1; r <= nrow; r++) {
    line = ""; for (c = 1; c <= nh; c++) if (c != 2 && c != 3) line = line sprintf("%-*s  ", w[c], row[r, c])
    sub(/ +$/, "", line); print line
  }
}
SFLOW_AWK

# sflow_collect I A: writes the task's result files; sets SFLOW_FAILS to the failed
# gates (one line, empty when none).
sflow_collect() {
  local i=$1 a=$2 name=${SFLOW_TABLE[SFLOW_T_AT[$1]]} dir lines k out
  local d=$'\001' s=$'\002' e=$'\003'
  SFLOW_FAILS=''
  dir=$SFLOW_RUN_DIR/$name
  lines=$dir/.lines
  rm -f "$dir/.result."*
  cut -d ' ' -f 8- "$dir/$name.log" >"$lines"
  if ((${#SFLOW_G_OUTPUTS[@]})); then
    local patterns
    printf -v patterns '%s\036' "${SFLOW_G_OUTPUTS[@]}"
    # Text goes through the environment: `awk -v` would interpret its backslashes.
    SFLOW_PATTERNS=${patterns%$'\036'} awk -v task="$name" "$SFLOW_AWK_JSON$SFLOW_AWK_OUTPUTS" "$lines" \
      >"$dir/outputs.json.new" && mv -f "$dir/outputs.json.new" "$dir/outputs.json"
  fi
  if ((${#SFLOW_G_RESULTS[@]} || SFLOW_G_RESULT_FILE || ${#SFLOW_G_EXPECT[@]})); then
    {
      for ((k = 0; k < ${#SFLOW_G_RESULTS[@]}; k += 4)); do
        printf 'R\t%s\t%s\n' "${SFLOW_G_RESULTS[k]}" "${SFLOW_G_RESULTS[k + 1]}"
        # The first match in each line: marked, then cut out.
        sed -nE "s$d${SFLOW_G_RESULTS[k + 3]}$d$s\\${SFLOW_G_RESULTS[k + 2]}$e$d;/$s/!d;s/^[^$s]*$s//;s/$e.*\$//;p" "$lines" |
          awk -v k="${SFLOW_G_RESULTS[k]}" '{ print "v\t" k "\t" $0 }'
      done
      if ((SFLOW_G_RESULT_FILE)) && [[ -f $dir/result.json ]]; then sed 's/^/f\t/' "$dir/result.json"; fi
      for ((k = 0; k < ${#SFLOW_G_EXPECT[@]}; k += 3)); do
        printf 'G\t%s\t%s\t%s\n' "${SFLOW_G_EXPECT[k]}" "${SFLOW_G_EXPECT[k + 1]}" "${SFLOW_G_EXPECT[k + 2]}"
      done
      for ((k = 0; k < ${#SFLOW_G_SWEEP_NAMES[@]}; k++)); do
        printf 'S\t%s\t%s\n' "${SFLOW_G_SWEEP_NAMES[k]}" "${SFLOW_G_SWEEP_VALUES[k]//$'\n'/ }"
      done
    } | SFLOW_FAILFILE=$dir/.result.fails awk -v task="$name" -v base="$SFLOW_G_BASE" \
      -v replica="${SFLOW_TABLE[SFLOW_T_AT[i] + 2]}" "$SFLOW_AWK_JSON$SFLOW_AWK_RESULT" >"$dir/.result.out"
    {
      IFS= read -r out && printf '%s\n' "$out" >"$dir/result.json.new" && mv -f "$dir/result.json.new" "$dir/result.json"
      IFS= read -r out && printf '%s\n' "$out" >"$dir/.result.index"
      IFS= read -r out && printf '%s\n' "$out" >"$dir/.result.row"
    } <"$dir/.result.out"
    if [[ -s $dir/.result.fails ]]; then
      local fail
      while IFS= read -r fail; do SFLOW_FAILS+=${SFLOW_FAILS:+; }$fail; done <"$dir/.result.fails"
    fi
  fi
  rm -f "$lines" "$dir/.result.out" "$dir/.result.fails"
}

# Adds task i's result to results.json's entries and results.csv's rows (once, when it
# ends). Both are kept by planned position, so the files list tasks in planned order
# whatever order they ended in. results.json is rewritten now when task i has dependents
# (they may read it), otherwise when the run ends.
declare -a SFLOW_RESULT_ENTRY=() SFLOW_RESULT_ROW=()
SFLOW_RESULTS_STALE=0
sflow_index_result() {
  local dir=$SFLOW_RUN_DIR/${SFLOW_TABLE[SFLOW_T_AT[$1]]} entry row
  [[ -f $dir/.result.index ]] || return 0
  IFS= read -r entry <"$dir/.result.index"
  IFS= read -r row <"$dir/.result.row"
  rm -f "$dir/.result.index" "$dir/.result.row"
  SFLOW_RESULT_ENTRY[$1]=$entry SFLOW_RESULT_ROW[$1]=$row SFLOW_RESULTS_STALE=1
  [[ -n ${SFLOW_T_NEXT[$1]:-} ]] && sflow_write_results
  return 0
}

# Writes results.json from SFLOW_RESULT_ENTRY (in index order: planned order).
sflow_write_results() {
  local body
  printf -v body '  %s,\n' "${SFLOW_RESULT_ENTRY[@]}"
  {
    printf '{"schema_version": "sflow.results.v1", "workflow": "%s", "tasks": {\n' "$SFLOW_WORKFLOW_NAME"
    printf '%s\n}}\n' "${body%,$'\n'}"
  } >"$SFLOW_RUN_DIR/results.json.new" && mv -f "$SFLOW_RUN_DIR/results.json.new" "$SFLOW_RUN_DIR/results.json"
  SFLOW_RESULTS_STALE=0
}

# ── probes ───────────────────────────────────────────────────────────────────
# sflow_probe_parse I TYPE --opt value …: sets P_* for one probe of task I.
sflow_probe_parse() {
  local i=$1
  P_TYPE=$2 P_PORT='' P_HOST='' P_EACH=0 P_URL='' P_BODY='' P_PATTERN='' P_REGEX=0
  P_LOGS=() P_COUNT=1 P_DELAY=0 P_INTERVAL=5 P_TIMEOUT=1200 P_CHECK_TIMEOUT=30
  P_SUCCESS=1 P_FAILURE=3 P_HEADERS=() P_METHOD=GET
  [[ $P_TYPE == http_post ]] && P_METHOD=POST
  shift 2
  while (($#)); do
    case $1 in
      --port) P_PORT=$2 ;;
      --host) P_HOST=$2 ;;
      --on-node) [[ $2 == each ]] && P_EACH=1 ;;
      --url) P_URL=$2 ;;
      --header) P_HEADERS+=("$2") ;;
      --body) P_BODY=$2 ;;
      --pattern) P_PATTERN=$2 ;;
      --regex) P_REGEX=$2 ;;
      --logger) P_LOGS+=("$SFLOW_RUN_DIR/$2/$2.log") ;;
      --match-count) P_COUNT=$2 ;;
      --delay) P_DELAY=$2 ;;
      --interval) P_INTERVAL=$2 ;;
      --timeout) P_TIMEOUT=$2 ;;
      --check-timeout) P_CHECK_TIMEOUT=$2 ;;
      --success-threshold) P_SUCCESS=$2 ;;
      --failure-threshold) P_FAILURE=$2 ;;
    esac
    shift 2
  done
  local name=${SFLOW_TABLE[SFLOW_T_AT[i]]}
  ((${#P_LOGS[@]})) || P_LOGS=("$SFLOW_RUN_DIR/$name/$name.log")
  sflow_fill P_HOST
  sflow_fill P_URL
  sflow_fill P_BODY
  local h
  for h in "${!P_HEADERS[@]}"; do sflow_fill "P_HEADERS[$h]"; done
  P_HOSTS=()
  if [[ -n $P_HOST ]]; then
    P_HOSTS=("$P_HOST")
  else
    local -a ips
    IFS=, read -r -a ips <<<"$SFLOW_TASK_IPS"
    if ((P_EACH)); then P_HOSTS=("${ips[@]}"); else P_HOSTS=("${ips[0]:-127.0.0.1}"); fi
  fi
  # HTTP headers go to curl in a file (no header value on a command line), written
  # once per parse rather than per check.
  if [[ $P_TYPE == http_* ]]; then
    P_HDRS=$SFLOW_RUN_DIR/.sflow/probe-headers.$BASHPID
    local type=0
    for h in "${P_HEADERS[@]}"; do
      [[ ${h,,} == content-type:* ]] && type=1
    done
    {
      ((${#P_HEADERS[@]})) && printf '%s\n' "${P_HEADERS[@]}"
      [[ $P_METHOD == POST ]] && ((!type)) && printf '%s\n' 'Content-Type: text/plain; charset=utf-8'
    } >"$P_HDRS"
  fi
}

# One check of the parsed probe; status 0 when it passes.
sflow_probe_check() {
  local h n=0 f code
  case $P_TYPE in
    tcp_port)
      for h in "${P_HOSTS[@]}"; do
        timeout "$P_CHECK_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$P_PORT" 2>/dev/null || return 1
      done
      ;;
    http_get | http_post)
      local -a args=(--globoff --silent --output /dev/null --write-out '%{http_code}' --max-time "$P_CHECK_TIMEOUT" --proto '=http,https' --request "$P_METHOD")
      [[ $P_METHOD == POST ]] && args+=(--data-binary @-)
      args+=(--header "@$P_HDRS" --url "$P_URL")
      code=$(printf '%s' "$P_BODY" | curl "${args[@]}" 2>/dev/null)
      [[ $code == [23][0-9][0-9] ]]
      ;;
    log_watch)
      # Matches across every log that exists (cut ends each file's last line, so no
      # match spans two files), past the timestamp fields.
      local mode=-F
      local -a logs=()
      ((P_REGEX)) && mode=-E
      for f in "${P_LOGS[@]}"; do [[ -f $f ]] && logs+=("$f"); done
      ((${#logs[@]})) && n=$(cut -d ' ' -f 8- "${logs[@]}" | grep -o "$mode" -e "$P_PATTERN" | wc -l)
      ((n >= P_COUNT))
      ;;
  esac
}

# sflow_probe_loop I A readiness|failure TYPE --opt value …
# Readiness: reports "probe-ok" after success_threshold passing checks in a row,
# or "probe-timeout" once timeout seconds have passed since launch. Failure:
# reports "probe-failed" after failure_threshold matching checks in a row.
sflow_probe_loop() {
  local i=$1 a=$2 role=$3 streak=0 launched=${SFLOW_LAUNCH_T[$1]}
  sflow_probe_parse "$i" "${@:4}"
  exec >/dev/null 2>&1
  sleep "$P_DELAY"
  while :; do
    if [[ $role == readiness ]] && ((P_TIMEOUT > 0)); then
      sflow_clock
      if ((SFLOW_NOW - launched > P_TIMEOUT * 1000)); then
        echo "probe-timeout $i $a $P_TYPE" >&"$SFLOW_FIFO_FD"
        return
      fi
    fi
    if sflow_probe_check; then streak=$((streak + 1)); else streak=0; fi
    if [[ $role == readiness ]] && ((streak >= P_SUCCESS)); then
      : >"$SFLOW_RUN_DIR/${SFLOW_TABLE[SFLOW_T_AT[i]]}/.ready.$a"
      echo "probe-ok $i $a $P_TYPE" >&"$SFLOW_FIFO_FD"
      return
    fi
    if [[ $role == failure ]] && ((streak >= P_FAILURE)); then
      echo "probe-failed $i $a $P_TYPE" >&"$SFLOW_FIFO_FD"
      return
    fi
    sleep "$P_INTERVAL"
  done
}

# ── main: scheduling ─────────────────────────────────────────────────────────
# Task states: pending, waiting (retry back-off), running, ready (a service
# whose readiness probes passed), done, failed, stopped, skipped.
declare -a SFLOW_ST=() SFLOW_ATTEMPT=() SFLOW_PID=() SFLOW_START=() SFLOW_END=()
declare -a SFLOW_RC=() SFLOW_WHY=() SFLOW_OK_PROBES=() SFLOW_NEED_PROBES=()
declare -a SFLOW_DEADLINE=() SFLOW_RETRY_AT=() SFLOW_FREED=() SFLOW_KILLER=()
declare -a SFLOW_GATE_WHY=() SFLOW_SRUN=() SFLOW_RETRIES=() SFLOW_INTERVAL=() SFLOW_BACKOFF=() SFLOW_KILL_WHY=() SFLOW_LAUNCH_T=()
declare -A SFLOW_TIMED=()
declare -a SFLOW_SWEEPERS=() SFLOW_SWEPT=()
SFLOW_UNSETTLED=0 SFLOW_FAILED=0 SFLOW_STOPPING=0 SFLOW_WF_DEADLINE=0

# Starts attempt SFLOW_ATTEMPT[i]+1 of task i.
sflow_launch_task() {
  local i=$1 name=${SFLOW_TABLE[SFLOW_T_AT[$1]]} p=${SFLOW_T_AT[$1]} a group k v
  local -a values=()
  a=$((SFLOW_ATTEMPT[i] + 1))
  SFLOW_ATTEMPT[i]=$a
  sflow_group_reset
  group=${SFLOW_TABLE[p + 1]}
  for ((k = p + 6; k < p + 6 + ${SFLOW_ARITY[$group]:-0}; k++)); do
    v=${SFLOW_TABLE[k]}
    [[ $v == @* ]] && v=${SFLOW_VALUE[${v#@}]}
    values+=("$v")
  done
  "sflow_group_$group" "${values[@]}"
  SFLOW_GATE_WHY[i]=''
  SFLOW_SRUN[i]=0
  [[ ${SFLOW_G_LAUNCH[0]} == srun ]] && SFLOW_SRUN[i]=1
  SFLOW_NEED_PROBES[i]=$SFLOW_G_READY_PROBES SFLOW_OK_PROBES[i]=0
  SFLOW_RETRIES[i]=$SFLOW_G_RETRIES SFLOW_INTERVAL[i]=$SFLOW_G_RETRY_INTERVAL
  SFLOW_BACKOFF[i]=$SFLOW_G_RETRY_BACKOFF
  sflow_build_command "$i"
  sflow_clock
  SFLOW_LAUNCH_T[i]=$SFLOW_NOW
  [[ -z ${SFLOW_START[i]:-} ]] && SFLOW_START[i]=$SFLOW_NOW
  set -m
  sflow_runner "$i" "$a" &
  SFLOW_PID[i]=$!
  set +m
  SFLOW_ST[i]=running SFLOW_KILL_WHY[i]=''
  SFLOW_DEADLINE[i]=0
  if ((SFLOW_G_TIMEOUT > 0)); then
    SFLOW_DEADLINE[i]=$((SFLOW_NOW + SFLOW_G_TIMEOUT * 1000))
    SFLOW_TIMED[$i]=1
  fi
  local what=''
  ((a > 1)) && what=" (attempt $a)"
  sflow_event "launched $name$what"
}

# Marks task i as no longer blocking its dependents and starts those now free.
sflow_free() {
  local i=$1 j
  ((SFLOW_FREED[i])) && return 0
  SFLOW_FREED[i]=1
  ((SFLOW_STOPPING)) && return 0
  for j in ${SFLOW_T_NEXT[i]:-}; do
    SFLOW_T_WAIT[j]=$((SFLOW_T_WAIT[j] - 1))
    if ((SFLOW_T_WAIT[j] == 0)) && [[ ${SFLOW_ST[j]} == pending ]]; then
      sflow_launch_task "$j"
    fi
  done
}

# Sends SIGTERM to the processes of tasks $@ (task indices). srun turns a SIGTERM of
# its own into an immediate SIGKILL of its step, so an srun task's step gets the
# signal through `scancel --signal=TERM JOB.STEP` (found by its name, the task's);
# a local task's process group gets it directly.
sflow_term() {
  local i id name
  local -A steps=()
  for i; do
    if ((SFLOW_SRUN[i])) && [[ -n ${SLURM_JOB_ID:-} ]]; then
      while read -r id name; do
        steps[$name]+=" $id"
      done < <(squeue -h -s -j "$SLURM_JOB_ID" -o '%i %j' 2>/dev/null)
      break
    fi
  done
  for i; do
    name=${SFLOW_TABLE[SFLOW_T_AT[i]]}
    if ((SFLOW_SRUN[i])) && [[ -n ${steps[$name]:-} ]]; then
      # shellcheck disable=SC2086
      scancel --signal=TERM ${steps[$name]} 2>/dev/null
    else
      kill -TERM -- "-${SFLOW_PID[i]}" 2>/dev/null
    fi
  done
  return 0
}

# Asks the running attempt of task i to stop; "exit" arrives later.
sflow_kill_async() {
  local i=$1 pg=${SFLOW_PID[$1]}
  SFLOW_KILL_WHY[i]=$2
  sflow_term "$i"
  sflow_kill_later "exit $i ${SFLOW_ATTEMPT[i]} 137" "-$pg"
  SFLOW_KILLER[i]=$SFLOW_BG
}

# sflow_kill_later EVENT -PGID…: a background timer (in its own process group, PID in
# SFLOW_BG) that sends SIGKILL to the process groups after the grace period and then,
# if that reached any and EVENT is not empty, writes EVENT to main's FIFO.
sflow_kill_later() {
  local event=$1
  shift
  set -m
  (
    exec >/dev/null 2>&1
    sleep "$SFLOW_STOP_GRACE"
    kill -KILL -- "$@" && [[ -n $event ]] && echo "$event" >&"$SFLOW_FIFO_FD"
  ) &
  SFLOW_BG=$!
  set +m
}

# When a step ends, whatever it started goes too (as Slurm does for a step): anything
# left in the attempt's process group gets SIGTERM now and SIGKILL after the grace.
sflow_reap() {
  local pg=${SFLOW_PID[$1]}
  kill -0 -- "-$pg" 2>/dev/null || return 0
  kill -TERM -- "-$pg" 2>/dev/null
  sflow_kill_later '' "-$pg"
  SFLOW_SWEEPERS+=("$SFLOW_BG") SFLOW_SWEPT+=("$pg")
}

# Task i's attempt ended with status rc (or was killed for a reason).
sflow_on_exit() {
  local i=$1 rc=$2 name=${SFLOW_TABLE[SFLOW_T_AT[$1]]} why=${SFLOW_KILL_WHY[$1]:-}
  [[ ${SFLOW_ST[i]} == running || ${SFLOW_ST[i]} == ready ]] || return 0
  if [[ -n ${SFLOW_KILLER[i]:-} ]]; then
    kill -- "-${SFLOW_KILLER[i]}" 2>/dev/null
    wait "${SFLOW_KILLER[i]}" 2>/dev/null
    SFLOW_KILLER[i]=''
  fi
  wait "${SFLOW_PID[i]}" 2>/dev/null
  sflow_reap "$i"
  unset "SFLOW_TIMED[$i]"
  sflow_clock
  SFLOW_END[i]=$SFLOW_NOW SFLOW_RC[i]=$rc
  local was_ready=0
  [[ ${SFLOW_ST[i]} == ready ]] && was_ready=1
  if [[ -z $why ]]; then
    if ((rc == 0)) && [[ -n ${SFLOW_GATE_WHY[i]:-} ]]; then
      why="result gate failed: ${SFLOW_GATE_WHY[i]}"
    elif ((rc == 0 && SFLOW_NEED_PROBES[i] > 0 && !was_ready)); then
      why="exited before it was ready"
    elif ((rc != 0)); then
      why="exited with status $rc"
    fi
  fi
  if [[ -z $why ]]; then
    SFLOW_ST[i]='done' SFLOW_WHY[i]=''
    sflow_index_result "$i"
    ((was_ready)) || SFLOW_UNSETTLED=$((SFLOW_UNSETTLED - 1))
    sflow_event "finished $name (exit 0)"
    sflow_free "$i"
    return 0
  fi
  ((was_ready)) && SFLOW_UNSETTLED=$((SFLOW_UNSETTLED + 1))
  SFLOW_WHY[i]=$why
  if ((SFLOW_ATTEMPT[i] <= SFLOW_RETRIES[i])) && [[ $why != "failure probe"* ]] && ((!SFLOW_STOPPING)); then
    local delay=$((SFLOW_INTERVAL[i] * 1000)) k
    for ((k = 1; k < SFLOW_ATTEMPT[i]; k++)); do delay=$((delay * SFLOW_BACKOFF[i])); done
    SFLOW_ST[i]=waiting
    SFLOW_RETRY_AT[i]=$((SFLOW_NOW + delay + SFLOW_SLACK))
    SFLOW_TIMED[$i]=1
    sflow_event "retrying $name in $((delay / 1000))s: attempt ${SFLOW_ATTEMPT[i]} $why"
    return 0
  fi
  SFLOW_ST[i]=failed
  sflow_index_result "$i"
  SFLOW_UNSETTLED=$((SFLOW_UNSETTLED - 1))
  SFLOW_FAILED=$((SFLOW_FAILED + 1))
  sflow_event "FAILED $name: $why (see $SFLOW_RUN_DIR/$name/$name.log)"
}

# Readiness probe k of task i passed.
sflow_on_probe_ok() {
  local i=$1
  [[ ${SFLOW_ST[i]} == running ]] || return 0
  SFLOW_OK_PROBES[i]=$((SFLOW_OK_PROBES[i] + 1))
  ((SFLOW_OK_PROBES[i] >= SFLOW_NEED_PROBES[i])) || return 0
  SFLOW_ST[i]=ready
  SFLOW_UNSETTLED=$((SFLOW_UNSETTLED - 1))
  sflow_event "ready ${SFLOW_TABLE[SFLOW_T_AT[i]]}"
  sflow_free "$i"
}

# Fires the timers that are due and sets SFLOW_WAIT_S to the time until the
# next one (empty when none).
sflow_timers() {
  local i next=0 t
  sflow_clock
  for i in "${!SFLOW_TIMED[@]}"; do
    if [[ ${SFLOW_ST[i]} == waiting ]]; then
      t=${SFLOW_RETRY_AT[i]}
      if ((t <= SFLOW_NOW)); then
        unset "SFLOW_TIMED[$i]"
        sflow_launch_task "$i"
        [[ -n ${SFLOW_TIMED[$i]:-} ]] && t=${SFLOW_DEADLINE[i]} || continue
      fi
    else
      t=${SFLOW_DEADLINE[i]}
      if ((t <= SFLOW_NOW)); then
        unset "SFLOW_TIMED[$i]"
        [[ -z ${SFLOW_KILL_WHY[i]} ]] && sflow_kill_async "$i" "timed out after $(((SFLOW_NOW - SFLOW_LAUNCH_T[i]) / 1000))s (timeout)"
        continue
      fi
    fi
    ((next == 0 || t < next)) && next=$t
  done
  ((SFLOW_WF_DEADLINE > 0 && (next == 0 || SFLOW_WF_DEADLINE < next))) && next=$SFLOW_WF_DEADLINE
  SFLOW_WAIT_S=''
  if ((next > 0)); then
    t=$((next - SFLOW_NOW))
    ((t < 1)) && t=1
    printf -v SFLOW_WAIT_S '%d.%03d' $((t / 1000)) $((t % 1000))
  fi
}

# Stops the running attempts of tasks $@ (task indices): SIGTERM, then SIGKILL to
# their process groups after the grace period; waits until every one is gone.
sflow_stop_tasks() {
  (($#)) || return 0
  local i pid killer pids=()
  for i; do pids+=("${SFLOW_PID[i]}"); done
  sflow_term "$@"
  sflow_kill_later '' "${pids[@]/#/-}"
  killer=$SFLOW_BG
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  # Processes a task left behind in its group (ignoring SIGTERM) get the SIGKILL.
  local left=0
  for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && left=1; done
  ((left)) || kill -- "-$killer" 2>/dev/null
  wait "$killer" 2>/dev/null
}

# Stops every live task at once and marks what never ran as skipped.
sflow_stop_all() {
  local i live=()
  sflow_clock
  for i in "${!SFLOW_ST[@]}"; do
    [[ -n ${SFLOW_KILLER[i]:-} ]] && kill -- "-${SFLOW_KILLER[i]}" 2>/dev/null
    case ${SFLOW_ST[i]} in
      running | ready) live+=("$i") ;&
      waiting) SFLOW_ST[i]=stopped SFLOW_END[i]=$SFLOW_NOW SFLOW_WHY[i]=$1 ;;
      pending) SFLOW_ST[i]=skipped SFLOW_WHY[i]=$1 ;;
    esac
  done
  # A signal may be followed by SIGKILL (Slurm's KillWait): record the outcome first.
  [[ -n ${2:-} ]] && sflow_summary "$2" quiet
  sflow_stop_tasks "${live[@]}"
  wait
}

# Stops the services still running, in reverse dependency order, one by one.
sflow_stop_services() {
  local i
  for ((i = ${#SFLOW_T_AT[@]} - 1; i >= 0; i--)); do
    [[ ${SFLOW_ST[i]} == ready || ${SFLOW_ST[i]} == running ]] || continue
    sflow_event "stopping ${SFLOW_TABLE[SFLOW_T_AT[i]]}"
    sflow_stop_tasks "$i"
    sflow_clock
    SFLOW_ST[i]=stopped SFLOW_END[i]=$SFLOW_NOW SFLOW_WHY[i]="service stopped at the end"
  done
}

# Signals to the batch shell (scancel, the time limit, Ctrl-C): stop everything,
# write the summary, exit 128+N.
sflow_on_signal() {
  ((SFLOW_STOPPING)) && return 0
  SFLOW_STOPPING=1
  sflow_event "received SIG$1: stopping every task"
  sflow_stop_all "stopped by SIG$1" "$2"
  sflow_finish "$2"
}

sflow_fmt_time() { printf -v "$1" '%(%H:%M:%S)T' $(($2 / 1000)); }

# The summary table for exit code $1, into summary.txt (and on stdout unless $2 is
# "quiet").
sflow_summary() {
  local code=$1 i start dur rc line
  ((SFLOW_RESULTS_STALE)) && sflow_write_results
  {
    printf '\n%-32s %-8s %8s %9s %9s %5s  %s\n' TASK STATE ATTEMPTS START DURATION EXIT NOTE
    for i in "${!SFLOW_T_AT[@]}"; do
      start=- dur=- rc=${SFLOW_RC[i]:--}
      if [[ -n ${SFLOW_START[i]:-} ]]; then
        sflow_fmt_time start "${SFLOW_START[i]}"
        local end=${SFLOW_END[i]:-$SFLOW_NOW}
        dur=$(((end - SFLOW_START[i]) / 1000))s
      fi
      printf -v line '%-32s %-8s %8s %9s %9s %5s  %s' "${SFLOW_TABLE[SFLOW_T_AT[i]]}" "${SFLOW_ST[i]}" \
        "${SFLOW_ATTEMPT[i]}" "$start" "$dur" "$rc" "${SFLOW_WHY[i]:-}"
      printf '%s\n' "${line%"${line##*[! ]}"}"
    done
    case $code in
      0) printf '\nsflow: workflow %s succeeded\n' "$SFLOW_WORKFLOW_NAME" ;;
      124) printf '\nsflow: workflow %s timed out\n' "$SFLOW_WORKFLOW_NAME" ;;
      *) printf '\nsflow: workflow %s failed (exit %s)\n' "$SFLOW_WORKFLOW_NAME" "$code" ;;
    esac
    if ((${#SFLOW_RESULT_ROW[@]})); then
      printf '\nResults (results.json, results.csv):\n'
      for i in "${!SFLOW_RESULT_ROW[@]}"; do
        printf '%s\t%s\n' "$i" "${SFLOW_RESULT_ROW[i]}"
      done >"$SFLOW_RUN_DIR/.sflow/results.tsv"
      awk -v mode=table "$SFLOW_AWK_TABLE" "$SFLOW_RUN_DIR/.sflow/results.tsv"
      awk -v mode=csv "$SFLOW_AWK_TABLE" "$SFLOW_RUN_DIR/.sflow/results.tsv" >"$SFLOW_RUN_DIR/results.csv"
      printf '\n'
    fi
    printf 'sflow: logs in %s\n' "$SFLOW_RUN_DIR"
  } >"$SFLOW_RUN_DIR/summary.txt.new"
  mv -f "$SFLOW_RUN_DIR/summary.txt.new" "$SFLOW_RUN_DIR/summary.txt"
  [[ ${2:-} == quiet ]] || cat "$SFLOW_RUN_DIR/summary.txt"
}

# Writes the summary, cleans up and exits with $1.
sflow_finish() {
  local code=$1
  sflow_summary "$code"
  # Leftovers of finished steps that are still being swept: they go now.
  local g
  for g in "${SFLOW_SWEPT[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
  for g in "${SFLOW_SWEEPERS[@]}"; do kill -- "-$g" 2>/dev/null; done
  wait
  if [[ -n ${SLURM_JOB_ID:-} && -n ${SFLOW_SLURM_OUTPUT:-} ]]; then
    local out=${SFLOW_SLURM_OUTPUT//%x/${SLURM_JOB_NAME:-}}
    out=${out//%j/$SLURM_JOB_ID}
    [[ $out == /* ]] || out=${SLURM_SUBMIT_DIR:-.}/$out
    [[ -f $out ]] && cp -f "$out" "$SFLOW_RUN_DIR/" 2>/dev/null
  fi
  exec {SFLOW_FIFO_FD}>&-
  rm -f "$SFLOW_RUN_DIR/.sflow/events"
  exit "$code"
}

sflow_init() {
  SFLOW_WORKSPACE_DIR=${SFLOW_DEFAULT_WORKSPACE:-${SLURM_SUBMIT_DIR:-$PWD}}
  SFLOW_OUTPUT_DIR=${SFLOW_OUTPUT_DIR:-${SFLOW_DEFAULT_OUTPUT:-$SFLOW_WORKSPACE_DIR/sflow_output}}
  [[ $SFLOW_OUTPUT_DIR == /* ]] || SFLOW_OUTPUT_DIR=$SFLOW_WORKSPACE_DIR/$SFLOW_OUTPUT_DIR
  cd "$SFLOW_WORKSPACE_DIR" || sflow_die "cannot enter the workspace $SFLOW_WORKSPACE_DIR"
  local stamp hex k path text prefix=${SFLOW_RUN_ID_PREFIX:-${SLURM_JOB_ID:-}}
  printf -v stamp '%(%Y%m%d-%H%M%S)T' -1
  printf -v hex '%06x' $(((RANDOM << 9 ^ RANDOM ^ $$) & 0xffffff))
  SFLOW_RUN_DIR=$SFLOW_OUTPUT_DIR/${prefix:+$prefix-}$SFLOW_WORKFLOW_NAME-$stamp-$hex
  # The first root tasks' directories come with it, saving their runners a mkdir.
  local -a dirs=("$SFLOW_RUN_DIR/.sflow")
  for k in "${SFLOW_ROOTS[@]:0:64}"; do dirs+=("$SFLOW_RUN_DIR/${SFLOW_TABLE[SFLOW_T_AT[k]]}"); done
  mkdir -p "${dirs[@]}" || sflow_die "cannot create $SFLOW_RUN_DIR"
  sflow_find_nodes
  sflow_exports SFLOW_ENV_NAMES SFLOW_ENV_VALUES
  SFLOW_ENV_TEXT=$SFLOW_EXPORTS
  # The exports every task's step gets after its own (the Slurm ones on Slurm only).
  printf -v SFLOW_RUN_ENV 'export SFLOW_WORKSPACE_DIR=%q SFLOW_OUTPUT_DIR=%q SFLOW_WORKFLOW_OUTPUT_DIR=%q SFLOW_WORKFLOW_RESULT_FILE=%q\n' \
    "$SFLOW_WORKSPACE_DIR" "$SFLOW_OUTPUT_DIR" "$SFLOW_RUN_DIR" "$SFLOW_RUN_DIR/results.json"
  printf -v SFLOW_SLURM_ENV 'export SFLOW_BACKEND_JOB_ID=%q SFLOW_BACKEND_NODELIST=%q SFLOW_BACKEND_NUM_NODES=%q\n' \
    "${SLURM_JOB_ID:-}" "${SLURM_JOB_NODELIST:-${SLURM_NODELIST:-}}" "${SLURM_NNODES:-${#SFLOW_NODE_NAME[@]}}"
  for k in "${!SFLOW_FILE_PATHS[@]}"; do
    path=${SFLOW_FILE_PATHS[k]} text=${SFLOW_FILE_TEXTS[k]}
    sflow_fill path
    sflow_fill text
    mkdir -p "${path%/*}" && printf '%s' "$text" >"$path" || sflow_die "cannot write the artifact $path"
  done
  # The events FIFO: held open read-write by main, removed by sflow_finish.
  local fifo=$SFLOW_RUN_DIR/.sflow/events
  mkfifo "$fifo" || sflow_die "cannot create $fifo"
  exec {SFLOW_FIFO_FD}<>"$fifo"
  sflow_clock
  ((SFLOW_WORKFLOW_TIMEOUT > 0)) && SFLOW_WF_DEADLINE=$((SFLOW_NOW + SFLOW_WORKFLOW_TIMEOUT * 1000))
  sflow_event "workflow $SFLOW_WORKFLOW_NAME: ${#SFLOW_T_AT[@]} tasks, run directory $SFLOW_RUN_DIR"
}

sflow_main() {
  sflow_init
  trap 'sflow_on_signal TERM 143' TERM
  trap 'sflow_on_signal INT 130' INT
  trap 'sflow_on_signal HUP 129' HUP
  local i n=${#SFLOW_T_AT[@]} ev id a rest fill
  # One state per task, filled in bulk (a loop costs microseconds per task).
  printf -v fill '%*s' "$n" ''
  # shellcheck disable=SC2206
  SFLOW_ST=(${fill// / pending}) SFLOW_ATTEMPT=(${fill// / 0}) SFLOW_FREED=(${fill// / 0})
  SFLOW_UNSETTLED=$n
  for i in "${SFLOW_ROOTS[@]}"; do sflow_launch_task "$i"; done
  while ((SFLOW_UNSETTLED > 0 && SFLOW_FAILED == 0)); do
    sflow_timers
    if ((SFLOW_WF_DEADLINE > 0 && SFLOW_NOW >= SFLOW_WF_DEADLINE)); then
      SFLOW_STOPPING=1
      sflow_event "workflow timeout (${SFLOW_WORKFLOW_TIMEOUT}s) reached: stopping every task"
      sflow_stop_all "workflow timeout"
      sflow_finish 124
    fi
    if [[ -n $SFLOW_WAIT_S ]]; then
      read -r -t "$SFLOW_WAIT_S" -u "$SFLOW_FIFO_FD" ev id a rest || continue
    else
      read -r -u "$SFLOW_FIFO_FD" ev id a rest || continue
    fi
    [[ $a == "${SFLOW_ATTEMPT[id]}" ]] || continue
    case $ev in
      exit) sflow_on_exit "$id" "$rest" ;;
      probe-ok) sflow_on_probe_ok "$id" ;;
      result-failed) SFLOW_GATE_WHY[id]=$rest ;;
      probe-timeout)
        [[ ${SFLOW_ST[id]} == running && -z ${SFLOW_KILL_WHY[id]} ]] &&
          sflow_kill_async "$id" "readiness probe ($rest) timed out"
        ;;
      probe-failed)
        [[ ${SFLOW_ST[id]} == running || ${SFLOW_ST[id]} == ready ]] && [[ -z ${SFLOW_KILL_WHY[id]} ]] &&
          sflow_kill_async "$id" "failure probe ($rest) fired"
        ;;
    esac
  done
  SFLOW_STOPPING=1
  if ((SFLOW_FAILED)); then
    sflow_event "stopping every task after the failure"
    sflow_stop_all "stopped after a failure"
    sflow_finish 1
  fi
  sflow_stop_services
  sflow_finish 0
}
