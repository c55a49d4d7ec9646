//! The generated script's runtime, run for real: scheduling order, services and probes,
//! fail-fast, retries, timeouts, signals, environment and logs. Local backend with bash,
//! and the Slurm backend against the fake srun/scontrol in `tests/shims`. Tests assert
//! order, never tight timings; every wait is bounded far above what is expected, and
//! every run is checked for processes left behind.

use crate::common::http;
use crate::common::job::{self, Launch, stamp};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Lines that record when the task started and ended, in nanoseconds.
const TIMED: &str = r#"date +%s%N > "$SFLOW_TASK_OUTPUT_DIR/start""#;
const TIMED_END: &str = r#"date +%s%N > "$SFLOW_TASK_OUTPUT_DIR/end""#;

fn timed(body: &str) -> String {
    format!("        - '{TIMED}'\n        - {body}\n        - '{TIMED_END}'\n")
}

fn times(out: &job::Outcome, task: &str) -> (u128, u128) {
    (
        stamp(&out.run_dir.join(task).join("start")),
        stamp(&out.run_dir.join(task).join("end")),
    )
}

#[test]
fn parallel_replicas_overlap_and_their_dependent_waits_for_all() {
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: par
  tasks:
    - name: worker
      replicas: {{count: 4, policy: parallel}}
      script:
{}    - name: after
      depends_on: [worker]
      script:
{}"#,
        timed("sleep 1"),
        timed("true")
    );
    job::on_both_backends(&yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let workers: Vec<_> = (0..4).map(|i| times(out, &format!("worker_{i}"))).collect();
        let last_start = workers.iter().map(|w| w.0).max().unwrap();
        let first_end = workers.iter().map(|w| w.1).min().unwrap();
        assert!(
            last_start < first_end,
            "the 4 replicas did not overlap: {workers:?}"
        );
        let after = times(out, "after");
        let last_end = workers.iter().map(|w| w.1).max().unwrap();
        assert!(
            after.0 >= last_end,
            "`after` started before every replica ended"
        );
    });
}

#[test]
fn sequential_replicas_run_in_order_and_the_dependent_waits_for_the_last() {
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: seq
  tasks:
    - name: step
      replicas: {{count: 3, policy: sequential}}
      script:
{}    - name: after
      depends_on: [step]
      script:
{}"#,
        timed("sleep 0.2"),
        timed("true")
    );
    job::on_both_backends(&yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let steps: Vec<_> = (0..3).map(|i| times(out, &format!("step_{i}"))).collect();
        for pair in steps.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "replicas overlapped or ran out of order: {steps:?}"
            );
        }
        assert!(times(out, "after").0 >= steps[2].1);
    });
}

#[test]
fn a_dependent_never_waits_for_an_unrelated_task() {
    // A (3 s) -> C and B (0.2 s) -> D: D must start while A is still running.
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: nowait
  tasks:
    - name: a
      script:
{}    - name: b
      script:
{}    - name: c
      depends_on: [a]
      script:
{}    - name: d
      depends_on: [b]
      script:
{}"#,
        timed("sleep 3"),
        timed("sleep 0.2"),
        timed("true"),
        timed("true")
    );
    job::on_both_backends(&yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let (a, d) = (times(out, "a"), times(out, "d"));
        assert!(d.0 < a.1, "d started only after a ended");
    });
}

#[test]
fn a_server_with_a_tcp_probe_serves_its_client_and_is_stopped_at_the_end() {
    let port = http::free_port();
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: serve
  tasks:
    - name: server
      script:
        - exec python3 -m http.server {port} --bind 127.0.0.1
      probes:
        readiness:
          tcp_port: {{port: {port}}}
          interval: 1
    - name: client
      depends_on: [server]
      script:
        - exec 3<>/dev/tcp/127.0.0.1/{port}
        - echo connected
"#
    );
    job::on_both_backends(&yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        assert_eq!(out.lines("client"), ["connected"]);
        let events = out.file("events.log");
        let pos = |what: &str| {
            events
                .find(what)
                .unwrap_or_else(|| panic!("no `{what}` in\n{events}"))
        };
        assert!(pos("ready server") < pos("launched client"));
        assert!(pos("finished client") < pos("stopping server"));
        assert_eq!(out.state("server"), "stopped");
    });
}

#[test]
fn log_watch_readiness_literal_regex_count_and_logger() {
    let yaml = r#"version: "0.1"
workflow:
  name: logs
  tasks:
    - name: literal
      script:
        - echo "boot [done] (1.2s)"
        - sleep 30
      probes:
        readiness:
          log_watch: {match_pattern: "[done] (1.2s)"}
          interval: 0
    - name: regex
      script:
        - echo "listening on port 8123"
        - sleep 30
      probes:
        readiness:
          log_watch: {regex_pattern: 're:port \d+$'}
          interval: 0
    - name: twice
      script:
        - echo worker up
        - sleep 0.5
        - echo worker up
        - sleep 30
      probes:
        readiness:
          log_watch: {match_pattern: worker up, match_count: 2}
          interval: 0
    - name: follower
      script:
        - sleep 30
      probes:
        readiness:
          log_watch: {match_pattern: "[done]", logger: literal}
          interval: 0
    - name: client
      depends_on: [literal, regex, twice, follower]
      script:
        - echo all ready
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        assert_eq!(out.lines("client"), ["all ready"]);
        for service in ["literal", "regex", "twice", "follower"] {
            assert_eq!(out.state(service), "stopped", "{service}");
        }
        let events = out.file("events.log");
        let ready_twice = events.find("ready twice").unwrap();
        assert!(ready_twice > events.find("launched twice").unwrap());
    });
}

#[test]
fn http_get_and_post_readiness_against_a_real_server() {
    let server = http::serve(200);
    let port = server.port;
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: http
  tasks:
    - name: get_svc
      script: [sleep 30]
      probes:
        readiness:
          http_get: {{url: "http://127.0.0.1:{port}/health"}}
          interval: 0
    - name: post_svc
      script: [sleep 30]
      probes:
        readiness:
          http_post:
            url: "http://127.0.0.1:{port}/v1/chat"
            headers: {{Content-Type: application/json}}
            body: '{{"model": "m", "max_tokens": 1}}'
          interval: 0
    - name: client
      depends_on: [get_svc, post_svc]
      script: [echo ok]
"#
    );
    job::on_both_backends(&yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let requests = server.requests.lock().unwrap().clone();
        let get = requests
            .iter()
            .find(|r| r.method == "GET")
            .expect("a GET arrived");
        assert_eq!(get.target, "/health");
        let post = requests
            .iter()
            .find(|r| r.method == "POST")
            .expect("a POST arrived");
        assert_eq!(post.target, "/v1/chat");
        assert_eq!(post.body, br#"{"model": "m", "max_tokens": 1}"#);
        assert!(
            post.headers
                .iter()
                .any(|(k, v)| k == "Content-Type" && v == "application/json")
        );
    });
}

#[test]
fn an_http_error_status_is_not_ready() {
    let server = http::serve(503);
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: unready
  tasks:
    - name: svc
      script: [sleep 30]
      probes:
        readiness:
          http_get: {{url: "http://127.0.0.1:{}/"}}
          interval: 0
          timeout: 2
"#,
        server.port
    );
    job::on_both_backends(&yaml, &[], LIMIT, |out| {
        out.assert_code(1);
        assert_eq!(out.state("svc"), "failed");
        assert!(!server.requests.lock().unwrap().is_empty());
    });
}

#[test]
fn a_readiness_timeout_fails_the_task_and_stops_everything() {
    let yaml = r#"version: "0.1"
workflow:
  name: never_ready
  tasks:
    - name: other
      script: [sleep 30]
    - name: svc
      script: [sleep 30]
      probes:
        readiness:
          log_watch: {match_pattern: never printed}
          interval: 0
          timeout: 2
    - name: client
      depends_on: [svc]
      script: [echo never]
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(1);
        assert_eq!(out.state("svc"), "failed");
        assert!(
            out.summary_row("svc").contains("readiness probe"),
            "{}",
            out.summary_row("svc")
        );
        assert_eq!(out.state("other"), "stopped");
        assert_eq!(out.state("client"), "skipped");
        assert!(out.stdout.contains("FAILED svc"));
        assert!(
            out.elapsed < Duration::from_secs(25),
            "the workflow was not stopped early"
        );
    });
}

#[test]
fn a_failure_probe_on_a_log_pattern_stops_the_workflow_early() {
    let yaml = r#"version: "0.1"
workflow:
  name: watched
  tasks:
    - name: server
      script:
        - echo starting
        - sleep 0.5
        - echo "CUDA error: out of memory"
        - sleep 30
      probes:
        failure:
          log_watch: {regex_pattern: "re:CUDA error"}
          interval: 0
          failure_threshold: 1
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(1);
        assert_eq!(out.state("server"), "failed");
        assert!(out.summary_row("server").contains("failure probe"));
        assert!(out.elapsed < Duration::from_secs(25));
    });
}

#[test]
fn a_failing_task_skips_its_dependents_and_stops_services() {
    let yaml = r#"version: "0.1"
workflow:
  name: failing
  tasks:
    - name: svc
      script:
        - echo up
        - sleep 30
      probes:
        readiness:
          log_watch: {match_pattern: up}
          interval: 0
    - name: bad
      depends_on: [svc]
      script:
        - echo about to fail
        - exit 3
    - name: later
      depends_on: [bad]
      script: [touch "$SFLOW_WORKFLOW_OUTPUT_DIR/later-ran"]
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(1);
        assert_eq!(out.state("bad"), "failed");
        assert!(out.summary_row("bad").contains("exited with status 3"));
        assert_eq!(out.state("later"), "skipped");
        assert!(!out.exists("later-ran"));
        assert_eq!(out.state("svc"), "stopped");
        assert!(out.file("summary.txt").contains("failed (exit 1)"));
    });
}

#[test]
fn retries_run_again_after_a_growing_wait_and_keep_every_attempt_log() {
    let yaml = r#"version: "0.1"
workflow:
  name: flaky
  tasks:
    - name: flaky
      retries: {count: 3, interval: 1, backoff: 2}
      script:
        - date +%s%N >> "$SFLOW_TASK_OUTPUT_DIR/starts"
        - n=$(wc -l < "$SFLOW_TASK_OUTPUT_DIR/starts")
        - echo "attempt $n"
        - '[ "$n" -ge 3 ]'
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let starts: Vec<u128> = out
            .file("flaky/starts")
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(starts.len(), 3, "3 attempts");
        // Gap k (after attempt k fails) is at least interval * backoff^(k-1): 1 s, then 2 s.
        assert!(starts[1] - starts[0] >= 1_000_000_000, "{starts:?}");
        assert!(starts[2] - starts[1] >= 2_000_000_000, "{starts:?}");
        assert_eq!(out.text_lines("flaky/flaky.attempt1.log"), ["attempt 1"]);
        assert_eq!(out.text_lines("flaky/flaky.attempt2.log"), ["attempt 2"]);
        assert_eq!(out.lines("flaky"), ["attempt 3"]);
        assert!(out.summary_row("flaky").split_whitespace().nth(2) == Some("3"));
    });
}

#[test]
fn a_task_timeout_kills_the_task() {
    let yaml = r#"version: "0.1"
workflow:
  name: slow
  tasks:
    - name: slow
      timeout: 2s
      script:
        - trap '' TERM
        - sleep 60
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(1);
        assert_eq!(out.state("slow"), "failed");
        assert!(out.summary_row("slow").contains("timed out"));
        assert!(out.elapsed < Duration::from_secs(40));
    });
}

#[test]
fn a_workflow_timeout_stops_everything_with_124() {
    let yaml = r#"version: "0.1"
workflow:
  name: bounded
  timeout: 2
  tasks:
    - name: a
      script: [sleep 60]
    - name: b
      depends_on: [a]
      script: [echo never]
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(124);
        assert_eq!(out.state("a"), "stopped");
        assert_eq!(out.state("b"), "skipped");
        assert!(out.elapsed < Duration::from_secs(30));
    });
}

#[test]
fn sigterm_stops_every_step_writes_the_summary_and_exits_143() {
    let yaml = r#"version: "0.1"
workflow:
  name: cancelled
  tasks:
    - name: stubborn
      script:
        - trap '' TERM
        - touch "$SFLOW_WORKFLOW_OUTPUT_DIR/started"
        - sleep 60
    - name: polite
      script: [sleep 60]
    - name: after
      depends_on: [polite]
      script: [echo never]
"#;
    let job = job::compile(yaml, &[]);
    let child = job.command(&Launch::Local).spawn().unwrap();
    let pid = child.id();
    let out_dir = job.path("out");
    let deadline = std::time::Instant::now() + LIMIT;
    while !std::fs::read_dir(&out_dir)
        .ok()
        .and_then(|mut d| d.next())
        .is_some_and(|e| e.unwrap().path().join("started").exists())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    // The stubborn step ignores SIGTERM: it goes at the grace period, plus 5 s.
    let bound = Duration::from_secs(job::GRACE + 5);
    let out = job.finish(child, bound);
    out.assert_code(143);
    assert!(sent.elapsed() < bound);
    assert_eq!(out.state("stubborn"), "stopped");
    assert_eq!(out.state("polite"), "stopped");
    assert_eq!(out.state("after"), "skipped");
    assert!(
        out.file("summary.txt").contains("SIGTERM")
            || out.summary_row("polite").contains("SIGTERM")
    );
}

#[test]
fn every_replica_sees_its_planned_environment() {
    let yaml = r#"version: "0.1"
variables:
  MODEL: {value: tiny}
  CONC: {value: 1, domain: [1, 4]}
  MODE: {value: a, domain: [a, b]}
backends:
  - {name: local, type: local, gpus_per_node: 8}
workflow:
  name: envcheck
  tasks:
    - name: w
      replicas:
        variables: [CONC, MODE]
      resources:
        gpus: {count: 2}
      script:
        - env | grep -E '^(SFLOW_[A-Z_]+|CUDA_VISIBLE_DEVICES|CONC|MODE|MODEL)=' | sort > "$SFLOW_TASK_OUTPUT_DIR/env"
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let run = out.run_dir.display().to_string();
        for (i, (name, conc, mode, gpus)) in [
            ("w_1_a", "1", "a", "0,1"),
            ("w_1_b", "1", "b", "2,3"),
            ("w_4_a", "4", "a", "4,5"),
            ("w_4_b", "4", "b", "6,7"),
        ]
        .into_iter()
        .enumerate()
        {
            let env = out.file(&format!("{name}/env"));
            for want in [
                format!("SFLOW_REPLICA_INDEX={i}"),
                format!("CONC={conc}"),
                format!("MODE={mode}"),
                "MODEL=tiny".to_string(),
                format!("CUDA_VISIBLE_DEVICES={gpus}"),
                format!("SFLOW_TASK_OUTPUT_DIR={run}/{name}"),
                format!("SFLOW_WORKFLOW_OUTPUT_DIR={run}"),
                format!("SFLOW_TASK_RESULT_FILE={run}/{name}/result.json"),
                format!("SFLOW_WORKFLOW_RESULT_FILE={run}/results.json"),
                "SFLOW_TASK_ASSIGNED_NODE_NAMES=localhost".to_string(),
                "SFLOW_TASK_ASSIGNED_NODE_IPS=127.0.0.1".to_string(),
            ] {
                assert!(
                    env.lines().any(|l| l == want),
                    "{name}: missing `{want}` in\n{env}"
                );
            }
        }
    });
}

#[test]
fn slurm_steps_get_their_planned_gpus_nodes_and_facts() {
    let yaml = r#"version: "0.1"
variables:
  SLURM_PARTITION: {value: wrong}
backends:
  - {name: cluster, type: slurm, nodes: 2, gpus_per_node: 8}
workflow:
  name: slices
  tasks:
    - name: worker
      replicas: {count: 4}
      resources:
        gpus: {count: 2}
      script:
        - echo "$SLURMD_NODENAME $CUDA_VISIBLE_DEVICES $SFLOW_TASK_NODE_NAME $SFLOW_BACKEND_JOB_ID $SFLOW_TASK_ASSIGNED_NODE_NAMES"
    - name: wide
      depends_on: [worker]
      resources:
        gpus: {count: 16}
      script:
        - echo "wide on $SFLOW_TASK_NODE_NAME with $CUDA_VISIBLE_DEVICES; peer ${{ backends.cluster.nodes[1].name }} partition=$SLURM_PARTITION"
"#;
    let job = job::compile(yaml, &[]);
    let out = job.run(Launch::Slurm(2), LIMIT);
    out.assert_code(0);
    for (i, gpus) in ["0,1", "2,3", "4,5", "6,7"].iter().enumerate() {
        assert_eq!(
            out.ranked_lines(&format!("worker_{i}")),
            [format!("0: node0 {gpus} node0 4242 node0")]
        );
    }
    let mut wide = out.ranked_lines("wide");
    wide.sort();
    assert_eq!(
        wide,
        [
            "0: wide on node0 with 0,1,2,3,4,5,6,7; peer node1 partition=wrong",
            "1: wide on node1 with 0,1,2,3,4,5,6,7; peer node1 partition=wrong"
        ]
    );
    let argv = std::fs::read_to_string(job.path("slurm.log")).unwrap();
    assert!(
        argv.contains("--nodes=2 --nodelist=node0,node1 --job-name=wide"),
        "{argv}"
    );
    // User variables are exported inside the step only: srun itself never reads them
    // (a variable named SLURM_PARTITION would otherwise change srun's partition).
    let srun_env = std::fs::read_to_string(job.path("slurm.log.wide.env")).unwrap();
    assert!(!srun_env.contains("SLURM_PARTITION"), "{srun_env}");
    assert!(argv.contains("--overlap"));
    assert!(argv.contains("--export=ALL"));
}

#[test]
fn a_step_given_every_gpu_of_the_node_is_narrowed_to_its_slice() {
    // With `#SBATCH --gres=gpu:8`, Slurm shows each step all 8 GPUs of its node.
    let yaml = r#"version: "0.1"
backends:
  - {name: cluster, type: slurm, nodes: 1, gpus_per_node: 8, extra_args: ["--gres=gpu:8"]}
workflow:
  name: narrowed
  tasks:
    - name: worker
      replicas: {count: 4}
      resources:
        gpus: {count: 2}
      script: [echo "$CUDA_VISIBLE_DEVICES"]
"#;
    let job = job::compile(yaml, &[]);
    let mut cmd = job.command(&Launch::Slurm(1));
    cmd.env("CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5,6,7");
    let out = job.finish(cmd.spawn().unwrap(), LIMIT);
    out.assert_code(0);
    for (i, gpus) in ["0,1", "2,3", "4,5", "6,7"].iter().enumerate() {
        assert_eq!(
            out.ranked_lines(&format!("worker_{i}")),
            [format!("0: {gpus}")]
        );
    }
}

#[test]
fn a_step_that_sees_fewer_gpus_than_planned_fails() {
    let yaml = r#"version: "0.1"
backends:
  - {name: cluster, type: slurm, nodes: 1, gpus_per_node: 8}
workflow:
  name: short
  tasks:
    - name: big
      resources:
        gpus: {count: 4}
      script: [echo "$CUDA_VISIBLE_DEVICES"]
"#;
    let job = job::compile(yaml, &[]);
    let mut cmd = job.command(&Launch::Slurm(1));
    cmd.env("CUDA_VISIBLE_DEVICES", "0,1");
    let out = job.finish(cmd.spawn().unwrap(), LIMIT);
    out.assert_code(1);
    assert!(out.ranked_lines("big")[0].contains("planned GPUs 0,1,2,3 but this step sees only"));
}

#[test]
fn local_corpus_workflows_run() {
    let Some(shared) = crate::common::shared() else {
        return;
    };
    for name in ["hello_world", "dag", "variable_domain"] {
        let path = shared.join(format!("corpus/self_contained/local/{name}.yaml"));
        let yaml = std::fs::read_to_string(&path).unwrap();
        let out = job::compile(&yaml, &[]).run(Launch::Local, LIMIT);
        out.assert_code(0);
    }
}

/// Quotes, command substitutions, backticks, `${#x}`, a newline and a final backslash.
const HOSTILE: &str = "it's \"q\" $(touch PWNED1) `touch PWNED2` ${#x} ${HOME} \n second line \\";

/// A YAML double-quoted scalar holding exactly `s` (JSON strings are YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn hostile_strings_arrive_byte_for_byte_and_execute_nothing() {
    let server = http::serve(200);
    let one_line = HOSTILE.replace('\n', " ");
    let url_tail = "q='a\"b'&c=$(touch${IFS}PWNED3)&d=`id`&e=${x}&f=\\"; // `#` would start the fragment, which HTTP never sends
    let yaml = format!(
        r#"version: "0.1"
variables:
  HOSTILE: {{value: {value}}}
  FROM_SET: {{value: plain}}
  PATTERN: {{value: {pattern}}}
workflow:
  name: hostile
  tasks:
    - name: svc
      script:
        - printf '%s' "$HOSTILE" > "$SFLOW_TASK_OUTPUT_DIR/env.txt"
        - printf '%s' "$FROM_SET" > "$SFLOW_TASK_OUTPUT_DIR/set.txt"
        - printf '%s\n' "$PATTERN"
        - sleep 30
      probes:
        readiness:
          - log_watch: {{match_pattern: {pattern}}}
            interval: 0
          - http_post:
              url: {url}
              headers: {{X-Hostile: {pattern}}}
              body: {value}
            interval: 0
    - name: client
      depends_on: [svc]
      script: [echo done]
"#,
        value = yaml_str(HOSTILE),
        pattern = yaml_str(&one_line),
        url = yaml_str(&format!("http://127.0.0.1:{}/{url_tail}", server.port)),
    );
    let set = format!("FROM_SET={HOSTILE}");
    let job = job::compile(&yaml, &["--set", &set]);
    let out = job.run(Launch::Local, LIMIT);
    out.assert_code(0);
    assert_eq!(out.file("svc/env.txt"), HOSTILE);
    assert_eq!(out.file("svc/set.txt"), HOSTILE);
    let requests = server.requests.lock().unwrap().clone();
    let post = requests
        .iter()
        .find(|r| r.method == "POST")
        .expect("the probe posted");
    assert_eq!(post.target, format!("/{url_tail}"));
    assert_eq!(post.body, HOSTILE.as_bytes());
    assert!(
        post.headers
            .iter()
            .any(|(k, v)| k == "X-Hostile" && *v == one_line),
        "{:?}",
        post.headers
    );
    assert_nothing_executed(job.dir.path());
}

/// Swept values reach the task table, which splits on blanks and reads `@K` as a
/// reference: values that are empty, hold blanks or newlines, start with `@`, or look
/// like the table's delimiter still arrive byte for byte.
#[test]
fn hostile_swept_values_arrive_byte_for_byte() {
    let values = [
        HOSTILE,
        "",
        "@0",
        "a b",
        "tab\there",
        "SFLOW_TASKS",
        "x'y",
        "*",
        "plain",
    ];
    let domain: Vec<String> = values.iter().map(|v| yaml_str(v)).collect();
    let yaml = format!(
        r#"version: "0.1"
variables:
  V: {{value: "", domain: [{domain}]}}
workflow:
  name: swept
  tasks:
    - name: w
      replicas:
        variables: [V]
        policy: parallel
      script:
        - printf '%s' "$V" > "$SFLOW_WORKFLOW_OUTPUT_DIR/v_$SFLOW_REPLICA_INDEX.txt"
"#,
        domain = domain.join(", ")
    );
    let job = job::compile(&yaml, &[]);
    let out = job.run(Launch::Local, LIMIT);
    out.assert_code(0);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(out.file(&format!("v_{i}.txt")), *v, "value {i}");
    }
    assert_nothing_executed(job.dir.path());
}

/// Fails when a hostile string created one of its `PWNED*` files anywhere under `dir`.
fn assert_nothing_executed(dir: &std::path::Path) {
    let pwned: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("PWNED"))
        })
        .collect();
    assert!(pwned.is_empty(), "a hostile string executed: {pwned:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The emitted script runs on bash 4.4 (RHEL 8): no 5.x-only feature unless it is
/// feature-tested with a fallback right there.
#[test]
fn the_emitted_runtime_uses_no_bash5_only_features() {
    let (script, _) = crate::common::compile(
        "wf.yaml",
        "version: \"0.1\"\nworkflow:\n  name: w\n  tasks:\n    - name: a\n      script: [echo a]\n",
        &[],
    )
    .unwrap();
    let forbidden = [
        ("wait -p", "wait -p (5.1)"),
        ("wait -f", "wait -f (5.0)"),
        ("EPOCHSECONDS", "EPOCHSECONDS (5.0)"),
        ("SRANDOM", "SRANDOM (5.1)"),
        ("BASH_ARGV0", "BASH_ARGV0 (5.0)"),
        ("@U}", "${x@U} (5.1)"),
        ("@u}", "${x@u} (5.1)"),
        ("@L}", "${x@L} (5.1)"),
        ("@K}", "${x@K} (5.1)"),
        ("@k}", "${x@k} (5.2)"),
        ("localvar_inherit", "shopt localvar_inherit (5.0)"),
        ("assoc_expand_once", "shopt assoc_expand_once (5.0)"),
        ("array_expand_once", "shopt array_expand_once (5.2)"),
        ("varredir_close", "shopt varredir_close (5.2)"),
        ("noexpand_translation", "shopt noexpand_translation (5.2)"),
    ];
    let lines: Vec<&str> = script.lines().collect();
    let mut problems = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let code = line.split(" #").next().unwrap_or("");
        if code.trim_start().starts_with('#') {
            continue;
        }
        for (needle, what) in forbidden {
            if code.contains(needle) {
                problems.push(format!("line {}: {what}: {line}", n + 1));
            }
        }
        // EPOCHREALTIME (5.0) only as `${EPOCHREALTIME:-}`, or right under a test of it.
        let guarded = lines[n.saturating_sub(3)..=n]
            .iter()
            .any(|l| l.contains("-n ${EPOCHREALTIME:-}"));
        let bare = code.replace("${EPOCHREALTIME:-}", "");
        if bare.contains("EPOCHREALTIME") && !guarded {
            problems.push(format!(
                "line {}: EPOCHREALTIME without a feature test: {line}",
                n + 1
            ));
        }
        // patsub_replacement exists only in 5.2: turning it off must tolerate its absence.
        if code.contains("patsub_replacement") && !code.contains("2>/dev/null || true") {
            problems.push(format!(
                "line {}: unguarded shopt patsub_replacement",
                n + 1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_service_gets_sigterm_and_its_grace_before_sigkill() {
    // Under Slurm the signal goes to the step through scancel: srun itself would turn a
    // SIGTERM into an immediate SIGKILL of the step.
    let yaml = r#"version: "0.1"
workflow:
  name: graceful
  tasks:
    - name: server
      script:
        - trap 'sleep 1; echo cleaned up > "$SFLOW_TASK_OUTPUT_DIR/stopped"; exit 0' TERM
        - echo up
        - while :; do sleep 0.1; done
      probes:
        readiness:
          log_watch: {match_pattern: up}
          interval: 0
    - name: client
      depends_on: [server]
      script: [echo done]
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        assert_eq!(out.file("server/stopped"), "cleaned up\n");
        assert_eq!(out.state("server"), "stopped");
    });
}
