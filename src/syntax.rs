//! Stage 2: the merged YAML tree as a typed workflow. Input: the normalised, merged tree.
//! Output: `syntax::Workflow`, every key known and every expression parsed, values still
//! unevaluated. Guarantee: all shape errors of the file (unknown keys with a did-you-mean,
//! missing keys, wrong kinds, bad names) are reported here, together.

use crate::diagnostic::Diagnostic;
use crate::field::Field;
use crate::load::{Key, Node, NodeValue};
use crate::source::{Sources, Span};

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

#[derive(Debug)]
pub struct Workflow {
    pub variables: Vec<VarDecl>,
    pub artifacts: Vec<ArtifactDecl>,
    pub backends: Vec<BackendDecl>,
    pub operators: Vec<OperatorDecl>,
    pub name: Name,
    pub timeout: Option<Field>,
    pub workflow_variables: Vec<VarDecl>,
    pub tasks: Vec<TaskDecl>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    String,
    Integer,
    Float,
    Boolean,
    List,
    Dict,
}

#[derive(Clone, Debug)]
pub struct VarDecl {
    pub name: Name,
    pub value: Field,
    pub domain: Option<(Vec<crate::expr::Value>, Span)>,
    pub ty: Option<(VarType, Span)>,
}

#[derive(Debug)]
pub struct ArtifactDecl {
    pub name: Name,
    pub uri: Field,
    pub content: Option<Field>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Slurm,
    Local,
}

#[derive(Debug)]
pub struct BackendDecl {
    pub name: Name,
    pub kind: BackendKind,
    pub default: bool,
    pub span: Span,
    /// Every other key, checked against the kind's list.
    pub fields: Vec<(Key, Field)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorKind {
    Srun,
    Bash,
    Python,
    Ssh,
}

#[derive(Debug)]
pub struct OperatorDecl {
    pub name: Name,
    pub kind: OperatorKind,
    pub fields: Vec<(Key, Field)>,
}

#[derive(Debug)]
pub struct OperatorRef {
    pub name: Name,
    pub overrides: Vec<(Key, Field)>,
}

#[derive(Debug, Default)]
pub struct NodesRes {
    pub indices: Option<Field>,
    pub count: Option<Field>,
    pub exclude: Option<Field>,
    pub release_after: Option<Field>,
}

#[derive(Debug, Default)]
pub struct GpusRes {
    pub count: Option<Field>,
    pub indices: Option<Field>,
    pub release_after: Option<Field>,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Resources {
    pub nodes: Option<NodesRes>,
    pub gpus: Option<GpusRes>,
}

#[derive(Debug)]
pub struct Replicas {
    pub count: Option<Field>,
    pub policy: Option<Field>,
    pub variables: Vec<Name>,
    pub span: Span,
}

#[derive(Debug)]
pub struct Retries {
    pub count: Field,
    pub interval: Field,
    pub backoff: Option<Field>,
}

#[derive(Debug)]
pub enum ProbeKind {
    Tcp {
        port: Field,
        host: Option<Field>,
        on_node: Option<Field>,
    },
    Http {
        post: bool,
        url: Field,
        headers: Vec<(Key, Field)>,
        body: Option<Field>,
    },
    LogWatch {
        pattern: Name,
        logger: Option<Name>,
        match_count: Option<Field>,
    },
}

#[derive(Debug)]
pub struct Probe {
    pub kind: ProbeKind,
    pub delay: Option<Field>,
    pub timeout: Option<Field>,
    pub each_check_timeout: Option<Field>,
    pub interval: Option<Field>,
    pub success_threshold: Option<Field>,
    pub failure_threshold: Option<Field>,
    pub span: Span,
}

/// How several matches of a result rule become one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Last,
    First,
    Max,
    Min,
    Sum,
    Mean,
    Count,
    List,
}

impl Aggregate {
    pub const ALL: [(&'static str, Aggregate); 8] = [
        ("last", Aggregate::Last),
        ("first", Aggregate::First),
        ("max", Aggregate::Max),
        ("min", Aggregate::Min),
        ("sum", Aggregate::Sum),
        ("mean", Aggregate::Mean),
        ("count", Aggregate::Count),
        ("list", Aggregate::List),
    ];

    pub fn name(self) -> &'static str {
        Aggregate::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("last", |(n, _)| n)
    }
}

/// One `result` rule: a regex over the task's log; its first group is the value.
#[derive(Debug)]
pub struct ResultRule {
    pub name: Name,
    pub pattern: Name,
    pub aggregate: Aggregate,
}

/// One `result.expect` gate: `tps: "> 0"`.
#[derive(Debug)]
pub struct Gate {
    pub name: Name,
    pub op: &'static str,
    pub value: String,
}

#[derive(Debug, Default)]
pub struct ResultSpec {
    pub rules: Vec<ResultRule>,
    /// The task writes JSON to `$SFLOW_TASK_RESULT_FILE` itself.
    pub file: bool,
    pub expect: Vec<Gate>,
}

#[derive(Debug)]
pub struct Port {
    pub port: Field,
    pub name: Option<String>,
}

#[derive(Debug)]
pub struct TaskDecl {
    pub name: Name,
    pub script: Vec<Field>,
    pub operator: Option<OperatorRef>,
    pub backend: Option<Name>,
    pub depends_on: Vec<Name>,
    pub required_by: Vec<Name>,
    pub resources: Resources,
    pub ports: Vec<Port>,
    pub replicas: Option<Replicas>,
    pub retries: Option<Retries>,
    pub readiness: Vec<Probe>,
    pub failure: Vec<Probe>,
    pub timeout: Option<Field>,
    pub fail_fast: bool,
    pub variables: Vec<VarDecl>,
    pub result: Option<ResultSpec>,
    /// `outputs` patterns (parse style: `TTFT: {ttft:f} ms`).
    pub outputs: Vec<Name>,
    pub span: Span,
}

/// Environment variables the runtime sets for every task; no variable may take them.
const RESERVED_ENV: &[&str] = &[
    "SFLOW_WORKSPACE_DIR",
    "SFLOW_OUTPUT_DIR",
    "SFLOW_WORKFLOW_OUTPUT_DIR",
    "SFLOW_TASK_OUTPUT_DIR",
    "SFLOW_TASK_RESULT_FILE",
    "SFLOW_WORKFLOW_RESULT_FILE",
    "SFLOW_REPLICA_INDEX",
    "SFLOW_TASK_ASSIGNED_NODE_NAMES",
    "SFLOW_TASK_ASSIGNED_NODE_IPS",
    "SFLOW_BACKEND_JOB_ID",
    "SFLOW_BACKEND_NODELIST",
    "SFLOW_BACKEND_NUM_NODES",
    "SFLOW_GPU_PLAN",
];

/// Keys accepted by the reference that this version accepts and ignores, with a warning.
const NOT_YET: &[&str] = &["storage", "uploads", "upload_all", "monitor"];

pub const SRUN_FIELDS: &[&str] = &[
    "job_id",
    "nodes",
    "nodelist",
    "partition",
    "account",
    "qos",
    "reservation",
    "time",
    "constraint",
    "exclusive",
    "chdir",
    "cpus_per_task",
    "gpus",
    "gpus_per_task",
    "gres",
    "mem",
    "mem_per_cpu",
    "ntasks",
    "ntasks_per_node",
    "export",
    "label",
    "unbuffered",
    "kill_on_bad_exit",
    "overlap",
    "wait",
    "log_to_file",
    "container_image",
    "container_name",
    "container_mount_home",
    "container_writable",
    "container_mounts",
    "container_workdir",
    "container_remap_root",
    "mpi",
    "extra_args",
];
const BASH_FIELDS: &[&str] = &["log_to_file"];
const PYTHON_FIELDS: &[&str] = &["python_exec", "extra_args", "log_to_file"];
const SSH_FIELDS: &[&str] = &[
    "host",
    "user",
    "port",
    "identity_file",
    "extra_args",
    "log_to_file",
];

pub fn operator_fields(kind: OperatorKind) -> &'static [&'static str] {
    match kind {
        OperatorKind::Srun => SRUN_FIELDS,
        OperatorKind::Bash => BASH_FIELDS,
        OperatorKind::Python => PYTHON_FIELDS,
        OperatorKind::Ssh => SSH_FIELDS,
    }
}

const SLURM_FIELDS: &[&str] = &[
    "account",
    "partition",
    "time",
    "nodes",
    "gpus_per_node",
    "extra_args",
    "job_name",
    "offload_task_logs",
    "include_nodes",
    "exclude_nodes",
];
const LOCAL_FIELDS: &[&str] = &[
    "nodes",
    "gpus_per_node",
    "offload_task_logs",
    "include_nodes",
    "exclude_nodes",
];

struct Reader<'a> {
    sources: &'a Sources,
    diags: Vec<Diagnostic>,
}

/// Whether `s` is an identifier: letters, digits and `_`, not starting with a digit (the
/// names of variables, results and `outputs` fields).
pub fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `c` as it may stand in a generated identifier (replica names, function names): `_`
/// for anything but an ASCII letter, digit or `_`.
pub fn ident_char(c: char) -> char {
    if c.is_ascii_alphanumeric() || c == '_' {
        c
    } else {
        '_'
    }
}

/// Reads the merged tree; errors and warnings are returned together.
pub fn read(root: &Node, sources: &Sources) -> (Option<Workflow>, Vec<Diagnostic>) {
    let mut r = Reader {
        sources,
        diags: Vec::new(),
    };
    let workflow = r.workflow(root);
    let workflow = if r.diags.iter().any(|d| d.is_error()) {
        None
    } else {
        workflow
    };
    (workflow, r.diags)
}

impl Reader<'_> {
    fn error(&mut self, span: Span, code: &'static str, message: String, label: &str) {
        self.diags
            .push(Diagnostic::error(code, message).at(span, label.to_string()));
    }

    /// The entries of a mapping, after checking every key against `allowed`.
    fn map<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Vec<(&'n Key, &'n Node)>> {
        let NodeValue::Map(entries) = &node.value else {
            self.error(
                node.span,
                "wrong-kind",
                format!("{what} must be a mapping, not {}", node.kind_name()),
                "expected a mapping",
            );
            return None;
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            if allowed.contains(&key.name.as_str()) {
                out.push((key, value));
            } else if NOT_YET.contains(&key.name.as_str()) {
                self.diags.push(
                    Diagnostic::warning(
                        "not-supported-yet",
                        format!("`{}` is not supported yet and is ignored", key.name),
                    )
                    .at(key.span, "ignored"),
                );
            } else {
                self.diags.push(
                    Diagnostic::error(
                        "unknown-key",
                        format!("unknown key `{}` in {what}", key.name),
                    )
                    .at(key.span, "not a known key")
                    .suggest(&key.name, allowed.iter().copied())
                    .help_if_none(format!("expected one of: {}", allowed.join(", "))),
                );
            }
        }
        Some(out)
    }

    fn required<'n>(
        &mut self,
        entries: &[(&Key, &'n Node)],
        parent: &Node,
        key: &str,
        what: &str,
    ) -> Option<&'n Node> {
        let found = get(entries, key);
        if found.is_none() {
            self.error(
                parent.span,
                "missing-key",
                format!("{what} has no `{key}`"),
                &format!("`{key}` is required here"),
            );
        }
        found
    }

    fn field(&mut self, node: &Node) -> Field {
        Field::new(node, self.sources, &mut self.diags)
    }

    fn opt_field(&mut self, entries: &[(&Key, &Node)], key: &str) -> Option<Field> {
        get(entries, key).map(|n| self.field(n))
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<Name> {
        match &node.value {
            NodeValue::Str(s) => Some(Name {
                text: s.clone(),
                span: node.span,
            }),
            NodeValue::Int(i) => Some(Name {
                text: i.to_string(),
                span: node.span,
            }),
            _ => {
                self.error(
                    node.span,
                    "wrong-kind",
                    format!("{what} must be a string, not {}", node.kind_name()),
                    "expected a string",
                );
                None
            }
        }
    }

    /// A name used as a task, file or directory name.
    fn ident(&mut self, node: &Node, what: &str) -> Option<Name> {
        let name = self.string(node, what)?;
        let ok = name
            .text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && name
                .text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            self.error(
                name.span,
                "bad-name",
                format!("{what} `{}` is not a valid name", name.text),
                "use letters, digits, `_`, `-` and `.`, starting with a letter, digit or `_`",
            );
            return None;
        }
        Some(name)
    }

    fn names(&mut self, node: &Node, what: &str) -> Vec<Name> {
        match &node.value {
            NodeValue::Seq(items) => items.iter().filter_map(|n| self.string(n, what)).collect(),
            NodeValue::Str(_) => self.string(node, what).into_iter().collect(),
            _ => {
                self.error(
                    node.span,
                    "wrong-kind",
                    format!("{what} must be a list of names, not {}", node.kind_name()),
                    "expected a list",
                );
                Vec::new()
            }
        }
    }

    fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            NodeValue::Bool(b) => Some(b),
            NodeValue::Null => None,
            _ => {
                self.error(
                    node.span,
                    "wrong-kind",
                    format!("{what} must be true or false, not {}", node.kind_name()),
                    "expected a boolean",
                );
                None
            }
        }
    }

    fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.value {
            NodeValue::Seq(items) => items,
            NodeValue::Null => &[],
            _ => {
                self.error(
                    node.span,
                    "wrong-kind",
                    format!("{what} must be a list, not {}", node.kind_name()),
                    "expected a list",
                );
                &[]
            }
        }
    }

    fn workflow(&mut self, root: &Node) -> Option<Workflow> {
        let top = self.map(
            root,
            "the workflow file",
            &[
                "version",
                "variables",
                "artifacts",
                "backends",
                "operators",
                "workflow",
            ],
        )?;
        match get(&top, "version") {
            None => self.error(
                root.span,
                "missing-key",
                "the workflow has no `version`".into(),
                "add `version: \"0.1\"`",
            ),
            Some(v) if !matches!(&v.value, NodeValue::Str(s) if s == "0.1") => {
                self.diags.push(
                    Diagnostic::error("bad-version", "unsupported version")
                        .at(v.span, "expected the string \"0.1\"")
                        .help("write `version: \"0.1\"` (quoted: an unquoted 0.1 is a number)"),
                );
            }
            Some(_) => {}
        }
        let variables = self.var_list(get(&top, "variables"), "variable");
        let artifacts = self.artifacts(get(&top, "artifacts"));
        let backends = self.backends(get(&top, "backends"));
        let operators = self.operators(get(&top, "operators"));
        let wf_node = self.required(&top, root, "workflow", "the workflow file")?;
        let wf = self.map(
            wf_node,
            "`workflow`",
            &["name", "timeout", "variables", "tasks"],
        )?;
        let name = self
            .required(&wf, wf_node, "name", "`workflow`")
            .and_then(|n| self.ident(n, "the workflow name"));
        let timeout = self.opt_field(&wf, "timeout");
        let workflow_variables = self.var_list(get(&wf, "variables"), "workflow variable");
        let tasks_node = self.required(&wf, wf_node, "tasks", "`workflow`");
        let mut tasks = Vec::new();
        if let Some(tasks_node) = tasks_node {
            let items = self.seq(tasks_node, "`workflow.tasks`");
            if items.is_empty() {
                self.error(
                    tasks_node.span,
                    "no-tasks",
                    "the workflow has no tasks".into(),
                    "add at least one task",
                );
            }
            for item in items {
                if let Some(task) = self.task(item) {
                    tasks.push(task);
                }
            }
        }
        Some(Workflow {
            variables,
            artifacts,
            backends,
            operators,
            name: name?,
            timeout,
            workflow_variables,
            tasks,
        })
    }

    fn var_list(&mut self, node: Option<&Node>, what: &str) -> Vec<VarDecl> {
        let Some(node) = node else {
            return Vec::new();
        };
        let items = self.seq(node, "`variables`");
        items.iter().filter_map(|n| self.var(n, what)).collect()
    }

    fn var(&mut self, node: &Node, what: &str) -> Option<VarDecl> {
        let entries = self.map(
            node,
            &format!("a {what}"),
            &["name", "value", "description", "domain", "type"],
        )?;
        let name = self
            .required(&entries, node, "name", &format!("a {what}"))
            .and_then(|n| self.var_name(n));
        let value = self.required(&entries, node, "value", &format!("a {what}"));
        let value = value.map(|v| self.field(v));
        let domain = get(&entries, "domain").and_then(|d| match &d.value {
            NodeValue::Null => None,
            NodeValue::Seq(items) => Some((items.iter().map(literal_value).collect(), d.span)),
            _ => {
                self.error(
                    d.span,
                    "wrong-kind",
                    format!("a domain must be a list, not {}", d.kind_name()),
                    "expected a list",
                );
                None
            }
        });
        let ty = get(&entries, "type").and_then(|t| {
            let text = match &t.value {
                NodeValue::Str(s) => s.as_str(),
                _ => "",
            };
            let ty = match text {
                "string" | "str" => VarType::String,
                "integer" | "int" => VarType::Integer,
                "float" => VarType::Float,
                "boolean" | "bool" => VarType::Boolean,
                "list" => VarType::List,
                "dict" => VarType::Dict,
                _ => {
                    self.diags.push(
                        Diagnostic::error("bad-type", "unknown variable type")
                            .at(t.span, "not a type")
                            .help("use one of: string, integer, float, boolean, list, dict"),
                    );
                    return None;
                }
            };
            Some((ty, t.span))
        });
        Some(VarDecl {
            name: name?,
            value: value?,
            domain,
            ty,
        })
    }

    fn var_name(&mut self, node: &Node) -> Option<Name> {
        let name = self.string(node, "a variable name")?;
        if !is_identifier(&name.text) {
            self.error(
                name.span,
                "bad-name",
                format!(
                    "variable name `{}` is not a valid environment variable name",
                    name.text
                ),
                "use letters, digits and `_`, not starting with a digit",
            );
            return None;
        }
        if RESERVED_ENV.contains(&name.text.as_str()) {
            self.error(
                name.span,
                "reserved-name",
                format!("`{}` is set by sflow for every task", name.text),
                "choose another name",
            );
            return None;
        }
        if matches!(
            name.text.as_str(),
            "variables" | "backends" | "artifacts" | "workflow" | "task"
        ) {
            self.error(
                name.span,
                "bad-name",
                format!("a variable cannot be named `{}`", name.text),
                "this name is an expression namespace",
            );
            return None;
        }
        Some(name)
    }

    fn artifacts(&mut self, node: Option<&Node>) -> Vec<ArtifactDecl> {
        let Some(node) = node else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in self.seq(node, "`artifacts`") {
            let Some(entries) = self.map(
                item,
                "an artifact",
                &["name", "description", "uri", "content"],
            ) else {
                continue;
            };
            let name = self
                .required(&entries, item, "name", "an artifact")
                .and_then(|n| self.var_name(n));
            let uri = self
                .required(&entries, item, "uri", "an artifact")
                .map(|n| self.field(n));
            let content = self.opt_field(&entries, "content");
            if let (Some(name), Some(uri)) = (name, uri) {
                out.push(ArtifactDecl { name, uri, content });
            }
        }
        out
    }

    fn backends(&mut self, node: Option<&Node>) -> Vec<BackendDecl> {
        let Some(node) = node else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in self.seq(node, "`backends`") {
            let NodeValue::Map(_) = item.value else {
                self.map(item, "a backend", &[]);
                continue;
            };
            let kind = match item.get("type") {
                Some(t) => match &t.value {
                    NodeValue::Str(s) if s == "slurm" => Some(BackendKind::Slurm),
                    NodeValue::Str(s) if s == "local" => Some(BackendKind::Local),
                    NodeValue::Str(s) if s == "docker" || s == "kubernetes" => {
                        self.error(
                            t.span,
                            "unsupported-backend",
                            format!("the `{s}` backend is not supported"),
                            "sflow compiles to a Slurm batch script: use `slurm` or `local`",
                        );
                        None
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::error("unknown-backend-type", "unknown backend type")
                                .at(t.span, "not a backend type")
                                .help("use `slurm` or `local`"),
                        );
                        None
                    }
                },
                None => {
                    self.error(
                        item.span,
                        "missing-key",
                        "a backend has no `type`".into(),
                        "add `type: slurm` or `type: local`",
                    );
                    None
                }
            };
            let Some(kind) = kind else { continue };
            let specific = match kind {
                BackendKind::Slurm => SLURM_FIELDS,
                BackendKind::Local => LOCAL_FIELDS,
            };
            let allowed: Vec<&str> = ["name", "type", "default"]
                .iter()
                .chain(specific)
                .copied()
                .collect();
            let Some(entries) = self.map(item, "a backend", &allowed) else {
                continue;
            };
            let name = self
                .required(&entries, item, "name", "a backend")
                .and_then(|n| self.ident(n, "a backend name"));
            let default = get(&entries, "default")
                .and_then(|n| self.bool(n, "`default`"))
                .unwrap_or(false);
            let fields = entries
                .iter()
                .filter(|(k, _)| !matches!(k.name.as_str(), "name" | "type" | "default"))
                .map(|(k, n)| ((*k).clone(), self.field(n)))
                .collect();
            if let Some(name) = name {
                out.push(BackendDecl {
                    name,
                    kind,
                    default,
                    span: item.span,
                    fields,
                });
            }
        }
        out
    }

    fn operators(&mut self, node: Option<&Node>) -> Vec<OperatorDecl> {
        let Some(node) = node else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in self.seq(node, "`operators`") {
            let NodeValue::Map(_) = item.value else {
                self.map(item, "an operator", &[]);
                continue;
            };
            let Some(type_node) = item.get("type") else {
                self.error(
                    item.span,
                    "missing-key",
                    "an operator has no `type`".into(),
                    "add `type: srun` (or bash, python, ssh)",
                );
                continue;
            };
            let kind = match &type_node.value {
                NodeValue::Str(s) => match s.as_str() {
                    "srun" => Some(OperatorKind::Srun),
                    "bash" => Some(OperatorKind::Bash),
                    "python" => Some(OperatorKind::Python),
                    "ssh" => Some(OperatorKind::Ssh),
                    "docker" | "docker_run" | "k8s" | "k8s_mpi" => {
                        self.error(
                            type_node.span,
                            "unsupported-operator",
                            format!("the `{s}` operator is not supported"),
                            "use srun, bash, python or ssh",
                        );
                        None
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::error("unknown-operator-type", "unknown operator type")
                                .at(type_node.span, "not an operator type")
                                .suggest(s, ["srun", "bash", "python", "ssh"])
                                .help_if_none("use srun, bash, python or ssh"),
                        );
                        None
                    }
                },
                _ => {
                    self.error(
                        type_node.span,
                        "wrong-kind",
                        "an operator type must be a string".into(),
                        "expected srun, bash, python or ssh",
                    );
                    None
                }
            };
            let Some(kind) = kind else { continue };
            let allowed: Vec<&str> = ["name", "type"]
                .iter()
                .chain(operator_fields(kind))
                .copied()
                .collect();
            let Some(entries) = self.map(item, "an operator", &allowed) else {
                continue;
            };
            let name = self
                .required(&entries, item, "name", "an operator")
                .and_then(|n| self.ident(n, "an operator name"));
            let fields = entries
                .iter()
                .filter(|(k, _)| !matches!(k.name.as_str(), "name" | "type"))
                .map(|(k, n)| ((*k).clone(), self.field(n)))
                .collect();
            if let Some(name) = name {
                out.push(OperatorDecl { name, kind, fields });
            }
        }
        out
    }

    fn task(&mut self, node: &Node) -> Option<TaskDecl> {
        let entries = self.map(
            node,
            "a task",
            &[
                "name",
                "script",
                "operator",
                "backend",
                "depends_on",
                "required_by",
                "resources",
                "ports",
                "replicas",
                "retries",
                "probes",
                "timeout",
                "fail_fast",
                "variables",
                "result",
                "outputs",
            ],
        )?;
        let name = self
            .required(&entries, node, "name", "a task")
            .and_then(|n| self.ident(n, "a task name"));
        let what = match &name {
            Some(n) => format!("task `{}`", n.text),
            None => "a task".to_string(),
        };
        let script = match self.required(&entries, node, "script", &what) {
            Some(s) => self.script(s, &what),
            None => Vec::new(),
        };
        let operator = get(&entries, "operator").and_then(|n| self.operator_ref(n));
        let backend = get(&entries, "backend").and_then(|n| match &n.value {
            NodeValue::Map(_) => {
                self.error(
                    n.span,
                    "inline-backend",
                    "inline backend overrides are not supported".into(),
                    "name a backend declared under `backends`",
                );
                None
            }
            _ => self.string(n, "`backend`"),
        });
        let depends_on = get(&entries, "depends_on")
            .map(|n| self.names(n, "`depends_on`"))
            .unwrap_or_default();
        let required_by = get(&entries, "required_by")
            .map(|n| self.names(n, "`required_by`"))
            .unwrap_or_default();
        let resources = get(&entries, "resources")
            .map(|n| self.resources(n))
            .unwrap_or_default();
        let ports = get(&entries, "ports")
            .map(|n| self.ports(n))
            .unwrap_or_default();
        let replicas = get(&entries, "replicas").and_then(|n| self.replicas(n));
        let retries = get(&entries, "retries").and_then(|n| self.retries(n, &what));
        let (readiness, failure) = match get(&entries, "probes") {
            Some(n) => self.probes(n),
            None => (Vec::new(), Vec::new()),
        };
        let timeout = self.opt_field(&entries, "timeout");
        let fail_fast = get(&entries, "fail_fast")
            .and_then(|n| self.bool(n, "`fail_fast`"))
            .unwrap_or(false);
        let variables = self.var_list(get(&entries, "variables"), "task variable");
        let result = get(&entries, "result").and_then(|n| self.result(n));
        let outputs = get(&entries, "outputs")
            .map(|n| self.outputs(n))
            .unwrap_or_default();
        Some(TaskDecl {
            name: name?,
            script,
            operator,
            backend,
            depends_on,
            required_by,
            resources,
            ports,
            replicas,
            retries,
            readiness,
            failure,
            timeout,
            fail_fast,
            variables,
            result,
            outputs,
            span: node.span,
        })
    }

    /// `result`: `{NAME: REGEX …}`, `{patterns: {…}}`, `{file: …}`, each with `expect`.
    fn result(&mut self, node: &Node) -> Option<ResultSpec> {
        let NodeValue::Map(entries) = &node.value else {
            self.map(node, "`result`", &[]);
            return None;
        };
        let mut spec = ResultSpec::default();
        for (key, value) in entries {
            match key.name.as_str() {
                "file" => spec.file = true,
                "patterns" => {
                    let NodeValue::Map(rules) = &value.value else {
                        self.map(value, "`result.patterns`", &[]);
                        continue;
                    };
                    for (k, v) in rules {
                        if let Some(rule) = self.result_rule(k, v) {
                            spec.rules.push(rule);
                        }
                    }
                }
                "expect" => {
                    let NodeValue::Map(gates) = &value.value else {
                        self.map(value, "`result.expect`", &[]);
                        continue;
                    };
                    for (k, v) in gates {
                        if let Some(gate) = self.gate(k, v) {
                            spec.expect.push(gate);
                        }
                    }
                }
                _ => {
                    if let Some(rule) = self.result_rule(key, value) {
                        spec.rules.push(rule);
                    }
                }
            }
        }
        Some(spec)
    }

    fn result_name(&mut self, key: &Key) -> Option<Name> {
        if !is_identifier(&key.name) {
            self.error(
                key.span,
                "bad-name",
                format!("result name `{}` is not a valid name", key.name),
                "use letters, digits and `_`",
            );
            return None;
        }
        Some(Name {
            text: key.name.clone(),
            span: key.span,
        })
    }

    fn result_rule(&mut self, key: &Key, value: &Node) -> Option<ResultRule> {
        let name = self.result_name(key)?;
        let (pattern, aggregate) = match &value.value {
            NodeValue::Map(_) => {
                let e = self.map(value, "a result rule", &["pattern", "regex", "aggregate"])?;
                let pattern = get(&e, "pattern")
                    .or_else(|| get(&e, "regex"))
                    .and_then(|n| self.string(n, "a result pattern"));
                let Some(pattern) = pattern else {
                    self.error(
                        value.span,
                        "missing-key",
                        "a result rule has no `pattern`".into(),
                        "add `pattern: REGEX`",
                    );
                    return None;
                };
                let aggregate = match get(&e, "aggregate") {
                    Some(a) => {
                        let text = self.string(a, "an aggregate")?;
                        match Aggregate::ALL.iter().find(|(n, _)| *n == text.text) {
                            Some((_, agg)) => *agg,
                            None => {
                                self.diags.push(
                                    Diagnostic::error(
                                        "bad-aggregate",
                                        format!("unknown aggregate `{}`", text.text),
                                    )
                                    .at(text.span, "not an aggregate")
                                    .suggest(&text.text, Aggregate::ALL.iter().map(|(n, _)| *n))
                                    .help_if_none(
                                        "use last, first, max, min, sum, mean, count or list",
                                    ),
                                );
                                return None;
                            }
                        }
                    }
                    None => Aggregate::Last,
                };
                (pattern, aggregate)
            }
            _ => (self.string(value, "a result pattern")?, Aggregate::Last),
        };
        Some(ResultRule {
            name,
            pattern,
            aggregate,
        })
    }

    fn gate(&mut self, key: &Key, value: &Node) -> Option<Gate> {
        let name = self.result_name(key)?;
        let text = match &value.value {
            NodeValue::Str(s) => s.trim().to_string(),
            NodeValue::Int(i) => format!("== {i}"),
            NodeValue::Float(f) => format!("== {f}"),
            _ => String::new(),
        };
        let op = [">=", "<=", "==", "!=", ">", "<"]
            .into_iter()
            .find(|op| text.starts_with(op));
        let number = op.map(|op| text[op.len()..].trim().to_string());
        match (op, number) {
            (Some(op), Some(n)) if n.parse::<f64>().is_ok_and(f64::is_finite) => {
                Some(Gate { name, op, value: n })
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        "bad-gate",
                        format!("`{}`: a gate is a comparison with a number", key.name),
                    )
                    .at(value.span, "not a gate")
                    .help("write e.g. `tps: \"> 0\"` or `errors: \"== 0\"` (operators: > >= < <= == !=)"),
                );
                None
            }
        }
    }

    /// `outputs: [{pattern: "TTFT: {ttft:f} ms", source: stdout}]`.
    fn outputs(&mut self, node: &Node) -> Vec<Name> {
        let mut out = Vec::new();
        for item in self.seq(node, "`outputs`") {
            let Some(e) = self.map(item, "an output", &["pattern", "source", "metrics"]) else {
                continue;
            };
            if let Some(p) = self.required(&e, item, "pattern", "an output")
                && let Some(pattern) = self.string(p, "an output pattern")
            {
                out.push(pattern);
            }
        }
        out
    }

    fn script(&mut self, node: &Node, what: &str) -> Vec<Field> {
        let items = self.seq(node, "`script`");
        if items.is_empty() {
            self.error(
                node.span,
                "empty-script",
                format!("{what} has an empty script"),
                "add at least one line",
            );
        }
        let mut lines = Vec::new();
        for item in items {
            match &item.value {
                NodeValue::Str(_) => lines.push(self.field(item)),
                // `- echo a: b` is read by YAML as a one-key mapping; it means the line.
                NodeValue::Map(entries) if entries.len() == 1 && is_scalar(&entries[0].1) => {
                    let (key, value) = &entries[0];
                    let text = format!("{}: {}", key.name, scalar_text(value));
                    let line = Node::new(item.span, NodeValue::Str(text));
                    lines.push(self.field(&line));
                }
                // `- true` or `- 42`: the line as written.
                NodeValue::Bool(_) | NodeValue::Int(_) | NodeValue::Float(_) => {
                    let text = self.sources.slice(item.span).to_string();
                    lines.push(self.field(&Node::new(item.span, NodeValue::Str(text))));
                }
                _ => self.error(
                    item.span,
                    "wrong-kind",
                    format!("script lines must be strings, not {}", item.kind_name()),
                    "quote this line",
                ),
            }
        }
        lines
    }

    fn operator_ref(&mut self, node: &Node) -> Option<OperatorRef> {
        match &node.value {
            NodeValue::Map(entries) => {
                let name_node = entries.iter().find(|(k, _)| k.name == "name").map(|e| &e.1);
                let Some(name_node) = name_node else {
                    self.error(
                        node.span,
                        "missing-key",
                        "an operator reference has no `name`".into(),
                        "name the operator to use",
                    );
                    return None;
                };
                let name = self.string(name_node, "an operator name")?;
                let overrides = entries
                    .iter()
                    .filter(|(k, _)| k.name != "name")
                    .map(|(k, n)| (k.clone(), self.field(n)))
                    .collect();
                Some(OperatorRef { name, overrides })
            }
            _ => self.string(node, "`operator`").map(|name| OperatorRef {
                name,
                overrides: Vec::new(),
            }),
        }
    }

    fn resources(&mut self, node: &Node) -> Resources {
        let mut res = Resources::default();
        let Some(entries) = self.map(node, "`resources`", &["nodes", "gpus"]) else {
            return res;
        };
        if let Some(n) = get(&entries, "nodes")
            && let Some(e) = self.map(
                n,
                "`resources.nodes`",
                &["indices", "count", "exclude", "release_after"],
            )
        {
            res.nodes = Some(NodesRes {
                indices: self.opt_field(&e, "indices"),
                count: self.opt_field(&e, "count"),
                exclude: self.opt_field(&e, "exclude"),
                release_after: self.opt_field(&e, "release_after"),
            });
        }
        if let Some(n) = get(&entries, "gpus")
            && let Some(e) = self.map(
                n,
                "`resources.gpus`",
                &["count", "indices", "release_after"],
            )
        {
            let gpus = GpusRes {
                count: self.opt_field(&e, "count"),
                indices: self.opt_field(&e, "indices"),
                release_after: self.opt_field(&e, "release_after"),
                span: n.span,
            };
            if gpus.count.is_none() && gpus.indices.is_none() {
                self.error(
                    n.span,
                    "missing-key",
                    "`resources.gpus` needs `count` or `indices`".into(),
                    "say how many GPUs, or which",
                );
            }
            res.gpus = Some(gpus);
        }
        res
    }

    fn ports(&mut self, node: &Node) -> Vec<Port> {
        let mut out = Vec::new();
        for item in self.seq(node, "`ports`") {
            let Some(e) = self.map(item, "a port", &["port", "name"]) else {
                continue;
            };
            let Some(port) = self.required(&e, item, "port", "a port") else {
                continue;
            };
            let port = self.field(port);
            let name = get(&e, "name")
                .and_then(|n| self.string(n, "a port name"))
                .map(|n| n.text);
            out.push(Port { port, name });
        }
        out
    }

    fn replicas(&mut self, node: &Node) -> Option<Replicas> {
        let e = self.map(node, "`replicas`", &["count", "policy", "variables"])?;
        let variables = get(&e, "variables")
            .map(|n| self.names(n, "`replicas.variables`"))
            .unwrap_or_default();
        Some(Replicas {
            count: self.opt_field(&e, "count"),
            policy: self.opt_field(&e, "policy"),
            variables,
            span: node.span,
        })
    }

    fn retries(&mut self, node: &Node, what: &str) -> Option<Retries> {
        let e = self.map(node, "`retries`", &["count", "interval", "backoff"])?;
        let count = self.required(&e, node, "count", &format!("`retries` of {what}"));
        let interval = self.required(&e, node, "interval", &format!("`retries` of {what}"));
        let count = count.map(|n| self.field(n));
        let interval = interval.map(|n| self.field(n));
        Some(Retries {
            count: count?,
            interval: interval?,
            backoff: self.opt_field(&e, "backoff"),
        })
    }

    fn probes(&mut self, node: &Node) -> (Vec<Probe>, Vec<Probe>) {
        let mut readiness = Vec::new();
        let mut failure = Vec::new();
        let Some(e) = self.map(node, "`probes`", &["readiness", "failure"]) else {
            return (readiness, failure);
        };
        for (key, value) in e {
            let list = if key.name == "readiness" {
                &mut readiness
            } else {
                &mut failure
            };
            match &value.value {
                NodeValue::Seq(items) => {
                    if items.is_empty() {
                        self.error(
                            value.span,
                            "empty-probes",
                            format!("`probes.{}` is an empty list", key.name),
                            "give at least one probe, or remove the key",
                        );
                    }
                    for item in items {
                        if let Some(p) = self.probe(item) {
                            list.push(p);
                        }
                    }
                }
                _ => {
                    if let Some(p) = self.probe(value) {
                        list.push(p);
                    }
                }
            }
        }
        (readiness, failure)
    }

    fn probe(&mut self, node: &Node) -> Option<Probe> {
        const KINDS: [&str; 4] = ["tcp_port", "http_get", "http_post", "log_watch"];
        let e = self.map(
            node,
            "a probe",
            &[
                "tcp_port",
                "http_get",
                "http_post",
                "log_watch",
                "delay",
                "timeout",
                "each_check_timeout",
                "interval",
                "success_threshold",
                "failure_threshold",
            ],
        )?;
        let kinds: Vec<_> = e
            .iter()
            .filter(|(k, _)| KINDS.contains(&k.name.as_str()))
            .collect();
        if kinds.len() != 1 {
            self.error(
                node.span,
                "probe-kind",
                "a probe needs exactly one of tcp_port, http_get, http_post, log_watch".into(),
                if kinds.is_empty() {
                    "no probe type here"
                } else {
                    "more than one probe type here"
                },
            );
            return None;
        }
        let (kind_key, kind_node) = kinds[0];
        let kind = match kind_key.name.as_str() {
            "tcp_port" => {
                let k = self.map(kind_node, "`tcp_port`", &["port", "host", "on_node"])?;
                let port = self.required(&k, kind_node, "port", "`tcp_port`")?;
                ProbeKind::Tcp {
                    port: self.field(port),
                    host: self.opt_field(&k, "host"),
                    on_node: self.opt_field(&k, "on_node"),
                }
            }
            "http_get" | "http_post" => {
                let k = self.map(
                    kind_node,
                    &format!("`{}`", kind_key.name),
                    &["url", "headers", "body"],
                )?;
                let url = self.required(&k, kind_node, "url", &format!("`{}`", kind_key.name))?;
                let url = self.field(url);
                let headers = get(&k, "headers")
                    .map(|h| self.headers(h))
                    .unwrap_or_default();
                ProbeKind::Http {
                    post: kind_key.name == "http_post",
                    url,
                    headers,
                    body: self.opt_field(&k, "body"),
                }
            }
            _ => {
                let k = self.map(
                    kind_node,
                    "`log_watch`",
                    &["regex_pattern", "match_pattern", "logger", "match_count"],
                )?;
                let regex = get(&k, "regex_pattern").and_then(|n| self.string(n, "a pattern"));
                let literal = get(&k, "match_pattern").and_then(|n| self.string(n, "a pattern"));
                let pattern = match (regex, literal) {
                    (Some(a), Some(b)) if a.text != b.text => {
                        self.error(
                            b.span,
                            "probe-pattern",
                            "`regex_pattern` and `match_pattern` differ".into(),
                            "give one pattern",
                        );
                        return None;
                    }
                    (Some(a), _) => a,
                    (None, Some(b)) => b,
                    (None, None) => {
                        self.error(
                            kind_node.span,
                            "missing-key",
                            "`log_watch` has no pattern".into(),
                            "add `regex_pattern` or `match_pattern`",
                        );
                        return None;
                    }
                };
                ProbeKind::LogWatch {
                    pattern,
                    logger: get(&k, "logger").and_then(|n| self.string(n, "`logger`")),
                    match_count: self.opt_field(&k, "match_count"),
                }
            }
        };
        Some(Probe {
            kind,
            delay: self.opt_field(&e, "delay"),
            timeout: self.opt_field(&e, "timeout"),
            each_check_timeout: self.opt_field(&e, "each_check_timeout"),
            interval: self.opt_field(&e, "interval"),
            success_threshold: self.opt_field(&e, "success_threshold"),
            failure_threshold: self.opt_field(&e, "failure_threshold"),
            span: node.span,
        })
    }

    fn headers(&mut self, node: &Node) -> Vec<(Key, Field)> {
        match &node.value {
            NodeValue::Map(entries) => entries
                .iter()
                .map(|(k, n)| (k.clone(), self.field(n)))
                .collect(),
            NodeValue::Null => Vec::new(),
            _ => {
                self.error(
                    node.span,
                    "wrong-kind",
                    format!("`headers` must be a mapping, not {}", node.kind_name()),
                    "expected `Name: value` pairs",
                );
                Vec::new()
            }
        }
    }
}

fn get<'n>(entries: &[(&Key, &'n Node)], key: &str) -> Option<&'n Node> {
    entries.iter().find(|(k, _)| k.name == key).map(|(_, n)| *n)
}

fn is_scalar(node: &Node) -> bool {
    !matches!(node.value, NodeValue::Seq(_) | NodeValue::Map(_))
}

fn scalar_text(node: &Node) -> String {
    literal_value(node).to_plain_string().unwrap_or_default()
}

/// The value of a YAML node taken literally (no expressions).
pub fn literal_value(node: &Node) -> crate::expr::Value {
    use crate::expr::Value;
    match &node.value {
        NodeValue::Null => Value::None,
        NodeValue::Bool(b) => Value::Bool(*b),
        NodeValue::Int(i) => Value::Int(*i),
        NodeValue::Float(f) => Value::Float(*f),
        NodeValue::Str(s) => Value::Str(s.clone()),
        NodeValue::Seq(items) => Value::List(items.iter().map(literal_value).collect()),
        NodeValue::Map(entries) => Value::Dict(
            entries
                .iter()
                .map(|(k, n)| (k.name.clone(), literal_value(n)))
                .collect(),
        ),
    }
}
