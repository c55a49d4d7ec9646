//! Stage 5: placement, the reference planner. Input: concrete tasks in topological order
//! with evaluated resources. Output: each task's allocation node indices and its
//! `CUDA_VISIBLE_DEVICES` slice. Guarantee: for every input where the reference does not
//! hit one of its listed bugs the plan is the reference's; over-subscription is an error
//! naming the task, the node and the tasks holding the GPUs.

use crate::diagnostic::Diagnostic;
use crate::expand::{Expanded, Policy, Release, Res};
use crate::resolve::{Backend, Env};
use std::collections::HashSet;

/// Where one concrete task runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Allocation indices, in assignment order.
    pub nodes: Vec<u32>,
    /// The planned `CUDA_VISIBLE_DEVICES` (the same slice on every node of the task).
    pub gpus: Option<Vec<u32>>,
    /// When the GPUs are handed back (only for tasks with GPUs).
    pub gpu_release: Option<Release>,
}

#[derive(Clone, Debug)]
struct Resv {
    start: u32,
    end: u32,
    owner: usize,
    policy: Release,
}

struct Planner<'a> {
    x: &'a Expanded,
    /// Position of each task in the topological order.
    pos: Vec<usize>,
    /// GPU reservations per backend, per node.
    gpus: Vec<Vec<Vec<Resv>>>,
    /// Node reservations per backend, per node (only with an explicit node policy).
    nodes: Vec<Vec<Vec<Resv>>>,
    visited: Vec<u32>,
    stamp: u32,
}

pub fn place(env: &Env, x: &Expanded) -> Option<Vec<Placement>> {
    let mut pos = vec![0; x.tasks.len()];
    for (p, &id) in x.order.iter().enumerate() {
        pos[id] = p;
    }
    let per_backend = |b: &Backend| vec![Vec::new(); b.nodes as usize];
    let mut planner = Planner {
        x,
        pos,
        gpus: x.backends.iter().map(|b| per_backend(b)).collect(),
        nodes: x.backends.iter().map(|b| per_backend(b)).collect(),
        visited: vec![0; x.tasks.len()],
        stamp: 0,
    };
    let mut out = vec![Placement::default(); x.tasks.len()];
    let mut ok = true;
    for &id in &x.order {
        match planner.place(id) {
            Ok(p) => out[id] = p,
            Err(d) => {
                env.report(d);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

impl Planner<'_> {
    /// Whether `owner` is a transitive dependency of `task`.
    fn is_ancestor(&mut self, owner: usize, task: usize) -> bool {
        if self.pos[owner] >= self.pos[task] {
            return false;
        }
        self.stamp += 1;
        let mut stack = vec![task];
        while let Some(u) = stack.pop() {
            for &d in &self.x.tasks[u].deps {
                if d == owner {
                    return true;
                }
                if self.pos[d] > self.pos[owner] && self.visited[d] != self.stamp {
                    self.visited[d] = self.stamp;
                    stack.push(d);
                }
            }
        }
        false
    }

    fn service(&self, id: usize) -> bool {
        self.x.bases[self.x.tasks[id].base].service
    }

    /// A reservation blocks `task` unless its owner is an ancestor and its policy lets
    /// descendants reuse it.
    fn conflicts(&mut self, r: &Resv, task: usize) -> bool {
        let reusable = match r.policy {
            Release::TaskReady => true,
            Release::TaskCompletion => !self.service(r.owner),
            Release::WorkflowCompletion => false,
        };
        !(reusable && self.is_ancestor(r.owner, task))
    }

    fn blocking(&mut self, list: &[Resv], task: usize) -> Vec<Resv> {
        let mut out = Vec::new();
        for r in list {
            if self.conflicts(r, task) {
                out.push(r.clone());
            }
        }
        out
    }

    /// First start of a free run of `count` GPUs on a node of capacity `cap`.
    fn first_fit(
        &mut self,
        backend: usize,
        node: u32,
        count: u32,
        cap: u32,
        task: usize,
    ) -> Option<u32> {
        let list = self.gpus[backend][node as usize].clone();
        let mut busy = self.blocking(&list, task);
        busy.sort_by_key(|r| (r.start, r.end));
        let mut cursor = 0;
        for r in &busy {
            if r.start >= cursor && r.start - cursor >= count {
                return Some(cursor);
            }
            cursor = cursor.max(r.end);
        }
        (cap >= cursor && cap - cursor >= count).then_some(cursor)
    }

    fn node_blocked(&mut self, backend: usize, node: u32, task: usize) -> Option<usize> {
        let list = self.nodes[backend][node as usize].clone();
        self.blocking(&list, task).first().map(|r| r.owner)
    }

    fn reserve_gpus(
        &mut self,
        backend: usize,
        node: u32,
        start: u32,
        end: u32,
        task: usize,
        policy: Release,
    ) {
        // A reservation that this task may reuse and that lies inside the new one is
        // implied by it for every later task (whatever it blocks, the new one blocks),
        // so drop it: sequential replicas keep one reservation instead of thousands.
        let list = std::mem::take(&mut self.gpus[backend][node as usize]);
        let mut kept = Vec::with_capacity(list.len() + 1);
        for r in list {
            let inside = r.start >= start && r.end <= end;
            if inside && !self.conflicts(&r, task) {
                continue;
            }
            kept.push(r);
        }
        kept.push(Resv {
            start,
            end,
            owner: task,
            policy,
        });
        self.gpus[backend][node as usize] = kept;
    }

    fn name(&self, id: usize) -> &str {
        &self.x.tasks[id].name
    }

    fn place(&mut self, id: usize) -> Result<Placement, Diagnostic> {
        let task = &self.x.tasks[id];
        let base = &self.x.bases[task.base];
        let res: &Res = &task.res;
        // The task's backend, shared (an Rc), so `self` stays free to borrow mutably.
        let (backend, b) = (std::rc::Rc::clone(&base.backend), base.backend_index);
        let n = backend.nodes as usize;
        let ridx = task.index as usize;
        let parallel = base.policy == Policy::Parallel;
        let gpu_release = res.gpu_release.unwrap_or(if base.service {
            Release::WorkflowCompletion
        } else {
            Release::TaskCompletion
        });

        // 1. The pool, minus `nodes.exclude`.
        let mut pool: Vec<u32> = (0..backend.nodes).collect();
        if let Some((exclude, span)) = &res.node_exclude {
            let mut drop = HashSet::new();
            for &e in exclude {
                let i = if e < 0 { n as i64 + e } else { e };
                if i < 0 || i >= n as i64 {
                    return Err(Diagnostic::error(
                        "node-out-of-range",
                        format!(
                            "task `{}`: nodes.exclude index {e} is out of range (valid: -{n}..{})",
                            task.name,
                            n - 1
                        ),
                    )
                    .at(*span, "this list"));
                }
                drop.insert(i as u32);
            }
            pool.retain(|k| !drop.contains(k));
            if pool.is_empty() {
                return Err(Diagnostic::error(
                    "no-nodes-left",
                    format!(
                        "task `{}`: nodes.exclude removes every node of backend `{}`",
                        task.name, backend.name
                    ),
                )
                .at(*span, "this list"));
            }
        }

        // 2-3. `nodes.indices` and `nodes.count`.
        let mut assigned: Option<Vec<u32>> = None;
        let mut selection: Option<Vec<u32>> = None;
        if let Some((indices, span)) = &res.node_indices {
            let mut sel = Vec::new();
            for &i in indices {
                let k = if i < 0 { pool.len() as i64 + i } else { i };
                match usize::try_from(k).ok().and_then(|k| pool.get(k)) {
                    Some(&node) => sel.push(node),
                    None => {
                        return Err(Diagnostic::error(
                            "node-out-of-range",
                            format!(
                                "task `{}`: nodes.indices {i} is out of range: backend `{}` has {} node{} to choose from",
                                task.name,
                                backend.name,
                                pool.len(),
                                if pool.len() == 1 { "" } else { "s" }
                            ),
                        )
                        .at(*span, "this list"));
                    }
                }
            }
            if res.node_count.is_none() {
                for &node in &sel {
                    if let Some(owner) = self.node_blocked(b, node, id) {
                        return Err(Diagnostic::error(
                            "node-reserved",
                            format!(
                                "task `{}` needs node {node}, which task `{}` holds",
                                task.name,
                                self.name(owner)
                            ),
                        )
                        .at(*span, "this node"));
                    }
                }
                assigned = Some(sel.clone());
            }
            selection = Some(sel);
        }
        if let Some((count, span)) = res.node_count {
            let count = count as usize;
            let candidates = selection.clone().unwrap_or_else(|| pool.clone());
            let mut any_blocked = false;
            for &c in &candidates {
                if self.node_blocked(b, c, id).is_some() {
                    any_blocked = true;
                    break;
                }
            }
            let chosen: Vec<u32> = if res.node_release.is_some() || any_blocked {
                let mut free = Vec::new();
                for &c in &candidates {
                    if free.len() == count {
                        break;
                    }
                    if self.node_blocked(b, c, id).is_none() {
                        free.push(c);
                    }
                }
                if free.len() < count {
                    return Err(Diagnostic::error(
                        "not-enough-nodes",
                        format!(
                            "task `{}` needs {count} free node{} but only {} {} free",
                            task.name,
                            if count == 1 { "" } else { "s" },
                            free.len(),
                            if free.len() == 1 { "is" } else { "are" }
                        ),
                    )
                    .at(span, "this count"));
                }
                free
            } else {
                let start = if parallel { ridx * count } else { 0 };
                if start + count > candidates.len() {
                    return Err(Diagnostic::error(
                        "not-enough-nodes",
                        format!(
                            "task `{}` needs {count} node{} (nodes {start}..{} of the pool) but backend `{}` has only {}",
                            task.name,
                            if count == 1 { "" } else { "s" },
                            start + count - 1,
                            backend.name,
                            candidates.len()
                        ),
                    )
                    .at(span, "this count"));
                }
                candidates[start..start + count].to_vec()
            };
            assigned = Some(chosen);
        }
        if let (Some(policy), Some(nodes)) = (res.node_release, &assigned) {
            for &node in nodes {
                self.nodes[b][node as usize].push(Resv {
                    start: 0,
                    end: 1,
                    owner: id,
                    policy,
                });
            }
        }

        // 4-7. GPU-driven node choice when no node was named.
        let cap = backend.gpus_per_node;
        let assigned = match assigned {
            Some(a) => a,
            None => {
                if let Some((indices, _)) = &res.gpu_indices {
                    let needed = match res.gpu_count {
                        Some((c, span)) => {
                            if !(c as usize).is_multiple_of(indices.len()) {
                                return Err(Diagnostic::error(
                                    "bad-gpu-count",
                                    format!(
                                        "task `{}`: gpus.count {c} is not a multiple of the {} listed indices",
                                        task.name,
                                        indices.len()
                                    ),
                                )
                                .at(span, "this count"));
                            }
                            c as usize / indices.len()
                        }
                        None => 1,
                    };
                    let max = indices.iter().copied().max().unwrap_or(0);
                    let mut found = Vec::new();
                    for &node in &pool {
                        if found.len() == needed {
                            break;
                        }
                        if cap.is_some_and(|c| c <= max) {
                            continue;
                        }
                        let list = self.gpus[b][node as usize].clone();
                        let busy = self.blocking(&list, id);
                        if indices
                            .iter()
                            .all(|&g| !busy.iter().any(|r| r.start <= g && g < r.end))
                        {
                            found.push(node);
                        }
                    }
                    if found.len() == needed {
                        found
                    } else {
                        return Err(self.no_room(
                            id,
                            &backend,
                            b,
                            &pool,
                            indices.len() as u32 * needed as u32,
                            Some(indices),
                        ));
                    }
                } else if let Some((count, _)) = res.gpu_count {
                    let mut fit = None;
                    for &node in &pool {
                        let Some(c) = cap else { break };
                        if c == 0 {
                            continue;
                        }
                        if self.first_fit(b, node, count, c, id).is_some() {
                            fit = Some(vec![node]);
                            break;
                        }
                    }
                    match (fit, cap) {
                        (Some(f), _) => f,
                        (None, Some(c)) if c > 0 && count > c => {
                            if count % c != 0 {
                                return Err(Diagnostic::error(
                                    "bad-gpu-count",
                                    format!(
                                        "task `{}` asks for {count} GPUs: more than one node ({c} GPUs) holds, so it spans nodes, and then the count must be a multiple of {c}",
                                        task.name
                                    ),
                                )
                                .at(res.gpu_count.map(|x| x.1).unwrap_or(res.gpu_span), "this count"));
                            }
                            let needed = (count / c) as usize;
                            let mut free = Vec::new();
                            for &node in &pool {
                                if free.len() == needed {
                                    break;
                                }
                                if self.first_fit(b, node, c, c, id) == Some(0) {
                                    free.push(node);
                                }
                            }
                            if free.len() == needed {
                                free
                            } else {
                                return Err(self.no_room(id, &backend, b, &pool, count, None));
                            }
                        }
                        (None, Some(_)) => {
                            return Err(self.no_room(id, &backend, b, &pool, count, None));
                        }
                        (None, None) => pool.clone(),
                    }
                } else {
                    pool.clone()
                }
            }
        };

        // The slice itself (reference §5.3).
        let gpus = if let Some((indices, span)) = &res.gpu_indices {
            if let Some((c, cspan)) = res.gpu_count
                && c as usize != indices.len() * assigned.len()
            {
                return Err(Diagnostic::error(
                    "bad-gpu-count",
                    format!(
                        "task `{}`: gpus.count {c} does not match {} indices on {} node{}",
                        task.name,
                        indices.len(),
                        assigned.len(),
                        if assigned.len() == 1 { "" } else { "s" }
                    ),
                )
                .at(cspan, "this count"));
            }
            for &node in &assigned {
                if let Some(c) = cap
                    && let Some(&bad) = indices.iter().find(|&&g| g >= c)
                {
                    return Err(Diagnostic::error(
                            "gpu-out-of-range",
                            format!(
                                "task `{}` asks for GPU {bad}, but nodes of backend `{}` have {c} GPU{}",
                                task.name,
                                backend.name,
                                if c == 1 { "" } else { "s" }
                            ),
                        )
                        .at(*span, "this list"));
                }
                let list = self.gpus[b][node as usize].clone();
                let busy = self.blocking(&list, id);
                for &g in indices {
                    if let Some(r) = busy.iter().find(|r| r.start <= g && g < r.end) {
                        return Err(Diagnostic::error(
                            "gpu-oversubscribed",
                            format!(
                                "task `{}` asks for GPU {g} on node {node}, which task `{}` holds{}",
                                task.name,
                                self.name(r.owner),
                                until(r.policy)
                            ),
                        )
                        .at(*span, "this list")
                        .help(independent_help(self.name(r.owner))));
                    }
                }
            }
            if cap.is_some() {
                for &node in &assigned {
                    for &g in indices {
                        self.reserve_gpus(b, node, g, g + 1, id, gpu_release);
                    }
                }
            }
            Some(indices.clone())
        } else if let Some((count, span)) = res.gpu_count {
            match cap {
                Some(0) => {
                    return Err(Diagnostic::error(
                        "no-gpus",
                        format!(
                            "task `{}` asks for {count} GPU{} but backend `{}` has no GPUs (gpus_per_node: 0)",
                            task.name,
                            if count == 1 { "" } else { "s" },
                            backend.name
                        ),
                    )
                    .at(span, "this count"));
                }
                None => {
                    let per = count / assigned.len().max(1) as u32;
                    let start = ridx as u32 * per;
                    Some((start..start + per).collect())
                }
                Some(c) => {
                    let k = assigned.len() as u32;
                    if count % k != 0 {
                        return Err(Diagnostic::error(
                            "bad-gpu-count",
                            format!(
                                "task `{}` asks for {count} GPUs on {k} nodes: the count must divide evenly between the nodes",
                                task.name
                            ),
                        )
                        .at(span, "this count"));
                    }
                    let per = count / k;
                    if per > c {
                        return Err(self.no_room(id, &backend, b, &assigned, count, None));
                    }
                    let mut start = None;
                    for &node in &assigned {
                        let s = self.first_fit(b, node, per, c, id);
                        match (s, start) {
                            (None, _) => {
                                return Err(self.no_room(id, &backend, b, &assigned, count, None));
                            }
                            (Some(s), Some(prev)) if s != prev => {
                                return Err(Diagnostic::error(
                                    "gpu-cursor-mismatch",
                                    format!(
                                        "task `{}` spans {k} nodes, which must give it the same GPUs, but their first free GPUs differ ({prev} and {s})",
                                        task.name
                                    ),
                                )
                                .at(span, "this count"));
                            }
                            (Some(s), _) => start = Some(s),
                        }
                    }
                    let start = start.unwrap_or(0);
                    for &node in &assigned {
                        self.reserve_gpus(b, node, start, start + per, id, gpu_release);
                    }
                    Some((start..start + per).collect())
                }
            }
        } else {
            None
        };
        Ok(Placement {
            nodes: assigned,
            gpu_release: gpus.as_ref().map(|_| gpu_release),
            gpus,
        })
    }

    /// "No node has room": names what holds each node's GPUs.
    fn no_room(
        &mut self,
        id: usize,
        backend: &Backend,
        b: usize,
        nodes: &[u32],
        count: u32,
        indices: Option<&[u32]>,
    ) -> Diagnostic {
        let task = &self.x.tasks[id];
        let what = match indices {
            Some(ix) => format!(
                "GPUs {}",
                ix.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            ),
            None => format!("{count} GPU{}", if count == 1 { "" } else { "s" }),
        };
        let mut held = Vec::new();
        for &node in nodes {
            let list = self.gpus[b][node as usize].clone();
            let busy = self.blocking(&list, id);
            let mut owners: Vec<String> = Vec::new();
            for r in &busy {
                let text = format!(
                    "{} ({}{})",
                    self.name(r.owner),
                    range(r.start, r.end),
                    until(r.policy)
                );
                if !owners.contains(&text) {
                    owners.push(text);
                }
            }
            if !owners.is_empty() {
                held.push(format!("node {node}: {}", owners.join(", ")));
            }
        }
        let cap = backend.gpus_per_node.unwrap_or(0);
        let mut d = Diagnostic::error(
            "gpu-oversubscribed",
            format!(
                "task `{}` needs {what}, but no node of backend `{}` ({} node{} × {cap} GPUs) has them free",
                task.name,
                backend.name,
                backend.nodes,
                if backend.nodes == 1 { "" } else { "s" }
            ),
        )
        .at(self.x.tasks[id].res.gpu_span, "this request");
        if !held.is_empty() {
            d = d.help(format!(
                "held at this point of the plan: {}; tasks that do not depend on each other never share GPUs",
                held.join("; ")
            ));
        }
        d
    }
}

fn range(start: u32, end: u32) -> String {
    if end == start + 1 {
        format!("GPU {start}")
    } else {
        format!("GPUs {start}-{}", end - 1)
    }
}

fn until(policy: Release) -> &'static str {
    match policy {
        Release::WorkflowCompletion => " until the workflow ends",
        Release::TaskCompletion => " until it completes",
        Release::TaskReady => " until it is ready",
    }
}

fn independent_help(owner: &str) -> String {
    format!(
        "a task may reuse GPUs only of tasks it depends on (directly or not) once they release them; make this task depend on `{owner}`, or ask for other GPUs"
    )
}
