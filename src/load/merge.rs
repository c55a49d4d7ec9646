//! Several workflow files to one tree. Input: the parsed files in command-line order. Output:
//! one normalised tree and the diagnostics of merging (a warning for each value a later file
//! replaces, errors for a version conflict or an incomplete result). Guarantee: named
//! collections merge by `name`, mappings merge key by key, any other value (lists included) is
//! replaced by the later file's; every node keeps the span of the file it came from.

use super::node::{Key, Node, NodeValue};
use super::normalize::{NAMED_COLLECTIONS, normalize};
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// Merges files in order. With one file, only normalises it: the checks that the result is a
/// complete workflow belong to the later stage, which reports them with spans.
pub fn merge(docs: Vec<Node>) -> (Node, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    if docs.is_empty() {
        diagnostics.push(Diagnostic::error("no-input", "no workflow file was given"));
    }
    let several = docs.len() > 1;
    let mut merged: Option<Node> = None;
    for mut doc in docs {
        normalize(&mut doc);
        if several && doc.entries().is_none() {
            diagnostics.push(
                Diagnostic::error(
                    "not-a-mapping",
                    format!(
                        "a workflow file must be a mapping, not a {}",
                        doc.kind_name()
                    ),
                )
                .at(doc.span, "expected `version`, `workflow`, ... here"),
            );
            continue;
        }
        match &mut merged {
            None => merged = Some(doc),
            Some(merged) => merge_root(merged, doc, &mut diagnostics),
        }
    }
    let merged = merged.unwrap_or_else(|| Node::new(Span::default(), NodeValue::Null));
    if several {
        check_complete(&merged, &mut diagnostics);
    }
    (merged, diagnostics)
}

fn merge_root(merged: &mut Node, doc: Node, diagnostics: &mut Vec<Diagnostic>) {
    let NodeValue::Map(entries) = doc.value else {
        return;
    };
    for (key, value) in entries {
        let Some(existing) = merged.get_mut(&key.name) else {
            merged.set(key, value);
            continue;
        };
        match key.name.as_str() {
            "version" if existing.value == NodeValue::Null => merged.set(key, value),
            "version" => {
                if !existing.same_value(&value) {
                    diagnostics.push(
                        Diagnostic::error("version-conflict", "version conflict")
                            .at(value.span, "this file's version")
                            .also(existing.span, "differs from this earlier one"),
                    );
                }
            }
            "workflow" => merge_workflow(existing, value, diagnostics),
            name if NAMED_COLLECTIONS.contains(&name) => {
                merge_named(existing, value, name, diagnostics);
            }
            name => deep_merge(existing, value, name, diagnostics),
        }
    }
}

/// `workflow.name`: the last non-null one wins; `variables` and `tasks` merge by name; other
/// keys deep-merge. A null `workflow:` adds nothing.
fn merge_workflow(merged: &mut Node, workflow: Node, diagnostics: &mut Vec<Diagnostic>) {
    if workflow.value == NodeValue::Null {
        return;
    }
    if merged.entries().is_none() || workflow.entries().is_none() {
        return replace(merged, workflow, "workflow", diagnostics);
    }
    let NodeValue::Map(entries) = workflow.value else {
        return;
    };
    for (key, value) in entries {
        let path = format!("workflow.{}", key.name);
        match (merged.get_mut(&key.name), key.name.as_str()) {
            (None, _) => merged.set(key, value),
            (Some(_), "name") if value.value == NodeValue::Null => {}
            (Some(_), "name") => merged.set(key, value),
            (Some(existing), "variables" | "tasks") => {
                merge_named(existing, value, &path, diagnostics);
            }
            (Some(existing), _) => {
                deep_merge(existing, value, &path, diagnostics);
                update_key_span(merged, &key);
            }
        }
    }
}

/// Merges two lists of `{name: ...}` mappings by name; other shapes are replaced whole. A
/// null collection adds nothing.
fn merge_named(merged: &mut Node, later: Node, path: &str, diagnostics: &mut Vec<Diagnostic>) {
    if later.value == NodeValue::Null {
        return;
    }
    if merged.value == NodeValue::Null {
        *merged = later;
        return;
    }
    if merged.items().is_none() || later.items().is_none() {
        return replace(merged, later, path, diagnostics);
    }
    let (Some(items), NodeValue::Seq(later_items)) = (merged.items_mut(), later.value) else {
        return;
    };
    for item in later_items {
        let name = item.get("name").and_then(Node::as_str).map(str::to_owned);
        let existing = name.as_deref().and_then(|name| {
            items
                .iter_mut()
                .find(|i| i.get("name").and_then(Node::as_str) == Some(name))
        });
        match (existing, name) {
            (Some(existing), Some(name)) => {
                deep_merge(existing, item, &format!("{path}.{name}"), diagnostics);
            }
            _ => items.push(item),
        }
    }
}

/// Mappings merge key by key; anything else is replaced by the later value.
fn deep_merge(merged: &mut Node, later: Node, path: &str, diagnostics: &mut Vec<Diagnostic>) {
    if merged.entries().is_none() || later.entries().is_none() {
        return replace(merged, later, path, diagnostics);
    }
    let NodeValue::Map(entries) = later.value else {
        return;
    };
    for (key, value) in entries {
        let child_path = format!("{path}.{}", key.name);
        match merged.get_mut(&key.name) {
            Some(existing) => {
                deep_merge(existing, value, &child_path, diagnostics);
                update_key_span(merged, &key);
            }
            None => merged.set(key, value),
        }
    }
}

/// After a merge the key points at the file that wrote it last.
fn update_key_span(map: &mut Node, key: &Key) {
    if let Some(entries) = map.entries_mut()
        && let Some((k, _)) = entries.iter_mut().find(|(k, _)| k.name == key.name)
    {
        k.span = key.span;
    }
}

fn replace(merged: &mut Node, later: Node, path: &str, diagnostics: &mut Vec<Diagnostic>) {
    if !merged.same_value(&later) && merged.value != NodeValue::Null {
        diagnostics.push(
            Diagnostic::warning(
                "merge-override",
                format!("`{path}` is replaced by a later file"),
            )
            .at(later.span, "this value is used")
            .also(merged.span, "this earlier value is dropped"),
        );
    }
    *merged = later;
}

fn check_complete(merged: &Node, diagnostics: &mut Vec<Diagnostic>) {
    let present = |node: Option<&Node>| {
        node.is_some_and(|n| match &n.value {
            NodeValue::Null => false,
            NodeValue::Seq(items) => !items.is_empty(),
            NodeValue::Map(entries) => !entries.is_empty(),
            _ => true,
        })
    };
    let workflow = merged.get("workflow");
    let missing: Vec<&str> = [
        ("`version`", present(merged.get("version"))),
        ("`workflow`", present(workflow)),
        (
            "`workflow.name`",
            present(workflow.and_then(|w| w.get("name"))),
        ),
        (
            "`workflow.tasks`",
            present(workflow.and_then(|w| w.get("tasks"))),
        ),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(name, _)| name)
    .collect();
    if !missing.is_empty() {
        diagnostics.push(Diagnostic::error(
            "merge-incomplete",
            format!(
                "merged configuration is incomplete: missing {}",
                missing.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::render;
    use crate::load::{parse_yaml, shared_dir};
    use crate::source::Sources;

    /// Parses and merges the texts; returns the tree, the rendered diagnostics and the sources.
    fn merged(texts: &[&str]) -> (Node, String, Sources) {
        let mut sources = Sources::default();
        let docs = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let file = sources.add(format!("f{}.yaml", i + 1), *text);
                parse_yaml(file, text).unwrap()
            })
            .collect();
        let (root, diagnostics) = merge(docs);
        let shown = diagnostics.iter().map(|d| render(d, &sources)).collect();
        (root, shown, sources)
    }

    fn names(node: Option<&Node>) -> Vec<String> {
        node.and_then(Node::items)
            .into_iter()
            .flatten()
            .filter_map(|i| Some(i.get("name")?.as_str()?.to_owned()))
            .collect()
    }

    #[test]
    fn merges_the_modular_corpus_by_name() {
        let Some(shared) = shared_dir() else { return };
        let dir = shared.join("corpus/modular/inference_x_v2");
        let files = [
            "slurm_config",
            "common_workflow",
            "sglang/prefill",
            "sglang/decode",
            "benchmark_infmax",
        ];
        let texts: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(dir.join(format!("{f}.yaml"))).unwrap())
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (root, diagnostics, sources) = merged(&texts);
        assert_eq!(diagnostics, "", "no value is overridden in these files");
        let workflow = root.get("workflow").unwrap();
        assert_eq!(
            workflow.get("name").unwrap().as_str(),
            Some("dynamo_benchmark")
        );
        assert_eq!(
            names(workflow.get("tasks")),
            [
                "load_image",
                "install_dependency",
                "gpu_monitor",
                "nats_server",
                "etcd_server",
                "frontend_server",
                "nginx_server",
                "prefill_server",
                "decode_server",
                "benchmark_infmax",
            ]
        );
        assert_eq!(
            names(workflow.get("variables")),
            [
                "HEAD_NODE_IP",
                "ETCD_ENDPOINTS",
                "NATS_SERVER",
                "ALL_NODE_IPS"
            ]
        );
        let variables = names(root.get("variables"));
        assert_eq!(variables.len(), 47);
        assert_eq!(
            variables[..3],
            ["SLURM_ACCOUNT", "SLURM_PARTITION", "SLURM_TIMELIMIT"]
        );
        assert_eq!(
            variables.last().map(String::as_str),
            Some("BENCHMARK_IMAGE")
        );
        assert_eq!(names(root.get("operators")), ["dynamo", "nginx"]);
        assert_eq!(names(root.get("backends")), ["slurm_cluster"]);
        // Each task keeps spans into the file that defined it.
        let tasks = workflow.get("tasks").unwrap().items().unwrap();
        let decode = &tasks[8];
        assert_eq!(sources.get(decode.span.file).name, "f4.yaml");
        assert_eq!(
            sources.slice(decode.get("name").unwrap().span),
            "decode_server"
        );
    }

    #[test]
    fn same_names_deep_merge_and_leaves_are_replaced_with_a_warning() {
        let base = "version: '0.1'\nworkflow:\n  name: wf\n  tasks:\n    - name: a\n      script: [x]\n      resources: {gpus: {count: 1}}\n";
        let extra = "workflow:\n  tasks:\n    a:\n      script: [y, z]\n      resources: {gpus: {indices: [0]}}\n    b:\n      script: [w]\n";
        let (root, diagnostics, sources) = merged(&[base, extra]);
        let tasks = root.get("workflow").unwrap().get("tasks").unwrap();
        assert_eq!(names(Some(tasks)), ["a", "b"]);
        let a = &tasks.items().unwrap()[0];
        let want = parse_yaml(
            0,
            "{name: a, script: [y, z], resources: {gpus: {count: 1, indices: [0]}}}",
        )
        .unwrap();
        assert!(a.same_value(&want), "{a:?}");
        let script = a.get("script").unwrap();
        assert_eq!(sources.get(script.span.file).name, "f2.yaml");
        insta::assert_snapshot!(diagnostics, @r"
        warning[merge-override]: `workflow.tasks.a.script` is replaced by a later file
         --> f2.yaml:4:15
          |
        4 |       script: [y, z]
          |               ^^^^^^ this value is used
         --> f1.yaml:6:15
          |
        6 |       script: [x]
          |               --- this earlier value is dropped
        ");
    }

    #[test]
    fn workflow_name_and_version_rules() {
        let cases: [(&[&str], &str); 7] = [
            // the last non-null name wins, without a warning
            (
                &[
                    "version: '0.1'\nworkflow: {name: a, tasks: [{name: t}]}",
                    "workflow: {name: b}",
                ],
                "",
            ),
            (
                &[
                    "version: '0.1'\nworkflow: {name: a, tasks: [{name: t}]}",
                    "workflow: {name: null}",
                ],
                "",
            ),
            // the same version is fine; identical values do not warn
            (
                &[
                    "version: '0.1'\nworkflow: {name: a, tasks: [{name: t, x: 1}]}",
                    "version: '0.1'\nworkflow: {tasks: [{name: t, x: 1}]}",
                ],
                "",
            ),
            (
                &[
                    "version: '0.1'\nworkflow: {name: a, tasks: [{name: t}]}",
                    "version: '0.2'",
                ],
                "error[version-conflict]: version conflict",
            ),
            (
                &["workflow: {name: a}", "variables: {X: 1}"],
                "error[merge-incomplete]: merged configuration is incomplete: missing `version`, `workflow.tasks`",
            ),
            (
                &["version: '0.1'", "[1, 2]"],
                "error[not-a-mapping]: a workflow file must be a mapping, not a list",
            ),
            // a null version, workflow or collection adds nothing
            (
                &[
                    "version:\nworkflow: {name: a, tasks: [{name: t}]}",
                    "version: '0.1'\nworkflow:\nvariables:",
                ],
                "",
            ),
        ];
        for (texts, expected) in cases {
            let (root, diagnostics, _) = merged(texts);
            let first = diagnostics.lines().next().unwrap_or("");
            assert_eq!(first, expected, "{texts:?}");
            if expected.is_empty() {
                let name = root.get("workflow").unwrap().get("name").unwrap();
                let want = if texts[1].contains("name: b") {
                    "b"
                } else {
                    "a"
                };
                assert_eq!(name.as_str(), Some(want));
            }
        }
        // The version conflict shows both places.
        let (_, diagnostics, _) = merged(&["version: '0.1'", "version: 0.1"]);
        assert!(diagnostics.contains("f1.yaml:1:10") && diagnostics.contains("f2.yaml:1:10"));
    }

    #[test]
    fn one_file_is_only_normalised() {
        let (root, diagnostics, _) = merged(&["variables: {X: 1}"]);
        assert_eq!(diagnostics, "");
        assert_eq!(names(root.get("variables")), ["X"]);
        let (root, diagnostics) = merge(Vec::new());
        assert_eq!(root.value, NodeValue::Null);
        assert_eq!(diagnostics[0].code, "no-input");
    }
}
