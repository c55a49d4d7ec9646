//! Each operator compiles and runs: bash and python locally, ssh through the stand-in
//! `tests/shims/ssh`, srun through the stand-in srun (container flags included).

use crate::common::job::{self, Launch};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn bash_python_and_ssh_operators_run_with_the_task_env() {
    let yaml = r#"version: "0.1"
variables:
  GREETING: {value: "hello 'world'"}
operators:
  - name: py
    type: python
    python_exec: python3
    extra_args: ["-u"]
  - name: remote
    type: ssh
    host: gpu-box
    user: alice
    port: 2222
    extra_args: ["-o StrictHostKeyChecking=no"]
  - name: sh
    type: bash
workflow:
  name: operators
  tasks:
    - name: with_bash
      operator: sh
      script:
        - echo "bash says $GREETING from replica $SFLOW_REPLICA_INDEX"
    - name: with_python
      operator: py
      script:
        - import os
        - print("python says", os.environ["GREETING"], os.environ["SFLOW_TASK_OUTPUT_DIR"].endswith("/with_python"))
    - name: with_ssh
      operator: remote
      script:
        - echo "ssh says $GREETING in $SFLOW_TASK_OUTPUT_DIR" | sed "s|$SFLOW_WORKFLOW_OUTPUT_DIR|RUN|"
"#;
    let job = job::compile(yaml, &[]);
    let out = job.run(Launch::Slurm(1), LIMIT);
    out.assert_code(0);
    assert_eq!(
        out.lines("with_bash"),
        ["bash says hello 'world' from replica 0"]
    );
    assert_eq!(out.lines("with_python"), ["python says hello 'world' True"]);
    assert_eq!(
        out.lines("with_ssh"),
        ["ssh says hello 'world' in RUN/with_ssh"]
    );
    let log = std::fs::read_to_string(job.path("slurm.log")).unwrap();
    assert!(log.contains("ssh alice@gpu-box"), "{log}");
}

#[test]
fn srun_operator_flags_reach_srun_in_the_reference_order() {
    let yaml = r#"version: "0.1"
artifacts:
  - name: MODEL
    uri: fs:///models/qwen
backends:
  - {name: cluster, type: slurm, nodes: 2, gpus_per_node: 4}
operators:
  - name: dynamo
    type: srun
    container_image: nvcr.io/nvidia/dynamo:1.0
    container_mounts: ["/data:/data"]
    mpi: pmix
    ntasks_per_node: 1
    extra_args: ["--cpu-bind=none", "--container-mounts=/scratch:/scratch"]
workflow:
  name: containers
  tasks:
    - name: step
      operator:
        name: dynamo
        ntasks: 2
        extra_args: ["--exact"]
      script:
        - echo "in step $SFLOW_TASK_PROCESS_ID of $SFLOW_TASK_NUM_PROCESSES"
"#;
    let job = job::compile(yaml, &[]);
    let out = job.run(Launch::Slurm(2), LIMIT);
    out.assert_code(0);
    let mut lines = out.ranked_lines("step");
    lines.sort();
    assert_eq!(lines, ["0: in step 0 of 2", "1: in step 1 of 2"]);
    let run = out.run_dir.display().to_string();
    let ws = job.dir.path().display().to_string();
    let argv = std::fs::read_to_string(job.path("slurm.log")).unwrap();
    let want = format!(
        "srun --nodes=2 --nodelist=node0,node1 --ntasks=2 --ntasks-per-node=1 --job-name=step \
         --unbuffered --export=ALL --label --overlap --mpi=pmix \
         --container-image=nvcr.io/nvidia/dynamo:1.0 --no-container-mount-home --container-writable \
         --container-mounts=/data:/data,/scratch:/scratch,/models/qwen:/models/qwen:rw,{ws}:{ws}:rw,{ws}/out:{ws}/out:rw,{run}:{run}:rw,{run}/step:{run}/step:rw \
         --cpu-bind=none --exact"
    );
    assert_eq!(argv.trim(), want);
}
