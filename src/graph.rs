//! `sflow graph`: the concrete task graph. Input: a `plan::Plan`. Output: Mermaid
//! (`flowchart`) or Graphviz DOT text: one node per concrete task labelled with its nodes
//! and GPUs, the replicas of a task grouped in a subgraph (cluster), services drawn
//! rounded and marked, edges from each dependency, and the edges between replicas of the
//! same task (a sequential chain) dashed and labelled. Guarantee: deterministic (plan
//! order), and every label is escaped for its format.

use crate::plan::{Plan, Task};
use std::fmt::Write;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Mermaid,
    Dot,
}

pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Mermaid => mermaid(plan),
        Format::Dot => dot(plan),
    }
}

/// The blocks of the drawing in plan order: a lone task, or the replicas of one task.
enum Block {
    Task(usize),
    Replicas { group: usize, tasks: Vec<usize> },
}

fn blocks(plan: &Plan) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut placed: Vec<Option<usize>> = vec![None; plan.groups.len()];
    let mut sizes = vec![0usize; plan.groups.len()];
    for t in &plan.tasks {
        sizes[t.group] += 1;
    }
    for (i, t) in plan.tasks.iter().enumerate() {
        if sizes[t.group] == 1 && t.name == plan.base(t) {
            out.push(Block::Task(i));
            continue;
        }
        match placed[t.group] {
            Some(b) => {
                if let Block::Replicas { tasks, .. } = &mut out[b] {
                    tasks.push(i);
                }
            }
            None => {
                placed[t.group] = Some(out.len());
                out.push(Block::Replicas {
                    group: t.group,
                    tasks: vec![i],
                });
            }
        }
    }
    out
}

/// Where a task runs, for its label: `node 0 · GPU 0,1`.
fn placement(t: &Task) -> String {
    let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let mut s = format!(
        "node{} {}",
        if t.nodes.len() == 1 { "" } else { "s" },
        list(&t.nodes)
    );
    if let Some(g) = &t.gpus {
        let _ = write!(
            s,
            " · GPU{} {}",
            if g.len() == 1 { "" } else { "s" },
            list(g)
        );
    }
    s
}

fn replicas_title(plan: &Plan, group: usize, count: usize) -> String {
    format!(
        "{} ×{count}",
        plan.groups.get(group).map_or("", |g| g.base.as_str())
    )
}

/// Whether an edge joins two replicas of the same task (a sequential chain).
fn chained(plan: &Plan, from: usize, to: usize) -> bool {
    plan.tasks[from].group == plan.tasks[to].group
}

fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(out, "  %% workflow {}", mermaid_text(&plan.workflow));
    let node = |out: &mut String, i: usize, indent: &str| {
        let t = &plan.tasks[i];
        let mut label = mermaid_text(&t.name);
        label.push_str("<br/>");
        label.push_str(&mermaid_text(&placement(t)));
        if t.service {
            label.push_str("<br/>service");
            let _ = writeln!(out, "{indent}t{i}([\"{label}\"])");
        } else {
            let _ = writeln!(out, "{indent}t{i}[\"{label}\"]");
        }
    };
    for block in blocks(plan) {
        match block {
            Block::Task(i) => node(&mut out, i, "  "),
            Block::Replicas { group, tasks } => {
                let _ = writeln!(
                    out,
                    "  subgraph g{group}[\"{}\"]",
                    mermaid_text(&replicas_title(plan, group, tasks.len()))
                );
                for i in tasks {
                    node(&mut out, i, "    ");
                }
                out.push_str("  end\n");
            }
        }
    }
    for (i, t) in plan.tasks.iter().enumerate() {
        for &d in &t.deps {
            if chained(plan, d, i) {
                let _ = writeln!(out, "  t{d} -. sequential .-> t{i}");
            } else {
                let _ = writeln!(out, "  t{d} --> t{i}");
            }
        }
    }
    if plan.tasks.iter().any(|t| t.service) {
        out.push_str("  classDef service stroke-width:3px\n");
        let services: Vec<String> = plan
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.service)
            .map(|(i, _)| format!("t{i}"))
            .collect();
        let _ = writeln!(out, "  class {} service", services.join(","));
    }
    out
}

/// Text safe inside a quoted Mermaid label.
fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn dot(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_string(&plan.workflow));
    out.push_str("  rankdir=TB;\n  fontname=\"Helvetica\";\n");
    out.push_str("  node [shape=box, fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    let node = |out: &mut String, i: usize, indent: &str| {
        let t = &plan.tasks[i];
        let mut label = format!("{}\n{}", t.name, placement(t));
        if t.service {
            label.push_str("\nservice");
            let _ = writeln!(
                out,
                "{indent}t{i} [label={}, style=\"rounded,bold\"];",
                dot_string(&label)
            );
        } else {
            let _ = writeln!(out, "{indent}t{i} [label={}];", dot_string(&label));
        }
    };
    for block in blocks(plan) {
        match block {
            Block::Task(i) => node(&mut out, i, "  "),
            Block::Replicas { group, tasks } => {
                let _ = writeln!(out, "  subgraph cluster_{group} {{");
                let _ = writeln!(
                    out,
                    "    label={};",
                    dot_string(&replicas_title(plan, group, tasks.len()))
                );
                out.push_str("    style=dashed;\n");
                for i in tasks {
                    node(&mut out, i, "    ");
                }
                out.push_str("  }\n");
            }
        }
    }
    for (i, t) in plan.tasks.iter().enumerate() {
        for &d in &t.deps {
            if chained(plan, d, i) {
                let _ = writeln!(out, "  t{d} -> t{i} [style=dashed, label=\"sequential\"];");
            } else {
                let _ = writeln!(out, "  t{d} -> t{i};");
            }
        }
    }
    out.push_str("}\n");
    out
}

/// A double-quoted DOT string.
fn dot_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
