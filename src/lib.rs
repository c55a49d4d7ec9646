//! sflow: compiles sflow workflows (YAML) into one self-contained Slurm batch script.
//! Input: workflow files and command-line options. Output: a bash script, a plan, or
//! diagnostics. Guarantee: the compiler is a pure function of its inputs; only `cli`
//! touches files, the environment and the clock.
//!
//! The pipeline, one module per stage (see ARCHITECTURE.md):
//! `load` (YAML → merged tree) → `syntax` (typed workflow) → `resolve` (variables,
//! backends, artifacts) → `expand` (replicas, dependencies, order) → `place` (nodes and
//! GPUs) → `lower` (the plan) → `emit` (the script) / `report` (plan JSON and tables).

pub mod bulk;
pub mod cli;
pub mod compose;
pub mod diagnostic;
pub mod duration;
pub mod emit;
pub mod expand;
pub mod expr;
pub mod field;
pub mod gpumap;
pub mod graph;
pub mod inline;
pub mod load;
pub mod lower;
pub mod place;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod syntax;

use diagnostic::Diagnostic;
use sha2::{Digest, Sha256};
use source::Sources;

/// Everything one compilation reads.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Workflow files in command-line order: (name as given, text).
    pub files: Vec<(String, String)>,
    pub sets: Vec<String>,
    pub artifacts: Vec<String>,
    pub missable: Vec<String>,
    /// `-N`: the Slurm backend's node count.
    pub nodes: Option<u32>,
    pub options: lower::Options,
}

/// What one compilation produced: a plan when there were no errors, and every
/// diagnostic (warnings included) with the sources they point into.
pub struct Output {
    pub plan: Option<plan::Plan>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

impl Output {
    pub fn render_diagnostics(&self) -> String {
        diagnostic::Diagnostics(self.diagnostics.clone()).render(&self.sources)
    }
}

/// Loads, merges and applies the command-line overrides: the workflow as one tree.
pub fn load_tree(request: &Request) -> (Sources, Option<load::Node>, Vec<Diagnostic>) {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let mut docs = Vec::new();
    for (name, text) in &request.files {
        let file = sources.add(name.clone(), text.clone());
        match load::parse_yaml(file, text) {
            Ok(mut doc) => {
                load::normalize(&mut doc);
                docs.push(doc);
            }
            Err(d) => diags.push(d),
        }
    }
    if docs.is_empty() || diags.iter().any(Diagnostic::is_error) {
        return (sources, None, diags);
    }
    let mut root = if docs.len() == 1 {
        docs.pop()
    } else {
        let (root, merge_diags) = load::merge(docs);
        diags.extend(merge_diags);
        Some(root)
    };
    if let Some(root) = root.as_mut() {
        diags.extend(load::apply_sets(root, &request.sets, &mut sources));
        diags.extend(load::apply_artifacts(
            root,
            &request.artifacts,
            &mut sources,
        ));
        diags.extend(load::strip_missable(root, &request.missable));
    }
    if diags.iter().any(Diagnostic::is_error) {
        return (sources, None, diags);
    }
    (sources, root, diags)
}

/// Runs the pipeline up to the plan.
pub fn plan(request: &Request) -> Output {
    let (sources, root, mut diagnostics) = load_tree(request);
    let Some(root) = root else {
        return Output {
            plan: None,
            diagnostics,
            sources,
        };
    };
    let (workflow, syntax_diags) = syntax::read(&root, &sources);
    diagnostics.extend(syntax_diags);
    let plan = workflow.as_ref().and_then(|wf| {
        let env = resolve::Env::new(wf, &sources, request.nodes);
        let plan = expand::expand(&env, wf)
            .and_then(|x| place::place(&env, &x).map(|p| (x, p)))
            .and_then(|(x, placements)| lower::lower(&env, wf, &x, &placements, &request.options));
        diagnostics.extend(env.take_diagnostics());
        plan
    });
    let plan = plan.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Output {
        plan,
        diagnostics,
        sources,
    }
}

/// The script for a plan, with the header naming its inputs.
pub fn script(request: &Request, plan: &plan::Plan) -> String {
    emit::render(plan, &provenance(request))
}

/// Names and fingerprints the inputs (files, overrides, options).
pub fn provenance(request: &Request) -> emit::Provenance {
    let mut hash = Sha256::new();
    for (name, text) in &request.files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    let mut command = String::from("sflow compile");
    let mut arg = |flag: &str, value: &str| {
        command.push(' ');
        if !flag.is_empty() {
            command.push_str(flag);
            command.push(' ');
        }
        command.push_str(&emit::shell_word(value));
    };
    for (name, _) in &request.files {
        arg("", name);
    }
    for s in &request.sets {
        arg("--set", s);
    }
    for a in &request.artifacts {
        arg("--artifact", a);
    }
    for m in &request.missable {
        arg("-M", m);
    }
    let o = &request.options;
    let nodes = request.nodes.map(|n| n.to_string());
    for (flag, value) in [
        ("-N", &nodes),
        ("-J", &o.job_name),
        ("-p", &o.partition),
        ("-A", &o.account),
        ("-t", &o.time),
        ("--workspace-dir", &o.workspace),
        ("--output-dir", &o.output_dir),
    ] {
        if let Some(v) = value {
            arg(flag, v);
        }
    }
    for e in &o.sbatch_args {
        arg("-e", e);
    }
    hash.update(command.as_bytes());
    let hash = hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    emit::Provenance {
        files: request.files.iter().map(|(n, _)| n.clone()).collect(),
        hash,
        command,
    }
}
