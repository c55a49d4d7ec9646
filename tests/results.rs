//! Results, run for real: `result` rules and files into result.json and the run's
//! results.json/results.csv, `expect` gates that fail a run that produced nothing, and
//! `outputs` patterns into outputs.json. Every JSON file is checked with a JSON parser.

use crate::common::job::{self, Launch};
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn parse(out: &job::Outcome, rel: &str) -> Value {
    let text = out.file(rel);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not JSON ({e}):\n{text}"))
}

#[test]
fn the_corpus_result_parsing_workflow_checks_our_files() {
    let Some(shared) = crate::common::shared() else {
        return;
    };
    let yaml =
        std::fs::read_to_string(shared.join("corpus/self_contained/local/result_parsing.yaml"))
            .unwrap();
    let out = job::compile(&yaml, &[]).run(Launch::Local, LIMIT);
    out.assert_code(0);
    assert_eq!(
        out.file("verify/verify.txt"),
        "RESULT_PARSING_SAMPLE_PASS\n"
    );
}

/// The same checks as the corpus workflow's own `verify` task, in our words.
#[test]
fn regex_rules_and_result_files_give_typed_values_and_an_index() {
    let yaml = r#"version: "0.1"
workflow:
  name: results
  tasks:
    - name: from_log
      script:
        - |
          echo "warming up"
          echo "TTFT: 40.0 ms"
          echo "TTFT: 42.5 ms"
          echo "tok/s: 123.0"
          echo "p99 latency: 88 ms"
      result:
        ttft: 'TTFT:\s*([0-9.]+)\s*ms'
        tps: 'tok/s:\s*([0-9.]+)'
        p99: 'p99 latency:\s*([0-9.]+)\s*ms'
        first_ttft: {pattern: 'TTFT:\s*([0-9.]+)', aggregate: first}
        max_ttft: {pattern: 'TTFT:\s*([0-9.]+)', aggregate: max}
        samples: {pattern: 'TTFT', aggregate: count}
    - name: from_file
      script:
        - |
          echo '{"throughput": 999.5, "errors": 0, "model": "m"}' > "$SFLOW_TASK_RESULT_FILE"
      result:
        file: result.json
    - name: reader
      depends_on: [from_log, from_file]
      script:
        - grep -q '"from_log"' "$SFLOW_WORKFLOW_RESULT_FILE"
        - grep -q '"throughput": 999.5' "$SFLOW_WORKFLOW_OUTPUT_DIR/from_file/result.json"
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let log = parse(out, "from_log/result.json");
        assert_eq!(log["schema_version"], "sflow.result.v1");
        assert_eq!(
            log["values"],
            json!({"ttft": 42.5, "tps": 123.0, "p99": 88, "first_ttft": 40.0, "max_ttft": 42.5, "samples": 2})
        );
        // Numbers stay as written.
        assert!(out.file("from_log/result.json").contains("\"tps\": 123.0"));
        let file = parse(out, "from_file/result.json");
        assert_eq!(
            file["values"],
            json!({"throughput": 999.5, "errors": 0, "model": "m"})
        );
        let index = parse(out, "results.json");
        assert_eq!(index["schema_version"], "sflow.results.v1");
        assert_eq!(index["tasks"]["from_log"]["values"]["ttft"], 42.5);
        assert_eq!(index["tasks"]["from_file"]["values"]["errors"], 0);
    });
}

#[test]
fn a_sweep_gives_one_row_per_replica_with_its_value() {
    let yaml = r#"version: "0.1"
variables:
  CONCURRENCY: {value: 1, domain: [1, 2, 4, 8]}
workflow:
  name: sweep
  tasks:
    - name: bench
      replicas:
        variables: [CONCURRENCY]
      script:
        - echo "throughput $((CONCURRENCY * 100)).5 tok/s"
      result:
        tps: 'throughput ([0-9.]+) tok/s'
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(0);
        let index = parse(out, "results.json");
        for c in [1, 2, 4, 8] {
            let entry = &index["tasks"][format!("bench_{c}")];
            assert_eq!(entry["sweep"]["CONCURRENCY"], c);
            assert_eq!(entry["values"]["tps"], c as f64 * 100.0 + 0.5);
        }
        let csv = out.file("results.csv");
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "task,base_task,replica_index,CONCURRENCY,tps");
        assert_eq!(
            &rows[1..],
            [
                "bench_1,bench,0,1,100.5",
                "bench_2,bench,1,2,200.5",
                "bench_4,bench,2,4,400.5",
                "bench_8,bench,3,8,800.5"
            ]
        );
        let summary = out.file("summary.txt");
        let row: Vec<&str> = summary
            .lines()
            .rev()
            .find(|l| l.starts_with("bench_8 "))
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(row, ["bench_8", "8", "800.5"], "{summary}");
    });
}

#[test]
fn a_gate_fails_a_run_that_produced_nothing() {
    let yaml = r#"version: "0.1"
workflow:
  name: gates
  tasks:
    - name: zero
      script: ['echo "tok/s: 0"']
      result:
        tps: 'tok/s: ([0-9.]+)'
        expect: {tps: "> 0"}
    - name: after
      depends_on: [zero]
      script: [echo never]
"#;
    job::on_both_backends(yaml, &[], LIMIT, |out| {
        out.assert_code(1);
        let zero = out.summary_row("zero");
        assert!(
            zero.contains("result gate failed: tps = 0, expected > 0"),
            "{zero}"
        );
        assert_eq!(out.state("after"), "skipped");
        let result = parse(out, "zero/result.json");
        assert_eq!(result["ok"], false);
        assert_eq!(
            result["gates"][0],
            json!({"name": "tps", "rule": "> 0", "value": 0, "ok": false})
        );
        assert!(out.file("summary.txt").contains("tps > 0: FAILED"));
    });
    // A missing value on its own.
    let yaml = r#"version: "0.1"
workflow:
  name: missing
  tasks:
    - name: silent
      script: ['echo "nothing measured"']
      result:
        tps: 'tok/s: ([0-9.]+)'
        errors: 'errors: ([0-9]+)'
        expect: {tps: ">= 1", errors: "== 0"}
"#;
    let out = job::compile(yaml, &[]).run(Launch::Local, LIMIT);
    out.assert_code(1);
    let row = out.summary_row("silent");
    assert!(
        row.contains("tps: no value (expected >= 1); errors: no value (expected == 0)"),
        "{row}"
    );
}

#[test]
fn outputs_patterns_collect_typed_fields() {
    let yaml = r#"version: "0.1"
workflow:
  name: outputs
  tasks:
    - name: many
      script:
        - |
          echo "TTFT: 12.50 ms"
          echo "TTFT: 13.5 ms"
          echo "requests=7 model=qwen 3"
          echo "status ok"
      outputs:
        - pattern: "TTFT: {ttft:f} ms"
        - pattern: "requests={n:d} model={model}"
        - pattern: "status {status}"
    - name: none
      script: [echo nothing to see]
      outputs:
        - pattern: "TTFT: {ttft:f} ms"
"#;
    let out = job::compile(yaml, &[]).run(Launch::Local, LIMIT);
    out.assert_code(0);
    let many = parse(&out, "many/outputs.json");
    assert_eq!(many["task"], "many");
    assert_eq!(many["specs"][0]["pattern"], "TTFT: {ttft:f} ms");
    assert_eq!(
        many["outputs"],
        json!({"ttft": [12.5, 13.5], "n": 7, "model": "qwen 3", "status": "ok"})
    );
    assert_eq!(parse(&out, "none/outputs.json")["outputs"], json!({}));
}

#[test]
fn hostile_log_content_never_breaks_the_json() {
    let long = "x".repeat(200_000);
    let yaml = format!(
        r#"version: "0.1"
workflow:
  name: hostile_logs
  tasks:
    - name: noisy
      script:
        - |
          printf 'name: %s\n' 'it'"'"'s "quoted" \ back\\slash $(rm -rf /) `id` ${{#x}} '
          printf 'name: %s\n' "$(printf 'tab\there ctrl\001\002 bell\a')"
          printf 'long: %s\n' "{long}"
          printf 'value: 5\n'
      result:
        name: {{pattern: 'name: (.*)', aggregate: list}}
        long: 'long: (.*)'
        value: 'value: ([0-9]+)'
      outputs:
        - pattern: "name: {{name}}"
        - pattern: "long: {{long}}"
"#
    );
    let out = job::compile(&yaml, &[]).run(Launch::Local, LIMIT);
    out.assert_code(0);
    let result = parse(&out, "noisy/result.json");
    let names = result["values"]["name"].as_array().unwrap();
    assert_eq!(
        names[0],
        "it's \"quoted\" \\ back\\\\slash $(rm -rf /) `id` ${#x} "
    );
    assert_eq!(names[1], "tab\there ctrl\u{1}\u{2} bell\u{7}");
    assert_eq!(result["values"]["long"].as_str().unwrap().len(), 200_000);
    assert_eq!(result["values"]["value"], 5);
    let outputs = parse(&out, "noisy/outputs.json");
    assert_eq!(outputs["outputs"]["name"][0], names[0]);
    let index = parse(&out, "results.json");
    assert_eq!(index["tasks"]["noisy"]["values"]["value"], 5);
    // One quoted cell holds the list; the CSV still has one header and one row.
    let csv = out.file("results.csv");
    assert!(
        csv.starts_with(
            "task,base_task,replica_index,name,long,value\nnoisy,noisy,0,\"[\"\"it's \\\"\"quoted"
        ),
        "{}",
        &csv[..200.min(csv.len())]
    );
    assert!(csv.ends_with(",5\n"));
}
