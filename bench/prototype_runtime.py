#!/usr/bin/env python3
"""Measures the runtime changes proposed in bench/PROFILE.md without touching
templates/runtime.sh: it compiles the workloads, rewrites copies of the generated
scripts the way the proposals would, checks the rewritten scripts still succeed, and
times both versions interleaved (median of --runs).

    bench/prototype_runtime.py [--runs 11]

P1  the task table as array literals computed by the compiler (no `sflow_task` call,
    no name→index map, per task);
P2  one `mkdir -p` per scheduling step for every task it launches, instead of one
    `mkdir` process per task launch;
P4  main's start-up loops over all tasks replaced by whole-array fills.

This is an experiment on generated text, not an implementation: P1 belongs in
src/emit.rs plus the runtime, P2 and P4 in the runtime.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
bench = importlib.machinery.SourceFileLoader("bench_run", str(HERE / "run")).load_module()


def replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise SystemExit(f"the runtime changed; cannot find:\n{old}")
    return text.replace(old, new)


def p1_table_literals(s: str) -> str:
    out, rows = [], []
    for line in s.split("\n"):
        if line.startswith("sflow_task "):
            rows.append(shlex.split(line)[1:])
            continue
        if line.startswith('sflow_main "$@"'):
            index = {r[0]: i for i, r in enumerate(rows)}
            wait, nxt, at, count, slots = [0] * len(rows), [""] * len(rows), [], [], []
            for i, r in enumerate(rows):
                if r[3] != "-":
                    for dep in r[3].split(","):
                        wait[i] += 1
                        nxt[index[dep]] += f" {i}"
                at.append(len(slots))
                count.append(len(r) - 6)
                slots += r[6:]
            columns = {
                "SFLOW_T_NAME": [r[0] for r in rows], "SFLOW_T_GROUP": [r[1] for r in rows],
                "SFLOW_T_REPLICA": [r[2] for r in rows], "SFLOW_T_NODES": [r[4] for r in rows],
                "SFLOW_T_GPUS": [r[5] for r in rows], "SFLOW_T_WAIT": wait, "SFLOW_T_NEXT": nxt,
                "SFLOW_T_SLOT_AT": at, "SFLOW_T_SLOT_N": count, "SFLOW_SLOTS": slots,
            }
            for name, values in columns.items():
                out.append(f"{name}=(" + " ".join(shlex.quote(str(v)) for v in values) + ")")
        out.append(line)
    return "\n".join(out)


def p2_batched_mkdir(s: str) -> str:
    s = replace_once(s, '  mkdir -p "$dir" || sflow_die "cannot create $dir"\n', "")
    s = replace_once(s, '''  for j in ${SFLOW_T_NEXT[i]}; do
    SFLOW_T_WAIT[j]=$((SFLOW_T_WAIT[j] - 1))
    if ((SFLOW_T_WAIT[j] == 0)) && [[ ${SFLOW_ST[j]} == pending ]]; then
      sflow_launch_task "$j"
    fi
  done''', '''  local ready=()
  for j in ${SFLOW_T_NEXT[i]}; do
    SFLOW_T_WAIT[j]=$((SFLOW_T_WAIT[j] - 1))
    if ((SFLOW_T_WAIT[j] == 0)) && [[ ${SFLOW_ST[j]} == pending ]]; then
      ready+=("$j")
    fi
  done
  ((${#ready[@]})) && sflow_launch_many "${ready[@]}"
  return 0''')
    s = replace_once(s, '''  for ((i = 0; i < n; i++)); do
    ((SFLOW_T_WAIT[i] == 0)) && [[ ${SFLOW_ST[i]} == pending ]] && sflow_launch_task "$i"
  done''', '''  local ready=()
  for ((i = 0; i < n; i++)); do
    ((SFLOW_T_WAIT[i] == 0)) && ready+=("$i")
  done
  sflow_launch_many "${ready[@]}"''')
    return replace_once(s, "# Marks task i as no longer blocking", '''sflow_launch_many() {
  local i dirs=()
  for i; do dirs+=("$SFLOW_RUN_DIR/${SFLOW_T_NAME[i]}"); done
  mkdir -p -- "${dirs[@]}" || sflow_die "cannot create the task directories"
  for i; do sflow_launch_task "$i"; done
}

# Marks task i as no longer blocking''')


def p4_array_fills(s: str) -> str:
    return replace_once(s, '''  for ((i = 0; i < n; i++)); do
    SFLOW_ST[i]=pending SFLOW_ATTEMPT[i]=0 SFLOW_FREED[i]=0 SFLOW_SERVICE[i]=0
  done''', '''  local zeros pend
  printf -v zeros '%*s' "$n" ''
  pend=${zeros// / pending} zeros=${zeros// / 0}
  read -r -a SFLOW_ST <<<"$pend"
  read -r -a SFLOW_ATTEMPT <<<"$zeros"
  SFLOW_FREED=("${SFLOW_ATTEMPT[@]}") SFLOW_SERVICE=("${SFLOW_ATTEMPT[@]}")''')


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=bench.ROOT, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=str(bench.TARGET)))
    tmp = Path(tempfile.mkdtemp(prefix="sflow-proto-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SFLOW_"))}
    slurm = dict(base, PATH=f"{bench.SHIMS}:{base.get('PATH', '')}", SLURM_JOB_ID="4242",
                 SLURM_JOB_NODELIST="node[0-3]", SLURM_NNODES="4", SLURM_SUBMIT_DIR=str(tmp))
    workloads = [
        ("local: chain of 20, total", bench.chain_yaml(20), base, None),
        ("local: 100 + 1 replicas, total", bench.fan_yaml(100), base, None),
        ("in-job: local, 1 task", bench.first_line_yaml(0, False), base, "first"),
        ("in-job: local, 1 + 1000 waiting", bench.first_line_yaml(1000, True), base, "first"),
        ("in-job: Slurm sweep of 1000 (fake)", bench.sweep_yaml((10, 10, 10), "proto", ["date +%s%N", "exit 1"]),
         slurm, "server"),
    ]
    variants = {"as compiled": lambda s: s, "P2": p2_batched_mkdir,
                "P1+P2+P4": lambda s: p4_array_fills(p2_batched_mkdir(p1_table_literals(s)))}
    sizes = []
    print(f"| workload | {' | '.join(variants)} |")
    print("|---|" + "---:|" * len(variants))
    for k, (label, text, env, first_task) in enumerate(workloads):
        y = tmp / f"w{k}.yaml"
        y.write_text(text)
        original = tmp / f"w{k}.sh"
        subprocess.run([bench.OURS, "compile", y, "-o", original], check=True, cwd=tmp)
        scripts = {}
        for name, rewrite in variants.items():
            path = tmp / f"w{k}-{name.replace('+', '_').replace(' ', '_')}.sh"
            path.write_text(rewrite(original.read_text()))
            scripts[name] = path
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, path in scripts.items():
                if first_task:
                    latency, why = bench.first_line_latency(path, tmp, env, first_task)
                    if why:
                        raise SystemExit(f"{label} / {name}: {why}")
                    times[name].append(latency)
                else:
                    out = tmp / "out"
                    shutil.rmtree(out, ignore_errors=True)
                    t = time.perf_counter()
                    subprocess.run(["bash", path], cwd=tmp, env=dict(env, SFLOW_OUTPUT_DIR=str(out)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    times[name].append(time.perf_counter() - t)
                    summary = next(out.glob("*/summary.txt"), None)
                    if not summary or "succeeded" not in summary.read_text():
                        raise SystemExit(f"{label} / {name}: the workflow did not succeed")
        cells = [f"{statistics.median(v) * 1000:.1f} ms" for v in times.values()]
        print(f"| {label} | {' | '.join(cells)} |", flush=True)
        sizes.append((label, [p.stat().st_size for p in scripts.values()]))
    print("\nScript bytes:")
    for label, per_variant in sizes:
        print(f"  {label}: " + ", ".join(f"{n} {b:,}" for n, b in zip(variants, per_variant)))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
