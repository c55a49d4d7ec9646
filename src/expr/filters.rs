//! Filters (`x | name(args)`) and tests (`x is name`). Input: the evaluated target and
//! arguments. Output: the result Jinja2 gives, except that a failed `int`/`float`
//! conversion without an explicit default is an error instead of a silent 0. Guarantee:
//! unknown filters, tests and argument names are errors with a did-you-mean, and every
//! filter that needs the content of text known only in the job says so.

use super::ExprError;
use super::ast::{BinOp, Loc};
use super::eval::{Evaluator, Undefined, Val, overflow, too_large};
use super::ops::{self, Num, OpFail, TWO_63};
use super::pyfmt::{self, NumError};
use super::value::{MAX_SIZE, Text, Value};
use crate::diagnostic::did_you_mean;
use std::cmp::Ordering;
use std::collections::HashSet;

const FILTERS: &[&str] = &[
    "abs", "count", "d", "default", "first", "float", "int", "join", "last", "length", "list",
    "lower", "map", "max", "min", "replace", "reverse", "round", "sort", "string", "sum", "trim",
    "unique", "upper",
];

const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "even",
    "false",
    "float",
    "integer",
    "mapping",
    "none",
    "number",
    "odd",
    "sequence",
    "string",
    "true",
    "undefined",
];

/// An evaluated argument of a filter or test.
#[derive(Clone, Debug)]
pub(crate) struct ArgVal {
    pub name: Option<String>,
    pub val: Val,
    pub loc: Loc,
}

/// The filter or test being applied, for messages.
struct Call<'a> {
    kind: &'static str,
    name: &'a str,
    loc: Loc,
    target: Loc,
}

impl Evaluator<'_> {
    pub(crate) fn filter(
        &self,
        name: &str,
        name_loc: Loc,
        target: Val,
        t_loc: Loc,
        args: Vec<ArgVal>,
    ) -> Result<Val, ExprError> {
        if !FILTERS.contains(&name) {
            return Err(unknown("filter", name, name_loc, FILTERS));
        }
        let call = Call {
            kind: "filter",
            name,
            loc: name_loc,
            target: t_loc,
        };
        if matches!(name, "default" | "d") {
            let [fallback, boolean] = self.bind(&call, ["default_value", "boolean"], args)?;
            let boolean = self.arg_bool(boolean, false)?;
            let use_fallback = match &target {
                Val::Undefined(_) => true,
                _ if boolean => {
                    let v = self.resolve(target.clone(), t_loc)?;
                    !self.truthy(&v, t_loc)?
                }
                _ => false,
            };
            return Ok(match (use_fallback, fallback) {
                (false, _) => target,
                (true, Some(arg)) => arg.val,
                (true, None) => Val::Plain(Value::Str(String::new())),
            });
        }
        let v = self.resolve(target, t_loc)?;
        let out = match name {
            "abs" => {
                self.bind(&call, [], args)?;
                self.abs(v, &call)?
            }
            "count" | "length" => {
                self.bind(&call, [], args)?;
                self.length(v, &call)?
            }
            "first" | "last" => {
                self.bind(&call, [], args)?;
                let items = self.items(v, &call)?;
                let item = if name == "first" {
                    items.into_iter().next()
                } else {
                    items.into_iter().next_back()
                };
                return Ok(match item {
                    Some(v) => Val::Plain(v),
                    None => Val::Undefined(Undefined::new(
                        t_loc,
                        format!("`{}` is empty, so it has no {name} item", self.text(t_loc)),
                    )),
                });
            }
            "float" => {
                let [default] = self.bind(&call, ["default"], args)?;
                self.to_float(v, &call, default)?
            }
            "int" => {
                let [default, base] = self.bind(&call, ["default", "base"], args)?;
                self.to_int(v, &call, default, base)?
            }
            "join" => {
                let [sep, attribute] = self.bind(&call, ["d", "attribute"], args)?;
                self.join(v, &call, sep, attribute)?
            }
            "list" => {
                self.bind(&call, [], args)?;
                Value::List(self.items(v, &call)?)
            }
            "lower" | "upper" => {
                self.bind(&call, [], args)?;
                let s = self.plain_text(&v, t_loc, &format!("changed to {name} case"))?;
                Value::Str(if name == "lower" {
                    s.to_lowercase()
                } else {
                    s.to_uppercase()
                })
            }
            "map" => self.map(v, &call, args)?,
            "max" | "min" => {
                let [case_sensitive, attribute] =
                    self.bind(&call, ["case_sensitive", "attribute"], args)?;
                return self.extreme(v, &call, case_sensitive, attribute);
            }
            "replace" => {
                let [old, new, count] = self.bind(&call, ["old", "new", "count"], args)?;
                self.replace(v, &call, old, new, count)?
            }
            "reverse" => {
                self.bind(&call, [], args)?;
                match v {
                    Value::Str(s) => Value::Str(s.chars().rev().collect()),
                    other => {
                        let mut items = self.items(other, &call)?;
                        items.reverse();
                        Value::List(items)
                    }
                }
            }
            "round" => {
                let [precision, method] = self.bind(&call, ["precision", "method"], args)?;
                self.round(v, &call, precision, method)?
            }
            "sort" => {
                let [reverse, case_sensitive, attribute] =
                    self.bind(&call, ["reverse", "case_sensitive", "attribute"], args)?;
                self.sort(v, &call, reverse, case_sensitive, attribute)?
            }
            "string" => {
                self.bind(&call, [], args)?;
                Value::from_text(v.to_text())
            }
            "sum" => {
                let [attribute, start] = self.bind(&call, ["attribute", "start"], args)?;
                self.sum(v, &call, attribute, start)?
            }
            "trim" => {
                let [chars] = self.bind(&call, ["chars"], args)?;
                let s = self.plain_text(&v, t_loc, "trimmed")?;
                match self.arg_value(chars)? {
                    None | Some((Value::None, _)) => Value::Str(s.trim().to_string()),
                    Some((set, set_loc)) => {
                        let set = self.plain_text(&set, set_loc, "used to trim")?;
                        Value::Str(s.trim_matches(|c| set.contains(c)).to_string())
                    }
                }
            }
            _ => {
                let [case_sensitive, attribute] =
                    self.bind(&call, ["case_sensitive", "attribute"], args)?;
                self.unique(v, &call, case_sensitive, attribute)?
            }
        };
        Ok(Val::Plain(self.bounded(out, t_loc)?))
    }

    pub(crate) fn test(
        &self,
        name: &str,
        name_loc: Loc,
        target: Val,
        t_loc: Loc,
        args: Vec<ArgVal>,
    ) -> Result<bool, ExprError> {
        if !TESTS.contains(&name) {
            return Err(unknown("test", name, name_loc, TESTS));
        }
        let call = Call {
            kind: "test",
            name,
            loc: name_loc,
            target: t_loc,
        };
        if name == "divisibleby" {
            let [divisor] = self.bind(&call, ["num"], args)?;
            let v = self.resolve(target, t_loc)?;
            let (d, d_loc) = self.required(&call, divisor, "num")?;
            return self.divisible(&v, &call, &d, d_loc);
        }
        self.bind(&call, [], args)?;
        if let Val::Undefined(_) = target {
            return match name {
                "defined" => Ok(false),
                "undefined" => Ok(true),
                _ => self.resolve(target, t_loc).map(|_| false),
            };
        }
        let v = self.resolve(target, t_loc)?;
        Ok(match name {
            "defined" => true,
            "undefined" => false,
            "none" => v == Value::None,
            "boolean" => matches!(v, Value::Bool(_)),
            "true" => v == Value::Bool(true),
            "false" => v == Value::Bool(false),
            "integer" => matches!(v, Value::Int(_)),
            "float" => matches!(v, Value::Float(_)),
            "number" => ops::num(&v).is_some(),
            "string" => ops::is_text(&v),
            "mapping" => matches!(v, Value::Dict(_)),
            "sequence" => matches!(
                v,
                Value::Str(_) | Value::Runtime(_) | Value::List(_) | Value::Dict(_)
            ),
            "even" => self.divisible(&v, &call, &Value::Int(2), name_loc)?,
            _ => !self.divisible(&v, &call, &Value::Int(2), name_loc)?,
        })
    }

    /// Matches arguments to parameter names, positionally then by keyword.
    fn bind<const N: usize>(
        &self,
        call: &Call<'_>,
        params: [&str; N],
        args: Vec<ArgVal>,
    ) -> Result<[Option<ArgVal>; N], ExprError> {
        let mut slots: [Option<ArgVal>; N] = std::array::from_fn(|_| None);
        let mut positional = 0;
        for arg in args {
            let index = match &arg.name {
                None => {
                    if positional >= N {
                        let message = match N {
                            0 => format!("the `{}` {} takes no arguments", call.name, call.kind),
                            1 => format!("the `{}` {} takes 1 argument", call.name, call.kind),
                            n => format!(
                                "the `{}` {} takes at most {n} arguments",
                                call.name, call.kind
                            ),
                        };
                        return Err(ExprError::new(arg.loc, message));
                    }
                    positional += 1;
                    positional - 1
                }
                Some(key) => match params.iter().position(|p| p == key) {
                    Some(i) => i,
                    None => {
                        let error = ExprError::new(
                            arg.loc,
                            format!("the `{}` {} has no argument `{key}`", call.name, call.kind),
                        );
                        return Err(match did_you_mean(key, params) {
                            Some(help) => error.with_help(help),
                            None if N == 0 => error,
                            None => {
                                error.with_help(format!("its arguments are {}", params.join(", ")))
                            }
                        });
                    }
                },
            };
            let Some(slot) = slots.get_mut(index) else {
                continue;
            };
            if slot.is_some() {
                return Err(ExprError::new(
                    arg.loc,
                    format!(
                        "argument `{}` given twice",
                        params.get(index).unwrap_or(&"")
                    ),
                ));
            }
            *slot = Some(arg);
        }
        Ok(slots)
    }

    fn arg_value(&self, arg: Option<ArgVal>) -> Result<Option<(Value, Loc)>, ExprError> {
        arg.map(|a| Ok((self.resolve(a.val, a.loc)?, a.loc)))
            .transpose()
    }

    fn required(
        &self,
        call: &Call<'_>,
        arg: Option<ArgVal>,
        param: &str,
    ) -> Result<(Value, Loc), ExprError> {
        self.arg_value(arg)?.ok_or_else(|| {
            ExprError::new(
                call.loc,
                format!(
                    "the `{}` {} needs the argument `{param}`",
                    call.name, call.kind
                ),
            )
        })
    }

    fn arg_bool(&self, arg: Option<ArgVal>, default: bool) -> Result<bool, ExprError> {
        match self.arg_value(arg)? {
            None => Ok(default),
            Some((v, loc)) => self.truthy(&v, loc),
        }
    }

    fn arg_int(
        &self,
        call: &Call<'_>,
        arg: Option<ArgVal>,
        param: &str,
        default: i64,
    ) -> Result<i64, ExprError> {
        match self.arg_value(arg)? {
            None => Ok(default),
            Some((v, loc)) => ops::num(&v).and_then(Num::as_int).ok_or_else(|| {
                ExprError::new(
                    loc,
                    format!(
                        "`{param}` of `{}` must be an int, not {}",
                        call.name,
                        v.type_name()
                    ),
                )
            }),
        }
    }

    /// A string argument such as `attribute='x'`.
    fn arg_str(
        &self,
        call: &Call<'_>,
        arg: Option<ArgVal>,
        param: &str,
    ) -> Result<Option<String>, ExprError> {
        match self.arg_value(arg)? {
            None | Some((Value::None, _)) => Ok(None),
            Some((Value::Str(s), _)) => Ok(Some(s)),
            Some((v, loc)) => Err(ExprError::new(
                loc,
                format!(
                    "`{param}` of `{}` must be a string, not {}",
                    call.name,
                    v.type_name()
                ),
            )),
        }
    }

    /// The text form of `v`, failing when it holds text known only in the job.
    fn plain_text(&self, v: &Value, loc: Loc, what: &str) -> Result<String, ExprError> {
        v.to_plain_string()
            .ok_or_else(|| self.runtime_error(loc, v, what))
    }

    /// What iterating `v` gives in Python: list items, characters, or dict keys.
    fn items(&self, v: Value, call: &Call<'_>) -> Result<Vec<Value>, ExprError> {
        match v {
            Value::List(items) => Ok(items),
            Value::Str(s) => Ok(s.chars().map(|c| Value::Str(c.to_string())).collect()),
            Value::Dict(entries) => Ok(entries.into_iter().map(|(k, _)| Value::Str(k)).collect()),
            runtime @ Value::Runtime(_) => {
                Err(self.runtime_error(call.target, &runtime, "split into characters"))
            }
            other => Err(self.needs(call, "a list", &other)),
        }
    }

    /// "the `max` filter needs a list, not int", at the target.
    fn needs(&self, call: &Call<'_>, what: &str, got: &Value) -> ExprError {
        ExprError::new(
            call.target,
            format!(
                "the `{}` {} needs {what}, not {} (`{}`)",
                call.name,
                call.kind,
                got.type_name(),
                self.text(call.target)
            ),
        )
    }

    /// The error for a target that is not a number: text known only in the job, or a
    /// value of another type.
    fn not_a_number(&self, call: &Call<'_>, v: &Value) -> ExprError {
        if v.is_runtime() {
            self.runtime_error(call.target, v, "used in arithmetic")
        } else {
            self.needs(call, "a number", v)
        }
    }

    /// `item.a.b` as Jinja's `attribute=` reads it: dict keys, and list indices for digits.
    fn attribute_of(&self, item: &Value, path: &str) -> Option<Value> {
        let mut current = item;
        for part in path.split('.') {
            current = match current {
                Value::Dict(entries) => entries.iter().find(|(k, _)| k == part).map(|(_, v)| v)?,
                Value::List(items) => {
                    let i = part.parse::<i64>().ok()?;
                    items.get(ops::py_index(i, items.len())?)?
                }
                _ => return None,
            };
        }
        Some(current.clone())
    }

    /// The items, or their `attribute` when given; a missing attribute is `default`, or an
    /// error without one.
    fn keyed(
        &self,
        items: &[Value],
        call: &Call<'_>,
        attribute: Option<&str>,
        default: Option<&Value>,
    ) -> Result<Vec<Value>, ExprError> {
        let Some(path) = attribute else {
            return Ok(items.to_vec());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                self.attribute_of(item, path)
                    .or_else(|| default.cloned())
                    .ok_or_else(|| {
                        ExprError::new(
                            call.target,
                            format!(
                                "item {i} of `{}` has no attribute `{path}`",
                                self.text(call.target)
                            ),
                        )
                    })
            })
            .collect()
    }

    /// The items of `v`, which must not hold text known only in the job (it would be
    /// `what`), and their keys: the items, or their `attribute` when given.
    fn keyed_items(
        &self,
        v: Value,
        call: &Call<'_>,
        attribute: Option<&str>,
        what: &str,
    ) -> Result<(Vec<Value>, Vec<Value>), ExprError> {
        self.require_plain(&v, call.target, what)?;
        let items = self.items(v, call)?;
        let keys = self.keyed(&items, call, attribute, None)?;
        Ok((items, keys))
    }

    fn abs(&self, v: Value, call: &Call<'_>) -> Result<Value, ExprError> {
        match ops::num(&v) {
            Some(Num::I(n)) => n
                .checked_abs()
                .map(Value::Int)
                .ok_or_else(|| overflow(call.target)),
            Some(Num::F(x)) => Ok(Value::Float(x.abs())),
            None => Err(self.not_a_number(call, &v)),
        }
    }

    fn length(&self, v: Value, call: &Call<'_>) -> Result<Value, ExprError> {
        let n = match &v {
            Value::Str(s) => s.chars().count(),
            Value::List(items) => items.len(),
            Value::Dict(entries) => entries.len(),
            Value::Runtime(_) => return Err(self.runtime_error(call.target, &v, "measured")),
            other => return Err(self.needs(call, "a string, list or dict", other)),
        };
        Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
    }

    fn conversion_error(&self, call: &Call<'_>, v: &Value, why: &str) -> ExprError {
        ExprError::new(
            call.target,
            format!(
                "cannot convert `{}` to {}: {why}",
                self.text(call.target),
                call.name
            ),
        )
        .with_help(format!(
            "give a value for that case with `| {}(DEFAULT)`, or fix the {}",
            call.name,
            v.type_name()
        ))
    }

    /// Jinja's `int`: numbers truncate, strings parse (also as floats), and a failure gives
    /// the explicit default or an error.
    fn to_int(
        &self,
        v: Value,
        call: &Call<'_>,
        default: Option<ArgVal>,
        base: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let base_loc = base.as_ref().map_or(call.loc, |a| a.loc);
        let base = self.arg_int(call, base, "base", 10)?;
        let base = match u32::try_from(base) {
            Ok(b) if (2..=36).contains(&b) => b,
            _ => {
                return Err(ExprError::new(
                    base_loc,
                    "`base` of `int` must be between 2 and 36",
                ));
            }
        };
        let default = self.arg_value(default)?;
        let result = match &v {
            Value::Int(n) => Ok(*n),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Float(x) => float_to_int(*x),
            Value::Str(s) => match pyfmt::parse_int(s, base) {
                Ok(n) => Ok(n),
                Err(NumError::Overflow) => Err("it does not fit in 64 bits"),
                Err(NumError::Invalid) => match pyfmt::parse_float(s) {
                    Some(x) if base == 10 => float_to_int(x),
                    _ => Err("it is not a number"),
                },
            },
            Value::Runtime(_) => {
                return Err(self.runtime_error(call.target, &v, "converted to a number"));
            }
            _ => Err("only numbers and strings convert"),
        };
        match (result, default) {
            (Ok(n), _) => Ok(Value::Int(n)),
            (Err(_), Some((fallback, _))) => Ok(fallback),
            (Err(why), None) => Err(self.conversion_error(call, &v, why)),
        }
    }

    fn to_float(
        &self,
        v: Value,
        call: &Call<'_>,
        default: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let default = self.arg_value(default)?;
        let result = match &v {
            Value::Int(n) => Some(*n as f64),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Float(x) => Some(*x),
            Value::Str(s) => pyfmt::parse_float(s),
            Value::Runtime(_) => {
                return Err(self.runtime_error(call.target, &v, "converted to a number"));
            }
            _ => None,
        };
        match (result, default) {
            (Some(x), _) => Ok(Value::Float(x)),
            (None, Some((fallback, _))) => Ok(fallback),
            (None, None) => Err(self.conversion_error(call, &v, "it is not a number")),
        }
    }

    fn join(
        &self,
        v: Value,
        call: &Call<'_>,
        sep: Option<ArgVal>,
        attribute: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let attribute = self.arg_str(call, attribute, "attribute")?;
        let sep = self
            .arg_value(sep)?
            .map_or_else(Text::default, |(s, _)| s.to_text());
        let items = self.items(v, call)?;
        let items = self.keyed(&items, call, attribute.as_deref(), None)?;
        let texts: Vec<Text> = items.iter().map(Value::to_text).collect();
        let total = texts
            .iter()
            .fold(0usize, |acc, t| acc.saturating_add(t.size()));
        let seps = sep.size().saturating_mul(texts.len().saturating_sub(1));
        if total.saturating_add(seps) > MAX_SIZE {
            return Err(too_large(call.target.to(call.loc)));
        }
        let mut out = Text::default();
        for (i, text) in texts.iter().enumerate() {
            if i > 0 {
                out.append(&sep);
            }
            out.append(text);
        }
        Ok(Value::from_text(out))
    }

    /// `map('filter', args...)` or `map(attribute='x', default=v)`.
    fn map(&self, v: Value, call: &Call<'_>, mut args: Vec<ArgVal>) -> Result<Value, ExprError> {
        let items = self.items(v, call)?;
        if args.first().is_some_and(|a| a.name.is_none()) {
            let first = args.remove(0);
            let name = match self.resolve(first.val, first.loc)? {
                Value::Str(name) => name,
                other => {
                    return Err(ExprError::new(
                        first.loc,
                        format!("`map` needs a filter name, not {}", other.type_name()),
                    ));
                }
            };
            if name == "map" {
                return Err(ExprError::new(first.loc, "`map` cannot apply `map`"));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let val = self.filter(
                    &name,
                    first.loc,
                    Val::Plain(item),
                    call.target,
                    args.clone(),
                )?;
                out.push(self.resolve(val, call.target)?);
            }
            return Ok(Value::List(out));
        }
        let [attribute, default] = self.bind(call, ["attribute", "default"], args)?;
        let Some(path) = self.arg_str(call, attribute, "attribute")? else {
            return Err(
                ExprError::new(call.loc, "`map` needs a filter name or `attribute=`")
                    .with_help("e.g. `map(attribute='name')` or `map('int')`"),
            );
        };
        let default = self.arg_value(default)?.map(|(v, _)| v);
        self.keyed(&items, call, Some(&path), default.as_ref())
            .map(Value::List)
            .map_err(|e| e.with_help("give one with `map(attribute='...', default=VALUE)`"))
    }

    /// Python ordering for `max`, `min` and `sort`, case-insensitive on strings unless
    /// `case_sensitive`.
    fn order_for(
        &self,
        call: &Call<'_>,
        a: &Value,
        b: &Value,
        case_sensitive: bool,
    ) -> Result<Ordering, ExprError> {
        let result = match (a, b) {
            (Value::Str(x), Value::Str(y)) if !case_sensitive => {
                Ok(Some(x.to_lowercase().cmp(&y.to_lowercase())))
            }
            _ => ops::order(a, b),
        };
        match result {
            Ok(ordering) => Ok(ordering.unwrap_or(Ordering::Equal)),
            Err(_) => Err(ExprError::new(
                call.target,
                format!(
                    "the `{}` {} cannot compare {} with {}",
                    call.name,
                    call.kind,
                    a.type_name(),
                    b.type_name()
                ),
            )),
        }
    }

    fn extreme(
        &self,
        v: Value,
        call: &Call<'_>,
        case_sensitive: Option<ArgVal>,
        attribute: Option<ArgVal>,
    ) -> Result<Val, ExprError> {
        let case_sensitive = self.arg_bool(case_sensitive, false)?;
        let attribute = self.arg_str(call, attribute, "attribute")?;
        let (items, keys) = self.keyed_items(v, call, attribute.as_deref(), "compared")?;
        let wanted = if call.name == "max" {
            Ordering::Greater
        } else {
            Ordering::Less
        };
        let mut best: Option<usize> = None;
        for (i, key) in keys.iter().enumerate() {
            let better = match best.and_then(|b| keys.get(b)) {
                None => true,
                Some(current) => self.order_for(call, key, current, case_sensitive)? == wanted,
            };
            if better {
                best = Some(i);
            }
        }
        Ok(match best.and_then(|b| items.into_iter().nth(b)) {
            Some(item) => Val::Plain(item),
            None => Val::Undefined(Undefined::new(
                call.target,
                format!(
                    "`{}` is empty, so it has no {}imum",
                    self.text(call.target),
                    call.name
                ),
            )),
        })
    }

    fn replace(
        &self,
        v: Value,
        call: &Call<'_>,
        old: Option<ArgVal>,
        new: Option<ArgVal>,
        count: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let s = self.plain_text(&v, call.target, "searched")?;
        let (old, old_loc) = self.required(call, old, "old")?;
        let (new, new_loc) = self.required(call, new, "new")?;
        let old = self.plain_text(&old, old_loc, "searched for")?;
        let new = self.plain_text(&new, new_loc, "inserted")?;
        let limit = match self.arg_value(count)? {
            None | Some((Value::None, _)) => usize::MAX,
            Some((c, loc)) => match ops::num(&c).and_then(Num::as_int) {
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => {
                    return Err(ExprError::new(
                        loc,
                        format!("`count` of `replace` must be an int, not {}", c.type_name()),
                    ));
                }
            },
        };
        let matches = s.matches(old.as_str()).count().min(limit);
        let grown = new.len().saturating_sub(old.len()).saturating_mul(matches);
        if s.len().saturating_add(grown) > MAX_SIZE {
            return Err(too_large(call.target.to(call.loc)));
        }
        Ok(Value::Str(s.replacen(old.as_str(), &new, limit)))
    }

    /// Jinja's `round`: `common` is Python's `round` (an int stays an int), `ceil` and
    /// `floor` give floats.
    fn round(
        &self,
        v: Value,
        call: &Call<'_>,
        precision: Option<ArgVal>,
        method: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let precision = self.arg_int(call, precision, "precision", 0)?;
        let method_loc = method.as_ref().map_or(call.loc, |a| a.loc);
        let method = self
            .arg_str(call, method, "method")?
            .unwrap_or_else(|| "common".into());
        let number = ops::num(&v).ok_or_else(|| self.not_a_number(call, &v))?;
        match method.as_str() {
            "common" => match number {
                Num::I(n) => pyfmt::round_int(n, precision)
                    .map(Value::Int)
                    .ok_or_else(|| overflow(call.target)),
                Num::F(x) => Ok(Value::Float(pyfmt::round_float(x, precision))),
            },
            "ceil" | "floor" => {
                let x = number.as_f64();
                let exponent = i32::try_from(precision)
                    .ok()
                    .filter(|p| p.abs() <= 308)
                    .ok_or_else(|| {
                        ExprError::new(call.loc, "`precision` of `round` is out of range")
                    })?;
                let scale = 10f64.powi(exponent);
                let scaled = x * scale;
                if !scaled.is_finite() {
                    return Err(ExprError::new(
                        call.target,
                        format!("cannot round {}", pyfmt::float_repr(scaled)),
                    ));
                }
                let r = if method == "ceil" {
                    scaled.ceil()
                } else {
                    scaled.floor()
                };
                Ok(Value::Float(r / scale))
            }
            _ => Err(ExprError::new(
                method_loc,
                "`method` of `round` must be 'common', 'ceil' or 'floor'",
            )),
        }
    }

    fn sort(
        &self,
        v: Value,
        call: &Call<'_>,
        reverse: Option<ArgVal>,
        case_sensitive: Option<ArgVal>,
        attribute: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let reverse = self.arg_bool(reverse, false)?;
        let case_sensitive = self.arg_bool(case_sensitive, false)?;
        let attribute = self.arg_str(call, attribute, "attribute")?;
        let (items, keys) = self.keyed_items(v, call, attribute.as_deref(), "sorted")?;
        let order: Vec<usize> = (0..items.len()).collect();
        let sorted = merge_sort(order, &mut |a, b| {
            let (ka, kb) = match (keys.get(a), keys.get(b)) {
                (Some(ka), Some(kb)) => (ka, kb),
                _ => return Ok(false),
            };
            let ordering = if reverse {
                self.order_for(call, kb, ka, case_sensitive)?
            } else {
                self.order_for(call, ka, kb, case_sensitive)?
            };
            Ok(ordering == Ordering::Less)
        })?;
        Ok(Value::List(
            sorted
                .into_iter()
                .filter_map(|i| items.get(i).cloned())
                .collect(),
        ))
    }

    fn sum(
        &self,
        v: Value,
        call: &Call<'_>,
        attribute: Option<ArgVal>,
        start: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let attribute = self.arg_str(call, attribute, "attribute")?;
        let start = self.arg_value(start)?.map_or(Value::Int(0), |(s, _)| s);
        let (_, keys) = self.keyed_items(v, call, attribute.as_deref(), "summed")?;
        let mut total = start;
        for item in keys {
            total = ops::arith(BinOp::Add, &total, &item).map_err(|fail| match fail {
                OpFail::Overflow => overflow(call.target),
                OpFail::TooLarge => too_large(call.target),
                _ => ExprError::new(
                    call.target,
                    format!(
                        "the `sum` filter cannot add {} to {}",
                        item.type_name(),
                        total.type_name()
                    ),
                ),
            })?;
        }
        Ok(total)
    }

    fn unique(
        &self,
        v: Value,
        call: &Call<'_>,
        case_sensitive: Option<ArgVal>,
        attribute: Option<ArgVal>,
    ) -> Result<Value, ExprError> {
        let case_sensitive = self.arg_bool(case_sensitive, false)?;
        let attribute = self.arg_str(call, attribute, "attribute")?;
        let (items, keys) = self.keyed_items(v, call, attribute.as_deref(), "compared")?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (item, key) in items.into_iter().zip(&keys) {
            let Some(key) = HashKey::of(key, case_sensitive) else {
                return Err(ExprError::new(
                    call.target,
                    format!(
                        "the `unique` filter cannot compare {} items",
                        key.type_name()
                    ),
                ));
            };
            if seen.insert(key) {
                out.push(item);
            }
        }
        Ok(Value::List(out))
    }

    fn divisible(
        &self,
        v: &Value,
        call: &Call<'_>,
        divisor: &Value,
        d_loc: Loc,
    ) -> Result<bool, ExprError> {
        if ops::num(v).is_none() {
            return Err(self.not_a_number(call, v));
        }
        if ops::num(divisor).is_none() {
            return Err(if divisor.is_runtime() {
                self.runtime_error(d_loc, divisor, "used in arithmetic")
            } else {
                ExprError::new(
                    d_loc,
                    format!(
                        "`num` of `{}` must be a number, not {}",
                        call.name,
                        divisor.type_name()
                    ),
                )
            });
        }
        match ops::arith(BinOp::Mod, v, divisor) {
            Ok(r) => Ok(ops::equals(&r, &Value::Int(0))),
            Err(_) => Err(ExprError::new(d_loc, "division by zero")),
        }
    }
}

fn float_to_int(x: f64) -> Result<i64, &'static str> {
    if x.is_nan() || x.is_infinite() {
        return Err("it is not a finite number");
    }
    let t = x.trunc();
    if !(-TWO_63..TWO_63).contains(&t) {
        return Err("it does not fit in 64 bits");
    }
    // In range and integral, so the conversion is exact.
    Ok(t as i64)
}

/// Python's hash equality for `unique`: `1`, `1.0` and `True` are the same item.
#[derive(Hash, PartialEq, Eq)]
enum HashKey {
    None,
    Int(i64),
    Float(u64),
    Str(String),
}

impl HashKey {
    fn of(v: &Value, case_sensitive: bool) -> Option<HashKey> {
        Some(match v {
            Value::None => HashKey::None,
            Value::Bool(b) => HashKey::Int(i64::from(*b)),
            Value::Int(n) => HashKey::Int(*n),
            Value::Float(x) => match float_to_int(*x) {
                Ok(n) if n as f64 == *x => HashKey::Int(n),
                _ => HashKey::Float(x.to_bits()),
            },
            Value::Str(s) if case_sensitive => HashKey::Str(s.clone()),
            Value::Str(s) => HashKey::Str(s.to_lowercase()),
            _ => return None,
        })
    }
}

/// A stable merge sort with a fallible "less than"; it never panics, whatever the
/// comparison answers.
fn merge_sort(
    items: Vec<usize>,
    less: &mut dyn FnMut(usize, usize) -> Result<bool, ExprError>,
) -> Result<Vec<usize>, ExprError> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut left = items;
    let right = left.split_off(left.len() / 2);
    let left = merge_sort(left, less)?;
    let right = merge_sort(right, less)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(&a), Some(&b)) = (l.peek(), r.peek()) {
        if less(b, a)? {
            out.push(b);
            r.next();
        } else {
            out.push(a);
            l.next();
        }
    }
    out.extend(l);
    out.extend(r);
    Ok(out)
}

fn unknown(kind: &str, name: &str, loc: Loc, known: &[&str]) -> ExprError {
    let error = ExprError::new(loc, format!("unknown {kind} `{name}`"));
    match did_you_mean(name, known.iter().copied()) {
        Some(help) => error.with_help(help),
        None => error.with_help(format!("the {kind}s are {}", known.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_scope::{eval_err, eval_str};

    #[test]
    fn filters_follow_jinja() {
        let cases = [
            ("[3, 1, 2] | max", "3"),
            ("[3, 1, 2] | min", "1"),
            ("['b', 'A', 'c'] | max", "c"),
            ("['b', 'A', 'C'] | max(case_sensitive=true)", "b"),
            ("[{'n': 2}, {'n': 5}] | max(attribute='n')", "{'n': 5}"),
            ("[1, 2.5] | max", "2.5"),
            ("'42' | int", "42"),
            ("' -7 ' | int", "-7"),
            ("'3.7' | int", "3"),
            ("3.9 | int", "3"),
            ("-3.9 | int", "-3"),
            ("true | int", "1"),
            ("'abc' | int(5)", "5"),
            ("'ff' | int(base=16)", "255"),
            ("'1.5' | float", "1.5"),
            ("3 | float", "3.0"),
            ("'x' | float(0.5)", "0.5"),
            ("3 | string", "3"),
            ("[1, 'a'] | string", "[1, 'a']"),
            ("2.5 | round", "2.0"),
            ("3.5 | round", "4.0"),
            ("2.675 | round(2)", "2.67"),
            ("1.21 | round(1, 'ceil')", "1.3"),
            ("1.29 | round(1, 'floor')", "1.2"),
            ("1.5 | round(0, 'ceil')", "2.0"),
            ("5 | round", "5"),
            ("1250 | round(-2)", "1200"),
            ("5 | round(0, 'floor')", "5.0"),
            ("'hello' | length", "5"),
            ("'héllo' | count", "5"),
            ("[1, 2] | length", "2"),
            ("{'a': 1} | length", "1"),
            ("[1, 2, 3] | join", "123"),
            ("[1, 2, 3] | join(', ')", "1, 2, 3"),
            ("[{'a': 1}, {'a': 2}] | join('-', attribute='a')", "1-2"),
            ("'abc' | join('.')", "a.b.c"),
            ("[{'a': 1}, {'a': 2}] | map(attribute='a') | list", "[1, 2]"),
            ("[{'a': {'b': 3}}] | map(attribute='a.b') | first", "3"),
            ("[[1, 2], [3, 4]] | map(attribute='1') | list", "[2, 4]"),
            (
                "[{'a': 1}, {}] | map(attribute='a', default=0) | list",
                "[1, 0]",
            ),
            ("['1', '2'] | map('int') | sum", "3"),
            ("[1.26, 2.71] | map('round', 1) | list", "[1.3, 2.7]"),
            ("'MiXed' | lower", "mixed"),
            ("'MiXed' | upper", "MIXED"),
            ("5 | lower", "5"),
            ("-5 | abs", "5"),
            ("-2.5 | abs", "2.5"),
            ("[1, 2, 3] | first", "1"),
            ("[1, 2, 3] | last", "3"),
            ("'abc' | first", "a"),
            ("[1, 2, 3] | sum", "6"),
            ("[1, 2.5] | sum", "3.5"),
            ("[{'n': 1}, {'n': 2}] | sum(attribute='n')", "3"),
            ("[[1], [2]] | sum(start=[])", "[1, 2]"),
            ("[3, 1, 2] | sort", "[1, 2, 3]"),
            ("[3, 1, 2] | sort(reverse=true)", "[3, 2, 1]"),
            ("['b', 'A', 'c'] | sort", "['A', 'b', 'c']"),
            (
                "['b', 'A', 'c'] | sort(case_sensitive=true)",
                "['A', 'b', 'c']",
            ),
            ("['b', 'a', 'B'] | sort", "['a', 'b', 'B']"),
            (
                "[{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list",
                "[1, 2]",
            ),
            ("[1, 2, 1, 3, 2] | unique | list", "[1, 2, 3]"),
            ("['a', 'A', 'b'] | unique | list", "['a', 'b']"),
            ("[1, 1.0, true] | unique | list", "[1]"),
            ("[1, 2, 3] | reverse | list", "[3, 2, 1]"),
            ("'abc' | reverse", "cba"),
            ("'abc' | list", "['a', 'b', 'c']"),
            ("{'a': 1, 'b': 2} | list", "['a', 'b']"),
            ("'a-b-c' | replace('-', '+')", "a+b+c"),
            ("'a-b-c' | replace('-', '+', 1)", "a+b-c"),
            ("'abc' | replace('', '.')", ".a.b.c."),
            ("'  x  ' | trim", "x"),
            ("'xxhixx' | trim('x')", "hi"),
            ("MISSING | d(1)", "1"),
            ("[] | max | default('none')", "none"),
            ("[] | first | default(0)", "0"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn tests_follow_jinja() {
        let cases = [
            ("none is none", "True"),
            ("1 is none", "False"),
            ("1 is number", "True"),
            ("1.5 is number", "True"),
            ("'1' is number", "False"),
            ("1 is integer", "True"),
            ("true is integer", "False"),
            ("1.0 is float", "True"),
            ("'s' is string", "True"),
            ("true is boolean", "True"),
            ("[1] is sequence", "True"),
            ("'s' is sequence", "True"),
            ("1 is sequence", "False"),
            ("{} is mapping", "True"),
            ("[] is mapping", "False"),
            ("4 is even", "True"),
            ("3 is even", "False"),
            ("3 is odd", "True"),
            ("-3 is odd", "True"),
            ("9 is divisibleby(3)", "True"),
            ("9 is divisibleby(4)", "False"),
            ("true is true", "True"),
            ("1 is true", "False"),
            ("false is false", "True"),
            ("3 is not even", "True"),
            ("A is defined and B is defined", "True"),
        ];
        for (src, want) in cases {
            assert_eq!(eval_str(src), want, "`{src}`");
        }
    }

    #[test]
    fn filter_errors_are_precise() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("[] | max", "`[]` is empty, so it has no maximum", None),
            ("[] | min", "`[]` is empty, so it has no minimum", None),
            ("[] | first", "`[]` is empty, so it has no first item", None),
            (
                "'abc' | int",
                "cannot convert `'abc'` to int: it is not a number",
                Some("give a value for that case with `| int(DEFAULT)`, or fix the str"),
            ),
            (
                "'x' | float",
                "cannot convert `'x'` to float: it is not a number",
                Some("give a value for that case with `| float(DEFAULT)`, or fix the str"),
            ),
            (
                "'99999999999999999999' | int",
                "cannot convert `'99999999999999999999'` to int: it does not fit in 64 bits",
                Some("give a value for that case with `| int(DEFAULT)`, or fix the str"),
            ),
            (
                "[1] | int",
                "cannot convert `[1]` to int: only numbers and strings convert",
                Some("give a value for that case with `| int(DEFAULT)`, or fix the list"),
            ),
            ("1 | mx", "unknown filter `mx`", Some("did you mean `max`?")),
            (
                "1 | frobnicate",
                "unknown filter `frobnicate`",
                Some(
                    "the filters are abs, count, d, default, first, float, int, join, last, length, list, lower, map, max, min, replace, reverse, round, sort, string, sum, trim, unique, upper",
                ),
            ),
            (
                "1 is evn",
                "unknown test `evn`",
                Some("did you mean `even`?"),
            ),
            (
                "1.5 | round(precison=1)",
                "the `round` filter has no argument `precison`",
                Some("did you mean `precision`?"),
            ),
            (
                "1.5 | round(digits=1)",
                "the `round` filter has no argument `digits`",
                Some("its arguments are precision, method"),
            ),
            (
                "1 | round(1, 'up')",
                "`method` of `round` must be 'common', 'ceil' or 'floor'",
                None,
            ),
            (
                "1 | round('x')",
                "`precision` of `round` must be an int, not str",
                None,
            ),
            (
                "1 | round(1, 'ceil', 3)",
                "the `round` filter takes at most 2 arguments",
                None,
            ),
            (
                "'a' | lower(1)",
                "the `lower` filter takes no arguments",
                None,
            ),
            (
                "1 | round(1, precision=2)",
                "argument `precision` given twice",
                None,
            ),
            (
                "5 | length",
                "the `length` filter needs a string, list or dict, not int (`5`)",
                None,
            ),
            (
                "5 | join",
                "the `join` filter needs a list, not int (`5`)",
                None,
            ),
            (
                "'a' | abs",
                "the `abs` filter needs a number, not str (`'a'`)",
                None,
            ),
            (
                "[1, 'a'] | max",
                "the `max` filter cannot compare str with int",
                None,
            ),
            (
                "[1, 'a'] | sort",
                "the `sort` filter cannot compare str with int",
                None,
            ),
            (
                "[[1]] | unique",
                "the `unique` filter cannot compare list items",
                None,
            ),
            (
                "[1, 'a'] | sum",
                "the `sum` filter cannot add str to int",
                None,
            ),
            (
                "[{'a': 1}, {}] | map(attribute='a') | list",
                "item 1 of `[{'a': 1}, {}]` has no attribute `a`",
                Some("give one with `map(attribute='...', default=VALUE)`"),
            ),
            (
                "[1] | map",
                "`map` needs a filter name or `attribute=`",
                Some("e.g. `map(attribute='name')` or `map('int')`"),
            ),
            ("[1] | map('map')", "`map` cannot apply `map`", None),
            (
                "[1] | map('nope')",
                "unknown filter `nope`",
                Some(
                    "the filters are abs, count, d, default, first, float, int, join, last, length, list, lower, map, max, min, replace, reverse, round, sort, string, sum, trim, unique, upper",
                ),
            ),
            (
                "'a' | replace('a')",
                "the `replace` filter needs the argument `new`",
                None,
            ),
            (
                "('a' * 1000) | replace('a', 'a' * 2000)",
                "the result would be larger than 1 MB",
                None,
            ),
            (
                "[1, 2, 3] | join('x' * 600000)",
                "the result would be larger than 1 MB",
                None,
            ),
            ("9 is divisibleby(0)", "division by zero", None),
            (
                "'a' is even",
                "the `even` test needs a number, not str (`'a'`)",
                None,
            ),
            (
                "1.0e300 | round(-400, 'ceil')",
                "`precision` of `round` is out of range",
                None,
            ),
            ("1e308 | round(10, 'ceil')", "cannot round inf", None),
            (
                "1 | int(base=1)",
                "`base` of `int` must be between 2 and 36",
                None,
            ),
        ];
        for (src, message, help) in cases {
            let e = eval_err(src);
            assert_eq!(
                (e.message.as_str(), e.help.as_deref()),
                (*message, *help),
                "`{src}`"
            );
        }
    }

    #[test]
    fn filter_errors_point_at_the_target_or_argument() {
        let e = eval_err("'abc' | int");
        assert_eq!((e.start, e.end), (0, 5));
        let e = eval_err("1 | mx");
        assert_eq!((e.start, e.end), (4, 6));
        let e = eval_err("1 | round(1, 'up')");
        assert_eq!((e.start, e.end), (13, 17));
        let e = eval_err("1.5 | round(precison=1)");
        assert_eq!((e.start, e.end), (12, 22));
        let e = eval_err("9 is divisibleby('a')");
        assert_eq!(
            e.message,
            "`num` of `divisibleby` must be a number, not str"
        );
        assert_eq!((e.start, e.end), (17, 20));
        let e = eval_err("9 is divisibleby(task.server.nodes[0].name)");
        assert!(
            e.message
                .starts_with("`task.server.nodes[0].name` is known only")
        );
        assert_eq!((e.start, e.end), (17, 42));
    }
}
