//! Big sweeps stay small: Slurm refuses batch scripts over 4 MB by default, so replicas
//! are rows of a table, not copies of the task.

use crate::common;

/// A server with a readiness probe, then a sequential sweep of n × n × n benchmarks.
pub fn sweep_workflow(n: usize) -> String {
    let domain = |start: usize| {
        (0..n)
            .map(|i| (start + i * 8).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"version: "0.1"
variables:
  CONCURRENCY: {{value: 1, domain: [{}]}}
  ISL: {{value: 128, domain: [{}]}}
  OSL: {{value: 64, domain: [{}]}}
backends:
  - {{name: cluster, type: slurm, nodes: 4, gpus_per_node: 8}}
workflow:
  name: sweep
  tasks:
    - name: server
      resources:
        nodes: {{indices: [0]}}
        gpus: {{count: 4}}
      script:
        - python3 -m sglang.launch_server --port 8000 --host 0.0.0.0
      probes:
        readiness:
          tcp_port: {{port: 8000}}
    - name: bench
      depends_on: [server]
      resources:
        nodes: {{indices: [1]}}
      replicas:
        variables: [CONCURRENCY, ISL, OSL]
        policy: sequential
      script:
        - >
          aiperf profile --url http://${{{{ backends.cluster.nodes[0].ip_address }}}}:8000
          --concurrency ${{{{ variables.CONCURRENCY }}}} --isl $ISL --osl ${{{{ variables.OSL }}}}
"#,
        domain(1),
        domain(128),
        domain(64)
    )
}

#[test]
fn ten_thousand_replicas_compile_to_a_script_under_two_megabytes() {
    let (script, _) = common::compile("sweep.yaml", &sweep_workflow(22), &[]).unwrap();
    let replicas = script.lines().filter(|l| l.starts_with("  bench_")).count();
    assert_eq!(replicas, 22 * 22 * 22);
    assert!(replicas >= 10_000);
    assert!(script.len() < 2_000_000, "{} bytes", script.len());
    let per_replica = (script.len() - sflow::emit::RUNTIME.len()) / replicas;
    assert!(per_replica <= 150, "{per_replica} bytes per replica");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.sh");
    std::fs::write(&path, &script).unwrap();
    let bash = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .status()
        .unwrap();
    assert!(bash.success());
}
