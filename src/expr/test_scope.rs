//! Test support. Input: expression text. Output: its value as text (`eval_str`), its value,
//! or its error, evaluated in `TestScope`: a small fixed workflow with typed variables, a
//! backend with two nodes known only in the job, an artifact, a task and lookups that
//! fail. Guarantee: used only by unit tests.

use super::scope::{Lookup, Namespace, Scope, Variable};
use super::value::{NodeField, Text, Value};
use super::{ExprError, eval, parse};

pub(crate) struct TestScope;

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn dict(entries: &[(&str, Value)]) -> Value {
    Value::Dict(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn node(index: u32, num_gpus: i64, position: i64) -> Value {
    dict(&[
        ("name", Value::Runtime(Text::node(index, NodeField::Name))),
        (
            "ip_address",
            Value::Runtime(Text::node(index, NodeField::Ip)),
        ),
        ("index", Value::Int(position)),
        ("num_gpus", Value::Int(num_gpus)),
    ])
}

const VARIABLES: &[&str] = &[
    "A", "B", "C", "D", "F", "FL", "L", "N", "NUM_GPUS", "ONE", "S", "T", "x", "BROKEN",
];

impl Scope for TestScope {
    fn variable(&self, name: &str) -> Lookup<Variable> {
        let value = match name {
            "A" => Value::Int(3),
            "B" => Value::Int(2),
            "C" => {
                return Lookup::Found(Variable {
                    value: Value::Int(16),
                    domain: Some(vec![Value::Int(16), Value::Int(32), Value::Int(64)]),
                });
            }
            "D" => dict(&[("inner", dict(&[("k", s("v"))]))]),
            "F" => s(""),
            "FL" => Value::Float(1.5),
            "L" => Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            "N" => Value::Int(4),
            "NUM_GPUS" => Value::Int(8),
            "ONE" => Value::Int(1),
            "S" => s("hello"),
            "T" => Value::Int(10),
            "x" => dict(&[("y", Value::Int(5))]),
            "BROKEN" => return Lookup::Failed,
            _ => return Lookup::Missing,
        };
        Lookup::Found(Variable {
            value,
            domain: None,
        })
    }

    fn member(&self, namespace: Namespace, name: &str) -> Lookup<Value> {
        let value = match (namespace, name) {
            (Namespace::Backends, "gpu") => dict(&[
                ("name", s("gpu")),
                ("nodes", Value::List(vec![node(0, 8, 0), node(1, 8, 1)])),
            ]),
            (Namespace::Artifacts, "model") => {
                dict(&[("uri", s("hf://meta/llama")), ("path", s("/models/llama"))])
            }
            (Namespace::Workflow, "name") => s("demo"),
            (Namespace::Task, "server") => dict(&[
                ("nodes", Value::List(vec![node(0, 8, 0)])),
                ("gpus", Value::List(vec![Value::Int(0), Value::Int(1)])),
                ("backend", s("gpu")),
                ("operator", s("srun")),
            ]),
            (Namespace::Task, "broken") => return Lookup::Failed,
            _ => return Lookup::Missing,
        };
        Lookup::Found(value)
    }

    fn names(&self, namespace: Namespace) -> Vec<String> {
        let names: &[&str] = match namespace {
            Namespace::Variables => VARIABLES,
            Namespace::Backends => &["gpu"],
            Namespace::Artifacts => &["model"],
            Namespace::Workflow => &["name"],
            Namespace::Task => &["server", "broken"],
        };
        names.iter().map(|n| n.to_string()).collect()
    }
}

/// Parses and evaluates `src` in `TestScope`.
pub(crate) fn eval_value(src: &str) -> Result<Value, ExprError> {
    eval(&parse(src)?, &TestScope)
}

/// The value's text form (node pieces as `<node0.ip>`), or `error: message`.
pub(crate) fn eval_str(src: &str) -> String {
    match eval_value(src) {
        Ok(v) => v.to_text().to_string(),
        Err(e) => format!("error: {} (at {}..{})", e.message, e.start, e.end),
    }
}

/// The error `src` gives; panics (failing the test) when it evaluates.
pub(crate) fn eval_err(src: &str) -> ExprError {
    match eval_value(src) {
        Ok(v) => panic!("`{src}` evaluated to {v:?}"),
        Err(e) => e,
    }
}
