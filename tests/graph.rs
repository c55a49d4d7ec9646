//! `sflow graph` and the GPU map of `sflow plan`, as snapshots: Mermaid and DOT of a
//! workflow with a service, parallel replicas, a pinned task and a sequential sweep; the
//! map of a multi-node GPU workflow whose GPUs are handed on; SVG through Graphviz when
//! `dot` is installed, and a clear error (exit 2) when it is not.

use crate::common::{self, sflow, text, workspace};

const SERVING: &str = r#"version: "0.1"
variables:
  CONCURRENCY: {value: 8, domain: [8, 16, 32]}
backends:
  - {name: cluster, type: slurm, nodes: 2, gpus_per_node: 4}
workflow:
  name: serving
  tasks:
    - name: etcd
      script: ["etcd"]
      probes: {readiness: {tcp_port: {port: 2379}}}
    - name: prefill
      depends_on: [etcd]
      replicas: {count: 2}
      resources: {gpus: {count: 2}}
      script: ["serve prefill"]
      probes: {readiness: {log_watch: {regex_pattern: ready}}}
    - name: decode
      depends_on: [etcd]
      resources: {nodes: {indices: [1]}, gpus: {count: 4}}
      script: ["serve decode"]
      probes: {readiness: {log_watch: {regex_pattern: ready}}}
    - name: bench
      depends_on: [prefill, decode]
      replicas: {variables: [CONCURRENCY], policy: sequential}
      script: ["bench ${{ CONCURRENCY }}"]
"#;

const TRAINING: &str = r#"version: "0.1"
backends:
  - {name: cluster, type: slurm, nodes: 3, gpus_per_node: 8}
workflow:
  name: training
  tasks:
    - name: store
      script: ["serve-store"]
      resources: {gpus: {count: 2}}
      probes: {readiness: {tcp_port: {port: 9000}}}
    - name: prep
      depends_on: [store]
      resources: {gpus: {count: 4}}
      script: ["prepare"]
    - name: train
      depends_on: [prep]
      resources: {nodes: {indices: [1, 2]}, gpus: {count: 6}}
      script: ["train"]
    - name: eval
      depends_on: [train]
      replicas: {count: 3}
      resources: {gpus: {count: 4, release_after: task_ready}}
      script: ["evaluate"]
"#;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(common::root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

fn run(files: &[(&str, &str)], args: &[&str]) -> String {
    let dir = workspace(files);
    let out = sflow(dir.path(), args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn graph_snapshots() {
    let files = [("serving.yaml", SERVING)];
    settings().bind(|| {
        insta::assert_snapshot!("graph@mermaid", run(&files, &["graph", "serving.yaml"]));
        insta::assert_snapshot!(
            "graph@dot",
            run(&files, &["graph", "serving.yaml", "--format", "dot"])
        );
    });
}

#[test]
fn plan_shows_the_gpu_map_of_a_multi_node_workflow() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "plan@gpu_map",
            run(&[("training.yaml", TRAINING)], &["plan", "training.yaml"])
        );
    });
}

#[test]
fn svg_needs_graphviz() {
    let dir = workspace(&[("serving.yaml", SERVING)]);
    let out = sflow(
        dir.path(),
        &["graph", "serving.yaml", "--format", "svg", "-o", "g.svg"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs Graphviz's `dot`, which is not installed"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("g.svg").exists());
    let has_dot = std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_dot {
        eprintln!("note: Graphviz is not installed; the SVG output itself is not checked");
        return;
    }
    let out = sflow(
        dir.path(),
        &["graph", "serving.yaml", "--format", "svg", "-o", "g.svg"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(dir.path().join("g.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("bench_16"), "{svg}");
}
