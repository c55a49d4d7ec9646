//! Operators. Input: two (or one) values and an operator. Output: the value Python gives,
//! or why it cannot (type mismatch, overflow, division by zero, result too large), turned
//! into an `ExprError` at the operator or operand by `Evaluator::binary`/`compare`.
//! Guarantee: integer arithmetic is checked (no wrapping, no panics), int/float mixes
//! compare exactly as in Python, and no operation builds a value over `MAX_SIZE`.

use super::ExprError;
use super::ast::{BinOp, CmpOp, Loc};
use super::eval::{Evaluator, overflow, too_large};
use super::value::{MAX_SIZE, Value};
use std::cmp::Ordering;

/// 2^63: the floats in `[-TWO_63, TWO_63)` are the ones whose integer part fits an `i64`.
pub(crate) const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// A number as Python sees it (`bool` counts as an int).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    I(i64),
    F(f64),
}

impl Num {
    pub fn as_int(self) -> Option<i64> {
        match self {
            Num::I(n) => Some(n),
            Num::F(_) => None,
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Num::I(n) => n as f64,
            Num::F(x) => x,
        }
    }
}

pub(crate) fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::I(i64::from(*b))),
        Value::Int(n) => Some(Num::I(*n)),
        Value::Float(x) => Some(Num::F(*x)),
        _ => None,
    }
}

/// Why an operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpFail {
    Types,
    Overflow,
    DivZero,
    TooLarge,
    Math(&'static str),
}

/// `l op r` for every operator but `~`, on values without runtime text.
pub(crate) fn arith(op: BinOp, l: &Value, r: &Value) -> Result<Value, OpFail> {
    match (op, l, r) {
        (BinOp::Add, Value::Str(a), Value::Str(b)) => {
            if a.len() + b.len() > MAX_SIZE {
                return Err(OpFail::TooLarge);
            }
            Ok(Value::Str(format!("{a}{b}")))
        }
        (BinOp::Add, Value::List(a), Value::List(b)) => {
            if l.size().saturating_add(r.size()) > MAX_SIZE {
                return Err(OpFail::TooLarge);
            }
            Ok(Value::List(a.iter().chain(b).cloned().collect()))
        }
        (BinOp::Mul, Value::Str(s), n) | (BinOp::Mul, n, Value::Str(s))
            if matches!(num(n), Some(Num::I(_))) =>
        {
            let times = repeat_count(n, s.len())?;
            Ok(Value::Str(s.repeat(times)))
        }
        (BinOp::Mul, list @ Value::List(items), n) | (BinOp::Mul, n, list @ Value::List(items))
            if matches!(num(n), Some(Num::I(_))) =>
        {
            let times = repeat_count(n, list.size())?;
            let mut out = Vec::with_capacity(items.len().saturating_mul(times));
            for _ in 0..times {
                out.extend(items.iter().cloned());
            }
            Ok(Value::List(out))
        }
        _ => match (num(l), num(r)) {
            (Some(Num::I(a)), Some(Num::I(b))) => int_op(op, a, b),
            (Some(a), Some(b)) => float_op(op, a.as_f64(), b.as_f64()),
            _ => Err(OpFail::Types),
        },
    }
}

/// How many copies `seq * n` makes, refusing results over `MAX_SIZE`.
fn repeat_count(n: &Value, size: usize) -> Result<usize, OpFail> {
    let times = match num(n) {
        Some(Num::I(t)) => usize::try_from(t).unwrap_or(0),
        _ => return Err(OpFail::Types),
    };
    match size.checked_mul(times) {
        Some(total) if total <= MAX_SIZE => Ok(times),
        _ => Err(OpFail::TooLarge),
    }
}

fn int_op(op: BinOp, a: i64, b: i64) -> Result<Value, OpFail> {
    let int = |r: Option<i64>| r.map(Value::Int).ok_or(OpFail::Overflow);
    match op {
        BinOp::Add => int(a.checked_add(b)),
        BinOp::Sub => int(a.checked_sub(b)),
        BinOp::Mul => int(a.checked_mul(b)),
        BinOp::Div => float_op(op, a as f64, b as f64),
        BinOp::FloorDiv => {
            if b == 0 {
                return Err(OpFail::DivZero);
            }
            let q = a.checked_div(b).ok_or(OpFail::Overflow)?;
            let adjust = a % b != 0 && ((a < 0) != (b < 0));
            Ok(Value::Int(if adjust { q - 1 } else { q }))
        }
        BinOp::Mod => {
            if b == 0 {
                return Err(OpFail::DivZero);
            }
            let r = a.wrapping_rem(b);
            Ok(Value::Int(if r != 0 && ((r < 0) != (b < 0)) {
                r + b
            } else {
                r
            }))
        }
        BinOp::Pow if b < 0 => {
            if a == 0 {
                return Err(OpFail::Math("0 cannot be raised to a negative power"));
            }
            float_op(op, a as f64, b as f64)
        }
        BinOp::Pow => match a {
            0 => Ok(Value::Int(i64::from(b == 0))),
            1 => Ok(Value::Int(1)),
            -1 => Ok(Value::Int(if b % 2 == 0 { 1 } else { -1 })),
            _ => {
                let exponent = u32::try_from(b).map_err(|_| OpFail::Overflow)?;
                int(a.checked_pow(exponent))
            }
        },
        BinOp::Concat => Err(OpFail::Types),
    }
}

fn float_op(op: BinOp, a: f64, b: f64) -> Result<Value, OpFail> {
    let x = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b == 0.0 => return Err(OpFail::DivZero),
        BinOp::Div => a / b,
        BinOp::FloorDiv | BinOp::Mod if b == 0.0 => return Err(OpFail::DivZero),
        BinOp::FloorDiv => py_floordiv(a, b),
        BinOp::Mod => py_mod(a, b),
        BinOp::Pow => {
            if b == 0.0 {
                1.0
            } else if a == 0.0 && b < 0.0 {
                return Err(OpFail::Math("0 cannot be raised to a negative power"));
            } else if a < 0.0 && b.is_finite() && b.fract() != 0.0 {
                return Err(OpFail::Math(
                    "a negative number cannot be raised to a fractional power",
                ));
            } else {
                let x = a.powf(b);
                if x.is_infinite() && a.is_finite() && b.is_finite() {
                    return Err(OpFail::Math("float overflow: the result is too large"));
                }
                x
            }
        }
        BinOp::Concat => return Err(OpFail::Types),
    };
    Ok(Value::Float(x))
}

/// Python's float `%`: the result has the sign of the divisor.
fn py_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m == 0.0 {
        0.0_f64.copysign(b)
    } else if (b < 0.0) != (m < 0.0) {
        m + b
    } else {
        m
    }
}

/// Python's float `//` (CPython's `float_floor_div`).
fn py_floordiv(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0_f64.copysign(a / b);
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// Python `==` on values without runtime text.
pub(crate) fn equals(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::None, Value::None) => true,
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Runtime(a), Value::Runtime(b)) => a == b,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equals(x, y))
        }
        (Value::Dict(a), Value::Dict(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| {
                    b.iter()
                        .find(|(bk, _)| bk == k)
                        .is_some_and(|(_, bv)| equals(v, bv))
                })
        }
        _ => match (num(l), num(r)) {
            (Some(a), Some(b)) => num_cmp(a, b) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// Python ordering (`<` and friends): `Ok(None)` when unordered (NaN), `Err` when the
/// types cannot be ordered.
pub(crate) fn order(l: &Value, r: &Value) -> Result<Option<Ordering>, OpFail> {
    match (l, r) {
        (Value::Str(a), Value::Str(b)) => Ok(Some(a.cmp(b))),
        (Value::List(a), Value::List(b)) => {
            for (x, y) in a.iter().zip(b) {
                if !equals(x, y) {
                    return order(x, y);
                }
            }
            Ok(Some(a.len().cmp(&b.len())))
        }
        _ => match (num(l), num(r)) {
            (Some(a), Some(b)) => Ok(num_cmp(a, b)),
            _ => Err(OpFail::Types),
        },
    }
}

/// Exact comparison of two numbers, as Python compares an int with a float.
fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        (Num::F(x), Num::F(y)) => x.partial_cmp(&y),
        (Num::I(x), Num::F(y)) => int_float_cmp(x, y),
        (Num::F(x), Num::I(y)) => int_float_cmp(y, x).map(Ordering::reverse),
    }
}

fn int_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // `whole` is an integer in [-2^63, 2^63), so the conversion is exact.
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0_f64.partial_cmp(&(f - whole)),
        other => Some(other),
    }
}

/// Python `item in container`.
pub(crate) fn contains(container: &Value, item: &Value) -> Result<bool, OpFail> {
    match (container, item) {
        (Value::Str(s), Value::Str(needle)) => Ok(s.contains(needle.as_str())),
        (Value::Str(_), _) => Err(OpFail::Types),
        (Value::List(items), _) => Ok(items.iter().any(|x| equals(x, item))),
        (Value::Dict(entries), Value::Str(key)) => Ok(entries.iter().any(|(k, _)| k == key)),
        (Value::Dict(_), _) => Ok(false),
        _ => Err(OpFail::Types),
    }
}

/// Python's index normalisation: `-1` is the last item; `None` when out of range.
pub(crate) fn py_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let k = if i < 0 { i.checked_add(len)? } else { i };
    if (0..len).contains(&k) {
        usize::try_from(k).ok()
    } else {
        None
    }
}

/// The indices `seq[start:stop:step]` selects (CPython's `PySlice_AdjustIndices`);
/// `step` is not zero.
pub(crate) fn slice_indices(
    len: usize,
    start: Option<i64>,
    stop: Option<i64>,
    step: i64,
) -> Vec<usize> {
    let len = len as i128;
    let step = i128::from(step);
    let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
    let clamp = |bound: Option<i64>, default: i128| match bound {
        None => default,
        Some(b) => {
            let b = i128::from(b);
            let b = if b < 0 { b + len } else { b };
            b.clamp(lower, upper)
        }
    };
    let start = clamp(start, if step > 0 { lower } else { upper });
    let stop = clamp(stop, if step > 0 { upper } else { lower });
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if let Ok(k) = usize::try_from(i) {
            out.push(k);
        }
        i += step;
    }
    out
}

/// Whether `v` is text: a string, or text known only in the job.
pub(crate) fn is_text(v: &Value) -> bool {
    matches!(v, Value::Str(_) | Value::Runtime(_))
}

/// "unsupported operand types for `+`: int and str", at the operator.
fn unsupported(symbol: &str, op_loc: Loc, l: &Value, r: &Value) -> ExprError {
    ExprError::new(
        op_loc,
        format!(
            "unsupported operand types for `{symbol}`: {} and {}",
            l.type_name(),
            r.type_name()
        ),
    )
}

impl Evaluator<'_> {
    /// `l op r` with errors at the operator or operand at fault.
    pub(crate) fn binary(
        &self,
        op: BinOp,
        op_loc: Loc,
        l: Value,
        l_loc: Loc,
        r: Value,
        r_loc: Loc,
    ) -> Result<Value, ExprError> {
        let whole = l_loc.to(r_loc);
        if op == BinOp::Concat || (op == BinOp::Add && is_text(&l) && is_text(&r)) {
            let mut text = l.to_text();
            text.append(&r.to_text());
            if text.size() > MAX_SIZE {
                return Err(too_large(whole));
            }
            return Ok(Value::from_text(text));
        }
        for (v, loc) in [(&l, l_loc), (&r, r_loc)] {
            if let Value::Runtime(_) = v {
                return Err(self.runtime_error(loc, v, "used in arithmetic"));
            }
        }
        arith(op, &l, &r).map_err(|fail| match fail {
            OpFail::Types => {
                let error = unsupported(op.symbol(), op_loc, &l, &r);
                if is_text(&l) != is_text(&r) && num(&l).or(num(&r)).is_some() {
                    error.with_help("convert with `| int` or `| float`, or join as text with `~`")
                } else {
                    error
                }
            }
            OpFail::Overflow => overflow(whole),
            OpFail::DivZero => ExprError::new(r_loc, "division by zero"),
            OpFail::TooLarge => too_large(whole),
            OpFail::Math(message) => ExprError::new(whole, message),
        })
    }

    /// One link of a comparison chain.
    pub(crate) fn compare(
        &self,
        op: CmpOp,
        op_loc: Loc,
        l: &Value,
        l_loc: Loc,
        r: &Value,
        r_loc: Loc,
    ) -> Result<bool, ExprError> {
        let membership = matches!(op, CmpOp::In | CmpOp::NotIn);
        self.require_plain(l, l_loc, "compared")?;
        self.require_plain(r, r_loc, if membership { "searched" } else { "compared" })?;
        let type_error = || {
            ExprError::new(
                op_loc,
                format!(
                    "`{}` is not supported between {} and {}",
                    op.symbol(),
                    l.type_name(),
                    r.type_name()
                ),
            )
        };
        let ordered = |test: fn(Ordering) -> bool| match order(l, r) {
            Ok(ordering) => Ok(ordering.is_some_and(test)),
            Err(_) => Err(type_error()),
        };
        match op {
            CmpOp::Eq => Ok(equals(l, r)),
            CmpOp::Ne => Ok(!equals(l, r)),
            CmpOp::Lt => ordered(Ordering::is_lt),
            CmpOp::Le => ordered(Ordering::is_le),
            CmpOp::Gt => ordered(Ordering::is_gt),
            CmpOp::Ge => ordered(Ordering::is_ge),
            CmpOp::In | CmpOp::NotIn => match contains(r, l) {
                Ok(found) => Ok(found == (op == CmpOp::In)),
                Err(_) => Err(unsupported(op.symbol(), op_loc, l, r)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_clamp_like_python() {
        assert_eq!(slice_indices(5, None, None, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(slice_indices(5, Some(-2), None, 1), vec![3, 4]);
        assert_eq!(slice_indices(5, None, None, -2), vec![4, 2, 0]);
        assert_eq!(
            slice_indices(5, Some(10), Some(-10), -1),
            vec![4, 3, 2, 1, 0]
        );
        assert_eq!(
            slice_indices(5, Some(i64::MIN), Some(i64::MAX), i64::MAX),
            vec![0]
        );
        assert_eq!(slice_indices(0, None, None, -1), Vec::<usize>::new());
    }

    #[test]
    fn ints_and_floats_compare_exactly() {
        assert_eq!(int_float_cmp(1, 1.5), Some(Ordering::Less));
        assert_eq!(int_float_cmp(-1, -1.5), Some(Ordering::Greater));
        assert_eq!(int_float_cmp(i64::MAX, 9.3e18), Some(Ordering::Less));
        assert_eq!(int_float_cmp(i64::MIN, -9.3e18), Some(Ordering::Greater));
        assert_eq!(int_float_cmp(3, 3.0), Some(Ordering::Equal));
        assert_eq!(int_float_cmp(3, f64::NAN), None);
        assert!(!equals(&Value::Float(f64::NAN), &Value::Float(f64::NAN)));
    }

    #[test]
    fn integer_edge_cases_do_not_wrap() {
        let i = |n| Value::Int(n);
        assert_eq!(
            arith(BinOp::FloorDiv, &i(i64::MIN), &i(-1)),
            Err(OpFail::Overflow)
        );
        assert_eq!(arith(BinOp::Mod, &i(i64::MIN), &i(-1)), Ok(i(0)));
        assert_eq!(
            arith(BinOp::Mul, &i(i64::MAX), &i(2)),
            Err(OpFail::Overflow)
        );
        assert_eq!(
            arith(BinOp::Pow, &i(2), &i(i64::MAX)),
            Err(OpFail::Overflow)
        );
        assert_eq!(arith(BinOp::Pow, &i(0), &i(0)), Ok(i(1)));
        assert_eq!(arith(BinOp::Pow, &i(-1), &i(3)), Ok(i(-1)));
    }
}
