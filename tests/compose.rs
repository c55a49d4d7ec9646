//! `sflow compose` on every corpus workflow (the reference cases' files with their
//! `--set`, `--artifact` and `-M`): the composed YAML compiles to the same script as the
//! inputs, byte for byte but the header lines naming the inputs; the `--resolve` output
//! keeps only sweep, replica-count and runtime expressions, and compiles to the same
//! script less the environment lines of the variables it inlined.

use crate::{common, conformance};
use sflow::expr::{Namespace, Segment, parse_template, uses_namespace, variable_refs};
use sflow::load::{Node, NodeValue, parse_yaml};
use sflow::{Request, compose};

/// The script without the two header lines that name its inputs.
fn without_provenance(script: &str) -> String {
    script
        .lines()
        .filter(|l| !l.starts_with("# Workflow `") && !l.starts_with("# Recompile: "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn compile(request: &Request) -> Result<String, String> {
    let output = sflow::plan(request);
    match &output.plan {
        Some(plan) => Ok(sflow::script(request, plan)),
        None => Err(output.render_diagnostics()),
    }
}

fn yaml_request(yaml: &str) -> Request {
    Request {
        files: vec![("composed.yaml".into(), yaml.to_string())],
        ..Request::default()
    }
}

/// Every `${{ }}` left in a tree that is not allowed to be: one reading no sweep,
/// replica-count or runtime variable and no backend, artifact or task fact.
fn unexpected_expressions(node: &Node, report: &sflow::inline::Report, out: &mut Vec<String>) {
    match &node.value {
        NodeValue::Str(s) => {
            let Ok(template) = parse_template(s) else {
                return;
            };
            for segment in &template.segments {
                let Segment::Expr { expr, .. } = segment else {
                    continue;
                };
                let fact = [
                    Namespace::Backends,
                    Namespace::Artifacts,
                    Namespace::Task,
                    Namespace::Workflow,
                ]
                .into_iter()
                .any(|ns| uses_namespace(expr, ns));
                let kept = variable_refs(expr)
                    .iter()
                    .any(|(name, _, _)| report.may_remain(name));
                if !fact && !kept {
                    out.push(format!("${{{{{}}}}}", expr.source()));
                }
            }
        }
        NodeValue::Seq(items) => {
            for item in items {
                unexpected_expressions(item, report, out);
            }
        }
        NodeValue::Map(entries) => {
            for (key, value) in entries {
                // Literal fields (names, domains, patterns) are not expressions.
                if !matches!(key.name.as_str(), "name" | "domain" | "description") {
                    unexpected_expressions(value, report, out);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn composed_corpus_workflows_compile_to_the_same_scripts() {
    let Some(shared) = common::shared() else {
        return;
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut inlined = 0;
    for (case, reference) in conformance::cases(&shared) {
        if conformance::REFUSED.iter().any(|(c, _)| *c == case) {
            continue;
        }
        let (files, args) = conformance::case_inputs(&shared, &reference);
        let request = common::request(files, &args);
        let original = match compile(&request) {
            Ok(s) => without_provenance(&s),
            Err(d) => {
                problems.push(format!("{case}: did not compile:\n{d}"));
                continue;
            }
        };
        checked += 1;

        let composed = compose::compose(&request, false);
        let yaml = composed.yaml.expect("a compiling workflow composes");
        match compile(&yaml_request(&yaml)) {
            Ok(s) if without_provenance(&s) == original => {}
            Ok(s) => problems.push(format!(
                "{case}: the composed workflow compiles to another script:\n{}",
                first_difference(&original, &without_provenance(&s))
            )),
            Err(d) => problems.push(format!("{case}: composed YAML does not compile:\n{d}")),
        }

        let resolved = compose::compose(&request, true);
        let report = resolved.inlined.expect("--resolve reports");
        let yaml = resolved.yaml.expect("a compiling workflow composes");
        inlined += report.removed.len();
        let mut left = Vec::new();
        unexpected_expressions(&parse_yaml(0, &yaml).unwrap(), &report, &mut left);
        if !left.is_empty() {
            problems.push(format!(
                "{case}: --resolve left expressions it could inline: {left:?}"
            ));
        }
        let expected = without_env(&original, &report.removed);
        match compile(&yaml_request(&yaml)) {
            Ok(s) if without_provenance(&s) == expected => {}
            Ok(s) => problems.push(format!(
                "{case}: the resolved workflow compiles to another script:\n{}",
                first_difference(&expected, &without_provenance(&s))
            )),
            Err(d) => problems.push(format!("{case}: resolved YAML does not compile:\n{d}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} corpus workflows");
    assert!(inlined > 100, "only {inlined} variables inlined");
    eprintln!("compose: {checked} corpus workflows, {inlined} variables inlined");
}

/// A script less the `sflow_env` lines of `names` (and the comment above them when no
/// such line is left).
fn without_env(script: &str, names: &[String]) -> String {
    let mut lines: Vec<&str> = Vec::new();
    // A quoted value may go on over several lines: skip until its quotes balance.
    let still_open = |line: &str, mut open: bool| {
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match (open, c) {
                (true, '\'') => open = false,
                (false, '\\') => {
                    chars.next();
                }
                (false, '\'') => open = true,
                _ => {}
            }
        }
        open
    };
    let mut open_quote = false;
    for line in script.lines() {
        if open_quote {
            open_quote = still_open(line, true);
            continue;
        }
        if names
            .iter()
            .any(|n| line.starts_with(&format!("sflow_env {n} ")))
        {
            open_quote = still_open(line, false);
            continue;
        }
        lines.push(line);
    }
    if !lines.iter().any(|l| l.starts_with("sflow_env ")) {
        let comment = "# Exported inside every task's step (variables, then artifacts).";
        if let Some(at) = lines.iter().position(|l| *l == comment) {
            lines.remove(at);
            if at > 0 && lines[at - 1].is_empty() {
                lines.remove(at - 1);
            }
        }
    }
    lines.join("\n")
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  - {x}\n  + {y}", i + 1);
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

/// A small workflow with each kind of variable: what is inlined, typed, kept and why.
#[test]
fn resolve_inlines_typed_values_and_keeps_sweeps_counts_and_runtime_values() {
    let yaml = r#"version: "0.1"
variables:
  N: {value: 2}
  PORT: {value: "${{ 8000 + N }}"}
  NAME: {value: model}
  C: {value: 1, domain: [1, 2]}
  PER: {value: "${{ C * 10 }}"}
  IP: {value: "${{ backends.cl.nodes[0].ip_address }}"}
  R: {value: 2}
  USED_BY_SCRIPT: {value: hello}
  CFG: {value: 7}
artifacts:
  - {name: CONF, uri: "file://conf.txt", content: "x=${{ CFG }}"}
backends:
  - {name: cl, type: slurm, nodes: "${{ N }}", gpus_per_node: 4}
workflow:
  name: wf
  tasks:
    - name: server
      replicas: {count: "${{ variables.R }}"}
      script:
        - "serve --port ${{ PORT }} --name ${{ NAME }} --ip ${{ IP }}"
        - echo $USED_BY_SCRIPT ${{ USED_BY_SCRIPT }}
      probes:
        readiness:
          tcp_port: {port: "${{ PORT }}"}
    - name: client
      depends_on: [server]
      replicas: {variables: [C]}
      script: ["run ${{ PER }} ${{ N * R }}"]
"#;
    let request = yaml_request(yaml);
    let resolved = compose::compose(&request, true);
    let out = resolved
        .yaml
        .clone()
        .unwrap_or_else(|| panic!("{}", resolved.render_diagnostics()));
    let report = resolved.inlined.unwrap();
    assert_eq!(report.removed, ["N", "PORT", "NAME"], "{out}");
    let kept: Vec<String> = report
        .kept
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.describe()))
        .collect();
    assert_eq!(
        kept,
        [
            "C: swept",
            "CFG: used where its value cannot be written",
            "IP: known only in the job",
            "PER: derived from a swept variable",
            "R: a replica count",
            "USED_BY_SCRIPT: read by a task script from the environment",
        ]
    );
    for want in [
        "nodes: 2\n",
        "- serve --port 8002 --name model --ip ${{ IP }}\n",
        "- echo $USED_BY_SCRIPT hello\n",
        "port: 8002\n",
        "count: ${{ variables.R }}\n",
        "- run ${{ PER }} ${{ 2 * R }}\n",
        "content: x=${{ CFG }}\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // Same plan (the inlined variables are no longer exported, nothing else changes).
    let before = compile(&request).unwrap();
    let after = compile(&yaml_request(&out)).unwrap();
    let expected = without_env(&without_provenance(&before), &report.removed);
    let got = without_provenance(&after);
    assert!(expected == got, "{}", first_difference(&expected, &got));
}

/// Values of every type, negative numbers inside arithmetic, index syntax, shadowing,
/// and a value whose text would open a new expression.
#[test]
fn resolve_writes_each_kind_of_value_so_it_reads_back_the_same() {
    let yaml = r#"version: "0.1"
variables:
  NEG: {value: -3}
  F: {value: 0.5}
  B: {value: true}
  ARGS: {value: ["--a", "b c"]}
  OPEN: {value: "${{ '$' ~ '{{' }}"}
  S: {value: global}
  Q: {value: "it's \"quoted\"\n"}
workflow:
  name: wf
  variables:
    - {name: S, value: shadow}
  tasks:
    - name: t
      operator: {name: sh, extra_args: "${{ ARGS }}"}
      script:
        - "echo ${{ 10 - NEG }} ${{ variables['F'] * 2 }} ${{ B }} ${{ S }}"
        - "echo ${{ OPEN }}x"
        - "printf %s ${{ Q | length }} '${{ Q }}'"
operators:
  - {name: sh, type: python}
"#;
    let request = yaml_request(yaml);
    let resolved = compose::compose(&request, true);
    let out = resolved
        .yaml
        .clone()
        .unwrap_or_else(|| panic!("{}", resolved.render_diagnostics()));
    let report = resolved.inlined.unwrap();
    assert_eq!(report.removed, ["NEG", "F", "B", "ARGS", "Q"], "{out}");
    assert_eq!(
        report.kept["S"].describe(),
        "declared at more than one level"
    );
    assert_eq!(
        report.kept["OPEN"].describe(),
        "used where its value cannot be written"
    );
    for want in [
        "- echo 13 1.0 True ${{ S }}\n",
        "- echo ${{ OPEN }}x\n",
        "extra_args: ${{ ['--a', 'b c'] }}\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let before = compile(&request).unwrap();
    let after = compile(&yaml_request(&out)).unwrap();
    let expected = without_env(&without_provenance(&before), &report.removed);
    let got = without_provenance(&after);
    assert!(expected == got, "{}", first_difference(&expected, &got));
}
