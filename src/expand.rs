//! Stage 4: concrete tasks. Input: `syntax::Workflow` and its `Env`. Output: every
//! replica of every task with its name, swept values, evaluated resources and
//! dependencies, in the reference's concrete topological order (Kahn, FIFO, insertion
//! order). Guarantee: names are unique and sanitised, every dependency exists, the graph
//! has no cycle, and sweep sizes are bounded before anything grows.

use crate::diagnostic::Diagnostic;
use crate::expr::Value;
use crate::field::Field;
use crate::resolve::{Backend, Ctx, Env, Level, Replica, VarKey, as_int};
use crate::source::Span;
use crate::syntax::{BackendKind, OperatorKind, TaskDecl, Workflow};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

/// Sweeps above this many replicas are refused before anything is allocated.
pub const MAX_REPLICAS: u64 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Parallel,
    Sequential,
}

/// When a reservation may be reused by a descendant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    TaskReady,
    TaskCompletion,
    WorkflowCompletion,
}

impl Release {
    pub fn name(self) -> &'static str {
        match self {
            Release::TaskReady => "task_ready",
            Release::TaskCompletion => "task_completion",
            Release::WorkflowCompletion => "workflow_completion",
        }
    }
}

/// Resources of one concrete task, evaluated.
#[derive(Clone, Debug, Default)]
pub struct Res {
    pub node_indices: Option<(Vec<i64>, Span)>,
    pub node_count: Option<(u32, Span)>,
    pub node_exclude: Option<(Vec<i64>, Span)>,
    pub node_release: Option<Release>,
    pub gpu_count: Option<(u32, Span)>,
    pub gpu_indices: Option<(Vec<u32>, Span)>,
    pub gpu_release: Option<Release>,
    pub gpu_span: Span,
}

/// The operator a task runs with: its kind and its fields (base merged with overrides).
#[derive(Clone, Debug)]
pub struct OperatorUse {
    pub name: String,
    pub kind: OperatorKind,
    pub fields: Vec<(String, Field)>,
}

/// One task as declared, with what is common to its replicas.
pub struct Base {
    pub decl: usize,
    pub name: String,
    pub backend: Rc<Backend>,
    pub backend_index: usize,
    pub operator: OperatorUse,
    pub policy: Policy,
    pub replicated: bool,
    pub swept: Vec<String>,
    pub replicas: Vec<usize>,
    pub service: bool,
    /// Variable names whose value differs between replicas (swept or derived from them).
    pub variant_names: HashSet<String>,
    /// The declarations behind `variant_names` other than the swept ones.
    pub dependent: Rc<HashSet<VarKey>>,
}

/// One concrete task.
pub struct Concrete {
    pub name: String,
    pub base: usize,
    pub index: u32,
    pub replica: Option<Replica>,
    pub deps: Vec<usize>,
    pub res: Rc<Res>,
}

pub struct Expanded {
    pub backends: Vec<Rc<Backend>>,
    pub default_backend: usize,
    pub bases: Vec<Base>,
    pub tasks: Vec<Concrete>,
    /// Concrete task ids in the reference's topological order.
    pub order: Vec<usize>,
}

impl Base {
    /// The evaluation context of this task (replica values when given).
    pub fn ctx<'a, 'w>(&self, env: &'a Env<'w>, replica: Option<&'a Replica>) -> Ctx<'a, 'w> {
        Ctx {
            replica,
            ..env.ctx(Level::Task(self.decl))
        }
    }

    /// Whether a field's value can differ between this task's replicas.
    pub fn varies(&self, field: &Field) -> bool {
        if self.variant_names.is_empty() {
            return false;
        }
        let mut refs = Vec::new();
        field.variable_refs(&mut refs);
        refs.iter().any(|r| self.variant_names.contains(r))
    }
}

pub fn expand(env: &Env, wf: &Workflow) -> Option<Expanded> {
    let (backends, default_backend) = backends(env, wf)?;
    let deps = dependencies(env, wf)?;
    let mut bases = Vec::new();
    let mut tasks: Vec<Concrete> = Vec::new();
    let mut total: u64 = 0;
    for (t, decl) in wf.tasks.iter().enumerate() {
        let Some(base) = base(env, wf, t, decl, &backends, default_backend) else {
            continue;
        };
        let Some(instances) = instances(env, decl, &base, &mut total) else {
            continue;
        };
        let b = bases.len();
        let mut base = base;
        let dependent = base.dependent.clone();
        let names: std::rc::Rc<[String]> = base.swept.clone().into();
        for (index, sweep) in instances.into_iter().enumerate() {
            let name = replica_name(decl, &base, index, &sweep);
            let replica =
                (!sweep.is_empty()).then(|| Replica::new(names.clone(), sweep, dependent.clone()));
            base.replicas.push(tasks.len());
            tasks.push(Concrete {
                name,
                base: b,
                index: index as u32,
                replica,
                deps: Vec::new(),
                res: Rc::default(),
            });
        }
        bases.push(base);
    }
    // From here on, bases[i] is the base of task declaration i (base.decl == i).
    if env.has_errors() || bases.len() != wf.tasks.len() {
        return None;
    }
    check_collisions(env, &bases, &tasks)?;
    resources(env, wf, &bases, &mut tasks);
    if env.has_errors() {
        return None;
    }
    let edges = wire(&bases, &mut tasks, &deps);
    let order = kahn(tasks.len(), &edges);
    Some(Expanded {
        backends,
        default_backend,
        bases,
        tasks,
        order,
    })
}

fn backends(env: &Env, wf: &Workflow) -> Option<(Vec<Rc<Backend>>, usize)> {
    if wf.backends.is_empty() {
        return Some((
            vec![Rc::new(Backend {
                name: "local".into(),
                kind: BackendKind::Local,
                default: true,
                nodes: 1,
                gpus_per_node: None,
                account: None,
                partition: None,
                time: None,
                job_name: None,
                extra_args: Vec::new(),
                span: Span::default(),
            })],
            0,
        ));
    }
    let mut names: HashMap<&str, Span> = HashMap::new();
    for b in &wf.backends {
        if let Some(first) = names.insert(&b.name.text, b.name.span) {
            env.report(
                Diagnostic::error(
                    "duplicate-backend",
                    format!("backend `{}` is declared twice", b.name.text),
                )
                .at(b.name.span, "declared again here")
                .also(first, "first declared here"),
            );
        }
    }
    let resolved: Vec<Option<Rc<Backend>>> =
        (0..wf.backends.len()).map(|i| env.backend(i)).collect();
    let slurm: Vec<_> = wf
        .backends
        .iter()
        .filter(|b| b.kind == BackendKind::Slurm)
        .collect();
    if slurm.len() > 1 {
        let mut d = Diagnostic::error(
            "multiple-slurm-backends",
            "one Slurm backend per script: this workflow declares several",
        )
        .at(slurm[1].name.span, "a second Slurm backend")
        .also(slurm[0].name.span, "the first Slurm backend")
        .help(
            "put each Slurm backend's tasks in their own workflow (a heterogeneous job is planned)",
        );
        for extra in &slurm[2..] {
            d = d.also(extra.name.span, "another Slurm backend");
        }
        env.report(d);
    }
    let defaults: Vec<_> = wf.backends.iter().filter(|b| b.default).collect();
    if defaults.len() > 1 {
        env.report(
            Diagnostic::error(
                "multiple-defaults",
                "more than one backend has `default: true`",
            )
            .at(defaults[1].name.span, "a second default")
            .also(defaults[0].name.span, "the first default"),
        );
    }
    let default_backend = wf.backends.iter().position(|b| b.default).unwrap_or(0);
    if env.has_errors() {
        return None;
    }
    let resolved: Option<Vec<_>> = resolved.into_iter().collect();
    Some((resolved?, default_backend))
}

/// Each task's dependencies (task declaration indices), `required_by` folded in.
fn dependencies(env: &Env, wf: &Workflow) -> Option<Vec<Vec<usize>>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, t) in wf.tasks.iter().enumerate() {
        if let Some(first) = index.insert(&t.name.text, i) {
            env.report(
                Diagnostic::error(
                    "duplicate-task",
                    format!("task `{}` is declared twice", t.name.text),
                )
                .at(t.name.span, "declared again here")
                .also(wf.tasks[first].name.span, "first declared here"),
            );
        }
    }
    let names: Vec<&str> = wf.tasks.iter().map(|t| t.name.text.as_str()).collect();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); wf.tasks.len()];
    for (i, t) in wf.tasks.iter().enumerate() {
        for dep in &t.depends_on {
            match index.get(dep.text.as_str()) {
                Some(&j) if j == i => env.report(
                    Diagnostic::error(
                        "self-dependency",
                        format!("task `{}` depends on itself", t.name.text),
                    )
                    .at(dep.span, "this is the task itself"),
                ),
                Some(&j) => {
                    if !deps[i].contains(&j) {
                        deps[i].push(j);
                    }
                }
                None => {
                    let mut d = Diagnostic::error(
                        "unknown-dependency",
                        format!(
                            "task `{}` depends on unknown task `{}`",
                            t.name.text, dep.text
                        ),
                    )
                    .at(dep.span, "no task with this name")
                    .suggest(&dep.text, names.iter().copied());
                    if d.help.is_none()
                        && let Some(base) = replica_base(&dep.text, &names)
                    {
                        d = d.help(format!(
                                "`depends_on` names tasks as declared: use `{base}` (it waits for its replicas)"
                            ));
                    }
                    env.report(d);
                }
            }
        }
    }
    for (i, t) in wf.tasks.iter().enumerate() {
        for target in &t.required_by {
            match index.get(target.text.as_str()) {
                Some(&j) if j != i => {
                    if !deps[j].contains(&i) {
                        deps[j].push(i);
                    }
                }
                Some(_) => {}
                None => env.report(
                    Diagnostic::warning(
                        "unknown-required-by",
                        format!(
                            "`required_by` names unknown task `{}`; ignored",
                            target.text
                        ),
                    )
                    .at(target.span, "no task with this name")
                    .suggest(&target.text, names.iter().copied()),
                ),
            }
        }
    }
    if let Some(cycle) = find_cycle(&deps) {
        let path: Vec<&str> = cycle.iter().map(|&i| names[i]).collect();
        let mut d = Diagnostic::error(
            "dependency-cycle",
            format!(
                "tasks depend on each other in a cycle: {}",
                path.join(" → ")
            ),
        );
        let first = cycle[0];
        d = d.at(wf.tasks[first].name.span, "this task is part of the cycle");
        for pair in cycle.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            if let Some(dep) = wf.tasks[from]
                .depends_on
                .iter()
                .find(|d| d.text == names[to])
            {
                d = d.also(
                    dep.span,
                    format!("`{}` waits for `{}`", names[from], names[to]),
                );
            }
        }
        env.report(d);
    }
    (!env.has_errors()).then_some(deps)
}

/// `srv_0` → `srv` when `srv` is a task: a likely mistake of naming a replica.
fn replica_base<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    let (base, suffix) = name.rsplit_once('_')?;
    (!suffix.is_empty())
        .then(|| names.iter().find(|n| **n == base).copied())
        .flatten()
}

/// A cycle in the dependency lists, as a closed path `[a, b, …, a]`: the strongly
/// connected component holding the earliest declared task of any cycle, walked by the
/// shortest way back to that task.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..deps.len()).map(|_| graph.add_node(())).collect();
    for (task, list) in deps.iter().enumerate() {
        for &dep in list {
            graph.add_edge(nodes[task], nodes[dep], ());
        }
    }
    let component = tarjan_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .min_by_key(|c| c.iter().map(|n| n.index()).min())?;
    let members: HashSet<usize> = component.iter().map(|n| n.index()).collect();
    let start = *members.iter().min()?;
    // Breadth-first from `start` through the component until a task waits for `start`.
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(task) = queue.pop_front() {
        for &dep in &deps[task] {
            if dep == start {
                // task ← parent ← … ← start, turned around, then back to start.
                let mut path = vec![task];
                while let Some(&p) = parent.get(path.last()?) {
                    path.push(p);
                }
                path.reverse();
                path.push(start);
                return Some(path);
            }
            if members.contains(&dep) && dep != start && !parent.contains_key(&dep) {
                parent.insert(dep, task);
                queue.push_back(dep);
            }
        }
    }
    None
}

fn base(
    env: &Env,
    wf: &Workflow,
    t: usize,
    decl: &TaskDecl,
    backends: &[Rc<Backend>],
    default_backend: usize,
) -> Option<Base> {
    let backend_index = match &decl.backend {
        Some(name) => match env.backend_index(&name.text) {
            Some(i) => i,
            None => {
                env.report(
                    Diagnostic::error(
                        "unknown-backend",
                        format!(
                            "task `{}` uses unknown backend `{}`",
                            decl.name.text, name.text
                        ),
                    )
                    .at(name.span, "no backend with this name")
                    .suggest(&name.text, wf.backends.iter().map(|b| b.name.text.as_str())),
                );
                return None;
            }
        },
        None => default_backend,
    };
    let backend = backends[backend_index].clone();
    let operator = operator(env, wf, decl, &backend)?;
    let ctx = env.ctx(Level::Task(t));
    let replicated = decl.replicas.is_some();
    let mut policy = Policy::Parallel;
    let mut swept = Vec::new();
    if let Some(rep) = &decl.replicas {
        if let Some(p) = &rep.policy
            && let Some(v) = env.eval_const(p, &ctx)
        {
            match v.to_plain_string().map(|s| s.to_lowercase()).as_deref() {
                Some("parallel") => policy = Policy::Parallel,
                Some("sequential") => policy = Policy::Sequential,
                _ => env.report(
                    Diagnostic::error(
                        "bad-policy",
                        format!(
                            "task `{}`: replicas.policy must be `parallel` or `sequential`, not {}",
                            decl.name.text,
                            v.repr_plain()
                        ),
                    )
                    .at(p.span(), "not a policy"),
                ),
            }
        }
        for var in &rep.variables {
            let key = env
                .find(Level::Workflow, &var.text)
                .filter(|k| k.0 != Level::Task(t));
            match key {
                None => env.report(
                    Diagnostic::error(
                        "unknown-sweep-variable",
                        format!(
                            "task `{}` sweeps unknown variable `{}`",
                            decl.name.text, var.text
                        ),
                    )
                    .at(var.span, "no global or workflow variable with this name")
                    .suggest(
                        &var.text,
                        env.visible_names(Level::Workflow)
                            .iter()
                            .map(String::as_str),
                    ),
                ),
                Some(key) => {
                    let d = env.decl(key);
                    if d.domain.as_ref().is_none_or(|(dom, _)| dom.is_empty()) {
                        env.report(
                            Diagnostic::error(
                                "sweep-without-domain",
                                format!(
                                    "task `{}` sweeps `{}`, which has no domain",
                                    decl.name.text, var.text
                                ),
                            )
                            .at(var.span, "swept here")
                            .also(d.name.span, "declared here without a `domain` list"),
                        );
                    } else if swept.contains(&var.text) {
                        env.report(
                            Diagnostic::error(
                                "duplicate-sweep-variable",
                                format!("`{}` is swept twice", var.text),
                            )
                            .at(var.span, "listed again here"),
                        );
                    } else {
                        swept.push(var.text.clone());
                    }
                }
            }
        }
    }
    let dependent = Rc::new(if swept.is_empty() {
        HashSet::new()
    } else {
        dependent_keys(env, t, &swept)
    });
    let mut variant_names: HashSet<String> = dependent
        .iter()
        .map(|k| env.decl(*k).name.text.clone())
        .collect();
    variant_names.extend(swept.iter().cloned());
    Some(Base {
        decl: t,
        name: decl.name.text.clone(),
        backend,
        backend_index,
        operator,
        policy,
        replicated,
        swept,
        replicas: Vec::new(),
        service: !decl.readiness.is_empty(),
        variant_names,
        dependent,
    })
}

fn operator(env: &Env, wf: &Workflow, decl: &TaskDecl, backend: &Backend) -> Option<OperatorUse> {
    let default = || match backend.kind {
        BackendKind::Slurm => OperatorUse {
            name: format!("default_{}", backend.name),
            kind: OperatorKind::Srun,
            fields: Vec::new(),
        },
        BackendKind::Local => OperatorUse {
            name: "bash".into(),
            kind: OperatorKind::Bash,
            fields: Vec::new(),
        },
    };
    let Some(reference) = &decl.operator else {
        return Some(default());
    };
    let Some(op) = wf
        .operators
        .iter()
        .find(|o| o.name.text == reference.name.text)
    else {
        env.report(
            Diagnostic::error(
                "unknown-operator",
                format!(
                    "task `{}` uses unknown operator `{}`",
                    decl.name.text, reference.name.text
                ),
            )
            .at(reference.name.span, "no operator with this name")
            .suggest(
                &reference.name.text,
                wf.operators.iter().map(|o| o.name.text.as_str()),
            ),
        );
        return None;
    };
    if op.kind == OperatorKind::Srun && backend.kind != BackendKind::Slurm {
        env.report(
            Diagnostic::error(
                "srun-needs-slurm",
                format!(
                    "task `{}` runs with srun operator `{}` on the local backend `{}`",
                    decl.name.text, op.name.text, backend.name
                ),
            )
            .at(reference.name.span, "an srun operator")
            .help("srun steps need a Slurm backend; use a bash operator for local tasks"),
        );
        return None;
    }
    let allowed = crate::syntax::operator_fields(op.kind);
    let mut fields: Vec<(String, Field)> = op
        .fields
        .iter()
        .map(|(k, f)| (k.name.clone(), f.clone()))
        .collect();
    let mut ok = true;
    for (key, field) in &reference.overrides {
        if !allowed.contains(&key.name.as_str()) {
            env.report(
                Diagnostic::error(
                    "unknown-key",
                    format!("unknown key `{}` for operator `{}`", key.name, op.name.text),
                )
                .at(key.span, "not a field of this operator")
                .suggest(&key.name, allowed.iter().copied()),
            );
            ok = false;
            continue;
        }
        match fields.iter_mut().find(|(k, _)| *k == key.name) {
            // extra_args add to the operator's; every other field replaces it.
            Some((_, existing)) if key.name == "extra_args" => {
                *existing = concat_lists(existing, field);
            }
            Some((_, existing)) => *existing = field.clone(),
            None => fields.push((key.name.clone(), field.clone())),
        }
    }
    ok.then(|| OperatorUse {
        name: op.name.text.clone(),
        kind: op.kind,
        fields,
    })
}

fn concat_lists(a: &Field, b: &Field) -> Field {
    use crate::field::FieldKind;
    match (&a.kind, &b.kind) {
        (FieldKind::List(x), FieldKind::List(y)) => Field {
            node: b.node.clone(),
            kind: FieldKind::List(x.iter().chain(y).cloned().collect()),
        },
        _ => b.clone(),
    }
}

/// Each replica's swept values, in Cartesian order (first variable outermost).
fn instances(env: &Env, decl: &TaskDecl, base: &Base, total: &mut u64) -> Option<Vec<Vec<Value>>> {
    let Some(rep) = &decl.replicas else {
        return Some(vec![Vec::new()]);
    };
    let ctx = env.ctx(Level::Task(base.decl));
    let domains: Vec<(String, Vec<Value>)> = base
        .swept
        .iter()
        .map(|name| {
            let key = env.find(Level::Workflow, name);
            let domain = key
                .and_then(|k| env.decl(k).domain.as_ref().map(|(d, _)| d.clone()))
                .unwrap_or_default();
            (name.clone(), domain)
        })
        .collect();
    let mut size: u64 = 1;
    for (_, d) in &domains {
        size = size.saturating_mul(d.len() as u64);
    }
    let count = match &rep.count {
        Some(f) => {
            let v = env.eval_const(f, &ctx)?;
            let n = match v {
                Value::Bool(_) => Err("must be an integer, not a boolean".to_string()),
                v => as_int(&v, 1),
            };
            match n {
                Ok(n) => Some((n as u64, f.span())),
                Err(message) => {
                    env.report(
                        Diagnostic::error(
                            "bad-replica-count",
                            format!("task `{}`: replicas.count {message}", decl.name.text),
                        )
                        .at(f.span(), "this count"),
                    );
                    return None;
                }
            }
        }
        None => None,
    };
    if let Some((n, span)) = count
        && !domains.is_empty()
        && n != size
    {
        env.report(
            Diagnostic::error(
                "count-sweep-mismatch",
                format!(
                    "task `{}`: replicas.count is {n} but the sweep over {} has {size} values",
                    decl.name.text,
                    base.swept.join(" × ")
                ),
            )
            .at(span, format!("{n} replicas"))
            .also(rep.span, "the sweep is declared here"),
        );
        return None;
    }
    let n = if domains.is_empty() {
        count.map_or(1, |(n, _)| n)
    } else {
        size
    };
    *total = total.saturating_add(n);
    if n > MAX_REPLICAS || *total > MAX_REPLICAS {
        env.report(
            Diagnostic::error(
                "too-many-replicas",
                format!(
                    "task `{}` expands to {n} replicas; the limit is {MAX_REPLICAS} per workflow",
                    decl.name.text
                ),
            )
            .at(rep.span, "this sweep is too large"),
        );
        return None;
    }
    if domains.is_empty() {
        return Some(vec![Vec::new(); n as usize]);
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut digits = vec![0usize; domains.len()];
    for _ in 0..n {
        out.push(
            domains
                .iter()
                .zip(&digits)
                .map(|((_, d), &i)| d[i].clone())
                .collect(),
        );
        for pos in (0..digits.len()).rev() {
            digits[pos] += 1;
            if digits[pos] < domains[pos].1.len() {
                break;
            }
            digits[pos] = 0;
        }
    }
    Some(out)
}

fn replica_name(decl: &TaskDecl, base: &Base, index: usize, sweep: &[Value]) -> String {
    if !base.replicated {
        return decl.name.text.clone();
    }
    if sweep.is_empty() {
        return format!("{}_{index}", decl.name.text);
    }
    let mut name = decl.name.text.clone();
    for v in sweep {
        name.push('_');
        let text = v.to_plain_string().unwrap_or_default();
        name.extend(text.chars().map(crate::syntax::ident_char));
    }
    name
}

fn check_collisions(env: &Env, bases: &[Base], tasks: &[Concrete]) -> Option<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(tasks.len());
    for (i, t) in tasks.iter().enumerate() {
        if let Some(&first) = seen.get(t.name.as_str()) {
            let a = &bases[tasks[first].base];
            let b = &bases[t.base];
            let decl_b = &env.wf.tasks[b.decl];
            let decl_a = &env.wf.tasks[a.decl];
            env.report(
                Diagnostic::error(
                    "name-collision",
                    format!(
                        "two tasks would both be named `{}` ({} and {})",
                        t.name,
                        describe(&tasks[first], a),
                        describe(t, b)
                    ),
                )
                .at(decl_b.name.span, "this task makes the second one")
                .also(decl_a.name.span, "this task makes the first one")
                .help("replica names are the task name plus the swept values with every character outside [A-Za-z0-9_] turned into `_`; rename a task or change the values"),
            );
            return None;
        }
        seen.insert(&t.name, i);
    }
    Some(())
}

fn describe(task: &Concrete, base: &Base) -> String {
    match &task.replica {
        None if base.replicated => format!("replica {} of `{}`", task.index, base.name),
        None => format!("task `{}`", base.name),
        Some(replica) => {
            let values: Vec<String> = base
                .swept
                .iter()
                .zip(&replica.values)
                .map(|(k, v)| format!("{k}={}", v.to_plain_string().unwrap_or_default()))
                .collect();
            format!("the `{}` replica with {}", base.name, values.join(", "))
        }
    }
}

/// Variables (by declaration) whose value depends on any of `swept`, seen from task `t`.
fn dependent_keys(env: &Env, t: usize, swept: &[String]) -> HashSet<VarKey> {
    let mut out = HashSet::new();
    let mut memo: HashMap<VarKey, bool> = HashMap::new();
    for name in env.visible_names(Level::Task(t)) {
        if let Some(key) = env.find(Level::Task(t), &name)
            && env.reads_any(key, swept, &mut memo)
        {
            out.insert(key);
        }
    }
    out
}

/// Evaluates each concrete task's resources, once per task declaration unless a
/// resource depends on a swept value.
fn resources(env: &Env, wf: &Workflow, bases: &[Base], tasks: &mut [Concrete]) {
    for base in bases {
        let decl = &wf.tasks[base.decl];
        let fields: Vec<&Field> = [
            decl.resources
                .nodes
                .as_ref()
                .map(|n| [&n.indices, &n.count, &n.exclude, &n.release_after]),
            decl.resources
                .gpus
                .as_ref()
                .map(|g| [&g.count, &g.indices, &g.release_after, &None]),
        ]
        .into_iter()
        .flatten()
        .flatten()
        .flatten()
        .collect();
        let varies = fields.iter().any(|f| base.varies(f));
        if !varies {
            let res = Rc::new(eval_res(env, base, decl, None).unwrap_or_default());
            for &id in &base.replicas {
                tasks[id].res = res.clone();
            }
            continue;
        }
        for &id in &base.replicas {
            let res = eval_res(env, base, decl, tasks[id].replica.as_ref()).unwrap_or_default();
            tasks[id].res = Rc::new(res);
        }
    }
}

fn eval_res(env: &Env, base: &Base, decl: &TaskDecl, replica: Option<&Replica>) -> Option<Res> {
    let ctx = base.ctx(env, replica);
    let mut res = Res::default();
    let what = &decl.name.text;
    let int = |f: &Field, min: i64, key: &str| -> Option<(i64, Span)> {
        let v = env.eval_const(f, &ctx)?;
        match as_int(&v, min) {
            Ok(n) => Some((n, f.span())),
            Err(m) => {
                env.report(
                    Diagnostic::error("bad-resource", format!("task `{what}`: `{key}` {m}"))
                        .at(f.span(), "this value"),
                );
                None
            }
        }
    };
    let list = |f: &Field, key: &str, allow_negative: bool| -> Option<(Vec<i64>, Span)> {
        let v = env.eval_const(f, &ctx)?;
        let items = match v {
            Value::List(items) => items,
            Value::Int(_) if key == "nodes.exclude" => vec![v],
            other => {
                env.report(
                    Diagnostic::error(
                        "bad-resource",
                        format!(
                            "task `{what}`: `{key}` must be a list of integers, not {}",
                            other.type_name()
                        ),
                    )
                    .at(f.span(), "expected a list"),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        for item in items {
            match item {
                Value::Int(n) if allow_negative || n >= 0 => out.push(n),
                other => {
                    env.report(
                        Diagnostic::error(
                            "bad-resource",
                            format!(
                                "task `{what}`: `{key}` must hold {}integers, not {}",
                                if allow_negative { "" } else { "non-negative " },
                                other.repr_plain()
                            ),
                        )
                        .at(f.span(), "in this list"),
                    );
                    return None;
                }
            }
        }
        Some((out, f.span()))
    };
    let release = |f: &Field| -> Option<Release> {
        let v = env.eval_const(f, &ctx)?;
        match v.to_plain_string().as_deref() {
            Some("task_ready") => Some(Release::TaskReady),
            Some("task_completion") => Some(Release::TaskCompletion),
            Some("workflow_completion") => Some(Release::WorkflowCompletion),
            _ => {
                env.report(
                    Diagnostic::error("bad-release", "unknown `release_after`")
                        .at(f.span(), "not a release policy")
                        .help("use task_ready, task_completion or workflow_completion"),
                );
                None
            }
        }
    };
    if let Some(n) = &decl.resources.nodes {
        if let Some(f) = &n.indices {
            res.node_indices = Some(list(f, "nodes.indices", true)?);
        }
        if let Some(f) = &n.count {
            let (c, s) = int(f, 1, "nodes.count")?;
            res.node_count = Some((c as u32, s));
        }
        if let Some(f) = &n.exclude {
            res.node_exclude = Some(list(f, "nodes.exclude", true)?);
        }
        if let Some(f) = &n.release_after {
            res.node_release = Some(release(f)?);
        }
    }
    if let Some(g) = &decl.resources.gpus {
        res.gpu_span = g.span;
        if let Some(f) = &g.count {
            let (c, s) = int(f, 1, "gpus.count")?;
            res.gpu_count = Some((c as u32, s));
        }
        if let Some(f) = &g.indices {
            let (items, span) = list(f, "gpus.indices", false)?;
            let mut seen = HashSet::new();
            if items.is_empty() || !items.iter().all(|i| seen.insert(*i)) {
                env.report(
                    Diagnostic::error(
                        "bad-resource",
                        format!("task `{what}`: `gpus.indices` must be a non-empty list of distinct indices"),
                    )
                    .at(span, "this list"),
                );
                return None;
            }
            res.gpu_indices = Some((items.into_iter().map(|i| i as u32).collect(), span));
        }
        if let Some(f) = &g.release_after {
            res.gpu_release = Some(release(f)?);
        }
    }
    Some(res)
}

/// Adds the concrete edges (reference §4.5) and returns them in insertion order. Each
/// edge is added once: dependency lists hold no duplicates and no task itself, so no
/// two (source, target) pairs below coincide.
fn wire(bases: &[Base], tasks: &mut [Concrete], deps: &[Vec<usize>]) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    let mut add = |from: usize, to: usize, tasks: &mut [Concrete]| {
        edges.push((from, to));
        tasks[to].deps.push(from);
    };
    for base in bases {
        let targets: &[usize] = match base.policy {
            Policy::Sequential => &base.replicas[..1.min(base.replicas.len())],
            Policy::Parallel => &base.replicas,
        };
        for &dep_decl in &deps[base.decl] {
            let dep = &bases[dep_decl];
            let sources: &[usize] = match dep.policy {
                Policy::Sequential => &dep.replicas[dep.replicas.len().saturating_sub(1)..],
                Policy::Parallel => &dep.replicas,
            };
            for &s in sources {
                for &t in targets {
                    add(s, t, tasks);
                }
            }
        }
        if base.policy == Policy::Sequential {
            for pair in base.replicas.windows(2) {
                add(pair[0], pair[1], tasks);
            }
        }
    }
    edges
}

/// Kahn's algorithm: zero in-degree tasks in insertion order, freed tasks appended in
/// edge-insertion order.
fn kahn(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(from, to) in edges {
        out_edges[from].push(to);
        indegree[to] += 1;
    }
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(u) = queue.pop_front() {
        order.push(u);
        for &v in &out_edges[u] {
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push_back(v);
            }
        }
    }
    order
}
