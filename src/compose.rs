//! `sflow compose`: the merged workflow as one YAML file. Input: a `Request` (files,
//! `--set`, `--artifact`, `-M`, `-N`). Output: YAML text of the merged tree with the
//! overrides applied (and, with `resolve`, compile-time variables inlined by `inline`), or
//! the diagnostics that stopped it. Guarantee: only a workflow that compiles is composed,
//! and compiling the plain output gives the same script as compiling the inputs, byte for
//! byte except the header lines that name the inputs.

use crate::diagnostic::Diagnostic;
use crate::load::{self, Key, Node, NodeValue};
use crate::source::Sources;
use crate::{Request, inline};

/// What `compose` produced.
pub struct Composed {
    /// The YAML, when the workflow compiled.
    pub yaml: Option<String>,
    /// Every diagnostic of the compilation (warnings included).
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
    /// With `resolve`: what was inlined and what was kept, and why.
    pub inlined: Option<inline::Report>,
}

impl Composed {
    pub fn render_diagnostics(&self) -> String {
        crate::diagnostic::Diagnostics(self.diagnostics.clone()).render(&self.sources)
    }
}

/// Merges the inputs and writes them as one workflow.
pub fn compose(request: &Request, resolve: bool) -> Composed {
    let output = crate::plan(request);
    if output.plan.is_none() {
        return Composed {
            yaml: None,
            diagnostics: output.diagnostics,
            sources: output.sources,
            inlined: None,
        };
    }
    let (sources, root, _) = crate::load_tree(request);
    let Some(mut root) = root else {
        // `plan` loaded the same tree successfully; this cannot happen.
        return Composed {
            yaml: None,
            diagnostics: output.diagnostics,
            sources: output.sources,
            inlined: None,
        };
    };
    if let Some(n) = request.nodes {
        set_slurm_nodes(&mut root, n);
    }
    script_lines_as_written(&mut root, &sources);
    let inlined = resolve.then(|| inline::inline_variables(&mut root, &sources));
    let mut yaml = String::from("# Merged by `sflow compose` from: ");
    let names: Vec<&str> = request.files.iter().map(|(n, _)| n.as_str()).collect();
    yaml.push_str(&names.join(" ").replace('\n', " "));
    yaml.push('\n');
    yaml.push_str(&load::to_yaml(&root));
    Composed {
        yaml: Some(yaml),
        diagnostics: output.diagnostics,
        sources,
        inlined,
    }
}

/// `-N`: the node count of every Slurm backend, written into the tree.
fn set_slurm_nodes(root: &mut Node, nodes: u32) {
    let Some(backends) = root.get_mut("backends").and_then(Node::items_mut) else {
        return;
    };
    for backend in backends {
        if backend.get("type").and_then(Node::as_str) == Some("slurm") {
            let span = backend.span;
            backend.set(
                Key {
                    name: "nodes".into(),
                    span,
                },
                Node::new(span, NodeValue::Int(nodes.into())),
            );
        }
    }
}

/// A script line written as a number or boolean (`- 42`, `- 1.50`, `- true`) means the
/// line as written; it becomes that string, so writing the tree again cannot respell it.
fn script_lines_as_written(root: &mut Node, sources: &Sources) {
    let Some(tasks) = root
        .get_mut("workflow")
        .and_then(|w| w.get_mut("tasks"))
        .and_then(Node::items_mut)
    else {
        return;
    };
    for task in tasks {
        let Some(lines) = task.get_mut("script").and_then(Node::items_mut) else {
            continue;
        };
        for line in lines {
            if matches!(
                line.value,
                NodeValue::Bool(_) | NodeValue::Int(_) | NodeValue::Float(_)
            ) {
                let text = sources.slice(line.span).to_string();
                line.value = NodeValue::Str(text);
            }
        }
    }
}
