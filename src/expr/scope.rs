//! What an expression can name. Input: a caller's `Scope` (the variables, backends,
//! artifacts, workflow facts and tasks visible where the expression sits). Output: lookups
//! that `eval.rs` turns into values or errors. Guarantee: the five namespace roots are
//! fixed here; every other bare identifier is a variable.

use super::value::Value;

/// A namespace that `${{ ns.NAME }}` looks names up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    Variables,
    Backends,
    Artifacts,
    Workflow,
    Task,
}

impl Namespace {
    pub const ALL: [Namespace; 5] = [
        Namespace::Variables,
        Namespace::Backends,
        Namespace::Artifacts,
        Namespace::Workflow,
        Namespace::Task,
    ];

    /// The identifier that names this namespace in expressions.
    pub fn root(self) -> &'static str {
        match self {
            Namespace::Variables => "variables",
            Namespace::Backends => "backends",
            Namespace::Artifacts => "artifacts",
            Namespace::Workflow => "workflow",
            Namespace::Task => "task",
        }
    }

    /// The namespace a bare identifier names, if any.
    pub fn from_root(name: &str) -> Option<Namespace> {
        Namespace::ALL.into_iter().find(|ns| ns.root() == name)
    }

    /// "undefined variable `X`", "unknown task `T`", ...
    pub(crate) fn missing_message(self, name: &str) -> String {
        match self {
            Namespace::Variables => format!("undefined variable `{name}`"),
            Namespace::Backends => format!("unknown backend `{name}`"),
            Namespace::Artifacts => format!("unknown artifact `{name}`"),
            Namespace::Workflow => format!("unknown workflow field `{name}`"),
            Namespace::Task => format!("unknown task `{name}`"),
        }
    }
}

/// A variable as expressions see it: its value, and its sweep domain if it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub value: Value,
    pub domain: Option<Vec<Value>>,
}

/// The result of looking a name up.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup<T> {
    Found(T),
    Missing,
    /// Resolution failed and the failure was already reported.
    Failed,
}

impl<T> Lookup<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Lookup::Found(t) => Lookup::Found(f(t)),
            Lookup::Missing => Lookup::Missing,
            Lookup::Failed => Lookup::Failed,
        }
    }
}

/// The names visible to an expression.
pub trait Scope {
    /// `variables.NAME` and the shorthand `NAME` (any bare identifier that is not a
    /// namespace name).
    fn variable(&self, name: &str) -> Lookup<Variable>;
    /// `backends.B`, `artifacts.A`, `workflow.name`, `task.T` (one member of a namespace
    /// other than variables).
    fn member(&self, namespace: Namespace, name: &str) -> Lookup<Value>;
    /// Names that exist in a namespace, for did-you-mean on a Missing lookup.
    fn names(&self, namespace: Namespace) -> Vec<String>;
}
