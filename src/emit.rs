//! Stage 7: the script. Input: a `plan::Plan` and the provenance of its inputs. Output:
//! the bash text, laid out by `templates/script.sh` around the fixed runtime in
//! `templates/runtime.sh`. Guarantee: cannot fail on a valid plan; every value from the
//! workflow is written as quoted data (user script lines go into quoted heredocs), and
//! the same plan always gives the same bytes.

use crate::plan::{self, Group, Kind, Plan, Word};
use askama::Template;
use std::collections::HashMap;
use std::fmt::Write;

/// The fixed runtime every script carries.
pub const RUNTIME: &str = include_str!("../templates/runtime.sh");

/// What produced the script, for its header.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// Input files as given on the command line.
    pub files: Vec<String>,
    /// Hex SHA-256 of the inputs and options.
    pub hash: String,
    /// The command that recompiles it (`sflow compile …`).
    pub command: String,
}

/// Quotes a value for bash only when it needs it (single quotes, `'\''` for quotes).
#[derive(Clone, Copy)]
pub struct ShellQuote;

impl askama::filters::Escaper for ShellQuote {
    fn write_escaped_str<W: Write>(&self, mut dest: W, s: &str) -> std::fmt::Result {
        dest.write_str(&shell_word(s))
    }
}

/// One shell word holding exactly `s`.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '.' | '/' | ',' | ':' | '=' | '@' | '%' | '+' | '-')
        });
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            out.push_str("'\\''");
        }
        out.push_str(part);
    }
    out.push('\'');
    out
}

/// Replaces control characters so a value cannot end a comment line.
pub fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[derive(Template)]
#[template(path = "script.sh")]
struct Script<'a> {
    sbatch: Vec<String>,
    header: Vec<String>,
    runtime: &'a str,
    workflow: &'a str,
    kind: &'a str,
    node_count: u32,
    workflow_timeout: u64,
    stop_grace: u64,
    workspace: String,
    output_dir: String,
    slurm_output: String,
    env: Vec<String>,
    files: Vec<FileView>,
    groups: Vec<GroupView>,
    table: Table,
}

struct FileView {
    name: String,
    path: String,
    final_newline: u8,
    delimiter: String,
    content: String,
}

/// A heredoc delimiter that no line of `text` equals.
fn delimiter(base: &str, text: &str) -> String {
    let mut delimiter = base.to_string();
    let mut n = 1;
    while text.lines().any(|l| l == delimiter) {
        n += 1;
        delimiter = format!("{base}_{n}");
    }
    delimiter
}

fn file_view(f: &plan::ArtifactFile) -> FileView {
    let content = plan::script_text(&f.content);
    let final_newline = u8::from(content.ends_with('\n'));
    FileView {
        name: comment_safe(&f.name),
        path: shell_word(&plan::script_text(&f.path)),
        final_newline,
        delimiter: delimiter("SFLOW_FILE", &content),
        content: match content.strip_suffix('\n') {
            Some(c) if final_newline == 1 => c.to_string(),
            _ => content.clone(),
        },
    }
}

struct GroupView {
    ident: String,
    title: String,
    notes: Vec<String>,
    lines: Vec<String>,
    delimiter: String,
    script: String,
}

fn word(w: &Word) -> String {
    match w {
        Word::Text(t) => shell_word(&plan::script_text(t)),
        Word::Slot(k) if *k < 10 => format!("\"${k}\""),
        Word::Slot(k) => format!("\"${{{k}}}\""),
    }
}

fn group_view(g: &Group, kind: Kind) -> GroupView {
    let mut lines = Vec::new();
    let mut launch = String::from("sflow_launch");
    for w in &g.launch {
        launch.push(' ');
        launch.push_str(&word(w));
    }
    lines.push(launch);
    if g.local && kind == Kind::Slurm {
        lines.push("sflow_backend local".into());
    }
    for (name, value) in &g.exports {
        lines.push(format!("sflow_export {name} {}", word(value)));
    }
    for (name, value) in &g.sweeps {
        lines.push(format!("sflow_sweep {name} {}", word(value)));
    }
    for p in &g.probes {
        let mut line = format!(
            "sflow_probe {} {}",
            if p.readiness { "readiness" } else { "failure" },
            p.kind
        );
        for (flag, value) in &p.options {
            let _ = write!(line, " {flag} {}", word(value));
        }
        lines.push(line);
    }
    if let Some([count, interval, backoff]) = &g.retry {
        lines.push(format!(
            "sflow_retry {} {} {}",
            word(count),
            word(interval),
            word(backoff)
        ));
    }
    if let Some(t) = &g.timeout {
        lines.push(format!("sflow_timeout {}", word(t)));
    }
    if let Some(r) = &g.results {
        lines.push(format!("sflow_results {}", shell_word(&g.base)));
        for (name, aggregate, group, ere) in &r.rules {
            lines.push(format!(
                "sflow_result {name} {aggregate} {group} {}",
                shell_word(ere)
            ));
        }
        if r.file {
            lines.push("sflow_result_file".into());
        }
        for (name, op, value) in &r.expect {
            lines.push(format!("sflow_expect {name} {} {value}", shell_word(op)));
        }
        for pattern in &r.outputs {
            lines.push(format!("sflow_output {}", shell_word(pattern)));
        }
    }
    let delimiter = delimiter("SFLOW_SCRIPT", &g.script);
    GroupView {
        ident: g.ident.clone(),
        title: comment_safe(&format!("{}: {}", g.base, g.about)),
        notes: g
            .slots
            .iter()
            .enumerate()
            .map(|(i, about)| comment_safe(&format!("${} = {about}", i + 1)))
            .collect(),
        lines,
        delimiter,
        script: g.script.clone(),
    }
}

/// Column width cap, so a long name does not push every row to the right.
const MAX_COLUMN: usize = 24;

/// The task table: the column header, the rows (read by `sflow_tasks`) and the values
/// written `@K` in them, each a `SFLOW_VALUE[K]=…` assignment.
struct Table {
    header: String,
    rows: String,
    values: Vec<String>,
}

/// True when `value` can stand in a row as it is: the rows are one single-quoted word
/// that `sflow_tasks` splits on blanks, `@K` is a reference, and control characters
/// would garble the listing.
fn plain_cell(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with('@')
        && value
            .chars()
            .all(|c| c != '\'' && !c.is_whitespace() && !c.is_control())
}

/// The values written `@K` in the table, each once, in order of first use.
#[derive(Default)]
struct ValueRefs {
    quoted: Vec<String>,
    index: HashMap<String, usize>,
}

impl ValueRefs {
    /// K for `text`, given a new K on first use.
    fn index_of(&mut self, text: String) -> usize {
        if let Some(&k) = self.index.get(&text) {
            return k;
        }
        self.quoted.push(shell_word(&text));
        self.index.insert(text, self.quoted.len() - 1);
        self.quoted.len() - 1
    }
}

/// Writes the cells of task `t`'s row, each followed by `\0`, into `out`; values that
/// are not plain cells become `@K` (see `ValueRefs`).
fn row_cells(plan: &Plan, t: &plan::Task, values: &mut ValueRefs, out: &mut String) {
    out.push_str(&t.name);
    out.push('\0');
    out.push_str(&plan.groups[t.group].ident);
    out.push('\0');
    let _ = write!(out, "{}\0", t.replica);
    if t.deps.is_empty() {
        out.push('-');
    }
    for (k, &d) in t.deps.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&plan.tasks[d].name);
    }
    out.push('\0');
    for (k, n) in t.nodes.iter().enumerate() {
        let _ = write!(out, "{}{n}", if k > 0 { "," } else { "" });
    }
    out.push('\0');
    match &t.gpus {
        None => out.push('-'),
        Some(g) => {
            for (k, n) in g.iter().enumerate() {
                let _ = write!(out, "{}{n}", if k > 0 { "," } else { "" });
            }
        }
    }
    out.push('\0');
    for slot in &t.slots {
        let text = plan::script_text(slot);
        if plain_cell(&text) {
            out.push_str(&text);
        } else {
            let _ = write!(out, "@{}", values.index_of(text));
        }
        out.push('\0');
    }
}

/// The task table, aligned so a person sees what runs where. Two passes over the
/// tasks (widths, then rows) with one reused buffer, so a 100,000-row table builds no
/// cells.
fn table(plan: &Plan) -> Table {
    let header = ["name", "group", "replica", "after", "nodes", "gpus"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    let mut cells = String::new();
    let mut values = ValueRefs::default();
    for t in &plan.tasks {
        cells.clear();
        row_cells(plan, t, &mut values, &mut cells);
        for (i, cell) in cells.trim_end_matches('\0').split('\0').enumerate() {
            if i == widths.len() {
                widths.push(0);
            }
            widths[i] = widths[i].max(cell.len().min(MAX_COLUMN));
        }
    }
    let mut line = String::from("# ");
    for (i, h) in header.iter().enumerate() {
        let _ = write!(line, "{h:<w$} ", w = widths[i]);
    }
    if widths.len() > header.len() {
        line.push_str("values");
    }
    let mut rows = String::with_capacity(plan.tasks.len() * 96 + 128);
    for t in &plan.tasks {
        cells.clear();
        row_cells(plan, t, &mut values, &mut cells);
        let start = rows.len();
        rows.push_str("  ");
        for (i, cell) in cells.trim_end_matches('\0').split('\0').enumerate() {
            let _ = write!(rows, "{cell:<w$} ", w = widths[i]);
        }
        let end = rows.trim_end().len().max(start);
        rows.truncate(end);
        rows.push('\n');
    }
    rows.pop();
    Table {
        header: line.trim_end().to_string(),
        rows,
        values: values
            .quoted
            .into_iter()
            .enumerate()
            .map(|(k, v)| format!("SFLOW_VALUE[{k}]={v}"))
            .collect(),
    }
}

/// The batch script for a plan.
pub fn render(plan: &Plan, provenance: &Provenance) -> String {
    let mut header = Vec::new();
    header.push(comment_safe(&format!(
        "Workflow `{}`: {} task{}, compiled by sflow {} from {} (sha256 {}).",
        plan.workflow,
        plan.tasks.len(),
        if plan.tasks.len() == 1 { "" } else { "s" },
        env!("CARGO_PKG_VERSION"),
        if provenance.files.is_empty() {
            "-".to_string()
        } else {
            provenance.files.join(" ")
        },
        &provenance.hash[..provenance.hash.len().min(16)]
    )));
    if !provenance.command.is_empty() {
        header.push(comment_safe(&format!("Recompile: {}", provenance.command)));
    }
    header.push(match plan.kind {
        Kind::Slurm => "Run: sbatch this-file. Logs: sflow_output/<jobid>-<workflow>-<time>-<id>/<task>/<task>.log".into(),
        Kind::Local => "Run: bash this-file. Logs: sflow_output/<workflow>-<time>-<id>/<task>/<task>.log".into(),
    });
    header.push(
        "The runtime block is the same in every script; this workflow starts at \"workflow\"."
            .into(),
    );
    let env = plan
        .env
        .iter()
        .map(|(name, value)| format!("{name} {}", shell_word(&plan::script_text(value))))
        .collect();
    let script = Script {
        sbatch: plan.sbatch.clone(),
        header,
        runtime: RUNTIME,
        workflow: &plan.workflow,
        kind: match plan.kind {
            Kind::Slurm => "slurm",
            Kind::Local => "local",
        },
        node_count: plan.node_count,
        workflow_timeout: plan.workflow_timeout,
        stop_grace: plan.stop_grace,
        workspace: plan.workspace.clone().unwrap_or_default(),
        output_dir: plan.output_dir.clone().unwrap_or_default(),
        slurm_output: plan.slurm_output.clone().unwrap_or_default(),
        env,
        files: plan.files.iter().map(file_view).collect(),
        groups: plan
            .groups
            .iter()
            .map(|g| group_view(g, plan.kind))
            .collect(),
        table: table(plan),
    };
    let mut out = script
        .render()
        .unwrap_or_else(|e| format!("# sflow: rendering failed: {e}\nexit 2\n"));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("abc-1.2:3=x"), "abc-1.2:3=x");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's $(x) `y`"), "'it'\\''s $(x) `y`'");
        assert_eq!(shell_word("a\nb"), "'a\nb'");
    }

    #[test]
    fn comments_cannot_be_broken_out_of() {
        assert_eq!(comment_safe("a\nrm -rf /"), "a?rm -rf /");
    }
}
