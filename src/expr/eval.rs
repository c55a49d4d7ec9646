//! Tree to value. Input: an `Expr` and a `Scope`. Output: the expression's `Value`, or an
//! `ExprError` pointing at the operand or operator at fault. Guarantee: Jinja's
//! `StrictUndefined` behaviour (a missing name is an error unless `default` or
//! `is defined` handles it), Python semantics on typed values, and a precise error, never a
//! guess, whenever an operation needs the content of text known only in the job.

use super::ExprError;
use super::ast::{Expr, Kind, Loc, LogicOp, Node, UnaryOp};
use super::filters::ArgVal;
use super::ops::{self, Num};
use super::scope::{Lookup, Namespace, Scope, Variable};
use super::value::Value;
use crate::diagnostic::did_you_mean;

/// Evaluates a parsed expression; error ranges are relative to its source text.
pub fn eval(expr: &Expr, scope: &dyn Scope) -> Result<Value, ExprError> {
    let evaluator = Evaluator {
        src: &expr.src,
        scope,
    };
    evaluator.value(&expr.root)
}

/// An intermediate result: a value, or something that is only valid in some positions.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Plain(Value),
    /// `variables.X`: behaves as its value, but also has `.domain` and `.value`.
    Var(Variable),
    /// A bare namespace root such as `task`.
    Ns(Namespace),
    /// Jinja's undefined: an error when used, except by `default` and `is defined`.
    Undefined(Undefined),
}

#[derive(Clone, Debug)]
pub(crate) struct Undefined {
    pub message: String,
    pub help: Option<String>,
    pub loc: Loc,
}

impl Undefined {
    pub fn new(loc: Loc, message: impl Into<String>) -> Undefined {
        Undefined {
            message: message.into(),
            help: None,
            loc,
        }
    }

    fn into_error(self) -> ExprError {
        ExprError {
            help: self.help,
            ..ExprError::new(self.loc, self.message)
        }
    }
}

pub(crate) struct Evaluator<'a> {
    pub src: &'a str,
    pub scope: &'a dyn Scope,
}

impl Evaluator<'_> {
    /// The source text of a range, for messages.
    pub fn text(&self, loc: Loc) -> &str {
        self.src.get(loc.start..loc.end).unwrap_or("").trim()
    }

    /// The error for an operation that needs the content of text known only in the job.
    pub fn runtime_error(&self, loc: Loc, value: &Value, what: &str) -> ExprError {
        let text = self.text(loc);
        let message = if matches!(value, Value::Runtime(_)) {
            format!(
                "`{text}` is known only when the job runs (an allocated node's name or IP), so it cannot be {what}"
            )
        } else {
            format!(
                "`{text}` holds values known only when the job runs (allocated node names or IPs), so it cannot be {what}"
            )
        };
        ExprError::new(loc, message).with_help(
            "node names and IPs can only be used as text: `~`, `+` with strings, `join`, `string`, `default`",
        )
    }

    /// Fails when `value` holds text known only in the job.
    pub fn require_plain(&self, value: &Value, loc: Loc, what: &str) -> Result<(), ExprError> {
        if value.is_runtime() {
            return Err(self.runtime_error(loc, value, what));
        }
        Ok(())
    }

    /// Python truthiness, failing for undefined values and text known only in the job.
    pub fn truthy(&self, value: &Value, loc: Loc) -> Result<bool, ExprError> {
        value
            .truthy()
            .ok_or_else(|| self.runtime_error(loc, value, "used as a condition"))
    }

    /// Evaluates a node to a value; undefined and namespaces are errors here.
    pub fn value(&self, node: &Node) -> Result<Value, ExprError> {
        let val = self.eval(node)?;
        self.resolve(val, node.loc)
    }

    /// Turns an intermediate result into a value, failing for undefined and namespaces.
    pub fn resolve(&self, val: Val, loc: Loc) -> Result<Value, ExprError> {
        match val {
            Val::Plain(v) => Ok(v),
            Val::Var(var) => Ok(var.value),
            Val::Ns(ns) => Err(ExprError::new(
                loc,
                format!("`{}` is a namespace, not a value", ns.root()),
            )
            .with_help(format!(
                "name one of its members, e.g. `{}.NAME`",
                ns.root()
            ))),
            Val::Undefined(u) => Err(u.into_error()),
        }
    }

    fn eval(&self, node: &Node) -> Result<Val, ExprError> {
        let plain = |v| Ok(Val::Plain(v));
        match &node.kind {
            Kind::Const(v) => plain(v.clone()),
            Kind::List(items) => {
                let values = items
                    .iter()
                    .map(|n| self.value(n))
                    .collect::<Result<Vec<_>, _>>()?;
                plain(self.bounded(Value::List(values), node.loc)?)
            }
            Kind::Dict(pairs) => {
                let mut entries: Vec<(String, Value)> = Vec::new();
                for (key_node, value_node) in pairs {
                    let key = match self.value(key_node)? {
                        Value::Str(k) => k,
                        other => {
                            return Err(ExprError::new(
                                key_node.loc,
                                format!("dict keys must be strings, not {}", other.type_name()),
                            ));
                        }
                    };
                    let value = self.value(value_node)?;
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(entry) => entry.1 = value,
                        None => entries.push((key, value)),
                    }
                }
                plain(self.bounded(Value::Dict(entries), node.loc)?)
            }
            Kind::Name(name) => match Namespace::from_root(name) {
                Some(ns) => Ok(Val::Ns(ns)),
                None => self.member(Namespace::Variables, name, node.loc),
            },
            Kind::Attr {
                target,
                name,
                name_loc,
            } => {
                let t = self.eval(target)?;
                self.attr(t, target.loc, name, *name_loc)
            }
            Kind::Index { target, index } => {
                let t = self.eval(target)?;
                let i = self.value(index)?;
                self.index(t, target.loc, i, index.loc)
            }
            Kind::Slice { target, bounds } => self.slice(target, bounds),
            Kind::Unary {
                op: UnaryOp::Not,
                operand,
            } => {
                let v = self.value(operand)?;
                plain(Value::Bool(!self.truthy(&v, operand.loc)?))
            }
            Kind::Unary { op, operand } => {
                let v = self.value(operand)?;
                plain(self.sign(*op, v, operand.loc, node.loc)?)
            }
            Kind::Binary {
                op,
                op_loc,
                lhs,
                rhs,
            } => {
                let l = self.value(lhs)?;
                let r = self.value(rhs)?;
                plain(self.binary(*op, *op_loc, l, lhs.loc, r, rhs.loc)?)
            }
            Kind::Logic { op, lhs, rhs } => {
                let l = self.value(lhs)?;
                let t = self.truthy(&l, lhs.loc)?;
                match (op, t) {
                    (LogicOp::And, false) | (LogicOp::Or, true) => plain(l),
                    _ => plain(self.value(rhs)?),
                }
            }
            Kind::Compare { first, rest } => {
                let mut left = self.value(first)?;
                let mut left_loc = first.loc;
                for (op, op_loc, right_node) in rest {
                    let right = self.value(right_node)?;
                    if !self.compare(*op, *op_loc, &left, left_loc, &right, right_node.loc)? {
                        return plain(Value::Bool(false));
                    }
                    left = right;
                    left_loc = right_node.loc;
                }
                plain(Value::Bool(true))
            }
            Kind::Cond {
                then,
                cond,
                otherwise,
            } => {
                let c = self.value(cond)?;
                if self.truthy(&c, cond.loc)? {
                    self.eval(then)
                } else if let Some(otherwise) = otherwise {
                    self.eval(otherwise)
                } else {
                    let mut u = Undefined::new(
                        node.loc,
                        "the condition is false and there is no `else` part",
                    );
                    u.help = Some("add `else VALUE`".into());
                    Ok(Val::Undefined(u))
                }
            }
            Kind::Filter {
                target,
                name,
                name_loc,
                args,
            } => {
                let t = self.eval(target)?;
                let args = self.args(args)?;
                self.filter(name, *name_loc, t, target.loc, args)
            }
            Kind::Test {
                target,
                name,
                name_loc,
                negated,
                args,
            } => {
                let t = self.eval(target)?;
                let args = self.args(args)?;
                let result = self.test(name, *name_loc, t, target.loc, args)?;
                plain(Value::Bool(result != *negated))
            }
        }
    }

    fn args(&self, args: &[super::ast::Arg]) -> Result<Vec<ArgVal>, ExprError> {
        args.iter()
            .map(|a| {
                Ok(ArgVal {
                    name: a.name.clone(),
                    val: self.eval(&a.value)?,
                    loc: a.loc,
                })
            })
            .collect()
    }

    /// Fails when `value` is larger than `MAX_SIZE`.
    pub fn bounded(&self, value: Value, loc: Loc) -> Result<Value, ExprError> {
        if value.size() > super::value::MAX_SIZE {
            return Err(too_large(loc));
        }
        Ok(value)
    }

    /// `ns.NAME` (and the shorthand `NAME` for variables).
    fn member(&self, ns: Namespace, name: &str, loc: Loc) -> Result<Val, ExprError> {
        let found = match ns {
            Namespace::Variables => match self.scope.variable(name) {
                Lookup::Found(var) => Lookup::Found(Val::Var(var)),
                Lookup::Missing => Lookup::Missing,
                Lookup::Failed => Lookup::Failed,
            },
            _ => match self.scope.member(ns, name) {
                Lookup::Found(v) => Lookup::Found(Val::Plain(v)),
                Lookup::Missing => Lookup::Missing,
                Lookup::Failed => Lookup::Failed,
            },
        };
        match found {
            Lookup::Found(val) => Ok(val),
            Lookup::Failed => Err(ExprError::already_reported(loc, self.text(loc))),
            Lookup::Missing => {
                let names = self.scope.names(ns);
                let mut u = Undefined::new(loc, ns.missing_message(name));
                u.help = did_you_mean(name, names.iter().map(String::as_str));
                Ok(Val::Undefined(u))
            }
        }
    }

    /// `target.name`: a namespace member, a variable's `domain`/`value`, or a dict key.
    fn attr(&self, target: Val, t_loc: Loc, name: &str, name_loc: Loc) -> Result<Val, ExprError> {
        let value = match target {
            Val::Ns(ns) => return self.member(ns, name, name_loc),
            Val::Var(var) => match name {
                "domain" => return Ok(Val::Plain(Value::List(var.domain.unwrap_or_default()))),
                "value" => return Ok(Val::Plain(var.value)),
                _ => var.value,
            },
            Val::Plain(v) => v,
            Val::Undefined(u) => return Err(u.into_error()),
        };
        let t = self.text(t_loc);
        match value {
            Value::Dict(entries) => {
                let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
                let help = did_you_mean(name, keys);
                match entries.into_iter().find(|(k, _)| k == name) {
                    Some((_, v)) => Ok(Val::Plain(v)),
                    None => Ok(Val::Undefined(Undefined {
                        message: format!("`{t}` has no attribute `{name}`"),
                        help,
                        loc: name_loc,
                    })),
                }
            }
            Value::List(_) => Err(ExprError::new(
                name_loc,
                format!("`{t}` is a list, so it has no attribute `{name}`"),
            )
            .with_help(format!(
                "pick one item (`{t}[0].{name}`) or all of them (`{t} | map(attribute='{name}')`)"
            ))),
            other => Err(ExprError::new(
                name_loc,
                format!(
                    "`{t}` is a {}, so it has no attribute `{name}`",
                    other.type_name()
                ),
            )),
        }
    }

    /// `target[index]`: Python indexing; a missing item is undefined, as in Jinja.
    fn index(&self, target: Val, t_loc: Loc, index: Value, i_loc: Loc) -> Result<Val, ExprError> {
        let value = match target {
            Val::Ns(ns) => {
                return match index {
                    Value::Str(name) => self.member(ns, &name, i_loc),
                    other => Err(ExprError::new(
                        i_loc,
                        format!(
                            "`{}` is indexed by name, not by {}",
                            ns.root(),
                            other.type_name()
                        ),
                    )),
                };
            }
            Val::Var(var) => var.value,
            Val::Plain(v) => v,
            Val::Undefined(u) => return Err(u.into_error()),
        };
        self.require_plain(&index, i_loc, "used as an index")?;
        let t = self.text(t_loc);
        match (value, index) {
            (Value::Dict(entries), Value::Str(key)) => {
                match entries.into_iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => Ok(Val::Plain(v)),
                    None => Ok(Val::Undefined(Undefined::new(
                        i_loc,
                        format!("`{t}` has no key `{key}`"),
                    ))),
                }
            }
            (Value::Dict(_), other) => Ok(Val::Undefined(Undefined::new(
                i_loc,
                format!("`{t}` has no key {}", other.to_text()),
            ))),
            (runtime @ Value::Runtime(_), _) => {
                Err(self.runtime_error(t_loc, &runtime, "split into characters"))
            }
            (sequence @ (Value::List(_) | Value::Str(_)), index) => {
                let Some(i) = ops::num(&index).and_then(Num::as_int) else {
                    return Err(ExprError::new(
                        i_loc,
                        format!(
                            "a {} index must be an int, not {}",
                            sequence.type_name(),
                            index.type_name()
                        ),
                    ));
                };
                let item = match sequence {
                    Value::List(items) => {
                        let len = items.len();
                        ops::py_index(i, len).and_then(|k| items.into_iter().nth(k))
                    }
                    Value::Str(s) => {
                        let len = s.chars().count();
                        ops::py_index(i, len)
                            .and_then(|k| s.chars().nth(k))
                            .map(|c| Value::Str(c.to_string()))
                    }
                    _ => None,
                };
                Ok(match item {
                    Some(v) => Val::Plain(v),
                    None => Val::Undefined(Undefined::new(
                        i_loc,
                        format!("index {i} is out of range for `{t}`"),
                    )),
                })
            }
            (other, _) => Err(ExprError::new(
                t_loc,
                format!("`{t}` is a {}, which cannot be indexed", other.type_name()),
            )),
        }
    }

    /// `target[start:stop:step]` on a list or string, with Python's clamping.
    fn slice(&self, target: &Node, bounds: &[Option<Box<Node>>; 3]) -> Result<Val, ExprError> {
        let value = self.value(target)?;
        let mut ints = [None; 3];
        for (slot, bound) in ints.iter_mut().zip(bounds) {
            let Some(node) = bound else { continue };
            *slot = match self.value(node)? {
                Value::None => None,
                v => match ops::num(&v).and_then(Num::as_int) {
                    Some(i) => Some(i),
                    None => {
                        return Err(ExprError::new(
                            node.loc,
                            format!("slice bounds must be ints, not {}", v.type_name()),
                        ));
                    }
                },
            };
        }
        let [start, stop, step] = ints;
        let step = step.unwrap_or(1);
        if step == 0 {
            let at = bounds[2].as_ref().map_or(target.loc, |n| n.loc);
            return Err(ExprError::new(at, "slice step cannot be zero"));
        }
        match value {
            Value::List(items) => {
                let picked = ops::slice_indices(items.len(), start, stop, step);
                Ok(Val::Plain(Value::List(
                    picked
                        .into_iter()
                        .filter_map(|i| items.get(i).cloned())
                        .collect(),
                )))
            }
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                let picked = ops::slice_indices(chars.len(), start, stop, step);
                Ok(Val::Plain(Value::Str(
                    picked.into_iter().filter_map(|i| chars.get(i)).collect(),
                )))
            }
            runtime @ Value::Runtime(_) => {
                Err(self.runtime_error(target.loc, &runtime, "split into characters"))
            }
            other => Err(ExprError::new(
                target.loc,
                format!(
                    "`{}` is a {}, which cannot be sliced",
                    self.text(target.loc),
                    other.type_name()
                ),
            )),
        }
    }

    /// Unary `-` and `+`.
    fn sign(&self, op: UnaryOp, v: Value, v_loc: Loc, loc: Loc) -> Result<Value, ExprError> {
        if let Value::Runtime(_) = v {
            return Err(self.runtime_error(v_loc, &v, "used in arithmetic"));
        }
        let negate = op == UnaryOp::Neg;
        match ops::num(&v) {
            Some(Num::I(n)) if negate => {
                n.checked_neg().map(Value::Int).ok_or_else(|| overflow(loc))
            }
            Some(Num::I(n)) => Ok(Value::Int(n)),
            Some(Num::F(x)) => Ok(Value::Float(if negate { -x } else { x })),
            None => Err(ExprError::new(
                loc,
                format!(
                    "bad operand type for unary `{}`: {}",
                    if negate { "-" } else { "+" },
                    v.type_name()
                ),
            )),
        }
    }
}

pub(crate) fn overflow(loc: Loc) -> ExprError {
    ExprError::new(loc, "integer overflow: the result does not fit in 64 bits")
}

pub(crate) fn too_large(loc: Loc) -> ExprError {
    ExprError::new(loc, "the result would be larger than 1 MB")
}

#[cfg(test)]
mod tests {
    use super::super::test_scope::{eval_err, eval_str, eval_value};
    use super::*;

    #[test]
    fn operators_follow_python() {
        let cases = [
            ("1 + 2", "3"),
            ("1 + 2.5", "3.5"),
            ("True + 1", "2"),
            ("'a' + 'b'", "ab"),
            ("[1] + [2, 3]", "[1, 2, 3]"),
            ("5 - 7", "-2"),
            ("2 * 3", "6"),
            ("'ab' * 2", "abab"),
            ("2 * 'ab'", "abab"),
            ("'ab' * -1", ""),
            ("[1] * 2", "[1, 1]"),
            ("[0] * 0", "[]"),
            ("7 / 2", "3.5"),
            ("4 / 2", "2.0"),
            ("7 // 2", "3"),
            ("-7 // 2", "-4"),
            ("7 // -2", "-4"),
            ("7.5 // 2", "3.0"),
            ("-7.5 // 2", "-4.0"),
            ("7 % 3", "1"),
            ("-7 % 3", "2"),
            ("7 % -3", "-2"),
            ("7.5 % 2", "1.5"),
            ("-7.5 % 2", "0.5"),
            ("2 ** 10", "1024"),
            ("2 ** -1", "0.5"),
            ("2.0 ** 3", "8.0"),
            ("(-1) ** 1000000000001", "-1"),
            ("1 ** 99999999999999", "1"),
            ("4 ** 0.5", "2.0"),
            ("-3", "-3"),
            ("+3", "3"),
            ("--3", "3"),
            ("-3.5", "-3.5"),
            ("'a' ~ 1 ~ none ~ true ~ [1]", "a1NoneTrue[1]"),
            ("0.1 + 0.2", "0.30000000000000004"),
            ("1e3", "1000.0"),
            (".5", "0.5"),
            ("1_000", "1000"),
            ("0x1f + 0o17 + 0b11", "49"),
            ("0x_1f", "31"),
            ("1.5e-7", "1.5e-07"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn precedence_follows_jinja() {
        let cases = [
            ("1 + 2 * 3", "7"),
            ("(1 + 2) * 3", "9"),
            ("2 * 3 ** 2", "18"),
            ("2 ** 3 ** 2", "64"),
            ("-2 ** 2", "4"),
            ("-(2 ** 2)", "-4"),
            ("'x' + 1 ~ 2", "x12"),
            ("1 ~ 2 * 3", "16"),
            (
                "1 + 2 ~ 3",
                "error: unsupported operand types for `+`: int and str (at 2..3)",
            ),
            ("'a' ~ 2 * 3", "a6"),
            ("10 - 2 - 3", "5"),
            ("100 / 10 / 5", "2.0"),
            ("-1 | abs", "1"),
            ("-x.y", "-5"),
            ("1 + 2 == 3", "True"),
            ("not 1 == 2", "True"),
            ("not 1 and 0", "False"),
            ("1 or 0 and 0", "1"),
            ("0 or 2", "2"),
            ("0 and 2", "0"),
            ("'' or 'x'", "x"),
            ("1 < 2 < 3", "True"),
            ("1 < 3 < 2", "False"),
            ("(1 < 3) < 2", "True"),
            ("1 if 0 else 2 if 0 else 3", "3"),
            ("1 + 1 if 1 else 0", "2"),
            ("[1, 2, 3][1:] | length", "2"),
            ("2 * -1", "-2"),
            ("3 - -1", "4"),
            ("not not 1", "True"),
            ("1 in [1] and 2 not in [1]", "True"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn comparisons_follow_python() {
        let cases = [
            ("1 == 1.0", "True"),
            ("True == 1", "True"),
            ("1 == '1'", "False"),
            ("none == none", "True"),
            ("[1, 2] == [1, 2.0]", "True"),
            ("{'a': 1, 'b': 2} == {'b': 2, 'a': 1}", "True"),
            ("1 != 2", "True"),
            ("2 > 1.5", "True"),
            ("'abc' < 'abd'", "True"),
            ("[1, 2] < [1, 3]", "True"),
            ("[1, 2] < [1, 2, 0]", "True"),
            ("3 >= 3", "True"),
            ("2 <= 1", "False"),
            ("9007199254740993 == 9007199254740992.0", "False"),
            ("'b' in 'abc'", "True"),
            ("'k' in {'k': 1}", "True"),
            ("1 in {'k': 1}", "False"),
            ("3 not in [1, 2]", "True"),
            ("F == ''", "True"),
            ("N > 1", "True"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn literals_indexing_and_attributes() {
        let cases = [
            ("[1, 'a', true, none, 1.5]", "[1, 'a', True, None, 1.5]"),
            ("(1, 2)", "[1, 2]"),
            ("(1,)", "[1]"),
            ("()", "[]"),
            ("{'a': 1, 'b': 'x'}", "{'a': 1, 'b': 'x'}"),
            ("{'a': 1, 'a': 2}", "{'a': 2}"),
            ("{'a': {'b': 1}}.a.b", "1"),
            ("{'a': 1}['a']", "1"),
            ("[1, 2, 3][0]", "1"),
            ("[1, 2, 3][-1]", "3"),
            ("[1, 2, 3].1", "2"),
            ("'hello'[1]", "e"),
            ("[1, 2, 3, 4][1:3]", "[2, 3]"),
            ("[1, 2, 3, 4][::-1]", "[4, 3, 2, 1]"),
            ("[1, 2, 3, 4][-2:]", "[3, 4]"),
            ("[1, 2, 3, 4][:100]", "[1, 2, 3, 4]"),
            ("'hello'[1:4]", "ell"),
            ("'hello'[::2]", "hlo"),
            ("True", "True"),
            ("false", "False"),
            ("None", "None"),
            ("\"double\" ~ 'single'", "doublesingle"),
            ("L[L[0]]", "2"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn variables_and_namespaces() {
        let cases = [
            ("A", "3"),
            ("variables.A", "3"),
            ("variables['A']", "3"),
            ("A * 2", "6"),
            ("variables.A * variables.B", "6"),
            ("variables.A * variables.B * variables.N", "24"),
            ("variables.C.domain", "[16, 32, 64]"),
            ("variables.C.domain | max", "64"),
            ("variables.C.value", "16"),
            ("variables.A.domain", "[]"),
            ("variables.C * 2", "32"),
            ("S | upper", "HELLO"),
            ("artifacts.model.path", "/models/llama"),
            ("workflow.name", "demo"),
            ("backends.gpu.nodes[1].index", "1"),
            ("backends.gpu.nodes | length", "2"),
            ("task.server.gpus", "[0, 1]"),
            ("task.server.backend", "gpu"),
            ("task.server.nodes[0].num_gpus", "8"),
            ("variables.A if variables.A > 1 else 0", "3"),
            ("D.inner.k", "v"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn corpus_forms() {
        let cases = [
            ("${{ variables.A }}", "3"),
            (
                "((variables.A / variables.B) | round(0, \"ceil\")) | int",
                "2",
            ),
            (
                "[(variables.C.domain | max) // variables.N, variables.T] | max",
                "16",
            ),
            ("(A*B*N) if variables.F == '' else (A*N)", "24"),
            ("(A*B*N) if variables.S == '' else (A*N)", "12"),
            ("8180 if variables.N > 1 else 8000", "8180"),
            ("[ variables.A, variables.B ] | min", "2"),
            ("[variables.A // variables.B, 1] | max", "1"),
            ("variables.A + variables.B + 1", "6"),
            ("variables.A + 1", "4"),
            ("variables.A * 8", "24"),
            ("variables.C.domain | max", "64"),
            ("backends.gpu.nodes[variables.ONE].index", "1"),
        ];
        for (src, want) in cases {
            let src = src.trim_start_matches("${{ ").trim_end_matches(" }}");
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn runtime_values_flow_through_text_operations() {
        let cases = [
            (
                "backends.gpu.nodes | map(attribute='ip_address') | join(',')",
                "<node0.ip>,<node1.ip>",
            ),
            ("backends.gpu.nodes[0].ip_address", "<node0.ip>"),
            ("task.server.nodes[0].name", "<node0.name>"),
            (
                "'http://' ~ backends.gpu.nodes[0].ip_address ~ ':8000'",
                "http://<node0.ip>:8000",
            ),
            (
                "'http://' + backends.gpu.nodes[1].ip_address",
                "http://<node1.ip>",
            ),
            ("backends.gpu.nodes[0].name | string", "<node0.name>"),
            ("[backends.gpu.nodes[0].name]", "['<node0.name>']"),
            (
                "task.server.nodes",
                "[{'name': '<node0.name>', 'ip_address': '<node0.ip>', 'index': 0, 'num_gpus': 8}]",
            ),
            (
                "backends.gpu.nodes[0].name if A > 1 else 'x'",
                "<node0.name>",
            ),
            (
                "MISSING | default(backends.gpu.nodes[0].name)",
                "<node0.name>",
            ),
            ("backends.gpu.nodes[0].name | default('x')", "<node0.name>"),
            (
                "task.server.nodes | map(attribute='name') | list | length",
                "1",
            ),
            ("task.server.nodes[0].name is string", "True"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
        let joined = eval_value("backends.gpu.nodes | map(attribute='ip_address') | join(',')");
        let Ok(Value::Runtime(text)) = joined else {
            panic!("expected runtime text, got {joined:?}");
        };
        use super::super::value::{NodeField, Piece};
        assert_eq!(
            text.0,
            vec![
                Piece::Node {
                    index: 0,
                    field: NodeField::Ip
                },
                Piece::Lit(",".into()),
                Piece::Node {
                    index: 1,
                    field: NodeField::Ip
                },
            ]
        );
    }

    #[test]
    fn runtime_values_cannot_be_inspected() {
        let ip = "backends.gpu.nodes[0].ip_address";
        let known = format!(
            "`{ip}` is known only when the job runs (an allocated node's name or IP), so it cannot be"
        );
        let cases = [
            (format!("{ip} == 'x'"), "compared", 0, ip.len()),
            (format!("{ip} + 1"), "used in arithmetic", 0, ip.len()),
            (format!("{ip} | length"), "measured", 0, ip.len()),
            (
                format!("{ip} | lower"),
                "changed to lower case",
                0,
                ip.len(),
            ),
            (format!("{ip} | int"), "converted to a number", 0, ip.len()),
            (
                format!("1 if {ip} else 2"),
                "used as a condition",
                5,
                5 + ip.len(),
            ),
            (format!("'1' in {ip}"), "searched", 7, 7 + ip.len()),
            (format!("-{ip}"), "used in arithmetic", 1, 1 + ip.len()),
            (format!("{ip}[0]"), "split into characters", 0, ip.len()),
        ];
        for (src, what, start, end) in cases {
            let e = eval_err(&src);
            assert_eq!(e.message, format!("{known} {what}"), "`{src}`");
            assert_eq!((e.start, e.end), (start, end), "`{src}`");
        }
        let e = eval_err("backends.gpu.nodes | map(attribute='name') | sort");
        assert!(
            e.message
                .contains("holds values known only when the job runs")
        );
    }

    #[test]
    fn errors_name_types_and_point_at_the_culprit() {
        let cases: &[(&str, &str, usize, usize)] = &[
            (
                "1 + 'a'",
                "unsupported operand types for `+`: int and str",
                2,
                3,
            ),
            (
                "'a' - 1",
                "unsupported operand types for `-`: str and int",
                4,
                5,
            ),
            (
                "[1] * 'a'",
                "unsupported operand types for `*`: list and str",
                4,
                5,
            ),
            ("1 / 0", "division by zero", 4, 5),
            ("1 // 0", "division by zero", 5, 6),
            ("1 % 0", "division by zero", 4, 5),
            ("1.0 / 0.0", "division by zero", 6, 9),
            ("1 < 'a'", "`<` is not supported between int and str", 2, 3),
            (
                "none < 1",
                "`<` is not supported between none and int",
                5,
                6,
            ),
            (
                "9223372036854775807 + 1",
                "integer overflow: the result does not fit in 64 bits",
                0,
                23,
            ),
            (
                "2 ** 64",
                "integer overflow: the result does not fit in 64 bits",
                0,
                7,
            ),
            (
                "2 ** 10 ** 10",
                "integer overflow: the result does not fit in 64 bits",
                0,
                13,
            ),
            (
                "2.0 ** 10000",
                "float overflow: the result is too large",
                0,
                12,
            ),
            ("0 ** -1", "0 cannot be raised to a negative power", 0, 7),
            (
                "(-8.0) ** 0.5",
                "a negative number cannot be raised to a fractional power",
                1,
                13,
            ),
            (
                "'a' * 10 ** 9",
                "the result would be larger than 1 MB",
                0,
                13,
            ),
            (
                "[1, 2] * 10 ** 6",
                "the result would be larger than 1 MB",
                0,
                16,
            ),
            ("-'a'", "bad operand type for unary `-`: str", 0, 4),
            (
                "1 in 2",
                "unsupported operand types for `in`: int and int",
                2,
                4,
            ),
            ("task", "`task` is a namespace, not a value", 0, 4),
            ("[1].x", "`[1]` is a list, so it has no attribute `x`", 4, 5),
            ("'s'.x", "`'s'` is a str, so it has no attribute `x`", 4, 5),
            ("5[0]", "`5` is a int, which cannot be indexed", 0, 1),
            ("[1]['a']", "a list index must be an int, not str", 4, 7),
            ("[1][0:1:0]", "slice step cannot be zero", 8, 9),
            ("{1: 2}", "dict keys must be strings, not int", 1, 2),
            ("[1][5]", "index 5 is out of range for `[1]`", 4, 5),
            ("{'a': 1}.b", "`{'a': 1}` has no attribute `b`", 9, 10),
            (
                "1 if 0",
                "the condition is false and there is no `else` part",
                0,
                6,
            ),
            ("not MISSING", "undefined variable `MISSING`", 4, 11),
        ];
        for (src, message, start, end) in cases {
            let e = eval_err(src);
            assert_eq!(
                (e.message.as_str(), e.start, e.end),
                (*message, *start, *end),
                "`{src}`"
            );
        }
    }

    #[test]
    fn undefined_names_suggest_close_ones() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "NUMGPUS",
                "undefined variable `NUMGPUS`",
                Some("did you mean `NUM_GPUS`?"),
            ),
            (
                "variables.AA",
                "undefined variable `AA`",
                Some("did you mean `A`?"),
            ),
            (
                "backends.gpus.nodes",
                "unknown backend `gpus`",
                Some("did you mean `gpu`?"),
            ),
            (
                "task.sever.gpus",
                "unknown task `sever`",
                Some("did you mean `server`?"),
            ),
            (
                "artifacts.modle.path",
                "unknown artifact `modle`",
                Some("did you mean `model`?"),
            ),
            (
                "workflow.nmae",
                "unknown workflow field `nmae`",
                Some("did you mean `name`?"),
            ),
            (
                "backends.gpu.nodez",
                "`backends.gpu` has no attribute `nodez`",
                Some("did you mean `nodes`?"),
            ),
            ("ZZZZZZZZ", "undefined variable `ZZZZZZZZ`", None),
        ];
        for (src, message, help) in cases {
            let e = eval_err(src);
            assert_eq!(
                (e.message.as_str(), e.help.as_deref()),
                (*message, *help),
                "`{src}`"
            );
            assert!(!e.reported);
        }
    }

    #[test]
    fn failed_lookups_are_already_reported() {
        for src in [
            "BROKEN",
            "variables.BROKEN * 2",
            "task.broken.gpus",
            "BROKEN | default(1)",
        ] {
            assert!(eval_err(src).reported, "`{src}`");
        }
    }

    #[test]
    fn undefined_works_with_default_and_defined() {
        let cases = [
            ("MISSING | default(5)", "5"),
            ("MISSING | d('x')", "x"),
            ("variables.MISSING | default(A)", "3"),
            ("MISSING is defined", "False"),
            ("MISSING is undefined", "True"),
            ("A is defined", "True"),
            ("MISSING is not defined", "True"),
            ("{'a': 1}.b | default(2)", "2"),
            ("[1][3] | default(0)", "0"),
            ("(1 if 0) | default('no')", "no"),
            ("'' | default('empty', true)", "empty"),
            ("'' | default('empty')", ""),
            ("0 | default(9, boolean=true)", "9"),
            ("none | default(1)", "None"),
            ("MISSING | default", ""),
            ("backends.nope | default('none')", "none"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
        let e = eval_err("MISSING + 1");
        assert_eq!(e.message, "undefined variable `MISSING`");
        let e = eval_err("MISSING.x | default(1)");
        assert_eq!(e.message, "undefined variable `MISSING`");
    }

    #[test]
    fn evaluation_at_the_depth_limit_works() {
        let list = format!("{}1{}", "[".repeat(63), "]".repeat(63));
        assert_eq!(eval_str(&list), list);
        let negations = format!("{}1", "-".repeat(63));
        assert_eq!(eval_str(&negations), "-1");
        let sum = vec!["1"; 64].join(" + ");
        assert_eq!(eval_str(&sum), "64");
        let nots = format!("{}1", "not ".repeat(63));
        assert_eq!(eval_str(&nots), "False");
    }

    #[test]
    fn random_mutations_do_not_panic() {
        let pieces = [
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            "'",
            "\"",
            "\\",
            "|",
            "**",
            "//",
            "-",
            "~",
            ".",
            ":",
            ",",
            "=",
            " is ",
            " not ",
            " if ",
            " else ",
            " in ",
            "0",
            "9223372036854775807",
            "1e308",
            "A",
            "variables",
            "task",
            "backends.gpu.nodes",
            "${{",
            "}}",
            "é",
            "max",
            "default(",
            "round(",
            "map(attribute=",
            "[::-1]",
            "*10**9",
        ];
        let corpus = [
            "((variables.A / variables.B) | round(0, \"ceil\")) | int",
            "[(variables.C.domain | max) // variables.N, variables.T] | max",
            "backends.gpu.nodes | map(attribute='ip_address') | join(',')",
            "(A*B*N) if variables.F == '' else (A*N)",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap_or(0)
        };
        for round in 0..4000 {
            let mut src = corpus[round % corpus.len()].to_string();
            for _ in 0..1 + next(4) {
                let boundaries: Vec<usize> = (0..=src.len())
                    .filter(|i| src.is_char_boundary(*i))
                    .collect();
                let at = boundaries[next(boundaries.len())];
                let piece = pieces[next(pieces.len())];
                if next(2) == 0 {
                    src.insert_str(at, piece);
                } else {
                    let end = boundaries.iter().copied().find(|&b| b > at).unwrap_or(at);
                    src.replace_range(at..end, piece);
                }
            }
            let _ = eval_value(&src);
            let _ = super::super::parse_template(&src)
                .map(|t| super::super::eval_template(&t, &super::super::test_scope::TestScope));
        }
    }

    #[test]
    fn no_input_panics() {
        let corpus = [
            "${{ ((variables.A / variables.B) | round(0, \"ceil\")) | int }}",
            "[(variables.C.domain | max) // variables.N, variables.T] | max",
            "(A*B*N) if variables.F == '' else (A*N)",
            "backends.gpu.nodes | map(attribute='ip_address') | join(',')",
            "task.server.nodes[0].ip_address ~ ':' ~ 8000",
            "{'a': {'b': [1, 2.5e3, 'x\\n']}}['a'].b[1:] | sum",
            "MISSING | default(5) is defined and not 1 in [1, 2]",
            "'%s' ~ (2 ** 62 * 2) ~ (-9223372036854775807 - 1) // -1",
            "L | sort(reverse=true) | unique | reverse | first | abs | string | length",
            "S | replace('l', 'L', 1) | trim | lower | upper | list | join('-')",
        ];
        let (mut values, mut eval_errors) = (0, 0);
        for src in corpus {
            let chars: Vec<(usize, char)> = src.char_indices().collect();
            for &(i, _) in &chars {
                let truncated = &src[..i];
                let dropped: String = src[..i].chars().chain(src[i..].chars().skip(1)).collect();
                let doubled = format!("{}{}", &src[..i], &src[i..].repeat(2));
                for variant in [truncated.to_string(), dropped, doubled] {
                    match eval_value(&variant) {
                        Ok(_) => values += 1,
                        Err(_) if super::super::parse(&variant).is_ok() => eval_errors += 1,
                        Err(_) => {}
                    }
                    let _ = super::super::parse_template(&variant).map(|t| {
                        super::super::eval_template(&t, &super::super::test_scope::TestScope)
                    });
                }
            }
        }
        // The variants reach the evaluator, not only the parser's errors.
        assert!(
            values > 0 && eval_errors > 0,
            "{values} values, {eval_errors} evaluation errors"
        );
    }
}
