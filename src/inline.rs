//! `sflow compose --resolve`: compile-time variables written into the expressions that
//! use them. Input: a merged tree that compiles, and its sources. Output: the same tree
//! where every reference to an inlinable variable is replaced by the variable's value (a
//! `${{ }}` left with nothing to look up becomes its value: a boolean, number or string
//! when it is the whole string, its text form inside a string; a whole-string list, dict
//! or none stays a constant expression), inlined declarations removed, and a `Report`.
//! Guarantee: the values are the ones the compiler computes; variables that drive sweeps
//! (and those derived from them), variables that count replicas, values known only in the
//! job, variables a task script names in its own text (it reads them from the
//! environment) and variables an artifact's `content` reads keep their declarations;
//! strings the compiler reads literally (names, domains, patterns) are never touched.

use crate::expr::{
    self, Lookup, Namespace, Scope, Segment, Value, Variable, parse, parse_template,
    uses_namespace, variable_refs,
};
use crate::load::{Node, NodeValue};
use crate::resolve::{Env, Level, VarKey};
use crate::source::{Sources, Span};
use crate::syntax::{self, Workflow};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Why a variable kept its declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kept {
    /// A task sweeps it (`replicas.variables`).
    Swept,
    /// Its value differs between the replicas of a sweep.
    DerivedFromSweep,
    /// A `replicas.count` reads it.
    Count,
    /// Its value is known only in the job (node names and IPs, run directories).
    Runtime,
    /// Declared at more than one level (a task or workflow variable shadows another).
    Shadowed,
    /// A task script names it outside `${{ }}` (it reads the environment variable).
    ReadFromEnvironment,
    /// A reference to it could not be rewritten.
    Unrewritable,
}

impl Kept {
    pub fn describe(self) -> &'static str {
        match self {
            Kept::Swept => "swept",
            Kept::DerivedFromSweep => "derived from a swept variable",
            Kept::Count => "a replica count",
            Kept::Runtime => "known only in the job",
            Kept::Shadowed => "declared at more than one level",
            Kept::ReadFromEnvironment => "read by a task script from the environment",
            Kept::Unrewritable => "used where its value cannot be written",
        }
    }
}

/// What `inline_variables` did.
#[derive(Debug, Default)]
pub struct Report {
    /// Variables whose declarations were removed, in declaration order.
    pub removed: Vec<String>,
    /// Variables that keep their declaration, with the reason.
    pub kept: BTreeMap<String, Kept>,
}

impl Report {
    /// Names whose `${{ }}` references may remain in the output (sweeps, counts, runtime
    /// values and shadowed names).
    pub fn may_remain(&self, name: &str) -> bool {
        matches!(
            self.kept.get(name),
            Some(
                Kept::Swept
                    | Kept::DerivedFromSweep
                    | Kept::Count
                    | Kept::Runtime
                    | Kept::Shadowed
                    | Kept::Unrewritable
            )
        )
    }
}

/// Inlines every compile-time variable of a tree that compiles.
pub fn inline_variables(root: &mut Node, sources: &Sources) -> Report {
    let (workflow, _) = syntax::read(root, sources);
    let Some(wf) = workflow else {
        return Report::default();
    };
    let (values, mut kept) = inlinable(&wf, sources);
    let mut walk = Walk {
        values: &values,
        workflow: wf.name.text.clone(),
        unrewritten: HashSet::new(),
        named_in_scripts: HashSet::new(),
    };
    walk.node(root, Context::Field);
    let mut removed = Vec::new();
    let mut keep_anyway = HashMap::new();
    for name in values.keys() {
        if walk.unrewritten.contains(name) {
            keep_anyway.insert(name.clone(), Kept::Unrewritable);
        } else if walk.named_in_scripts.contains(name) {
            keep_anyway.insert(name.clone(), Kept::ReadFromEnvironment);
        }
    }
    let removable = |name: &str| values.contains_key(name) && !keep_anyway.contains_key(name);
    remove_declarations(root, &removable, &mut removed);
    kept.extend(keep_anyway);
    Report { removed, kept }
}

/// The variables whose value can be written in place of their references, and the
/// reasons the others are kept.
fn inlinable(wf: &Workflow, sources: &Sources) -> (HashMap<String, Value>, BTreeMap<String, Kept>) {
    let env = Env::new(wf, sources, None);
    let mut decls: Vec<(VarKey, &str)> = Vec::new();
    let mut levels = vec![(Level::Global, &wf.variables)];
    levels.push((Level::Workflow, &wf.workflow_variables));
    for (t, task) in wf.tasks.iter().enumerate() {
        levels.push((Level::Task(t), &task.variables));
    }
    for (level, list) in levels {
        for (i, decl) in list.iter().enumerate() {
            decls.push(((level, i), decl.name.text.as_str()));
        }
    }
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (_, name) in &decls {
        *count.entry(name).or_default() += 1;
    }
    let mut kept: BTreeMap<String, Kept> = BTreeMap::new();
    let mut keep = |name: &str, why: Kept| {
        let entry = kept.entry(name.to_string()).or_insert(why);
        *entry = (*entry).min(why);
    };
    let mut swept: Vec<String> = Vec::new();
    for task in &wf.tasks {
        let Some(replicas) = &task.replicas else {
            continue;
        };
        for v in &replicas.variables {
            keep(&v.text, Kept::Swept);
            swept.push(v.text.clone());
        }
        if let Some(c) = &replicas.count {
            let mut refs = Vec::new();
            c.variable_refs(&mut refs);
            for r in refs {
                keep(&r, Kept::Count);
            }
        }
    }
    let mut memo = HashMap::new();
    let mut values = HashMap::new();
    for &(key, name) in &decls {
        if count[name] > 1 {
            keep(name, Kept::Shadowed);
            continue;
        }
        if swept.iter().any(|s| s == name) {
            continue;
        }
        if env.reads_any(key, &swept, &mut memo) {
            keep(name, Kept::DerivedFromSweep);
            continue;
        }
        let value = match env.variable(key, None) {
            Lookup::Found(Variable { value, .. }) if writable(&value) => value,
            _ => {
                keep(name, Kept::Runtime);
                continue;
            }
        };
        values.insert(name.to_string(), value);
    }
    values.retain(|name, _| !kept.contains_key(name));
    (values, kept)
}

/// A value that can be written as an expression literal and as YAML (no runtime pieces,
/// no NaN or infinity, which have no literal).
fn writable(value: &Value) -> bool {
    match value {
        Value::Runtime(_) => false,
        Value::Float(f) => f.is_finite(),
        Value::List(items) => items.iter().all(writable),
        Value::Dict(entries) => entries.iter().all(|(_, v)| writable(v)),
        _ => true,
    }
}

/// Whether a value holds text that would read as a new `${{` once written.
fn opens_expression(value: &Value) -> bool {
    match value {
        Value::Str(s) => s.contains("${{"),
        Value::List(items) => items.iter().any(opens_expression),
        Value::Dict(entries) => entries
            .iter()
            .any(|(k, v)| k.contains("${{") || opens_expression(v)),
        _ => false,
    }
}

/// What the compiler makes of the string values under a key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Values that may hold expressions.
    Field,
    /// A task's script lines: expressions, and names the script may read from its
    /// environment.
    Script,
    /// Read literally (names, domains, patterns): left alone.
    Literal,
    /// Evaluated by a later stage with rules of its own (an artifact's `content`): left
    /// alone, and the variables it reads keep their declarations.
    Keep,
}

/// Keys whose values the compiler reads literally, never as `${{ }}` templates.
const LITERAL_KEYS: &[&str] = &[
    "name",
    "type",
    "version",
    "description",
    "default",
    "domain",
    "depends_on",
    "required_by",
    "backend",
    "regex_pattern",
    "match_pattern",
    "logger",
    "fail_fast",
];

struct Walk<'a> {
    values: &'a HashMap<String, Value>,
    workflow: String,
    /// Inlinable names that some expression still refers to.
    unrewritten: HashSet<String>,
    /// Inlinable names that a task script mentions outside `${{ }}`.
    named_in_scripts: HashSet<String>,
}

impl Walk<'_> {
    fn node(&mut self, node: &mut Node, context: Context) {
        match &mut node.value {
            NodeValue::Str(_) => self.string(node, context),
            NodeValue::Seq(items) => {
                for item in items {
                    self.node(item, context);
                }
            }
            NodeValue::Map(_) if context == Context::Literal => {}
            NodeValue::Map(entries) => {
                for (key, value) in entries {
                    let name = key.name.as_str();
                    if name == "replicas"
                        && let Some(fields) = value.entries_mut()
                    {
                        // `replicas.variables` names the swept variables.
                        for (k, v) in fields {
                            if k.name != "variables" {
                                self.node(v, Context::Field);
                            }
                        }
                        continue;
                    }
                    let inner = if LITERAL_KEYS.contains(&name)
                        || (name == "operator" && matches!(value.value, NodeValue::Str(_)))
                    {
                        Context::Literal
                    } else if name == "script" {
                        Context::Script
                    } else if name == "content" {
                        Context::Keep
                    } else {
                        context
                    };
                    self.node(value, inner);
                }
            }
            _ => {}
        }
    }

    fn string(&mut self, node: &mut Node, context: Context) {
        if context == Context::Literal {
            return;
        }
        let Some(text) = node.as_str() else { return };
        let Ok(template) = parse_template(text) else {
            return;
        };
        if context == Context::Keep {
            for segment in &template.segments {
                if let Segment::Expr { expr, .. } = segment {
                    for (name, _, _) in variable_refs(expr) {
                        if self.values.contains_key(&name) {
                            self.unrewritten.insert(name);
                        }
                    }
                }
            }
            return;
        }
        if context == Context::Script {
            for segment in &template.segments {
                if let Segment::Lit(s) = segment {
                    self.mentions(s);
                }
            }
        }
        if template.is_plain() {
            return;
        }
        let mut out = String::new();
        let mut kept_exprs = 0;
        let mut left: Vec<String> = Vec::new();
        let whole = template.single_expr().is_some();
        let mut typed: Option<Value> = None;
        for segment in &template.segments {
            match segment {
                Segment::Lit(s) => out.push_str(s),
                Segment::Expr { expr, start, end } => {
                    let raw = &text[*start..*end];
                    match self.rewrite(expr) {
                        Rewrite::Unchanged(names) => {
                            left.extend(names);
                            out.push_str(raw);
                            kept_exprs += 1;
                        }
                        Rewrite::Expr(source, remaining) => {
                            left.extend(remaining);
                            out.push_str("${{ ");
                            out.push_str(source.trim());
                            out.push_str(" }}");
                            kept_exprs += 1;
                        }
                        Rewrite::Value(value) if opens_expression(&value) => {
                            left.extend(variable_refs(expr).into_iter().map(|r| r.0));
                            out.push_str(raw);
                            kept_exprs += 1;
                        }
                        // A whole string that was a list, dict or none stays an expression
                        // (a constant now): the compiler reads some fields differently when
                        // they are written as a YAML list or null.
                        Rewrite::Value(value)
                            if whole
                                && context != Context::Script
                                && matches!(
                                    value,
                                    Value::None | Value::List(_) | Value::Dict(_)
                                ) =>
                        {
                            out.push_str("${{ ");
                            out.push_str(&value.repr_plain());
                            out.push_str(" }}");
                            kept_exprs += 1;
                        }
                        Rewrite::Value(value) => {
                            if whole && context != Context::Script {
                                typed = Some(value.clone());
                            }
                            out.push_str(&value.to_text().to_string());
                        }
                    }
                }
            }
        }
        // The new string must hold exactly the expressions kept: a value whose text makes
        // a new `${{` (or breaks one) is not written.
        let safe = match parse_template(&out) {
            Ok(t) => {
                let exprs = t
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Expr { .. }))
                    .count();
                exprs == kept_exprs
            }
            Err(_) => false,
        };
        if !safe {
            let refs = template.segments.iter().flat_map(|s| match s {
                Segment::Expr { expr, .. } => variable_refs(expr),
                Segment::Lit(_) => Vec::new(),
            });
            for (name, _, _) in refs {
                if self.values.contains_key(&name) {
                    self.unrewritten.insert(name);
                }
            }
            return;
        }
        for name in left {
            if self.values.contains_key(&name) {
                self.unrewritten.insert(name);
            }
        }
        if context == Context::Script && kept_exprs == 0 {
            // The compiler drops one final newline from a script line with an expression
            // (as the reference's Jinja does); a line left without one must not keep it.
            if out.ends_with('\n') {
                out.pop();
            }
        }
        node.value = match typed {
            Some(value) => to_node(&value, node.span).value,
            None => NodeValue::Str(out),
        };
    }

    /// Inlinable names mentioned in a script's literal text as whole words.
    fn mentions(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                if self.values.contains_key(word) {
                    self.named_in_scripts.insert(word.to_string());
                }
            } else {
                i += 1;
            }
        }
    }

    /// One expression with inlinable references replaced by their values.
    fn rewrite(&self, expr: &expr::Expr) -> Rewrite {
        let refs = variable_refs(expr);
        let source = expr.source();
        let mut replace: Vec<(usize, usize, String)> = Vec::new();
        let mut names = Vec::new();
        let mut remaining = Vec::new();
        for (name, start, end) in refs {
            match self.values.get(&name) {
                Some(value) => {
                    replace.push((start, end, value.repr_plain()));
                    names.push(name);
                }
                None => remaining.push(name),
            }
        }
        if replace.is_empty() {
            return Rewrite::Unchanged(remaining);
        }
        // Nested references (`variables[X]` holding `X`) are rewritten from the outside.
        replace.sort_by_key(|r| (r.0, std::cmp::Reverse(r.1)));
        let mut outer: Vec<(usize, usize, String)> = Vec::new();
        for r in replace {
            if outer.last().is_none_or(|o| r.0 >= o.1) {
                outer.push(r);
            }
        }
        let mut new_source = String::new();
        let mut at = 0;
        for (start, end, literal) in &outer {
            new_source.push_str(&source[at..*start]);
            new_source.push('(');
            new_source.push_str(literal);
            new_source.push(')');
            at = *end;
        }
        new_source.push_str(&source[at..]);
        let Ok(new_expr) = parse(&new_source) else {
            return Rewrite::Unchanged(names.into_iter().chain(remaining).collect());
        };
        let constant = variable_refs(&new_expr).is_empty()
            && Namespace::ALL
                .iter()
                .filter(|ns| **ns != Namespace::Workflow)
                .all(|ns| !uses_namespace(&new_expr, *ns));
        if constant
            && let Ok(value) = expr::eval(
                &new_expr,
                &Constants {
                    workflow: &self.workflow,
                },
            )
            && writable(&value)
        {
            return Rewrite::Value(value);
        }
        Rewrite::Expr(tidy(&new_source, &outer, source), remaining)
    }
}

/// The rewritten source without parentheses around simple literals (`(8)` → `8`), when
/// that still parses to the same thing.
fn tidy(with_parens: &str, replaced: &[(usize, usize, String)], source: &str) -> String {
    let mut plain = String::new();
    let mut at = 0;
    for (start, end, literal) in replaced {
        plain.push_str(&source[at..*start]);
        plain.push_str(literal);
        at = *end;
    }
    plain.push_str(&source[at..]);
    let simple = replaced.iter().all(|(_, _, l)| {
        !l.starts_with('-')
            && (l.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                || l.starts_with('\'')
                || l.starts_with('"')
                || l.starts_with('[')
                || l.starts_with('{'))
    });
    if simple && parse(&plain).is_ok() {
        plain
    } else {
        with_parens.to_string()
    }
}

enum Rewrite {
    /// No inlinable reference; the names it still reads.
    Unchanged(Vec<String>),
    /// References replaced; the new source and the names it still reads.
    Expr(String, Vec<String>),
    /// Nothing left to look up: the value.
    Value(Value),
}

/// The scope of an expression that reads nothing but `workflow.name`.
struct Constants<'a> {
    workflow: &'a str,
}

impl Scope for Constants<'_> {
    fn variable(&self, _: &str) -> Lookup<Variable> {
        Lookup::Missing
    }
    fn member(&self, namespace: Namespace, name: &str) -> Lookup<Value> {
        match (namespace, name) {
            (Namespace::Workflow, "name") => Lookup::Found(Value::Str(self.workflow.to_string())),
            _ => Lookup::Missing,
        }
    }
    fn names(&self, namespace: Namespace) -> Vec<String> {
        match namespace {
            Namespace::Workflow => vec!["name".into()],
            _ => Vec::new(),
        }
    }
}

/// A YAML node holding a scalar value (a whole-string expression's typed result).
fn to_node(value: &Value, span: Span) -> Node {
    let v = match value {
        Value::Bool(b) => NodeValue::Bool(*b),
        Value::Int(i) => NodeValue::Int(*i),
        Value::Float(f) => NodeValue::Float(*f),
        other => NodeValue::Str(other.to_text().to_string()),
    };
    Node::new(span, v)
}

/// Removes the declarations of inlined variables (and a `variables` list left empty).
fn remove_declarations(
    root: &mut Node,
    removable: &dyn Fn(&str) -> bool,
    removed: &mut Vec<String>,
) {
    let mut prune = |holder: &mut Node| {
        let Some(list) = holder.get_mut("variables").and_then(Node::items_mut) else {
            return;
        };
        list.retain(|decl| match decl.get("name").and_then(Node::as_str) {
            Some(name) if removable(name) => {
                removed.push(name.to_string());
                false
            }
            _ => true,
        });
        if list.is_empty() {
            holder.remove("variables");
        }
    };
    prune(root);
    let Some(workflow) = root.get_mut("workflow") else {
        return;
    };
    prune(workflow);
    for task in workflow
        .get_mut("tasks")
        .and_then(Node::items_mut)
        .into_iter()
        .flatten()
    {
        prune(task);
    }
}
