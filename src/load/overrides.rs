//! Command-line changes to the merged tree. Input: a normalised tree and the raw values of
//! `--set KEY=VALUE`, `--artifact NAME=URI` and `--missable-tasks GLOB`. Output: the tree with
//! the overrides applied, and diagnostics. Guarantee: each `--set`/`--artifact` value becomes
//! its own source, so errors and the nodes it creates point into the command line; only
//! declared top-level variables and declared artifacts can be changed.

use super::node::{Key, Node, NodeValue};
use crate::diagnostic::Diagnostic;
use crate::source::{Sources, Span};
use globset::{Glob, GlobSetBuilder};
use std::collections::HashSet;

/// Applies each `--set KEY=VALUE` to the top-level `variables`.
pub fn apply_sets(root: &mut Node, sets: &[String], sources: &mut Sources) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for arg in sets {
        let file = sources.add("--set", arg.as_str());
        let result = Assignment::split(arg, file, "--set", "KEY=VALUE")
            .and_then(|assignment| apply_set(root, &assignment));
        diagnostics.extend(result.err());
    }
    diagnostics
}

/// Applies each `--artifact NAME=URI` to the top-level `artifacts`.
pub fn apply_artifacts(root: &mut Node, arts: &[String], sources: &mut Sources) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for arg in arts {
        let file = sources.add("--artifact", arg.as_str());
        let result = Assignment::split(arg, file, "--artifact", "NAME=URI")
            .and_then(|assignment| apply_artifact(root, &assignment));
        diagnostics.extend(result.err());
    }
    diagnostics
}

/// Drops dependencies on, and log watches of, tasks that match a glob and are not in the
/// workflow (an optional part left out of this merge).
pub fn strip_missable(root: &mut Node, globs: &[String]) -> Vec<Diagnostic> {
    let mut builder = GlobSetBuilder::new();
    let mut diagnostics = Vec::new();
    for glob in globs {
        match Glob::new(glob) {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(error) => diagnostics.push(
                Diagnostic::error(
                    "invalid-glob",
                    format!("invalid `--missable-tasks` pattern `{glob}`"),
                )
                .help(error.kind().to_string()),
            ),
        }
    }
    if !diagnostics.is_empty() || globs.is_empty() {
        return diagnostics;
    }
    let set = match builder.build() {
        Ok(set) => set,
        Err(error) => {
            return vec![
                Diagnostic::error("invalid-glob", "invalid `--missable-tasks` pattern")
                    .help(error.to_string()),
            ];
        }
    };
    let Some(tasks) = root
        .get_mut("workflow")
        .and_then(|w| w.get_mut("tasks"))
        .and_then(Node::items_mut)
    else {
        return diagnostics;
    };
    let present: HashSet<String> = tasks
        .iter()
        .filter_map(|t| t.get("name")?.as_str().map(str::to_owned))
        .collect();
    let missing = |node: &Node| {
        node.as_str()
            .is_some_and(|name| !present.contains(name) && set.is_match(name))
    };
    for task in tasks.iter_mut() {
        let emptied = task
            .get_mut("depends_on")
            .and_then(Node::items_mut)
            .is_some_and(|deps| {
                let before = deps.len();
                deps.retain(|dep| !missing(dep));
                before > 0 && deps.is_empty()
            });
        if emptied {
            task.remove("depends_on");
        }
        let Some(probes) = task.get_mut("probes") else {
            continue;
        };
        for kind in ["readiness", "failure"] {
            let Some(probe) = probes.get_mut(kind) else {
                continue;
            };
            match &mut probe.value {
                NodeValue::Seq(list) => list.iter_mut().for_each(|p| strip_logger(p, &missing)),
                _ => strip_logger(probe, &missing),
            }
        }
    }
    diagnostics
}

fn strip_logger(probe: &mut Node, missing: &impl Fn(&Node) -> bool) {
    if let Some(log_watch) = probe.get_mut("log_watch")
        && log_watch.get("logger").is_some_and(missing)
    {
        log_watch.remove("logger");
    }
}

/// `NAME=VALUE` split at the first `=`, with spans into the argument's own source.
struct Assignment<'a> {
    name: &'a str,
    name_span: Span,
    value: &'a str,
    value_span: Span,
}

impl<'a> Assignment<'a> {
    fn split(arg: &'a str, file: u32, option: &str, form: &str) -> Result<Self, Diagnostic> {
        let whole = Span::new(file, 0, arg.len());
        match arg.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok(Assignment {
                name,
                name_span: whole.sub(0, name.len()),
                value,
                value_span: whole.sub(name.len() + 1, arg.len()),
            }),
            _ => Err(
                Diagnostic::error("invalid-override", format!("`{option}` expects {form}"))
                    .at(whole, format!("not of the form {form}")),
            ),
        }
    }
}

fn names(collection: Option<&Node>) -> Vec<&str> {
    collection
        .and_then(Node::items)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("name")?.as_str())
        .collect()
}

fn find_named<'n>(collection: Option<&'n mut Node>, name: &str) -> Option<&'n mut Node> {
    collection?
        .items_mut()?
        .iter_mut()
        .find(|item| item.get("name").and_then(Node::as_str) == Some(name))
}

fn apply_set(root: &mut Node, set: &Assignment<'_>) -> Result<(), Diagnostic> {
    let value = infer(set.value, set.value_span);
    let Some(variable) = find_named(root.get_mut("variables"), set.name) else {
        let error = Diagnostic::error(
            "undeclared-variable",
            format!("variable `{}` is not declared at the top level", set.name),
        )
        .at(set.name_span, "no top-level variable with this name");
        let workflow_variables = root.get("workflow").and_then(|w| w.get("variables"));
        return Err(if names(workflow_variables).contains(&set.name) {
            error.help(format!(
                "`{}` is a workflow variable; `--set` changes only top-level `variables`",
                set.name
            ))
        } else {
            error.suggest(set.name, names(root.get("variables")))
        });
    };
    let key = |name: &str| Key {
        name: name.to_owned(),
        span: set.name_span,
    };
    if let NodeValue::Seq(items) = &value.value {
        let Some(first) = items.first().cloned() else {
            return Err(
                Diagnostic::error("empty-domain", "an empty list cannot be a domain")
                    .at(set.value_span, "a list value sets the variable's domain"),
            );
        };
        variable.set(key("value"), first);
        variable.set(key("domain"), value);
    } else {
        variable.set(key("value"), value);
    }
    Ok(())
}

fn apply_artifact(root: &mut Node, artifact: &Assignment<'_>) -> Result<(), Diagnostic> {
    let names: Vec<String> = names(root.get("artifacts"))
        .into_iter()
        .map(str::to_owned)
        .collect();
    let Some(entry) = find_named(root.get_mut("artifacts"), artifact.name) else {
        return Err(Diagnostic::error(
            "unknown-artifact",
            format!("artifact `{}` is not declared", artifact.name),
        )
        .at(artifact.name_span, "no artifact with this name")
        .suggest(artifact.name, names.iter().map(String::as_str)));
    };
    let was_file = entry
        .get("uri")
        .and_then(Node::as_str)
        .is_some_and(|uri| uri.starts_with("file://"));
    if was_file && !artifact.value.starts_with("file://") {
        entry.remove("content");
    }
    let uri = Node::new(
        artifact.value_span,
        NodeValue::Str(artifact.value.to_owned()),
    );
    let key = Key {
        name: "uri".to_owned(),
        span: artifact.name_span,
    };
    entry.set(key, uri);
    Ok(())
}

/// The reference's type inference for `--set` values: an expression stays a string; then
/// JSON (for values starting with `[` or `{`), integer, float, boolean, string.
fn infer(text: &str, span: Span) -> Node {
    if text.contains("${{") {
        return Node::new(span, NodeValue::Str(text.to_owned()));
    }
    if text.starts_with(['[', '{'])
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(text)
    {
        return from_json(json, span);
    }
    let trimmed = text.trim();
    let unsigned = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    let value = if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // Digits that overflow an i64 keep their text rather than turning into a float.
        trimmed
            .parse()
            .map_or_else(|_| NodeValue::Str(text.to_owned()), NodeValue::Int)
    } else if let Ok(float) = trimmed.parse::<f64>() {
        NodeValue::Float(float)
    } else {
        match trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => NodeValue::Bool(true),
            "false" | "no" | "off" => NodeValue::Bool(false),
            _ => NodeValue::Str(text.to_owned()),
        }
    };
    Node::new(span, value)
}

fn from_json(json: serde_json::Value, span: Span) -> Node {
    use serde_json::Value;
    let value = match json {
        Value::Null => NodeValue::Null,
        Value::Bool(b) => NodeValue::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => NodeValue::Int(i),
            (None, Some(f)) => NodeValue::Float(f),
            (None, None) => NodeValue::Str(n.to_string()),
        },
        Value::String(s) => NodeValue::Str(s),
        Value::Array(items) => {
            NodeValue::Seq(items.into_iter().map(|v| from_json(v, span)).collect())
        }
        Value::Object(entries) => NodeValue::Map(
            entries
                .into_iter()
                .map(|(name, v)| (Key { name, span }, from_json(v, span)))
                .collect(),
        ),
    };
    Node::new(span, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::render;
    use crate::load::{normalize, parse_yaml};

    const WORKFLOW: &str = "\
version: '0.1'
variables:
  N: 1
  D: {value: 64, domain: [64, 128]}
  MODEL: {value: m}
artifacts:
  cfg: {uri: 'file://cfg.yaml', content: 'a: 1'}
  weights: {uri: 'fs:///w'}
workflow:
  name: wf
  variables: {WV: 2}
  tasks:
    - name: a
      script: [x]
";

    fn load() -> (Node, Sources) {
        let mut sources = Sources::default();
        let file = sources.add("wf.yaml", WORKFLOW);
        let mut root = parse_yaml(file, WORKFLOW).unwrap();
        normalize(&mut root);
        (root, sources)
    }

    fn variable<'n>(root: &'n Node, name: &str) -> &'n Node {
        root.get("variables")
            .and_then(Node::items)
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i.get("name").and_then(Node::as_str) == Some(name))
            })
            .unwrap()
    }

    fn yaml(text: &str) -> Node {
        parse_yaml(0, text).unwrap()
    }

    #[test]
    fn set_infers_types_like_the_reference() {
        // (argument, expected value as YAML, expected domain as YAML)
        let cases = [
            ("N=7", "7", None),
            ("N=007", "7", None),
            ("N=-3", "-3", None),
            ("N=+4", "4", None),
            ("N=1.50", "1.5", None),
            ("N=1e3", "1000.0", None),
            ("N=.5", "0.5", None),
            ("N=true", "true", None),
            ("N=Yes", "true", None),
            ("N=ON", "true", None),
            ("N=off", "false", None),
            ("N=no", "false", None),
            ("N=hello", "hello", None),
            ("N=", "''", None),
            ("N=null", "'null'", None),
            ("N=a=b", "a=b", None),
            ("N=[1, 2", "'[1, 2'", None),
            ("N={\"a\":1}", "{a: 1}", None),
            (
                "N={\"b\": [true, null, 2.5]}",
                "{b: [true, null, 2.5]}",
                None,
            ),
            ("N=99999999999999999999", "'99999999999999999999'", None),
            ("N=${{ variables.MODEL }}", "'${{ variables.MODEL }}'", None),
            ("N=[${{ x }}]", "'[${{ x }}]'", None),
            ("N=[64,128]", "64", Some("[64, 128]")),
            ("N=[\"x\", \"y\"]", "x", Some("[x, y]")),
            // a scalar keeps the existing domain; membership is checked later
            ("D=256", "256", Some("[64, 128]")),
            ("D=[32]", "32", Some("[32]")),
        ];
        for (arg, value, domain) in cases {
            let (mut root, mut sources) = load();
            let diagnostics = apply_sets(&mut root, &[arg.to_owned()], &mut sources);
            assert!(diagnostics.is_empty(), "{arg}: {diagnostics:?}");
            let name = &arg[..1];
            let var = variable(&root, name);
            let got = var.get("value").unwrap();
            assert!(got.same_value(&yaml(value)), "{arg}: {got:?}");
            let got_domain = var.get("domain");
            match domain {
                Some(domain) => assert!(got_domain.unwrap().same_value(&yaml(domain)), "{arg}"),
                None => assert!(got_domain.is_none(), "{arg}"),
            }
        }
    }

    #[test]
    fn set_values_point_into_the_command_line() {
        let (mut root, mut sources) = load();
        let diagnostics = apply_sets(&mut root, &["MODEL=a=b".to_owned()], &mut sources);
        assert!(diagnostics.is_empty());
        let value = variable(&root, "MODEL").get("value").unwrap();
        assert_eq!(sources.get(value.span.file).name, "--set");
        assert_eq!(sources.slice(value.span), "a=b");
    }

    #[test]
    fn set_errors() {
        let args = ["N", "=5", "WV=1", "MODLE=x", "D=[]", "N=2"];
        let (mut root, mut sources) = load();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let diagnostics = apply_sets(&mut root, &args, &mut sources);
        let shown: Vec<String> = diagnostics.iter().map(|d| render(d, &sources)).collect();
        insta::assert_snapshot!(shown.join("\n"), @r"
        error[invalid-override]: `--set` expects KEY=VALUE
         --> --set:1:1
          |
        1 | N
          | ^ not of the form KEY=VALUE

        error[invalid-override]: `--set` expects KEY=VALUE
         --> --set:1:1
          |
        1 | =5
          | ^^ not of the form KEY=VALUE

        error[undeclared-variable]: variable `WV` is not declared at the top level
         --> --set:1:1
          |
        1 | WV=1
          | ^^ no top-level variable with this name
          = help: `WV` is a workflow variable; `--set` changes only top-level `variables`

        error[undeclared-variable]: variable `MODLE` is not declared at the top level
         --> --set:1:1
          |
        1 | MODLE=x
          | ^^^^^ no top-level variable with this name
          = help: did you mean `MODEL`?

        error[empty-domain]: an empty list cannot be a domain
         --> --set:1:3
          |
        1 | D=[]
          |   ^^ a list value sets the variable's domain
        ");
        // The valid one still applies.
        assert!(
            variable(&root, "N")
                .get("value")
                .unwrap()
                .same_value(&yaml("2"))
        );
    }

    #[test]
    fn artifact_overrides_replace_the_uri() {
        let cases = [
            ("cfg=hf://org/model", "hf://org/model", false),
            ("cfg=file://other.yaml", "file://other.yaml", true),
            ("weights=fs:///x=y", "fs:///x=y", false),
        ];
        for (arg, uri, keeps_content) in cases {
            let (mut root, mut sources) = load();
            let diagnostics = apply_artifacts(&mut root, &[arg.to_owned()], &mut sources);
            assert!(diagnostics.is_empty(), "{arg}");
            let name = arg.split('=').next().unwrap();
            let artifact = root
                .get("artifacts")
                .and_then(Node::items)
                .and_then(|items| {
                    items
                        .iter()
                        .find(|i| i.get("name").and_then(Node::as_str) == Some(name))
                })
                .unwrap();
            assert_eq!(artifact.get("uri").and_then(Node::as_str), Some(uri));
            assert_eq!(artifact.get("content").is_some(), keeps_content, "{arg}");
            assert_eq!(sources.slice(artifact.get("uri").unwrap().span), uri);
        }
        let (mut root, mut sources) = load();
        let args = ["wieghts=fs:///x".to_owned(), "cfg".to_owned()];
        let codes: Vec<_> = apply_artifacts(&mut root, &args, &mut sources)
            .into_iter()
            .map(|d| (d.code, d.help))
            .collect();
        assert_eq!(
            codes,
            [
                (
                    "unknown-artifact",
                    Some("did you mean `weights`?".to_owned())
                ),
                ("invalid-override", None),
            ]
        );
    }

    #[test]
    fn missable_tasks_are_stripped_in_both_probe_forms() {
        let text = "\
workflow:
  name: wf
  tasks:
    - name: a
      depends_on: [agg_server, b, other]
      probes:
        readiness:
          log_watch: {logger: agg_server, regex_pattern: x}
    - name: b
      depends_on: [agg_server]
      probes:
        readiness:
          - log_watch: {logger: agg_server, regex_pattern: x}
          - log_watch: {logger: b, regex_pattern: y}
        failure:
          log_watch: {logger: agg_x, regex_pattern: z}
    - name: c
      depends_on: []
";
        let expected = "\
workflow:
  name: wf
  tasks:
    - name: a
      depends_on: [b, other]
      probes:
        readiness:
          log_watch: {regex_pattern: x}
    - name: b
      probes:
        readiness:
          - log_watch: {regex_pattern: x}
          - log_watch: {logger: b, regex_pattern: y}
        failure:
          log_watch: {regex_pattern: z}
    - name: c
      depends_on: []
";
        let mut root = yaml(text);
        let globs = ["agg_*".to_owned(), "b*".to_owned()];
        assert!(strip_missable(&mut root, &globs).is_empty());
        assert!(root.same_value(&yaml(expected)), "{root:#?}");
        // No globs, no change; a bad glob is an error.
        let mut root = yaml(text);
        assert!(strip_missable(&mut root, &[]).is_empty());
        assert!(root.same_value(&yaml(text)));
        let errors = strip_missable(&mut root, &["a[".to_owned()]);
        assert_eq!(errors[0].code, "invalid-glob");
        assert!(root.same_value(&yaml(text)));
    }
}
