//! `sflow schema` checked with an independent JSON Schema validator (the `jsonschema`
//! crate): it accepts every self-contained corpus workflow, every composed modular one,
//! the fixtures and examples that compile, and rejects unknown keys, a missing
//! `workflow`, an unquoted version, a probe with two kinds and a bad release policy.

use crate::common::{self, sflow, text};
use serde_json::{Map, Value as Json};
use sflow::load::{Node, NodeValue, parse_yaml};
use std::path::{Path, PathBuf};

/// A YAML tree (as our loader reads it) as JSON.
fn to_json(node: &Node) -> Json {
    match &node.value {
        NodeValue::Null => Json::Null,
        NodeValue::Bool(b) => Json::Bool(*b),
        NodeValue::Int(i) => Json::from(*i),
        NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        NodeValue::Str(s) => Json::String(s.clone()),
        NodeValue::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        NodeValue::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.name.clone(), to_json(v));
            }
            Json::Object(map)
        }
    }
}

fn validator() -> jsonschema::Validator {
    let dir = tempfile::tempdir().unwrap();
    let out = sflow(dir.path(), &["schema"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let schema: Json = serde_json::from_slice(&out.stdout).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// The schema's complaints about a YAML text (empty: valid).
fn problems(validator: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let doc = to_json(&parse_yaml(0, yaml).unwrap());
    validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn the_schema_accepts_every_corpus_workflow() {
    let validator = validator();
    let mut files = Vec::new();
    yaml_files(&common::root().join("tests/fixtures/ok"), &mut files);
    yaml_files(&common::root().join("examples"), &mut files);
    if let Some(shared) = common::shared() {
        let before = files.len();
        yaml_files(&shared.join("corpus/self_contained"), &mut files);
        yaml_files(
            &shared.join("corpus/modular/inference_x_v2/composed_recipes"),
            &mut files,
        );
        assert!(files.len() - before >= 30, "corpus files missing");
    }
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let found = problems(&validator, &text);
        if !found.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), found.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("schema: {} workflows valid", files.len());
}

#[test]
fn the_schema_rejects_what_the_compiler_rejects_by_shape() {
    let validator = validator();
    let ok = r#"version: "0.1"
variables: {N: 2, M: {value: 3, type: integer}}
backends: {gpu: {type: slurm, nodes: "${{ N }}", gpus_per_node: 8}}
workflow:
  name: w
  tasks:
    a:
      script: [echo a]
      resources: {gpus: {count: "${{ M }}", release_after: task_ready}}
      probes: {readiness: [{tcp_port: {port: 80}}]}
      replicas: {count: 2, policy: sequential}
"#;
    assert_eq!(problems(&validator, ok), Vec::<String>::new());
    let bad = [
        ("version: \"0.1\"\n", "workflow"),
        (
            "version: 0.1\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n",
            "0.1",
        ),
        (
            "version: \"0.1\"\nworkflow: {name: w, tasks: [{name: a, script: [x], depnds_on: [b]}]}\n",
            "depnds_on",
        ),
        (
            "version: \"0.1\"\nbackends: [{name: b, type: slurm, nodez: 2}]\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n",
            "",
        ),
        (
            "version: \"0.1\"\nworkflow: {name: w, tasks: [{name: a, script: [x], probes: {readiness: {tcp_port: {port: 1}, http_get: {url: u}}}}]}\n",
            "",
        ),
        (
            "version: \"0.1\"\nworkflow: {name: w, tasks: [{name: a, script: [x], resources: {gpus: {count: 1, release_after: never}}}]}\n",
            "",
        ),
        ("version: \"0.1\"\nworkflow: {name: w, tasks: []}\n", ""),
    ];
    for (yaml, mention) in bad {
        let found = problems(&validator, yaml);
        assert!(!found.is_empty(), "accepted:\n{yaml}");
        assert!(
            found.iter().any(|p| p.contains(mention)),
            "{yaml}\n{found:?}"
        );
    }
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sflow"),
        ("fish", "complete -c sflow"),
    ] {
        let out = sflow(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for word in ["compose", "submit", "graph", "--bulk-input", "--resolve"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = sflow(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_help_ends_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        "compile",
        "check",
        "plan",
        "compose",
        "submit",
        "graph",
        "schema",
        "completions",
    ] {
        let out = sflow(dir.path(), &[command, "--help"], &[]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{command}: no examples\n{help}"));
        let lines: Vec<&str> = examples
            .lines()
            .filter(|l| l.starts_with("  sflow "))
            .collect();
        assert!(
            (2..=3).contains(&lines.len()),
            "{command}: {} examples",
            lines.len()
        );
        assert!(
            lines
                .iter()
                .all(|l| l.contains(&format!("sflow {command}")))
        );
    }
}

/// The keys the compiler accepts at one place: the list its unknown-key error gives.
fn accepted_keys(yaml: &str) -> Vec<String> {
    let request = sflow::Request {
        files: vec![("wf.yaml".into(), yaml.into())],
        ..sflow::Request::default()
    };
    let rendered = sflow::plan(&request).render_diagnostics();
    let list = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("= help: expected one of: "))
        .unwrap_or_else(|| panic!("no key list for:\n{yaml}\n{rendered}"));
    let mut keys: Vec<String> = list.split(", ").map(String::from).collect();
    keys.sort();
    keys
}

/// The properties the schema lists at a JSON pointer, less those it marks as ignored.
fn schema_keys(schema: &Json, pointer: &str) -> Vec<String> {
    let object = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the schema"));
    let mut keys: Vec<String> = object["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{pointer} has no properties"))
        .iter()
        .filter(|(_, v)| v["$ref"] != "#/$defs/ignored")
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys
}

/// The schema lists exactly the keys the compiler accepts, at every place that has a
/// fixed set of keys (so a key added to `syntax` shows up here).
#[test]
fn the_schema_lists_the_keys_the_compiler_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let schema: Json = serde_json::from_slice(&sflow(dir.path(), &["schema"], &[]).stdout).unwrap();
    let task = |extra: &str| {
        format!(
            "version: \"0.1\"\nworkflow:\n  name: w\n  tasks:\n    - name: a\n      script: [x]\n{extra}"
        )
    };
    let operator_pointers: Vec<String> = (0..4)
        .map(|i| format!("/$defs/operator_body/oneOf/{i}"))
        .collect();
    let mut places: Vec<(String, &str)> = vec![
        (
            "version: \"0.1\"\nzzzzzz: 1\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n".into(),
            "",
        ),
        (
            "version: \"0.1\"\nworkflow: {name: w, zzzzzz: 1, tasks: [{name: a, script: [x]}]}\n"
                .into(),
            "/properties/workflow",
        ),
        (task("      zzzzzz: 1\n"), "/$defs/task_body"),
        (
            "version: \"0.1\"\nvariables: [{name: V, value: 1, zzzzzz: 1}]\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n".into(),
            "/$defs/variable_body",
        ),
        (
            "version: \"0.1\"\nartifacts: [{name: A, uri: 'fs:///a', zzzzzz: 1}]\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n".into(),
            "/$defs/artifact_body",
        ),
        (
            "version: \"0.1\"\nbackends: [{name: b, type: slurm, zzzzzz: 1}]\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n".into(),
            "/$defs/backend_body/oneOf/0",
        ),
        (
            "version: \"0.1\"\nbackends: [{name: b, type: local, zzzzzz: 1}]\nworkflow: {name: w, tasks: [{name: a, script: [x]}]}\n".into(),
            "/$defs/backend_body/oneOf/1",
        ),
        (task("      resources: {zzzzzz: 1}\n"), "/$defs/resources"),
        (
            task("      resources: {nodes: {zzzzzz: 1}}\n"),
            "/$defs/resources/properties/nodes",
        ),
        (
            task("      resources: {gpus: {count: 1, zzzzzz: 1}}\n"),
            "/$defs/resources/properties/gpus/allOf/0",
        ),
        (
            task("      replicas: {zzzzzz: 1}\n"),
            "/$defs/task_body/properties/replicas",
        ),
        (
            task("      retries: {count: 1, interval: 1, zzzzzz: 1}\n"),
            "/$defs/task_body/properties/retries",
        ),
        (
            task("      ports: [{port: 80, zzzzzz: 1}]\n"),
            "/$defs/task_body/properties/ports/items",
        ),
        (
            task("      probes: {zzzzzz: 1}\n"),
            "/$defs/task_body/properties/probes",
        ),
        (
            task("      probes: {readiness: {tcp_port: {port: 1}, zzzzzz: 1}}\n"),
            "/$defs/probe",
        ),
        (
            task("      probes: {readiness: {tcp_port: {port: 1, zzzzzz: 1}}}\n"),
            "/$defs/probe/properties/tcp_port",
        ),
        (
            task("      probes: {readiness: {http_get: {url: u, zzzzzz: 1}}}\n"),
            "/$defs/probe/properties/http_get",
        ),
        (
            task("      probes: {readiness: {log_watch: {regex_pattern: x, zzzzzz: 1}}}\n"),
            "/$defs/probe/properties/log_watch",
        ),
    ];
    for (kind, pointer) in ["srun", "bash", "python", "ssh"]
        .iter()
        .zip(&operator_pointers)
    {
        places.push((
            format!(
                "version: \"0.1\"\noperators: [{{name: o, type: {kind}, zzzzzz: 1}}]\nworkflow: {{name: w, tasks: [{{name: a, script: [x]}}]}}\n"
            ),
            pointer,
        ));
    }
    let mut differences = Vec::new();
    for (yaml, pointer) in &places {
        let compiler = accepted_keys(yaml);
        let schema = schema_keys(&schema, pointer);
        if compiler != schema {
            differences.push(format!(
                "{pointer}:\n  compiler: {compiler:?}\n  schema:   {schema:?}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
