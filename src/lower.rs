//! Stage 6: the plan. Input: concrete tasks, their placements and the `Env`. Output: a
//! `plan::Plan`: per declared task one group (launch command, env, probes, retries,
//! timeout, script) and per concrete task one row (nodes, GPUs, dependencies, and the
//! values that differ between replicas as slots). Guarantee: every expression is
//! evaluated here, `task.*` facts included; what differs between replicas is stored once
//! per replica and nothing else is repeated, so a 100,000-replica sweep stays small.

use crate::diagnostic::Diagnostic;
use crate::duration;
use crate::expand::{Base, Expanded};
use crate::expr::{self, NodeField, Piece, Segment, Text, Value};
use crate::field::{Field, FieldKind, expr_diagnostic};
use crate::place::Placement;
use crate::plan::{self, BackendInfo, Group, Kind, Plan, ProbeSpec, Task, Word};
use crate::resolve::{Allow, Ctx, Env, Level, Replica, TaskFacts, as_int, node_piece};
use crate::syntax::{BackendKind, OperatorKind, Probe, ProbeKind, Workflow};
use std::cell::RefCell;
use std::collections::HashMap;

/// Command-line choices that shape the plan.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub job_name: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub time: Option<String>,
    pub sbatch_args: Vec<String>,
    pub workspace: Option<String>,
    pub output_dir: Option<String>,
}

/// Seconds between SIGTERM and SIGKILL when a task is stopped.
pub const STOP_GRACE: u64 = 10;
/// Seconds before the time limit at which Slurm signals the batch shell.
pub const SIGNAL_LEAD: u64 = 60;

pub fn lower(
    env: &Env,
    wf: &Workflow,
    x: &Expanded,
    placements: &[Placement],
    options: &Options,
) -> Option<Plan> {
    let facts = Facts::new(env, x, placements);
    let slurm = x.backends.iter().find(|b| b.kind == BackendKind::Slurm);
    let kind = if slurm.is_some() {
        Kind::Slurm
    } else {
        Kind::Local
    };
    let main_backend = slurm.unwrap_or(&x.backends[x.default_backend]);

    let common = common_env(env, wf);
    let files = artifact_files(env, wf);
    let mut groups = Vec::new();
    let mut slot_values: Vec<Vec<Text>> = vec![Vec::new(); x.tasks.len()];
    let mut idents: HashMap<String, usize> = HashMap::new();
    for base in &x.bases {
        let mut builder = Builder {
            env,
            wf,
            x,
            base,
            facts: &facts,
            placements,
            slots: Vec::new(),
        };
        let Some(group) = builder.group(&mut idents) else {
            continue;
        };
        // Each replica's values move to its row (slot order kept).
        for (_, values) in std::mem::take(&mut builder.slots) {
            for (pos, value) in values.into_iter().enumerate() {
                slot_values[base.replicas[pos]].push(value);
            }
        }
        groups.push(group);
    }
    let workflow_timeout = wf.timeout.as_ref().and_then(|f| {
        let v = env.eval_const(f, &env.ctx(Level::Workflow))?;
        seconds(env, &v, f, "the workflow timeout")
    });
    let sbatch = slurm
        .map(|b| sbatch_lines(env, wf, b, options))
        .unwrap_or_default();
    if env.has_errors() || groups.len() != x.bases.len() {
        return None;
    }

    let mut position = vec![0usize; x.tasks.len()];
    for (p, &id) in x.order.iter().enumerate() {
        position[id] = p;
    }
    let tasks = x
        .order
        .iter()
        .map(|&id| {
            let t = &x.tasks[id];
            let base = &x.bases[t.base];
            let p = &placements[id];
            Task {
                name: t.name.clone(),
                replica: t.index,
                group: t.base,
                backend: base.backend_index,
                deps: t.deps.iter().map(|&d| position[d]).collect(),
                nodes: p.nodes.clone(),
                gpus: p.gpus.clone(),
                gpu_release: p.gpu_release,
                slots: std::mem::take(&mut slot_values[id]),
                sweep: t
                    .replica
                    .iter()
                    .flat_map(|r| &r.values)
                    .map(|v| v.to_plain_string().unwrap_or_default())
                    .collect(),
                service: base.service,
            }
        })
        .collect();
    Some(Plan {
        workflow: wf.name.text.clone(),
        kind,
        slurm_output: slurm.map(|_| "%x-%j.out".to_string()),
        sbatch,
        node_count: main_backend.nodes,
        gpus_per_node: main_backend.gpus_per_node,
        backends: x
            .backends
            .iter()
            .map(|b| BackendInfo {
                name: b.name.clone(),
                kind: match b.kind {
                    BackendKind::Slurm => Kind::Slurm,
                    BackendKind::Local => Kind::Local,
                },
                nodes: b.nodes,
                gpus_per_node: b.gpus_per_node,
            })
            .collect(),
        workflow_timeout: workflow_timeout.unwrap_or(0),
        stop_grace: STOP_GRACE,
        workspace: options.workspace.clone(),
        output_dir: options.output_dir.clone(),
        env: common,
        files,
        groups,
        tasks,
    })
}

/// Variables (a workflow variable replaces a global one of the same name), then
/// artifacts whose name no variable takes.
fn common_env(env: &Env, wf: &Workflow) -> Vec<(String, Text)> {
    let mut out: Vec<(String, Text)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for level in [Level::Global, Level::Workflow] {
        let decls = match level {
            Level::Global => &wf.variables,
            _ => &wf.workflow_variables,
        };
        for d in decls {
            let Some(key) = env.find(level, &d.name.text) else {
                continue;
            };
            let expr::Lookup::Found(v) = env.variable(key, None) else {
                continue;
            };
            let text = v.value.to_text();
            if forged(&text) {
                env.report(forged_diagnostic(d.value.span()));
                continue;
            }
            match index.get(&d.name.text) {
                Some(&i) => out[i].1 = text,
                None => {
                    index.insert(d.name.text.clone(), out.len());
                    out.push((d.name.text.clone(), text));
                }
            }
        }
    }
    for a in &wf.artifacts {
        if index.contains_key(&a.name.text) {
            continue;
        }
        if let expr::Lookup::Found(v) = env.artifact(&a.name.text)
            && let Some(path) = dict_get(&v, "path")
        {
            out.push((a.name.text.clone(), path.to_text()));
        }
    }
    out
}

/// Checks a parse-style `outputs` pattern: `{name}` or `{name:TYPE}` fields (TYPE one
/// of d, f, g, e, w), `{{`/`}}` for braces, and text between any two fields.
fn check_output_pattern(pattern: &str) -> Result<(), String> {
    if pattern.contains(['\n', '\r', '\u{1e}']) {
        return Err("an output pattern is matched against one line".into());
    }
    let mut chars = pattern.chars().peekable();
    let mut last_was_field = false;
    let mut fields = 0;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                last_was_field = false;
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                last_was_field = false;
            }
            '{' => {
                if last_was_field {
                    return Err("two fields need text between them".into());
                }
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (name, kind) = field.split_once(':').unwrap_or((&field, ""));
                if !crate::syntax::is_identifier(name) {
                    return Err(format!("`{{{field}}}`: name each field, e.g. `{{ttft:f}}`"));
                }
                if !matches!(kind, "" | "d" | "f" | "g" | "e" | "w") {
                    return Err(format!(
                        "`{{{field}}}`: unknown type `{kind}` (use d, f, g, e, w, or none for any text)"
                    ));
                }
                last_was_field = true;
                fields += 1;
            }
            '}' => return Err("a lone `}` (write `}}` for a brace)".into()),
            _ => last_was_field = false,
        }
    }
    if fields == 0 {
        return Err("an output pattern needs at least one `{field}`".into());
    }
    Ok(())
}

/// `file://` artifacts with inline `content`, written by the script at job start.
fn artifact_files(env: &Env, wf: &Workflow) -> Vec<plan::ArtifactFile> {
    let mut out = Vec::new();
    for a in &wf.artifacts {
        let Some(content) = &a.content else {
            continue;
        };
        let expr::Lookup::Found(v) = env.artifact(&a.name.text) else {
            continue;
        };
        let uri = dict_get(&v, "uri")
            .and_then(Value::to_plain_string)
            .unwrap_or_default();
        let Some(rel) = uri.strip_prefix("file://") else {
            env.report(
                Diagnostic::error("content-needs-file-uri", format!("artifact `{}` has inline content but is not a file:// URI", a.name.text))
                    .at(a.uri.span(), "this URI")
                    .help("inline content is written to a file: use `file://relative/path` (under the run directory) or `file:///absolute/path`"),
            );
            continue;
        };
        if rel.is_empty() || rel.ends_with('/') || rel.split('/').any(|c| c == "..") {
            env.report(
                Diagnostic::error(
                    "bad-artifact-path",
                    format!(
                        "artifact `{}`: `{rel}` must name a file inside the run directory",
                        a.name.text
                    ),
                )
                .at(a.uri.span(), "this URI"),
            );
            continue;
        }
        let ctx = Ctx {
            allow: Allow {
                backends: true,
                artifacts: false,
            },
            ..env.ctx(Level::Global)
        };
        match content.eval(&ctx, env.sources) {
            Ok(value) => {
                let text = value.to_text();
                if forged(&text) {
                    env.report(forged_diagnostic(content.span()));
                    continue;
                }
                let path = dict_get(&v, "path").map(Value::to_text).unwrap_or_default();
                out.push(plan::ArtifactFile {
                    name: a.name.text.clone(),
                    path,
                    content: text,
                });
            }
            Err(d) => {
                if let Some(d) = d {
                    env.report(d);
                }
            }
        }
    }
    out
}

/// The prefix of the markers the runtime fills in; no value may contain it.
const MARKER: &str = "@@sflow:";

fn forged(text: &Text) -> bool {
    text.0
        .iter()
        .any(|p| matches!(p, Piece::Lit(s) if s.contains(MARKER)))
}

fn forged_diagnostic(span: crate::source::Span) -> Diagnostic {
    Diagnostic::error(
        "reserved-marker",
        format!(
            "`{MARKER}` is reserved: the script uses it to fill in values known only in the job"
        ),
    )
    .at(span, "this value contains it")
}

fn dict_get<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// The `task` namespace: facts about placed tasks, built when first read.
struct Facts<'a, 'w> {
    env: &'a Env<'w>,
    x: &'a Expanded,
    placements: &'a [Placement],
    by_name: std::cell::OnceCell<HashMap<&'a str, Entry>>,
    cache: RefCell<HashMap<usize, Value>>,
}

#[derive(Clone, Copy)]
enum Entry {
    Task(usize),
    Replicas(usize),
}

impl<'a, 'w> Facts<'a, 'w> {
    fn new(env: &'a Env<'w>, x: &'a Expanded, placements: &'a [Placement]) -> Facts<'a, 'w> {
        Facts {
            env,
            x,
            placements,
            by_name: std::cell::OnceCell::new(),
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// Every name `task.NAME` can take, built the first time an expression asks.
    fn by_name(&self) -> &HashMap<&'a str, Entry> {
        self.by_name.get_or_init(|| {
            let x = self.x;
            let mut by_name = HashMap::new();
            for (id, t) in x.tasks.iter().enumerate() {
                by_name.insert(t.name.as_str(), Entry::Task(id));
            }
            for (b, base) in x.bases.iter().enumerate() {
                let renamed =
                    base.replicas.len() == 1 && x.tasks[base.replicas[0]].name != base.name;
                if base.replicas.len() > 1 || renamed {
                    by_name.insert(base.name.as_str(), Entry::Replicas(b));
                }
            }
            by_name
        })
    }

    fn fact(&self, id: usize) -> Value {
        if let Some(v) = self.cache.borrow().get(&id) {
            return v.clone();
        }
        let t = &self.x.tasks[id];
        let base = &self.x.bases[t.base];
        let backend = &base.backend;
        let p = &self.placements[id];
        let nodes: Vec<Value> = p
            .nodes
            .iter()
            .enumerate()
            .map(|(pos, &k)| {
                Value::Dict(vec![
                    ("name".into(), node_piece(backend, k, NodeField::Name)),
                    ("ip_address".into(), node_piece(backend, k, NodeField::Ip)),
                    ("index".into(), Value::Int(pos as i64)),
                    (
                        "num_gpus".into(),
                        Value::Int(backend.gpus_per_node.unwrap_or(0) as i64),
                    ),
                ])
            })
            .collect();
        let gpus = p
            .gpus
            .as_ref()
            .map(|g| g.iter().map(|&i| Value::Int(i as i64)).collect())
            .unwrap_or_default();
        let host = p
            .nodes
            .first()
            .map(|&k| node_piece(backend, k, NodeField::Ip))
            .unwrap_or(Value::Str(String::new()));
        let port = self.port(id);
        let url = match &port {
            Some(port) => concat(&[
                Value::Str("http://".into()),
                host.clone(),
                Value::Str(format!(":{port}")),
            ]),
            None => Value::Str(String::new()),
        };
        let value = Value::Dict(vec![
            ("nodes".into(), Value::List(nodes)),
            ("gpus".into(), Value::List(gpus)),
            ("backend".into(), Value::Str(backend.name.clone())),
            ("operator".into(), Value::Str(base.operator.name.clone())),
            (
                "service".into(),
                Value::Dict(vec![
                    ("host".into(), host),
                    (
                        "port".into(),
                        port.map_or(Value::Str(String::new()), |p| Value::Int(p as i64)),
                    ),
                    ("url".into(), url),
                ]),
            ),
        ]);
        self.cache.borrow_mut().insert(id, value.clone());
        value
    }

    fn port(&self, id: usize) -> Option<u16> {
        let t = &self.x.tasks[id];
        let base = &self.x.bases[t.base];
        let decl = &self.env.wf.tasks[base.decl];
        let port = decl.ports.first()?;
        let ctx = Ctx {
            allow: Allow::ALL,
            ..base.ctx(self.env, t.replica.as_ref())
        };
        let v = self.env.eval_const(&port.port, &ctx)?;
        match as_int(&v, 1) {
            Ok(p) if p <= 65_535 => Some(p as u16),
            _ => {
                self.env.report(
                    Diagnostic::error(
                        "bad-port",
                        format!("task `{}`: a port must be 1..65535", decl.name.text),
                    )
                    .at(port.port.span(), "this port"),
                );
                None
            }
        }
    }
}

/// Concatenates text forms (runtime pieces kept).
fn concat(parts: &[Value]) -> Value {
    let mut pieces = Vec::new();
    for p in parts {
        pieces.extend(p.to_text().0);
    }
    let text = normalize(Text(pieces));
    match text.to_plain() {
        Some(s) => Value::Str(s),
        None => Value::Runtime(text),
    }
}

/// Merges adjacent literal pieces.
fn normalize(text: Text) -> Text {
    let mut out: Vec<Piece> = Vec::new();
    for piece in text.0 {
        match (out.last_mut(), piece) {
            (Some(Piece::Lit(prev)), Piece::Lit(s)) => prev.push_str(&s),
            (_, Piece::Lit(s)) if s.is_empty() => {}
            (_, piece) => out.push(piece),
        }
    }
    Text(out)
}

impl TaskFacts for Facts<'_, '_> {
    fn task(&self, name: &str) -> Option<Value> {
        match *self.by_name().get(name)? {
            Entry::Task(id) => Some(self.fact(id)),
            Entry::Replicas(b) => Some(Value::List(
                self.x.bases[b]
                    .replicas
                    .iter()
                    .map(|&id| self.fact(id))
                    .collect(),
            )),
        }
    }

    fn task_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name().keys().map(|s| s.to_string()).collect();
        names.sort();
        names
    }
}

/// Builds one group; collects the values that differ between replicas as slots.
struct Builder<'a, 'w> {
    env: &'a Env<'w>,
    wf: &'a Workflow,
    x: &'a Expanded,
    base: &'a Base,
    facts: &'a Facts<'a, 'w>,
    placements: &'a [Placement],
    /// Per slot: what it holds, and its value for each replica (in replica order).
    slots: Vec<(String, Vec<Text>)>,
}

type Convert<'c> = &'c dyn Fn(&Value) -> Result<Text, String>;

/// An environment variable a group sets: its name and value.
type Export = (String, Word);

impl Builder<'_, '_> {
    fn ctx(&self, replica: Option<usize>) -> Ctx<'_, '_> {
        let replica: Option<&Replica> =
            replica.and_then(|pos| self.x.tasks[self.base.replicas[pos]].replica.as_ref());
        Ctx {
            tasks: Some(self.facts),
            ..self.base.ctx(self.env, replica)
        }
    }

    fn report_forged(&self, span: crate::source::Span) {
        self.env.report(forged_diagnostic(span));
    }

    fn what(&self) -> &str {
        &self.base.name
    }

    /// One value per replica (or one for all), turned into text by `convert`.
    fn word(&mut self, field: &Field, about: &str, convert: Convert) -> Option<Word> {
        if !self.base.varies(field) {
            let v = self.eval(field, None)?;
            return self.convert(field, &v, convert).map(Word::Text);
        }
        let mut values = Vec::with_capacity(self.base.replicas.len());
        for pos in 0..self.base.replicas.len() {
            let v = self.eval(field, Some(pos))?;
            values.push(self.convert(field, &v, convert)?);
        }
        Some(self.slot(about, values))
    }

    fn slot(&mut self, about: &str, values: Vec<Text>) -> Word {
        if values.windows(2).all(|w| w[0] == w[1]) {
            if let Some(first) = values.into_iter().next() {
                return Word::Text(first);
            }
            return Word::lit("");
        }
        // The same values already have a slot (`${{ variables.X }}` and `$X` in one task).
        if let Some(k) = self.slots.iter().position(|(_, v)| *v == values) {
            return Word::Slot(k + 1);
        }
        self.slots.push((about.to_string(), values));
        Word::Slot(self.slots.len())
    }

    fn eval(&self, field: &Field, replica: Option<usize>) -> Option<Value> {
        match field.eval(&self.ctx(replica), self.env.sources) {
            Ok(v) => Some(v),
            Err(d) => {
                if let Some(d) = d {
                    self.env.report(d);
                }
                None
            }
        }
    }

    fn convert(&self, field: &Field, value: &Value, convert: Convert) -> Option<Text> {
        match convert(value) {
            Ok(t) if forged(&t) => {
                self.report_forged(field.span());
                None
            }
            Ok(t) => Some(t),
            Err(message) => {
                self.env.report(
                    Diagnostic::error("bad-value", format!("task `{}`: {message}", self.what()))
                        .at(field.span(), "this value"),
                );
                None
            }
        }
    }

    /// A field that cannot differ between replicas (it decides a flag).
    fn flag(&self, field: &Field) -> Option<bool> {
        let v = self.eval(field, None)?;
        match v {
            Value::Bool(b) => Some(b),
            other => {
                self.env.report(
                    Diagnostic::error(
                        "bad-value",
                        format!(
                            "task `{}`: expected true or false, not {}",
                            self.what(),
                            other.repr_plain()
                        ),
                    )
                    .at(field.span(), "this value"),
                );
                None
            }
        }
    }

    fn group(&mut self, idents: &mut HashMap<String, usize>) -> Option<Group> {
        let decl = &self.wf.tasks[self.base.decl];
        let launch = self.launch()?;
        let (exports, sweeps) = self.exports();
        let results = self.results(decl);
        let probes = self.probes(decl);
        let retry = decl.retries.as_ref().and_then(|r| {
            let count = self.word(&r.count, "retries.count", &|v| int_text(v, 0))?;
            let interval = self.word(&r.interval, "retries.interval", &|v| int_text(v, 0))?;
            let backoff = match &r.backoff {
                Some(b) => self.word(b, "retries.backoff", &|v| int_text(v, 1))?,
                None => Word::lit("1"),
            };
            Some([count, interval, backoff])
        });
        let timeout = decl
            .timeout
            .as_ref()
            .and_then(|f| self.word(f, "timeout", &|v| duration_text(v)));
        let script = self.script(decl)?;
        let ident = ident_for(&self.base.name, idents);
        Some(Group {
            base: self.base.name.clone(),
            ident,
            about: self.about(),
            local: self.base.backend.kind == BackendKind::Local,
            launch,
            exports,
            sweeps,
            swept: self.base.swept.clone(),
            probes,
            results,
            retry,
            timeout,
            script,
            slots: self.slots.iter().map(|(about, _)| about.clone()).collect(),
        })
    }

    fn about(&self) -> String {
        let base = self.base;
        let mut parts = Vec::new();
        if base.replicated {
            let n = base.replicas.len();
            parts.push(format!(
                "{n} replica{} ({})",
                if n == 1 { "" } else { "s" },
                match base.policy {
                    crate::expand::Policy::Parallel => "parallel",
                    crate::expand::Policy::Sequential => "sequential",
                }
            ));
        }
        if !base.swept.is_empty() {
            parts.push(format!("sweep {}", base.swept.join(" × ")));
        }
        if let Some(first) = base.replicas.first()
            && let Some(g) = &self.placements[*first].gpus
        {
            parts.push(format!(
                "{} GPU{}{}",
                g.len(),
                if g.len() == 1 { "" } else { "s" },
                if base.replicas.len() > 1 { " each" } else { "" }
            ));
        }
        if base.service {
            parts.push("service".into());
        }
        parts.push(format!("operator {}", base.operator.name));
        parts.join(" · ")
    }

    fn op_field(&self, key: &str) -> Option<&Field> {
        self.base
            .operator
            .fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, f)| f)
    }

    fn launch(&mut self) -> Option<Vec<Word>> {
        match self.base.operator.kind {
            OperatorKind::Srun => self.srun(),
            OperatorKind::Bash => Some(vec![Word::lit("bash")]),
            OperatorKind::Python => {
                let mut words = vec![Word::lit("python")];
                match self.op_field("python_exec").cloned() {
                    Some(f) => words.push(self.word(&f, "python_exec", &|v| text_of(v))?),
                    None => words.push(Word::lit("python")),
                }
                words.extend(self.extra_args()?);
                Some(words)
            }
            OperatorKind::Ssh => {
                let mut words = vec![Word::lit("ssh"), Word::lit("ssh")];
                if let Some(f) = self.op_field("port").cloned() {
                    words.push(Word::lit("-p"));
                    words.push(self.word(&f, "ssh port", &|v| int_text(v, 1))?);
                }
                if let Some(f) = self.op_field("identity_file").cloned() {
                    words.push(Word::lit("-i"));
                    words.push(self.word(&f, "identity_file", &|v| text_of(v))?);
                }
                words.extend(self.extra_args()?);
                let host = self.op_field("host").cloned();
                let Some(host) = host else {
                    self.env.report(
                        Diagnostic::error(
                            "missing-key",
                            format!(
                                "the ssh operator `{}` has no `host`",
                                self.base.operator.name
                            ),
                        )
                        .at(self.wf.tasks[self.base.decl].name.span, "used here"),
                    );
                    return None;
                };
                let host = self.word(&host, "ssh host", &|v| text_of(v))?;
                let dest = match self.op_field("user").cloned() {
                    Some(user) => {
                        let user = self.word(&user, "ssh user", &|v| text_of(v))?;
                        match (user, host) {
                            (Word::Text(u), Word::Text(h)) => {
                                let mut pieces = u.0;
                                pieces.push(Piece::Lit("@".into()));
                                pieces.extend(h.0);
                                Word::Text(normalize(Text(pieces)))
                            }
                            _ => {
                                self.env.report(
                                    Diagnostic::error(
                                        "varying-field",
                                        format!(
                                            "task `{}`: the ssh user and host cannot both differ between replicas",
                                            self.what()
                                        ),
                                    )
                                    .at(self.wf.tasks[self.base.decl].name.span, "this task"),
                                );
                                return None;
                            }
                        }
                    }
                    None => host,
                };
                words.push(dest);
                Some(words)
            }
        }
    }

    /// `extra_args`, each entry split like a shell would.
    fn extra_args(&mut self) -> Option<Vec<Word>> {
        let Some(field) = self.op_field("extra_args").cloned() else {
            return Some(Vec::new());
        };
        let items: Vec<Field> = match &field.kind {
            FieldKind::List(items) => items.clone(),
            FieldKind::Lit(Value::None) => Vec::new(),
            _ => vec![field.clone()],
        };
        let mut out = Vec::new();
        for item in &items {
            if self.base.varies(item) {
                out.push(self.word(item, "extra_args", &|v| text_of(v))?);
                continue;
            }
            // An expression may give a whole list (`extra_args: "${{ ARGS }}"`).
            let values = match self.eval(item, None)? {
                Value::List(values) => values,
                Value::None => Vec::new(),
                v => vec![v],
            };
            for v in values {
                match split_words(&v.to_text()) {
                    Ok(words) => out.extend(words.into_iter().map(Word::Text)),
                    Err(message) => {
                        self.env.report(
                            Diagnostic::error(
                                "bad-value",
                                format!("task `{}`: extra_args: {message}", self.what()),
                            )
                            .at(item.span(), "this argument"),
                        );
                        return None;
                    }
                }
            }
        }
        Some(out)
    }

    fn srun(&mut self) -> Option<Vec<Word>> {
        let mut words = vec![Word::lit("srun")];
        let value_opts: &[(&str, &str)] = &[
            ("partition", "--partition"),
            ("account", "--account"),
            ("qos", "--qos"),
            ("reservation", "--reservation"),
            ("time", "--time"),
            ("constraint", "--constraint"),
        ];
        for (key, flag) in value_opts {
            self.opt(&mut words, key, flag)?;
        }
        if self.bool_opt("exclusive", false)? {
            words.push(Word::lit("--exclusive"));
        }
        self.opt(&mut words, "chdir", "--chdir")?;

        // --nodes and --nodelist from the plan unless the operator names them.
        let nodelist = self.op_field("nodelist").cloned();
        let nodelist_word = match nodelist {
            Some(f) if !matches!(&f.kind, FieldKind::Lit(Value::List(l)) if l.is_empty()) => {
                Some(self.word(&f, "nodelist", &|v| match v {
                    Value::List(items) => {
                        let texts: Vec<Text> = items.iter().map(Value::to_text).collect();
                        Ok(join_texts(&texts, ","))
                    }
                    other => text_of(other),
                })?)
            }
            _ => None,
        };
        let nodes_word = match self.op_field("nodes").cloned() {
            Some(f) => {
                Some(self.word(&f, "nodes", &|v| int_text(v, 0))?).filter(|w| *w != Word::lit("0"))
            }
            None => None,
        };
        let nodes_word = match nodes_word {
            Some(w) => w,
            None if nodelist_word.is_some() => {
                let n = match &nodelist_word {
                    Some(Word::Text(t)) => plan::script_text(t).split(',').count(),
                    _ => 0,
                };
                if n == 0 {
                    self.env.report(
                        Diagnostic::error(
                            "varying-field",
                            format!(
                                "task `{}`: give `nodes` when `nodelist` differs between replicas",
                                self.what()
                            ),
                        )
                        .at(self.wf.tasks[self.base.decl].name.span, "this task"),
                    );
                    return None;
                }
                Word::lit(n.to_string())
            }
            None => {
                let counts: Vec<Text> = self
                    .base
                    .replicas
                    .iter()
                    .map(|&id| plan::lit(self.placements[id].nodes.len().to_string()))
                    .collect();
                self.slot("the number of nodes", counts)
            }
        };
        words.push(joined("--nodes=", nodes_word));
        words.push(joined(
            "--nodelist=",
            nodelist_word.unwrap_or_else(|| Word::lit("@@sflow:task.nodelist@@")),
        ));
        for (key, flag) in [
            ("ntasks", "--ntasks"),
            ("ntasks_per_node", "--ntasks-per-node"),
            ("cpus_per_task", "--cpus-per-task"),
            ("gpus", "--gpus"),
            ("gpus_per_task", "--gpus-per-task"),
            ("gres", "--gres"),
            ("mem", "--mem"),
            ("mem_per_cpu", "--mem-per-cpu"),
        ] {
            self.opt(&mut words, key, flag)?;
        }
        words.push(Word::lit("--job-name=@@sflow:task.name@@"));
        if self.bool_opt("unbuffered", true)? {
            words.push(Word::lit("--unbuffered"));
        }
        match self.op_field("export").cloned() {
            Some(f) => {
                let w = self.word(&f, "export", &|v| text_of(v))?;
                words.push(joined("--export=", w));
            }
            None => words.push(Word::lit("--export=ALL")),
        }
        if self.bool_opt("label", true)? {
            words.push(Word::lit("--label"));
        }
        if self.bool_opt("kill_on_bad_exit", false)? {
            words.push(Word::lit("--kill-on-bad-exit"));
        }
        if self.bool_opt("overlap", true)? {
            words.push(Word::lit("--overlap"));
        }
        self.opt(&mut words, "wait", "--wait")?;
        self.opt(&mut words, "mpi", "--mpi")?;
        let extra = self.extra_args()?;
        words.extend(self.container(&extra)?);
        Some(words)
    }

    fn opt(&mut self, words: &mut Vec<Word>, key: &str, flag: &str) -> Option<()> {
        let Some(f) = self.op_field(key).cloned() else {
            return Some(());
        };
        if matches!(f.kind, FieldKind::Lit(Value::None)) {
            return Some(());
        }
        let w = self.word(&f, key, &|v| text_of(v))?;
        words.push(joined(&format!("{flag}="), w));
        Some(())
    }

    fn bool_opt(&self, key: &str, default: bool) -> Option<bool> {
        match self.op_field(key) {
            Some(f) if matches!(f.kind, FieldKind::Lit(Value::None)) => Some(default),
            Some(f) => self.flag(f),
            None => Some(default),
        }
    }

    /// The Pyxis container flags, then `extra_args` (minus the mounts they carried).
    fn container(&mut self, extra: &[Word]) -> Option<Vec<Word>> {
        let image = self.op_field("container_image").cloned();
        let name = self.op_field("container_name").cloned();
        let none = |f: &Option<Field>| {
            f.as_ref()
                .is_none_or(|f| matches!(f.kind, FieldKind::Lit(Value::None)))
        };
        let starts = |w: &Word, flag: &str| match w {
            Word::Text(t) => plan::script_text(t).starts_with(flag),
            Word::Slot(_) => false,
        };
        let in_extra = extra
            .iter()
            .any(|w| starts(w, "--container-image") || starts(w, "--container-name"));
        if !none(&image) && !none(&name) {
            let span = image.as_ref().map(|f| f.span()).unwrap_or_default();
            self.env.report(
                Diagnostic::error(
                    "container-image-and-name",
                    format!("task `{}`: `container_image` and `container_name` cannot both be set", self.what()),
                )
                .at(span, "container_image")
                .help("to import an image once and reuse it, set `container_name` and pass `--container-image=…` in `extra_args`"),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut rest = Vec::new();
        let mut mounts: Vec<Word> = Vec::new();
        if let Some(f) = self.op_field("container_mounts").cloned() {
            match &f.kind {
                FieldKind::List(items) => {
                    for item in items {
                        mounts.push(self.word(item, "container_mounts", &|v| text_of(v))?);
                    }
                }
                FieldKind::Lit(Value::None) => {}
                _ => mounts.push(self.word(&f, "container_mounts", &|v| text_of(v))?),
            }
        }
        let mut iter = extra.iter().peekable();
        while let Some(w) = iter.next() {
            match w {
                Word::Text(t) if plan::script_text(t) == "--container-mounts" => {
                    if let Some(next) = iter.next() {
                        mounts.push(next.clone());
                    }
                }
                Word::Text(t) if plan::script_text(t).starts_with("--container-mounts=") => {
                    let mut pieces = t.0.clone();
                    if let Some(Piece::Lit(s)) = pieces.first_mut() {
                        *s = s["--container-mounts=".len()..].to_string();
                    }
                    mounts.push(Word::Text(normalize(Text(pieces))));
                }
                other => rest.push(other.clone()),
            }
        }
        if none(&image) && none(&name) && !in_extra {
            out.extend(rest);
            return Some(out);
        }
        if let Some(f) = image
            && !matches!(f.kind, FieldKind::Lit(Value::None))
        {
            let w = self.word(&f, "container_image", &|v| text_of(v))?;
            out.push(joined("--container-image=", w));
        }
        if let Some(f) = name
            && !matches!(f.kind, FieldKind::Lit(Value::None))
        {
            let w = self.word(&f, "container_name", &|v| text_of(v))?;
            out.push(joined("--container-name=", w));
        }
        out.push(Word::lit(
            if self.bool_opt("container_mount_home", false)? {
                "--container-mount-home"
            } else {
                "--no-container-mount-home"
            },
        ));
        if self.bool_opt("container_writable", true)? {
            out.push(Word::lit("--container-writable"));
        }
        self.opt(&mut out, "container_workdir", "--container-workdir")?;
        if self.bool_opt("container_remap_root", false)? {
            out.push(Word::lit("--container-remap-root"));
        }
        // Same-path mounts: local artifact paths and the sflow directories.
        for path in self.artifact_mounts() {
            mounts.push(Word::Text(same_path(path)));
        }
        for dir in [
            Piece::Workspace,
            Piece::OutputDir,
            Piece::RunDir,
            Piece::TaskDir,
        ] {
            mounts.push(Word::Text(same_path(Text(vec![dir]))));
        }
        let mut seen = Vec::new();
        let mut joined_mounts: Vec<Piece> = Vec::new();
        let mut varying = Vec::new();
        for m in mounts {
            match m {
                Word::Text(t) => {
                    if seen.contains(&t) {
                        continue;
                    }
                    if !joined_mounts.is_empty() {
                        joined_mounts.push(Piece::Lit(",".into()));
                    }
                    joined_mounts.extend(t.0.clone());
                    seen.push(t);
                }
                slot => varying.push(slot),
            }
        }
        if !varying.is_empty() {
            self.env.report(
                Diagnostic::error(
                    "varying-field",
                    format!(
                        "task `{}`: container mounts cannot differ between replicas",
                        self.what()
                    ),
                )
                .at(self.wf.tasks[self.base.decl].name.span, "this task"),
            );
            return None;
        }
        let mut pieces = vec![Piece::Lit("--container-mounts=".into())];
        pieces.extend(joined_mounts);
        out.push(Word::Text(normalize(Text(pieces))));
        out.extend(rest);
        Some(out)
    }

    /// Local paths of `fs://`/`file://` artifacts (a file's parent directory).
    fn artifact_mounts(&self) -> Vec<Text> {
        let mut out = Vec::new();
        for a in &self.wf.artifacts {
            let expr::Lookup::Found(v) = self.env.artifact(&a.name.text) else {
                continue;
            };
            let (Some(uri), Some(path)) = (dict_get(&v, "uri"), dict_get(&v, "path")) else {
                continue;
            };
            let uri = uri.to_plain_string().unwrap_or_default();
            let is_file = uri.starts_with("file://");
            if !(is_file || uri.starts_with("fs://")) {
                continue;
            }
            let path = path.to_text();
            let text = plan::script_text(&path);
            if text.ends_with(".sqsh") {
                continue;
            }
            if is_file {
                let mut pieces = path.0.clone();
                if let Some(Piece::Lit(last)) = pieces.last_mut() {
                    match last.rfind('/') {
                        Some(0) => *last = "/".into(),
                        Some(i) => last.truncate(i),
                        None => {}
                    }
                }
                out.push(normalize(Text(pieces)));
            } else {
                out.push(path);
            }
        }
        out
    }

    /// Task-level variables and every variable whose value differs between replicas;
    /// the swept ones apart.
    fn exports(&mut self) -> (Vec<Export>, Vec<Export>) {
        let decl = &self.wf.tasks[self.base.decl];
        let mut names: Vec<(String, Level)> = Vec::new();
        for level in [Level::Global, Level::Workflow] {
            let decls = match level {
                Level::Global => &self.wf.variables,
                _ => &self.wf.workflow_variables,
            };
            for d in decls {
                if self.base.variant_names.contains(&d.name.text)
                    && !names.iter().any(|(n, _)| *n == d.name.text)
                {
                    names.push((d.name.text.clone(), level));
                }
            }
        }
        for d in &decl.variables {
            names.retain(|(n, _)| *n != d.name.text);
            names.push((d.name.text.clone(), Level::Task(self.base.decl)));
        }
        let mut out = Vec::new();
        let mut sweeps = Vec::new();
        for (name, _) in names {
            let level = Level::Task(self.base.decl);
            let Some(key) = self.env.find(level, &name) else {
                continue;
            };
            let swept = self.base.swept.contains(&name);
            let variant = swept || self.base.dependent.contains(&key);
            let word = if variant {
                let mut values = Vec::new();
                for &id in &self.base.replicas {
                    let replica = self.x.tasks[id].replica.as_ref();
                    let value = match replica.and_then(|r| r.value(&name)) {
                        Some(v) => Some(v.clone()),
                        None => match self.env.variable(key, replica) {
                            expr::Lookup::Found(v) => Some(v.value),
                            _ => None,
                        },
                    };
                    match value {
                        Some(v) if forged(&v.to_text()) => {
                            self.report_forged(self.env.decl(key).value.span());
                            return (out, sweeps);
                        }
                        Some(v) => values.push(v.to_text()),
                        None => return (out, sweeps),
                    }
                }
                self.slot(&name, values)
            } else {
                match self.env.variable(key, None) {
                    expr::Lookup::Found(v) if forged(&v.value.to_text()) => {
                        self.report_forged(self.env.decl(key).value.span());
                        continue;
                    }
                    expr::Lookup::Found(v) => Word::Text(v.value.to_text()),
                    _ => continue,
                }
            };
            if swept {
                sweeps.push((name, word));
            } else {
                out.push((name, word));
            }
        }
        (out, sweeps)
    }

    /// What to read from the log: `result` rules and gates, `outputs` patterns.
    fn results(&mut self, decl: &crate::syntax::TaskDecl) -> Option<plan::Results> {
        if decl.result.is_none() && decl.outputs.is_empty() {
            return None;
        }
        let mut results = plan::Results::default();
        if let Some(spec) = &decl.result {
            results.file = spec.file;
            for rule in &spec.rules {
                match ere(&rule.pattern.text) {
                    Ok((text, group)) => {
                        // No group: the whole match is the value.
                        let (text, group) = if group == 0 {
                            (format!("({text})"), 1)
                        } else {
                            (text, group)
                        };
                        if group > 9 {
                            self.env.report(
                                Diagnostic::error(
                                    "bad-pattern",
                                    "the value's group must be one of the first nine groups",
                                )
                                .at(rule.pattern.span, "this pattern"),
                            );
                            continue;
                        }
                        results.rules.push((
                            rule.name.text.clone(),
                            rule.aggregate.name(),
                            group,
                            text,
                        ));
                    }
                    Err(message) => self.env.report(
                        Diagnostic::error("bad-pattern", message)
                            .at(rule.pattern.span, "this pattern"),
                    ),
                }
            }
            for gate in &spec.expect {
                let known = spec.file || spec.rules.iter().any(|r| r.name.text == gate.name.text);
                if !known {
                    self.env.report(
                        Diagnostic::error(
                            "unknown-result",
                            format!(
                                "`expect` checks `{}`, which no result rule produces",
                                gate.name.text
                            ),
                        )
                        .at(gate.name.span, "no result with this name")
                        .suggest(
                            &gate.name.text,
                            spec.rules.iter().map(|r| r.name.text.as_str()),
                        ),
                    );
                }
                results
                    .expect
                    .push((gate.name.text.clone(), gate.op, gate.value.clone()));
            }
        }
        for pattern in &decl.outputs {
            match check_output_pattern(&pattern.text) {
                Ok(()) => results.outputs.push(pattern.text.clone()),
                Err(message) => self.env.report(
                    Diagnostic::error("bad-pattern", message).at(pattern.span, "this pattern"),
                ),
            }
        }
        Some(results)
    }

    fn probes(&mut self, decl: &crate::syntax::TaskDecl) -> Vec<ProbeSpec> {
        let mut out = Vec::new();
        for (readiness, list) in [(true, &decl.readiness), (false, &decl.failure)] {
            for probe in list {
                if let Some(spec) = self.probe(readiness, probe) {
                    out.push(spec);
                }
            }
        }
        out
    }

    fn probe(&mut self, readiness: bool, probe: &Probe) -> Option<ProbeSpec> {
        let mut options: Vec<(&'static str, Word)> = Vec::new();
        let kind = match &probe.kind {
            ProbeKind::Tcp {
                port,
                host,
                on_node,
            } => {
                options.push(("--port", self.word(port, "probe port", &|v| port_text(v))?));
                if let Some(h) = host {
                    options.push(("--host", self.word(h, "probe host", &|v| text_of(v))?));
                }
                if let Some(n) = on_node {
                    options.push((
                        "--on-node",
                        self.word(
                            n,
                            "probe on_node",
                            &|v| match v.to_plain_string().as_deref() {
                                Some("first") => Ok(plan::lit("first")),
                                Some("each") => Ok(plan::lit("each")),
                                _ => Err("on_node must be `first` or `each`".into()),
                            },
                        )?,
                    ));
                }
                "tcp_port"
            }
            ProbeKind::Http {
                post,
                url,
                headers,
                body,
            } => {
                options.push(("--url", self.word(url, "probe url", &|v| url_text(v))?));
                for (name, value) in headers {
                    let header_name = name.name.clone();
                    let w = self.word(value, "probe header", &move |v| {
                        let t = v.to_text();
                        let mut pieces = vec![Piece::Lit(format!("{header_name}: "))];
                        pieces.extend(t.0);
                        let t = normalize(Text(pieces));
                        if plan::script_text(&t).contains(['\n', '\r']) {
                            return Err("a header cannot contain a line break".into());
                        }
                        Ok(t)
                    })?;
                    options.push(("--header", w));
                }
                if let Some(b) = body {
                    options.push(("--body", self.word(b, "probe body", &|v| Ok(v.to_text()))?));
                }
                if *post { "http_post" } else { "http_get" }
            }
            ProbeKind::LogWatch {
                pattern,
                logger,
                match_count,
            } => {
                let (text, regex) = if let Some(p) = pattern.text.strip_prefix("re:") {
                    (p, true)
                } else if let Some(p) = pattern.text.strip_prefix("regex:") {
                    (p, true)
                } else {
                    (pattern.text.as_str(), false)
                };
                let text = if regex {
                    match ere(text) {
                        Ok((t, _)) => t,
                        Err(message) => {
                            self.env.report(
                                Diagnostic::error("bad-pattern", message)
                                    .at(pattern.span, "this pattern"),
                            );
                            return None;
                        }
                    }
                } else {
                    text.to_string()
                };
                if text.contains('\n') {
                    self.env.report(
                        Diagnostic::error(
                            "bad-pattern",
                            "a log pattern is matched line by line and cannot contain a line break",
                        )
                        .at(pattern.span, "this pattern"),
                    );
                    return None;
                }
                options.push(("--pattern", Word::lit(text)));
                options.push(("--regex", Word::lit(if regex { "1" } else { "0" })));
                if let Some(l) = logger {
                    let names = self.logger_names(l)?;
                    for n in names {
                        options.push(("--logger", Word::lit(n)));
                    }
                }
                if let Some(m) = match_count {
                    options.push((
                        "--match-count",
                        self.word(m, "match_count", &|v| int_text(v, 1))?,
                    ));
                }
                "log_watch"
            }
        };
        let timing: [(&Option<Field>, &'static str, i64); 6] = [
            (&probe.delay, "--delay", 0),
            (&probe.interval, "--interval", 0),
            (&probe.timeout, "--timeout", 0),
            (&probe.each_check_timeout, "--check-timeout", 1),
            (&probe.success_threshold, "--success-threshold", 1),
            (&probe.failure_threshold, "--failure-threshold", 1),
        ];
        for (field, flag, min) in timing {
            if let Some(f) = field {
                let w = if matches!(
                    flag,
                    "--delay" | "--interval" | "--timeout" | "--check-timeout"
                ) {
                    self.word(f, flag, &move |v| {
                        let t = duration_text(v)?;
                        let n: i64 = plan::script_text(&t).parse().unwrap_or(0);
                        if n < min {
                            return Err(format!("must be at least {min} seconds"));
                        }
                        Ok(t)
                    })?
                } else {
                    self.word(f, flag, &move |v| int_text(v, min))?
                };
                options.push((flag, w));
            }
        }
        Some(ProbeSpec {
            readiness,
            kind,
            options,
        })
    }

    fn logger_names(&self, logger: &crate::syntax::Name) -> Option<Vec<String>> {
        if let Some(base) = self.x.bases.iter().find(|b| b.name == logger.text) {
            return Some(
                base.replicas
                    .iter()
                    .map(|&id| self.x.tasks[id].name.clone())
                    .collect(),
            );
        }
        self.env.report(
            Diagnostic::error(
                "unknown-logger",
                format!("`logger` names unknown task `{}`", logger.text),
            )
            .at(logger.span, "no task with this name")
            .suggest(&logger.text, self.x.bases.iter().map(|b| b.name.as_str())),
        );
        None
    }

    /// The script lines, with values that differ between replicas as slots.
    fn script(&mut self, decl: &crate::syntax::TaskDecl) -> Option<String> {
        let mut out = String::new();
        if decl.fail_fast {
            out.push_str("# sflow: fail-fast\nset -e\n");
        }
        let mut ok = true;
        for (i, line) in decl.script.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            match &line.kind {
                FieldKind::Lit(v) => {
                    let text = v.to_plain_string().unwrap_or_default();
                    if text.contains(MARKER) {
                        self.report_forged(line.span());
                        ok = false;
                    }
                    out.push_str(&text);
                }
                FieldKind::Tmpl(t) => {
                    let mut text = String::new();
                    for segment in &t.segments {
                        match segment {
                            Segment::Lit(s) if s.contains(MARKER) => {
                                self.report_forged(line.span());
                                ok = false;
                            }
                            Segment::Lit(s) => text.push_str(s),
                            Segment::Expr { expr, start, .. } => {
                                match self.segment(line, expr, *start) {
                                    Some(s) => text.push_str(&s),
                                    None => ok = false,
                                }
                            }
                        }
                    }
                    // As in the reference: a line with an expression loses one final newline.
                    if let Some(stripped) = text.strip_suffix('\n') {
                        text.truncate(stripped.len());
                    }
                    out.push_str(&text);
                }
                _ => {}
            }
        }
        if out.contains('\0') {
            self.env.report(
                Diagnostic::error("nul-byte", "a script cannot contain a NUL byte")
                    .at(decl.name.span, "in this task"),
            );
            return None;
        }
        ok.then_some(out)
    }

    /// One `${{ }}` of a script line: its text, or its slot's marker.
    fn segment(&mut self, line: &Field, expr: &expr::Expr, start: usize) -> Option<String> {
        let refs = expr::variable_refs(expr);
        let varies = refs
            .iter()
            .any(|(name, _, _)| self.base.variant_names.contains(name));
        let eval = |this: &Self, replica: Option<usize>| -> Option<Text> {
            match expr::eval(expr, &this.ctx(replica)) {
                Ok(v) if forged(&v.to_text()) => {
                    this.report_forged(line.span());
                    None
                }
                Ok(v) => Some(v.to_text()),
                Err(e) => {
                    if !e.reported {
                        let shifted = expr::ExprError {
                            start: e.start + start + 3,
                            end: e.end + start + 3,
                            ..e
                        };
                        this.env
                            .report(expr_diagnostic(&line.node, &shifted, this.env.sources));
                    }
                    None
                }
            }
        };
        if !varies {
            return eval(self, None).map(|t| plan::script_text(&t));
        }
        let mut values = Vec::with_capacity(self.base.replicas.len());
        for pos in 0..self.base.replicas.len() {
            values.push(eval(self, Some(pos))?);
        }
        let about = format!("`{}` in the script", expr_source(line, start));
        Some(match self.slot(&about, values) {
            Word::Text(t) => plan::script_text(&t),
            Word::Slot(k) => format!("@@sflow:{k}@@"),
        })
    }
}

/// The `${{ … }}` text of a script expression starting at byte `start`, for comments.
fn expr_source(line: &Field, start: usize) -> String {
    let crate::load::NodeValue::Str(s) = &line.node.value else {
        return String::new();
    };
    let rest = &s[start.min(s.len())..];
    let end = rest.find("}}").map_or(rest.len(), |i| i + 2);
    rest[..end].replace(['\n', '\r'], " ")
}

fn ident_for(name: &str, idents: &mut HashMap<String, usize>) -> String {
    let base: String = name.chars().map(crate::syntax::ident_char).collect();
    let n = idents.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 { base } else { format!("{base}_{n}") }
}

fn joined(prefix: &str, word: Word) -> Word {
    match word {
        Word::Text(t) => {
            let mut pieces = vec![Piece::Lit(prefix.to_string())];
            pieces.extend(t.0);
            Word::Text(normalize(Text(pieces)))
        }
        Word::Slot(k) => Word::Text(plan::lit(format!("{prefix}@@sflow:{k}@@"))),
    }
}

fn join_texts(texts: &[Text], sep: &str) -> Text {
    let mut pieces = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            pieces.push(Piece::Lit(sep.to_string()));
        }
        pieces.extend(t.0.iter().cloned());
    }
    normalize(Text(pieces))
}

fn same_path(path: Text) -> Text {
    let mut pieces = path.0.clone();
    pieces.push(Piece::Lit(":".into()));
    pieces.extend(path.0);
    pieces.push(Piece::Lit(":rw".into()));
    normalize(Text(pieces))
}

fn text_of(v: &Value) -> Result<Text, String> {
    match v {
        Value::None => Err("a value is required here".into()),
        v => Ok(v.to_text()),
    }
}

fn int_text(v: &Value, min: i64) -> Result<Text, String> {
    as_int(v, min).map(|n| plan::lit(n.to_string()))
}

fn port_text(v: &Value) -> Result<Text, String> {
    match as_int(v, 1) {
        Ok(n) if n <= 65_535 => Ok(plan::lit(n.to_string())),
        _ => Err(format!("a port must be 1..65535, not {}", v.repr_plain())),
    }
}

fn url_text(v: &Value) -> Result<Text, String> {
    let t = v.to_text();
    let start = match t.0.first() {
        Some(Piece::Lit(s)) => s.clone(),
        _ => String::new(),
    };
    if !(start.starts_with("http://") || start.starts_with("https://")) {
        return Err(format!(
            "a probe URL must start with http:// or https://, not {}",
            v.repr_plain()
        ));
    }
    Ok(t)
}

fn duration_text(v: &Value) -> Result<Text, String> {
    let seconds = match v {
        Value::Int(n) if *n >= 0 => *n as u64,
        Value::Str(s) => duration::seconds(s)?,
        other => return Err(format!("expected a duration, not {}", other.repr_plain())),
    };
    Ok(plan::lit(seconds.to_string()))
}

fn seconds(env: &Env, v: &Value, field: &Field, what: &str) -> Option<u64> {
    match duration_text(v) {
        Ok(t) => plan::script_text(&t).parse().ok(),
        Err(message) => {
            env.report(
                Diagnostic::error("bad-duration", format!("{what}: {message}"))
                    .at(field.span(), "this value"),
            );
            None
        }
    }
}

/// Splits an argument the way a POSIX shell would (quotes and backslashes), keeping
/// runtime pieces inside the word they appear in.
pub fn split_words(text: &Text) -> Result<Vec<Text>, String> {
    let mut words: Vec<Text> = Vec::new();
    let mut current: Vec<Piece> = Vec::new();
    let mut has_word = false;
    let mut lit = String::new();
    let mut quote: Option<char> = None;
    let flush_lit = |lit: &mut String, current: &mut Vec<Piece>| {
        if !lit.is_empty() {
            current.push(Piece::Lit(std::mem::take(lit)));
        }
    };
    for piece in &text.0 {
        let Piece::Lit(s) = piece else {
            flush_lit(&mut lit, &mut current);
            current.push(piece.clone());
            has_word = true;
            continue;
        };
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => {
                    if has_word {
                        flush_lit(&mut lit, &mut current);
                        words.push(normalize(Text(std::mem::take(&mut current))));
                        has_word = false;
                    }
                }
                (None, '\'' | '"') => {
                    quote = Some(c);
                    has_word = true;
                }
                (None, '\\') => {
                    if let Some(n) = chars.next() {
                        lit.push(n);
                    }
                    has_word = true;
                }
                (Some(q), c) if c == q => quote = None,
                (Some('"'), '\\') => match chars.next() {
                    Some(n @ ('"' | '\\' | '$' | '`')) => lit.push(n),
                    Some(n) => {
                        lit.push('\\');
                        lit.push(n);
                    }
                    None => lit.push('\\'),
                },
                (_, c) => {
                    lit.push(c);
                    has_word = true;
                }
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if has_word {
        flush_lit(&mut lit, &mut current);
        words.push(normalize(Text(current)));
    }
    Ok(words)
}

/// A Python regex as a POSIX extended regex for `grep -E` and `sed -E`, with the
/// number of the ERE group that holds Python's first capturing group (0: none).
pub fn ere(pattern: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let (mut groups, mut first) = (0, 0);
    if pattern.chars().any(|c| c.is_control() && c != '\t') {
        return Err("a log pattern cannot contain control characters".into());
    }
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    return Err("the pattern ends with a lone backslash".into());
                };
                let class = match n {
                    'd' => Some(("0-9", "[0-9]", "[^0-9]", false)),
                    'D' => Some(("", "", "[^0-9]", true)),
                    's' => Some(("[:space:]", "[[:space:]]", "", false)),
                    'S' => Some(("", "", "[^[:space:]]", true)),
                    'w' => Some(("[:alnum:]_", "[[:alnum:]_]", "", false)),
                    'W' => Some(("", "", "[^[:alnum:]_]", true)),
                    _ => None,
                };
                match class {
                    Some((inside, _, negated, true)) => {
                        if in_class {
                            return Err(format!(
                                "`\\{n}` inside [...] is not supported in log patterns"
                            ));
                        }
                        let _ = inside;
                        out.push_str(negated);
                    }
                    Some((inside, outside, _, false)) => {
                        out.push_str(if in_class { inside } else { outside });
                    }
                    None => match n {
                        't' => out.push('\t'),
                        'A' | 'Z' | 'z' => {
                            return Err(format!("`\\{n}` is not supported in log patterns"));
                        }
                        c if c.is_ascii_digit() && !in_class => {
                            return Err("back-references are not supported in log patterns".into());
                        }
                        c => {
                            out.push('\\');
                            out.push(c);
                        }
                    },
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '(' if !in_class && chars.peek() == Some(&'?') => {
                chars.next();
                match chars.next() {
                    Some(':') => {
                        groups += 1;
                        out.push('(');
                    }
                    _ => return Err("lookarounds and other `(?…)` groups are not supported in log patterns; only `(?:…)`".into()),
                }
            }
            '(' if !in_class => {
                groups += 1;
                if first == 0 {
                    first = groups;
                }
                out.push('(');
            }
            '*' | '+' | '?' | '}' if !in_class && chars.peek() == Some(&'?') => {
                return Err(format!(
                    "the lazy quantifier `{c}?` has no POSIX equivalent; narrow the class instead (e.g. `[^0-9]*` rather than `.*?`)"
                ));
            }
            c => out.push(c),
        }
    }
    if in_class {
        return Err("unterminated `[` in the pattern".into());
    }
    Ok((out, first))
}

/// `#SBATCH` lines from the Slurm backend and the command line. Values are checked, not
/// quoted: sbatch reads these lines with its own rules.
fn sbatch_lines(
    env: &Env,
    wf: &Workflow,
    backend: &crate::resolve::Backend,
    options: &Options,
) -> Vec<String> {
    let mut lines = Vec::new();
    let job_name = options
        .job_name
        .clone()
        .or_else(|| backend.job_name.clone())
        .unwrap_or_else(|| wf.name.text.clone());
    let time = match &options.time {
        Some(t) => match duration::slurm_time(t) {
            Ok(t) => Some(t),
            Err(message) => {
                env.report(Diagnostic::error(
                    "bad-duration",
                    format!("-t/--time: {message}"),
                ));
                None
            }
        },
        None => backend.time.clone(),
    };
    let mut push = |flag: &str, value: &str, origin: &str| {
        match directive_ok(value) {
            Ok(()) => lines.push(format!("--{flag}={value}")),
            Err(c) => env.report(
                Diagnostic::error(
                    "bad-sbatch-value",
                    format!("{origin}: `{flag}` value {value:?} contains {c}, which #SBATCH lines cannot carry safely"),
                )
                .at(backend.span, "in this backend"),
            ),
        }
    };
    push("job-name", &job_name, "the job name");
    push("nodes", &backend.nodes.to_string(), "nodes");
    if let Some(t) = &time {
        push("time", t, "the time limit");
    }
    if let Some(p) = options.partition.as_ref().or(backend.partition.as_ref()) {
        push("partition", p, "the partition");
    }
    if let Some(a) = options.account.as_ref().or(backend.account.as_ref()) {
        push("account", a, "the account");
    }
    push("output", "%x-%j.out", "output");
    let extra: Vec<&String> = backend
        .extra_args
        .iter()
        .chain(&options.sbatch_args)
        .collect();
    let mut has_signal = false;
    for arg in &extra {
        let tokens: Vec<&str> = arg.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        let mut bad = None;
        for t in &tokens {
            if let Err(c) = directive_ok(t) {
                bad = Some(c);
            }
        }
        if !tokens[0].starts_with('-') {
            bad = Some("no leading option");
        }
        match bad {
            Some(c) => env.report(
                Diagnostic::error(
                    "bad-sbatch-value",
                    format!("sbatch argument {arg:?} has {c}; #SBATCH lines take options like `--gres=gpu:8`"),
                )
                .at(backend.span, "in this backend (or -e)"),
            ),
            None => {
                has_signal |= tokens[0].starts_with("--signal");
                lines.push(tokens.join(" "));
            }
        }
    }
    if !has_signal {
        lines.push(format!("--signal=B:TERM@{SIGNAL_LEAD}"));
    }
    lines
}

/// Characters a `#SBATCH` value may hold: printable ASCII without quotes, backslashes,
/// `#`, `$`, backticks or whitespace.
fn directive_ok(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("nothing");
    }
    for c in value.chars() {
        match c {
            '\'' | '"' => return Err("a quote"),
            '\\' => return Err("a backslash"),
            '#' => return Err("`#`"),
            '$' | '`' => return Err("`$` or a backtick"),
            c if c.is_whitespace() || c.is_control() => {
                return Err("whitespace or a control character");
            }
            c if !c.is_ascii() => return Err("a non-ASCII character"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_words(&plan::lit(s))
            .unwrap()
            .iter()
            .map(plan::script_text)
            .collect()
    }

    #[test]
    fn split_words_follows_shell_quoting() {
        assert_eq!(
            words("-a 'b c' \"d\\\"e\" f\\ g"),
            ["-a", "b c", "d\"e", "f g"]
        );
        assert_eq!(words("--container-image=x"), ["--container-image=x"]);
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("''"), [""]);
        assert!(split_words(&plan::lit("'open")).is_err());
    }

    #[test]
    fn python_regexes_become_posix_extended() {
        let e = |p: &str| ere(p).unwrap();
        assert_eq!(e(r"TTFT:\s*(\d+)"), ("TTFT:[[:space:]]*([0-9]+)".into(), 1));
        assert_eq!(e(r"[\d.]+"), ("[0-9.]+".into(), 0));
        assert_eq!(e(r"(?:a|b)+(x)"), ("(a|b)+(x)".into(), 2));
        assert!(ere(r"a.*?b").is_err());
        assert_eq!(e(r"\(lit\)([(]x)"), ("\\(lit\\)([(]x)".into(), 1));
        assert!(ere(r"(?=x)").is_err());
        assert!(ere(r"a\").is_err());
    }
}
