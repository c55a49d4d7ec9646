//! Stage 3: what is known before expansion. Input: `syntax::Workflow`. Output: an `Env`
//! that evaluates variables (global, workflow and task level, with `type:` casts and
//! domains), backends and artifacts lazily and once each, and hands out expression
//! scopes for every later stage. Guarantee: each variable is evaluated at most once per
//! context, cycles are reported with their path, and every error is reported once.

use crate::diagnostic::Diagnostic;
use crate::duration;
use crate::expr::{Lookup, Namespace, NodeField, Piece, Scope, Text, Value, Variable};
use crate::field::Field;
use crate::source::{Sources, Span};
use crate::syntax::{BackendDecl, BackendKind, VarDecl, VarType, Workflow};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Where a variable is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Global,
    Workflow,
    /// Task-level variables of the task declaration with this index.
    Task(usize),
}

pub type VarKey = (Level, usize);

#[derive(Clone)]
enum Slot {
    InProgress,
    Done(Variable),
    Failed,
}

/// A backend with every field evaluated.
#[derive(Clone, Debug)]
pub struct Backend {
    pub name: String,
    pub kind: BackendKind,
    pub default: bool,
    pub nodes: u32,
    /// `None`: unknown capacity (a local backend without `gpus_per_node`).
    pub gpus_per_node: Option<u32>,
    pub account: Option<String>,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub job_name: Option<String>,
    pub extra_args: Vec<String>,
    pub span: Span,
}

/// Values that only the job knows, written as markers the runtime fills in.
pub fn node_piece(backend: &Backend, index: u32, field: NodeField) -> Value {
    match backend.kind {
        BackendKind::Local => Value::Str(match field {
            NodeField::Name if index == 0 => "localhost".to_string(),
            NodeField::Name => format!("localhost-{index}"),
            NodeField::Ip => "127.0.0.1".to_string(),
        }),
        BackendKind::Slurm => Value::Runtime(Text::node(index, field)),
    }
}

/// Per-replica values of swept variables, and the memo of what depends on them.
pub struct Replica {
    /// The swept variables' names, shared by every replica of a task.
    names: Rc<[String]>,
    /// This replica's values, in the order of `names`.
    pub values: Vec<Value>,
    pub dependent: Rc<HashSet<VarKey>>,
    memo: RefCell<HashMap<VarKey, Slot>>,
}

impl Replica {
    pub fn new(names: Rc<[String]>, values: Vec<Value>, dependent: Rc<HashSet<VarKey>>) -> Replica {
        Replica {
            names,
            values,
            dependent,
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// This replica's value of swept variable `name`.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
    }
}

/// The `task` namespace, provided once tasks are placed.
pub trait TaskFacts {
    fn task(&self, name: &str) -> Option<Value>;
    fn task_names(&self) -> Vec<String>;
}

/// Everything the expressions of one workflow can see.
pub struct Env<'w> {
    pub wf: &'w Workflow,
    pub sources: &'w Sources,
    vars: HashMap<Level, (Vec<&'w VarDecl>, HashMap<&'w str, usize>)>,
    memo: RefCell<HashMap<VarKey, Slot>>,
    stack: RefCell<Vec<VarKey>>,
    backends: RefCell<Vec<Option<Option<Rc<Backend>>>>>,
    artifacts: RefCell<HashMap<String, Option<Value>>>,
    diags: RefCell<Vec<Diagnostic>>,
    seen: RefCell<HashSet<(Span, String)>>,
    /// `-N`: the Slurm backend's node count, replacing its `nodes`.
    nodes_override: Option<u32>,
}

/// What one scope may see besides variables.
#[derive(Clone, Copy)]
pub struct Allow {
    pub backends: bool,
    pub artifacts: bool,
}

impl Allow {
    pub const ALL: Allow = Allow {
        backends: true,
        artifacts: true,
    };
    pub const VARIABLES: Allow = Allow {
        backends: false,
        artifacts: false,
    };
}

/// One evaluation context.
#[derive(Clone, Copy)]
pub struct Ctx<'a, 'w> {
    pub env: &'a Env<'w>,
    pub level: Level,
    pub replica: Option<&'a Replica>,
    pub tasks: Option<&'a dyn TaskFacts>,
    pub allow: Allow,
}

impl<'w> Env<'w> {
    pub fn new(wf: &'w Workflow, sources: &'w Sources, nodes_override: Option<u32>) -> Env<'w> {
        let mut vars = HashMap::new();
        let mut index = |level: Level, decls: &'w [VarDecl]| {
            let list: Vec<&VarDecl> = decls.iter().collect();
            let names = list
                .iter()
                .enumerate()
                .map(|(i, d)| (d.name.text.as_str(), i))
                .collect();
            vars.insert(level, (list, names));
        };
        index(Level::Global, &wf.variables);
        index(Level::Workflow, &wf.workflow_variables);
        for (t, task) in wf.tasks.iter().enumerate() {
            index(Level::Task(t), &task.variables);
        }
        Env {
            wf,
            sources,
            vars,
            memo: RefCell::new(HashMap::new()),
            stack: RefCell::new(Vec::new()),
            backends: RefCell::new(vec![None; wf.backends.len()]),
            artifacts: RefCell::new(HashMap::new()),
            diags: RefCell::new(Vec::new()),
            seen: RefCell::new(HashSet::new()),
            nodes_override,
        }
    }

    /// Records a diagnostic unless the same one was already recorded.
    pub fn report(&self, diagnostic: Diagnostic) {
        let key = (
            diagnostic
                .primary
                .as_ref()
                .map(|l| l.span)
                .unwrap_or_default(),
            diagnostic.message.clone(),
        );
        if self.seen.borrow_mut().insert(key) {
            self.diags.borrow_mut().push(diagnostic);
        }
    }

    pub fn take_diagnostics(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags.borrow_mut())
    }

    pub fn has_errors(&self) -> bool {
        self.diags.borrow().iter().any(Diagnostic::is_error)
    }

    pub fn ctx(&self, level: Level) -> Ctx<'_, 'w> {
        Ctx {
            env: self,
            level,
            replica: None,
            tasks: None,
            allow: Allow::ALL,
        }
    }

    pub fn decl(&self, key: VarKey) -> &'w VarDecl {
        self.vars[&key.0].0[key.1]
    }

    /// The declaration a name refers to when read at `level`.
    pub fn find(&self, level: Level, name: &str) -> Option<VarKey> {
        let chain: &[Level] = match level {
            Level::Global => &[Level::Global],
            Level::Workflow => &[Level::Workflow, Level::Global],
            Level::Task(_) => &[level, Level::Workflow, Level::Global],
        };
        chain.iter().find_map(|&l| {
            self.vars
                .get(&l)
                .and_then(|(_, names)| names.get(name))
                .map(|&i| (l, i))
        })
    }

    /// Whether variable `key`'s value reads any of `names`, directly or through other
    /// variables (`memo` remembers the answers across calls).
    pub fn reads_any(
        &self,
        key: VarKey,
        names: &[String],
        memo: &mut HashMap<VarKey, bool>,
    ) -> bool {
        if let Some(&known) = memo.get(&key) {
            return known;
        }
        memo.insert(key, false);
        let mut refs = Vec::new();
        self.decl(key).value.variable_refs(&mut refs);
        let found = refs.iter().any(|r| {
            names.contains(r)
                || self
                    .find(key.0, r)
                    .is_some_and(|k| k != key && self.reads_any(k, names, memo))
        });
        memo.insert(key, found);
        found
    }

    /// Every variable name visible at `level`, for did-you-mean.
    pub fn visible_names(&self, level: Level) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for l in [Level::Global, Level::Workflow, level] {
            if let Some((decls, _)) = self.vars.get(&l) {
                out.extend(decls.iter().map(|d| d.name.text.clone()));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The value of a variable in a context (evaluated once per context).
    pub fn variable(&self, key: VarKey, replica: Option<&Replica>) -> Lookup<Variable> {
        let replica = replica.filter(|r| r.dependent.contains(&key));
        let memo = match replica {
            Some(r) => &r.memo,
            None => &self.memo,
        };
        let state = memo.borrow().get(&key).cloned();
        match state {
            Some(Slot::Done(v)) => return Lookup::Found(v),
            Some(Slot::Failed) => return Lookup::Failed,
            Some(Slot::InProgress) => {
                self.report_cycle(key);
                memo.borrow_mut().insert(key, Slot::Failed);
                return Lookup::Failed;
            }
            None => {}
        }
        memo.borrow_mut().insert(key, Slot::InProgress);
        self.stack.borrow_mut().push(key);
        let decl = self.decl(key);
        let ctx = Ctx {
            env: self,
            level: key.0,
            replica,
            tasks: None,
            allow: Allow::ALL,
        };
        let result = decl
            .value
            .eval(&ctx, self.sources)
            .map_err(|d| {
                if let Some(d) = d {
                    self.report(d);
                }
            })
            .and_then(|v| self.cast(decl, v));
        self.stack.borrow_mut().pop();
        if matches!(memo.borrow().get(&key), Some(Slot::Failed)) {
            return Lookup::Failed;
        }
        match result {
            Ok(value) => {
                let variable = Variable {
                    value,
                    domain: decl.domain.as_ref().map(|(d, _)| d.clone()),
                };
                memo.borrow_mut().insert(key, Slot::Done(variable.clone()));
                Lookup::Found(variable)
            }
            Err(()) => {
                memo.borrow_mut().insert(key, Slot::Failed);
                Lookup::Failed
            }
        }
    }

    fn report_cycle(&self, key: VarKey) {
        let stack = self.stack.borrow();
        let start = stack.iter().position(|k| *k == key).unwrap_or(0);
        let mut path: Vec<&str> = stack[start..]
            .iter()
            .map(|k| self.decl(*k).name.text.as_str())
            .collect();
        path.push(&self.decl(key).name.text);
        let decl = self.decl(key);
        self.report(
            Diagnostic::error(
                "variable-cycle",
                format!(
                    "variable `{}` depends on itself: {}",
                    decl.name.text,
                    path.join(" → ")
                ),
            )
            .at(decl.value.span(), "this value refers back to itself"),
        );
    }

    /// Applies `type:` and checks `domain:`.
    fn cast(&self, decl: &VarDecl, value: Value) -> Result<Value, ()> {
        let span = decl.value.span();
        let value = match decl.ty {
            None => value,
            Some((ty, _)) => match cast_value(&value, ty) {
                Ok(v) => v,
                Err(message) => {
                    self.report(
                        Diagnostic::error(
                            "variable-type",
                            format!("variable `{}`: {message}", decl.name.text),
                        )
                        .at(span, "this value"),
                    );
                    return Err(());
                }
            },
        };
        if let Some((domain, domain_span)) = &decl.domain {
            let domain: Vec<Value> = match decl.ty {
                Some((ty, _)) => domain
                    .iter()
                    .map(|d| cast_value(d, ty).unwrap_or_else(|_| d.clone()))
                    .collect(),
                None => domain.clone(),
            };
            if !matches!(value, Value::Runtime(_)) && !domain.iter().any(|d| d.py_eq(&value)) {
                self.report(
                    Diagnostic::error(
                        "not-in-domain",
                        format!(
                            "variable `{}` is {}, which is not in its domain {}",
                            decl.name.text,
                            value.repr_plain(),
                            Value::List(domain.clone()).repr_plain()
                        ),
                    )
                    .at(span, "this value")
                    .also(*domain_span, "the domain"),
                );
                return Err(());
            }
        }
        Ok(value)
    }

    /// `backends.NAME` resolved (fields evaluated with variables only).
    pub fn backend(&self, index: usize) -> Option<Rc<Backend>> {
        if let Some(done) = &self.backends.borrow()[index] {
            return done.clone();
        }
        let decl = &self.wf.backends[index];
        let resolved = self.resolve_backend(decl).map(Rc::new);
        self.backends.borrow_mut()[index] = Some(resolved.clone());
        resolved
    }

    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.wf.backends.iter().position(|b| b.name.text == name)
    }

    fn resolve_backend(&self, decl: &BackendDecl) -> Option<Backend> {
        let ctx = Ctx {
            env: self,
            level: Level::Global,
            replica: None,
            tasks: None,
            allow: Allow::VARIABLES,
        };
        let field = |key: &str| {
            decl.fields
                .iter()
                .find(|(k, _)| k.name == key)
                .map(|(_, f)| f)
        };
        let mut ok = true;
        let mut int = |key: &str, min: i64| -> Option<u32> {
            let f = field(key)?;
            match self.eval_const(f, &ctx).map(|v| as_int(&v, min)) {
                Some(Ok(n)) => Some(n as u32),
                Some(Err(message)) => {
                    self.report(
                        Diagnostic::error(
                            "bad-value",
                            format!("backend `{}`: `{key}` {message}", decl.name.text),
                        )
                        .at(f.span(), "this value"),
                    );
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            }
        };
        let mut nodes = int("nodes", 1).unwrap_or(1);
        let gpus_per_node = int("gpus_per_node", 0);
        if decl.kind == BackendKind::Slurm
            && let Some(n) = self.nodes_override
        {
            nodes = n;
        }
        let mut text = |key: &str| -> Option<String> {
            let f = field(key)?;
            match self.eval_const(f, &ctx) {
                Some(Value::None) => None,
                Some(v) => match v.to_plain_string() {
                    Some(s) => Some(s),
                    None => {
                        ok = false;
                        None
                    }
                },
                None => {
                    ok = false;
                    None
                }
            }
        };
        let account = text("account");
        let partition = text("partition");
        let job_name = text("job_name");
        let time = match (text("time"), field("time")) {
            (Some(t), Some(f)) => match duration::slurm_time(&t) {
                Ok(t) => Some(t),
                Err(message) => {
                    self.report(
                        Diagnostic::error("bad-duration", message).at(f.span(), "this time limit"),
                    );
                    ok = false;
                    None
                }
            },
            _ => None,
        };
        let mut extra_args = Vec::new();
        if let Some(f) = field("extra_args") {
            match self.eval_const(f, &ctx) {
                Some(Value::List(items)) => {
                    for item in items {
                        match item.to_plain_string() {
                            Some(s) => extra_args.push(s),
                            None => ok = false,
                        }
                    }
                }
                Some(Value::None) => {}
                Some(other) => {
                    self.report(
                        Diagnostic::error(
                            "wrong-kind",
                            format!("`extra_args` must be a list, not {}", other.type_name()),
                        )
                        .at(f.span(), "expected a list"),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        for key in ["include_nodes", "exclude_nodes"] {
            if let Some(f) = field(key) {
                self.report(
                    Diagnostic::warning(
                        "not-supported-yet",
                        format!("`{key}` is not supported yet and is ignored"),
                    )
                    .at(f.span(), "ignored"),
                );
            }
        }
        ok.then(|| Backend {
            name: decl.name.text.clone(),
            kind: decl.kind,
            default: decl.default,
            nodes,
            gpus_per_node: match decl.kind {
                BackendKind::Slurm => Some(gpus_per_node.unwrap_or(0)),
                BackendKind::Local => gpus_per_node,
            },
            account,
            partition,
            time,
            job_name,
            extra_args,
            span: decl.span,
        })
    }

    /// Evaluates a field that must be known when compiling; reports what is not.
    pub fn eval_const(&self, field: &Field, ctx: &Ctx) -> Option<Value> {
        match field.eval(ctx, self.sources) {
            Ok(v) if v.is_runtime() => {
                self.report(
                    Diagnostic::error(
                        "runtime-value",
                        "this value is known only when the job runs (an allocated node's name or IP), but it is needed when compiling",
                    )
                    .at(field.span(), "needed at compile time"),
                );
                None
            }
            Ok(v) => Some(v),
            Err(d) => {
                if let Some(d) = d {
                    self.report(d);
                }
                None
            }
        }
    }

    /// The `backends.NAME` value.
    fn backend_value(&self, name: &str) -> Lookup<Value> {
        let Some(index) = self.backend_index(name) else {
            return Lookup::Missing;
        };
        let Some(backend) = self.backend(index) else {
            return Lookup::Failed;
        };
        let nodes = (0..backend.nodes)
            .map(|i| {
                Value::Dict(vec![
                    ("name".into(), node_piece(&backend, i, NodeField::Name)),
                    ("ip_address".into(), node_piece(&backend, i, NodeField::Ip)),
                    ("index".into(), Value::Int(i as i64)),
                    (
                        "num_gpus".into(),
                        Value::Int(backend.gpus_per_node.unwrap_or(0) as i64),
                    ),
                ])
            })
            .collect();
        Lookup::Found(Value::Dict(vec![
            ("name".into(), Value::Str(backend.name.clone())),
            ("nodes".into(), Value::List(nodes)),
        ]))
    }

    /// `artifacts.NAME` = {uri, path}.
    pub fn artifact(&self, name: &str) -> Lookup<Value> {
        if let Some(done) = self.artifacts.borrow().get(name) {
            return done.clone().map_or(Lookup::Failed, Lookup::Found);
        }
        let Some(decl) = self.wf.artifacts.iter().find(|a| a.name.text == name) else {
            return Lookup::Missing;
        };
        self.artifacts.borrow_mut().insert(name.to_string(), None);
        let ctx = Ctx {
            env: self,
            level: Level::Global,
            replica: None,
            tasks: None,
            allow: Allow {
                backends: true,
                artifacts: false,
            },
        };
        let value = match decl.uri.eval(&ctx, self.sources) {
            Ok(uri) => {
                let path = artifact_path(&uri, decl.content.is_some());
                Some(Value::Dict(vec![
                    ("uri".into(), uri),
                    ("path".into(), path),
                ]))
            }
            Err(d) => {
                if let Some(d) = d {
                    self.report(d);
                }
                None
            }
        };
        self.artifacts
            .borrow_mut()
            .insert(name.to_string(), value.clone());
        value.map_or(Lookup::Failed, Lookup::Found)
    }
}

/// `fs://` and `file://` URIs name paths (relative ones are relative to the workspace,
/// or, for a `file://` with inline content, to the run directory); others keep the URI.
pub fn artifact_path(uri: &Value, has_content: bool) -> Value {
    let Some(text) = uri.to_plain_string() else {
        return uri.clone();
    };
    let rest = text
        .strip_prefix("fs://")
        .or_else(|| text.strip_prefix("file://"));
    match rest {
        Some(path) if path.starts_with('/') => Value::Str(path.to_string()),
        Some(path) => {
            let dir = if has_content {
                Piece::RunDir
            } else {
                Piece::Workspace
            };
            Value::Runtime(Text(vec![dir, Piece::Lit(format!("/{path}"))]))
        }
        None => uri.clone(),
    }
}

/// `type:` casts, as the reference applies them.
pub fn cast_value(value: &Value, ty: VarType) -> Result<Value, String> {
    match (ty, value) {
        (VarType::String, v) => Ok(match v {
            Value::Runtime(_) => v.clone(),
            _ => Value::Str(v.to_plain_string().unwrap_or_default()),
        }),
        (_, Value::Runtime(_)) => Err("a value known only when the job runs cannot be cast".into()),
        (VarType::Integer, Value::Int(_)) => Ok(value.clone()),
        (VarType::Integer, Value::Bool(b)) => Ok(Value::Int(*b as i64)),
        (VarType::Integer, Value::Float(f)) if f.is_finite() => Ok(Value::Int(f.trunc() as i64)),
        (VarType::Integer, Value::Str(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("expected an integer, got '{s}'")),
        (VarType::Float, Value::Float(_)) => Ok(value.clone()),
        (VarType::Float, Value::Int(i)) => Ok(Value::Float(*i as f64)),
        (VarType::Float, Value::Str(s)) => s
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("expected a float, got '{s}'")),
        (VarType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (VarType::Boolean, Value::Int(i)) if *i == 0 || *i == 1 => Ok(Value::Bool(*i == 1)),
        (VarType::Boolean, Value::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" | "on" => Ok(Value::Bool(true)),
            "false" | "0" | "no" | "n" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("expected a boolean, got '{s}'")),
        },
        (VarType::List | VarType::Dict, v) => Ok(v.clone()),
        (ty, v) => Err(format!(
            "cannot cast {} to {}",
            v.type_name(),
            format!("{ty:?}").to_lowercase()
        )),
    }
}

/// An integer of at least `min` (booleans are not integers).
pub fn as_int(value: &Value, min: i64) -> Result<i64, String> {
    let n = match value {
        Value::Int(n) => *n,
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => *f as i64,
        Value::Str(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("must be an integer, not '{s}'"))?,
        other => return Err(format!("must be an integer, not {}", other.type_name())),
    };
    if n < min {
        return Err(format!("must be at least {min}, not {n}"));
    }
    Ok(n)
}

impl Scope for Ctx<'_, '_> {
    fn variable(&self, name: &str) -> Lookup<Variable> {
        if let Some(replica) = self.replica
            && let Some(value) = replica.value(name)
        {
            let domain = self
                .env
                .find(self.level, name)
                .and_then(|k| self.env.decl(k).domain.as_ref().map(|(d, _)| d.clone()));
            return Lookup::Found(Variable {
                value: value.clone(),
                domain,
            });
        }
        match self.env.find(self.level, name) {
            Some(key) => self.env.variable(key, self.replica),
            None => Lookup::Missing,
        }
    }

    fn member(&self, namespace: Namespace, name: &str) -> Lookup<Value> {
        match namespace {
            Namespace::Variables => self.variable(name).map(|v| v.value),
            Namespace::Backends if self.allow.backends => self.env.backend_value(name),
            Namespace::Artifacts if self.allow.artifacts => self.env.artifact(name),
            Namespace::Workflow if name == "name" => {
                Lookup::Found(Value::Str(self.env.wf.name.text.clone()))
            }
            Namespace::Task => match self.tasks {
                Some(tasks) => tasks.task(name).map_or(Lookup::Missing, Lookup::Found),
                None => Lookup::Missing,
            },
            _ => Lookup::Missing,
        }
    }

    fn names(&self, namespace: Namespace) -> Vec<String> {
        match namespace {
            Namespace::Variables => self.env.visible_names(self.level),
            Namespace::Backends if self.allow.backends => self
                .env
                .wf
                .backends
                .iter()
                .map(|b| b.name.text.clone())
                .collect(),
            Namespace::Artifacts if self.allow.artifacts => self
                .env
                .wf
                .artifacts
                .iter()
                .map(|a| a.name.text.clone())
                .collect(),
            Namespace::Workflow => vec!["name".into()],
            Namespace::Task => self.tasks.map(|t| t.task_names()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
