//! The plan: what the script will do, with every decision made. Input: produced by
//! `lower`. Output: read by `emit` (the script), `report` (plan JSON and tables) and
//! `graph`. Guarantee: no expression is left; values known only in the job are
//! `Text` pieces (node names and IPs, run directories) that the script fills in once.

use crate::expand::Release;
use crate::expr::{NodeField, Piece, Text};

/// Where the job's node facts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Slurm,
    Local,
}

#[derive(Debug)]
pub struct Plan {
    pub workflow: String,
    pub kind: Kind,
    /// `#SBATCH` lines (without the prefix), for a workflow with a Slurm backend.
    pub sbatch: Vec<String>,
    /// The `--output` pattern, copied into the run directory at the end.
    pub slurm_output: Option<String>,
    /// Nodes of the allocation (Slurm) or placement slots (local).
    pub node_count: u32,
    pub gpus_per_node: Option<u32>,
    pub backends: Vec<BackendInfo>,
    /// Seconds; 0 = no limit.
    pub workflow_timeout: u64,
    pub stop_grace: u64,
    pub workspace: Option<String>,
    pub output_dir: Option<String>,
    /// Exported inside every task's step: variables, then artifacts.
    pub env: Vec<(String, Text)>,
    /// Artifacts with inline content, written when the job starts.
    pub files: Vec<ArtifactFile>,
    pub groups: Vec<Group>,
    /// Concrete tasks in the planned (topological) order.
    pub tasks: Vec<Task>,
}

#[derive(Debug)]
pub struct BackendInfo {
    pub name: String,
    pub kind: Kind,
    pub nodes: u32,
    pub gpus_per_node: Option<u32>,
}

/// A `file://` artifact's inline content and where it goes.
#[derive(Debug)]
pub struct ArtifactFile {
    pub name: String,
    pub path: Text,
    pub content: Text,
}

/// What to read from a task's log when it exits 0.
#[derive(Debug, Default)]
pub struct Results {
    /// (name, aggregate, ERE group of the value, ERE).
    pub rules: Vec<(String, &'static str, usize, String)>,
    /// The task writes its own JSON to `$SFLOW_TASK_RESULT_FILE`.
    pub file: bool,
    /// (name, operator, number).
    pub expect: Vec<(String, &'static str, String)>,
    /// `outputs` patterns, parse style.
    pub outputs: Vec<String>,
}

/// A word of the script: fixed text, or the replica's value in slot K (1-based).
#[derive(Clone, Debug, PartialEq)]
pub enum Word {
    Text(Text),
    Slot(usize),
}

impl Word {
    pub fn lit(s: impl Into<String>) -> Word {
        Word::Text(Text(vec![Piece::Lit(s.into())]))
    }
}

#[derive(Debug)]
pub struct ProbeSpec {
    pub readiness: bool,
    pub kind: &'static str,
    pub options: Vec<(&'static str, Word)>,
}

/// What all replicas of one declared task share: one function in the script.
#[derive(Debug)]
pub struct Group {
    pub base: String,
    /// The bash function name suffix (the task name, made a valid identifier).
    pub ident: String,
    /// One-line description for the script's comment.
    pub about: String,
    pub local: bool,
    /// The launcher tag and its words: `srun …`, `bash`, `python EXEC …`, `ssh ARGS… DEST`.
    pub launch: Vec<Word>,
    pub exports: Vec<(String, Word)>,
    /// Swept variables: exported, and recorded with the task's results.
    pub sweeps: Vec<(String, Word)>,
    /// The names of the swept variables.
    pub swept: Vec<String>,
    pub probes: Vec<ProbeSpec>,
    pub results: Option<Results>,
    pub retry: Option<[Word; 3]>,
    pub timeout: Option<Word>,
    /// The task's lines; slot K appears as `@@sflow:K@@`.
    pub script: String,
    /// What each slot holds, for the comment above the function.
    pub slots: Vec<String>,
}

#[derive(Debug)]
pub struct Task {
    pub name: String,
    pub replica: u32,
    /// Its group (declared task) in `Plan::groups`.
    pub group: usize,
    /// Its backend in `Plan::backends`.
    pub backend: usize,
    pub deps: Vec<usize>,
    pub nodes: Vec<u32>,
    pub gpus: Option<Vec<u32>>,
    pub gpu_release: Option<Release>,
    pub slots: Vec<Text>,
    /// Swept values (text form), in the order of the group's `swept`.
    pub sweep: Vec<String>,
    pub service: bool,
}

impl Plan {
    /// The declared task a concrete task comes from.
    pub fn base(&self, task: &Task) -> &str {
        &self.groups[task.group].base
    }

    /// A task's swept variables and their values.
    pub fn sweep<'a>(&'a self, task: &'a Task) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.groups[task.group]
            .swept
            .iter()
            .map(String::as_str)
            .zip(task.sweep.iter().map(String::as_str))
    }
}

/// The marker the runtime replaces with a value known only in the job.
pub fn marker(piece: &Piece) -> String {
    match piece {
        Piece::Lit(s) => s.clone(),
        Piece::Node { index, field } => match field {
            NodeField::Name => format!("@@sflow:node{index}.name@@"),
            NodeField::Ip => format!("@@sflow:node{index}.ip@@"),
        },
        Piece::Workspace => "@@sflow:workspace@@".into(),
        Piece::OutputDir => "@@sflow:outdir@@".into(),
        Piece::RunDir => "@@sflow:rundir@@".into(),
        Piece::TaskDir => "@@sflow:taskdir@@".into(),
    }
}

/// A text with its runtime pieces as script markers.
pub fn script_text(text: &Text) -> String {
    text.0.iter().map(marker).collect()
}

/// A text with its runtime pieces as readable placeholders (`sflow plan`).
pub fn placeholder_text(text: &Text) -> String {
    text.0
        .iter()
        .map(|p| match p {
            Piece::Lit(s) => s.clone(),
            Piece::Node { index, field } => match field {
                NodeField::Name => format!("<runtime:backend.node[{index}].name>"),
                NodeField::Ip => format!("<runtime:backend.node[{index}].ip_address>"),
            },
            Piece::Workspace => "<runtime:workspace_dir>".into(),
            Piece::OutputDir => "<runtime:output_dir>".into(),
            Piece::RunDir => "<runtime:workflow_output_dir>".into(),
            Piece::TaskDir => "<runtime:task_output_dir>".into(),
        })
        .collect()
}

/// A plain text.
pub fn lit(s: impl Into<String>) -> Text {
    Text(vec![Piece::Lit(s.into())])
}
