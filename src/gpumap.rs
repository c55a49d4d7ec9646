//! The GPU allocation map of `sflow plan`. Input: a `plan::Plan`. Output: per node of
//! each backend, a grid with one column per GPU and one row per task holding GPUs there,
//! in plan order (`#` held, `.` free), and until when the task holds them; empty when no
//! task asks for GPUs. Guarantee: every (task, node, GPU) of the plan appears exactly
//! once, so GPUs shared over time show as several rows with `#` in the same column.

use crate::expand::Release;
use crate::plan::Plan;
use std::fmt::Write;

/// The map, or an empty string when no task holds a GPU.
pub fn render(plan: &Plan) -> String {
    if plan.tasks.iter().all(|t| t.gpus.is_none()) {
        return String::new();
    }
    struct Section {
        title: String,
        gpus: u32,
        rows: Vec<(String, Vec<u32>, &'static str)>,
    }
    let mut sections: Vec<Section> = Vec::new();
    let several = plan.backends.len() > 1;
    for (b, backend) in plan.backends.iter().enumerate() {
        let holders: Vec<_> = plan
            .tasks
            .iter()
            .filter(|t| t.backend == b && t.gpus.is_some())
            .collect();
        if holders.is_empty() {
            continue;
        }
        let widest = holders
            .iter()
            .flat_map(|t| t.gpus.iter().flatten())
            .map(|g| g + 1)
            .max()
            .unwrap_or(0);
        let gpus = backend.gpus_per_node.unwrap_or(0).max(widest);
        for node in 0..backend.nodes {
            let rows: Vec<_> = holders
                .iter()
                .filter(|t| t.nodes.contains(&node))
                .map(|t| {
                    (
                        t.name.clone(),
                        t.gpus.clone().unwrap_or_default(),
                        until(t.gpu_release),
                    )
                })
                .collect();
            let title = if several {
                format!("{} node {node}", backend.name)
            } else {
                format!("node {node}")
            };
            sections.push(Section { title, gpus, rows });
        }
    }
    let cell = sections
        .iter()
        .map(|s| s.gpus.saturating_sub(1).to_string().len())
        .max()
        .unwrap_or(1);
    let label = sections
        .iter()
        .flat_map(|s| {
            std::iter::once(s.title.chars().count())
                .chain(s.rows.iter().map(|r| r.0.chars().count() + 2))
        })
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = String::from("\nGPUs by node (# = held by the task; tasks in plan order):\n");
    for s in &sections {
        out.push('\n');
        let mut line = format!("{:<label$}", s.title);
        for g in 0..s.gpus {
            let _ = write!(line, " {g:>cell$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if s.rows.is_empty() {
            out.push_str("  (no task holds a GPU here)\n");
        }
        for (name, held, until) in &s.rows {
            let mut line = format!("{:<label$}", format!("  {name}"));
            for g in 0..s.gpus {
                let mark = if held.contains(&g) { '#' } else { '.' };
                let _ = write!(line, " {mark:>cell$}");
            }
            let _ = write!(line, "  {until}");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn until(release: Option<Release>) -> &'static str {
    match release {
        Some(Release::TaskReady) => "held until it is ready",
        Some(Release::TaskCompletion) => "held until it ends",
        Some(Release::WorkflowCompletion) | None => "held to the end",
    }
}
