//! Text to tree. Input: the text between `${{` and `}}`. Output: an `Expr`, or one
//! `ExprError` pointing at the first problem (unclosed bracket, unterminated string,
//! unexpected token, method call, bad escape, integer too large). Guarantee: brackets,
//! `not` and `else` are counted before pest runs, so no input makes the parser recurse
//! deeper than `MAX_DEPTH` levels of the grammar, and the tree itself is no deeper either.

use super::ExprError;
use super::ast::{Arg, BinOp, CmpOp, Expr, Kind, Loc, LogicOp, MAX_DEPTH, Node, UnaryOp};
use super::pyfmt::{self, NumError};
use super::value::Value;
use pest::Parser;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::LazyLock;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/expr.pest"]
struct ExprParser;

/// `or` < `and` < `not`, as in Jinja.
static LOGIC: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
});

/// `+ -` < `~` < `* / // %` < `**`, all left-associative as in Jinja.
static ARITH: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_concat, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_floordiv, Assoc::Left)
            | Op::infix(Rule::op_mod, Assoc::Left))
        .op(Op::infix(Rule::op_pow, Assoc::Left))
});

/// Parses the text between `${{` and `}}`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    if src.trim().is_empty() {
        return Err(ExprError::new(Loc::new(0, src.len()), "empty expression")
            .with_help("write a value or a name between `${{` and `}}`"));
    }
    prescan(src)?;
    let mut pairs = ExprParser::parse(Rule::root, src).map_err(|e| syntax_error(src, &e))?;
    let whole = Loc::new(0, src.len());
    let root = next(&mut pairs, whole)?;
    let cond = next(&mut root.into_inner(), whole)?;
    Ok(Expr {
        src: src.to_string(),
        root: build_cond(cond)?,
    })
}

/// The offset of the quote that closes the string literal opened at `open` (backslash
/// escapes skipped); `None` when it is unterminated.
pub(super) fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let quote = *bytes.get(open)?;
    let mut i = open + 1;
    loop {
        match *bytes.get(i)? {
            b'\\' => i += 2,
            c if c == quote => return Some(i),
            _ => i += 1,
        }
    }
}

/// Checks brackets and string literals, and bounds what makes the grammar recurse.
fn prescan(src: &str) -> Result<(), ExprError> {
    let bytes = src.as_bytes();
    let mut open: Vec<(u8, usize)> = Vec::new();
    let mut words = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\'' | b'"' => {
                let Some(end) = string_end(bytes, i) else {
                    return Err(ExprError::new(
                        Loc::new(i, src.len()),
                        "unterminated string literal",
                    )
                    .with_help(format!("close it with {}", b as char)));
                };
                i = end + 1;
                continue;
            }
            b'(' | b'[' | b'{' => {
                open.push((b, i));
                if open.len() > MAX_DEPTH {
                    return Err(ExprError::new(
                        Loc::new(i, i + 1),
                        format!("expression nests deeper than {MAX_DEPTH} levels"),
                    )
                    .with_help("split it into several variables"));
                }
            }
            b')' | b']' | b'}' => match open.pop() {
                Some((opener, _)) if closer(opener) == b => {}
                Some((opener, at)) => {
                    return Err(ExprError::new(
                        Loc::new(i, i + 1),
                        format!("`{}` does not close `{}`", b as char, opener as char),
                    )
                    .with_help(format!(
                        "the `{}` at offset {at} needs a `{}` first",
                        opener as char,
                        closer(opener) as char
                    )));
                }
                None => {
                    return Err(ExprError::new(
                        Loc::new(i, i + 1),
                        format!("unmatched `{}`", b as char),
                    ));
                }
            },
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                if matches!(&src[start..i], "not" | "else") {
                    words += 1;
                    if words > MAX_DEPTH {
                        return Err(ExprError::new(
                            Loc::new(start, i),
                            format!(
                                "expression has more than {MAX_DEPTH} `not` and `else` keywords"
                            ),
                        )
                        .with_help("split it into several variables"));
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    match open.last() {
        Some(&(opener, at)) => Err(ExprError::new(
            Loc::new(at, at + 1),
            format!("unclosed `{}`", opener as char),
        )
        .with_help(format!("add the matching `{}`", closer(opener) as char))),
        None => Ok(()),
    }
}

fn closer(opener: u8) -> u8 {
    match opener {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

/// Turns pest's error into "unexpected `x`" at the token where parsing stopped.
fn syntax_error(src: &str, error: &pest::error::Error<Rule>) -> ExprError {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let rest = src.get(pos..).unwrap_or("");
    let token = token_at(rest);
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => describe(positives),
        ErrorVariant::CustomError { .. } => None,
    };
    if token.is_empty() {
        let end = src.len();
        let err = ExprError::new(Loc::new(end, end), "unexpected end of expression");
        return match expected {
            Some(e) => err.with_help(format!("expected {e}")),
            None => err,
        };
    }
    let err = ExprError::new(
        Loc::new(pos, pos + token.len()),
        format!("unexpected `{token}`"),
    );
    let help = match token {
        "=" => Some("use `==` to compare, or `name=value` inside a filter's arguments".into()),
        "&&" => Some("use `and`".into()),
        "||" => Some("use `or`".into()),
        "!" => Some("use `not`".into()),
        _ => expected.map(|e| format!("expected {e}")),
    };
    match help {
        Some(h) => err.with_help(h),
        None => err,
    }
}

/// The token starting `rest`: a word, a two-character operator, or one character.
fn token_at(rest: &str) -> &str {
    let word = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if word > 0 {
        return &rest[..word];
    }
    for op in ["==", "!=", "<=", ">=", "**", "//", "&&", "||"] {
        if rest.starts_with(op) {
            return op;
        }
    }
    rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
}

/// "a value", "an operator or the end of the expression", ... for what pest expected.
fn describe(positives: &[Rule]) -> Option<String> {
    let mut kinds: Vec<&str> = Vec::new();
    let rank = |kind: &str| {
        [
            "a value",
            "a name",
            "an operator",
            "`,`",
            "`else`",
            "the end of the expression",
        ]
        .iter()
        .position(|k| *k == kind)
    };
    for rule in positives {
        let kind = match rule {
            Rule::float
            | Rule::int
            | Rule::strings
            | Rule::string
            | Rule::constant
            | Rule::list
            | Rule::dict
            | Rule::paren
            | Rule::ident
            | Rule::op_neg
            | Rule::op_pos
            | Rule::op_not
            | Rule::unary
            | Rule::cond
            | Rule::logic
            | Rule::compare
            | Rule::arith
            | Rule::pair
            | Rule::kwarg => "a value",
            Rule::name | Rule::index_int => "a name",
            Rule::EOI => "the end of the expression",
            Rule::kw_else => "`else`",
            Rule::comma => "`,`",
            Rule::attr | Rule::subscript | Rule::call | Rule::filter | Rule::test => continue,
            _ => "an operator",
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort_by_key(|k| rank(k));
    match kinds.split_last() {
        None => None,
        Some((last, [])) => Some((*last).to_string()),
        Some((last, rest)) => Some(format!("{} or {last}", rest.join(", "))),
    }
}

/// The pair's range without the trailing whitespace pest includes in rules that end with
/// an optional or repeated part.
fn loc(pair: &Pair<'_, Rule>) -> Loc {
    let span = pair.as_span();
    Loc::new(span.start(), span.start() + span.as_str().trim_end().len())
}

/// The next pair of a sequence the grammar guarantees; an internal error otherwise.
fn next<'i>(pairs: &mut Pairs<'i, Rule>, at: Loc) -> Result<Pair<'i, Rule>, ExprError> {
    pairs.next().ok_or_else(|| internal(at))
}

fn boxed(node: Node) -> Box<Node> {
    Box::new(node)
}

fn build_cond(pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    let at = loc(&pair);
    let mut inner = pair.into_inner();
    let mut node = build_logic(next(&mut inner, at)?)?;
    for tail in inner {
        let tail_loc = loc(&tail);
        let mut parts = tail.into_inner().filter(|p| p.as_rule() != Rule::kw_if);
        let cond = build_logic(parts.next().ok_or_else(|| internal(tail_loc))?)?;
        let otherwise = match parts.find(|p| p.as_rule() == Rule::cond) {
            Some(p) => Some(boxed(build_cond(p)?)),
            None => None,
        };
        let whole = node.loc.to(tail_loc);
        node = Node::new(
            Kind::Cond {
                then: boxed(node),
                cond: boxed(cond),
                otherwise,
            },
            whole,
        )?;
    }
    Ok(node)
}

fn internal(at: Loc) -> ExprError {
    ExprError::new(at, "internal error: unexpected parse tree")
}

fn build_logic(pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    LOGIC
        .map_primary(build_compare)
        .map_prefix(|op, operand| {
            let operand = operand?;
            let at = loc(&op).to(operand.loc);
            Node::new(
                Kind::Unary {
                    op: UnaryOp::Not,
                    operand: boxed(operand),
                },
                at,
            )
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let op = match op.as_rule() {
                Rule::op_and => LogicOp::And,
                _ => LogicOp::Or,
            };
            let at = lhs.loc.to(rhs.loc);
            Node::new(
                Kind::Logic {
                    op,
                    lhs: boxed(lhs),
                    rhs: boxed(rhs),
                },
                at,
            )
        })
        .parse(pair.into_inner())
}

fn build_compare(pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    let at = loc(&pair);
    let mut inner = pair.into_inner();
    let first = build_arith(next(&mut inner, at)?)?;
    let mut rest = Vec::new();
    while let Some(op) = inner.next() {
        let cmp = match op.as_rule() {
            Rule::op_eq => CmpOp::Eq,
            Rule::op_ne => CmpOp::Ne,
            Rule::op_lt => CmpOp::Lt,
            Rule::op_le => CmpOp::Le,
            Rule::op_gt => CmpOp::Gt,
            Rule::op_ge => CmpOp::Ge,
            Rule::op_in => CmpOp::In,
            _ => CmpOp::NotIn,
        };
        let rhs = build_arith(next(&mut inner, at)?)?;
        rest.push((cmp, loc(&op), rhs));
    }
    if rest.is_empty() {
        return Ok(first);
    }
    Node::new(
        Kind::Compare {
            first: boxed(first),
            rest,
        },
        at,
    )
}

fn build_arith(pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    ARITH
        .map_primary(build_unary)
        .map_infix(|lhs, op, rhs| {
            let (lhs, rhs) = (lhs?, rhs?);
            let bin = match op.as_rule() {
                Rule::op_add => BinOp::Add,
                Rule::op_sub => BinOp::Sub,
                Rule::op_concat => BinOp::Concat,
                Rule::op_mul => BinOp::Mul,
                Rule::op_div => BinOp::Div,
                Rule::op_floordiv => BinOp::FloorDiv,
                Rule::op_mod => BinOp::Mod,
                _ => BinOp::Pow,
            };
            let at = lhs.loc.to(rhs.loc);
            Node::new(
                Kind::Binary {
                    op: bin,
                    op_loc: loc(&op),
                    lhs: boxed(lhs),
                    rhs: boxed(rhs),
                },
                at,
            )
        })
        .parse(pair.into_inner())
}

/// `sign* primary postfix* suffix*`: signs apply to the postfixed primary, and filters and
/// tests to the signed value (Jinja: `-1|abs` is `1`).
fn build_unary(pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    let at = loc(&pair);
    let mut inner = pair.into_inner().peekable();
    let mut signs = Vec::new();
    while let Some(p) = inner.next_if(|p| matches!(p.as_rule(), Rule::op_neg | Rule::op_pos)) {
        signs.push((p.as_rule(), loc(&p)));
    }
    let mut node = build_primary(inner.next().ok_or_else(|| internal(at))?)?;
    while let Some(p) =
        inner.next_if(|p| matches!(p.as_rule(), Rule::attr | Rule::subscript | Rule::call))
    {
        node = build_postfix(node, p)?;
    }
    for (rule, sign_loc) in signs.into_iter().rev() {
        let op = if rule == Rule::op_neg {
            UnaryOp::Neg
        } else {
            UnaryOp::Pos
        };
        let whole = sign_loc.to(node.loc);
        node = Node::new(
            Kind::Unary {
                op,
                operand: boxed(node),
            },
            whole,
        )?;
    }
    for p in inner {
        node = build_suffix(node, p)?;
    }
    Ok(node)
}

fn build_primary(pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    let at = loc(&pair);
    let kind = match pair.as_rule() {
        Rule::float => {
            let value = pyfmt::parse_float(pair.as_str())
                .ok_or_else(|| ExprError::new(at, "invalid number"))?;
            Kind::Const(Value::Float(value))
        }
        Rule::int => Kind::Const(Value::Int(int_literal(pair.as_str(), at)?)),
        Rule::strings => {
            let mut text = String::new();
            for string in pair.into_inner() {
                for body in string.into_inner() {
                    let start = body.as_span().start();
                    unescape(&mut text, body.as_str(), start)?;
                }
            }
            Kind::Const(Value::Str(text))
        }
        Rule::constant => Kind::Const(match pair.as_str() {
            "true" | "True" => Value::Bool(true),
            "false" | "False" => Value::Bool(false),
            _ => Value::None,
        }),
        Rule::list => Kind::List(
            pair.into_inner()
                .map(build_cond)
                .collect::<Result<_, _>>()?,
        ),
        Rule::dict => {
            let mut entries = Vec::new();
            for entry in pair.into_inner() {
                let entry_loc = loc(&entry);
                let mut kv = entry.into_inner();
                let key = build_cond(next(&mut kv, entry_loc)?)?;
                let value = build_cond(next(&mut kv, entry_loc)?)?;
                entries.push((key, value));
            }
            Kind::Dict(entries)
        }
        Rule::paren => {
            let mut items = Vec::new();
            let mut tuple = false;
            for p in pair.into_inner() {
                match p.as_rule() {
                    Rule::comma => tuple = true,
                    _ => items.push(build_cond(p)?),
                }
            }
            if !tuple && items.len() == 1 {
                return items.pop().ok_or_else(|| internal(at));
            }
            Kind::List(items)
        }
        _ => Kind::Name(pair.as_str().to_string()),
    };
    Node::new(kind, at)
}

fn int_literal(text: &str, at: Loc) -> Result<i64, ExprError> {
    let base = match text.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => 10,
    };
    pyfmt::parse_int(text, base).map_err(|e| match e {
        NumError::Overflow => ExprError::new(at, "integer literal is too large")
            .with_help(format!("integers range from {} to {}", i64::MIN, i64::MAX)),
        NumError::Invalid => ExprError::new(at, "invalid integer literal"),
    })
}

/// Appends a string literal's body with Python's escapes resolved (`\n`, `\x41`, `\u00e9`,
/// octal; unknown escapes stay as written), and newlines normalised to `\n` as Jinja does.
fn unescape(out: &mut String, body: &str, offset: usize) -> Result<(), ExprError> {
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\r' {
            chars.next_if(|&(_, c)| c == '\n');
            out.push('\n');
            continue;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(e),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '0'..='7' => {
                let mut code = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.next_if(|&(_, c)| c.is_digit(8)) {
                        Some((_, d)) => code = code * 8 + d.to_digit(8).unwrap_or(0),
                        None => break,
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            'x' | 'u' | 'U' => {
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut code: u32 = 0;
                let mut end = i + 2;
                for _ in 0..width {
                    let Some((j, d)) = chars.next_if(|&(_, c)| c.is_ascii_hexdigit()) else {
                        return Err(ExprError::new(
                            Loc::new(offset + i, offset + end),
                            format!("invalid `\\{e}` escape"),
                        )
                        .with_help(format!("`\\{e}` needs exactly {width} hex digits")));
                    };
                    code = code * 16 + d.to_digit(16).unwrap_or(0);
                    end = j + 1;
                }
                let Some(c) = char::from_u32(code) else {
                    return Err(ExprError::new(
                        Loc::new(offset + i, offset + end),
                        format!("`\\{e}{code:0width$x}` is not a valid character"),
                    ));
                };
                out.push(c);
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(())
}

fn build_postfix(target: Node, pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    let at = target.loc.to(loc(&pair));
    let pair_loc = loc(&pair);
    let kind = match pair.as_rule() {
        Rule::attr => {
            let name = next(&mut pair.into_inner(), pair_loc)?;
            let name_loc = loc(&name);
            if name.as_rule() == Rule::index_int {
                let index = Node::new(
                    Kind::Const(Value::Int(int_literal(name.as_str(), name_loc)?)),
                    name_loc,
                )?;
                Kind::Index {
                    target: boxed(target),
                    index: boxed(index),
                }
            } else {
                Kind::Attr {
                    target: boxed(target),
                    name: name.as_str().to_string(),
                    name_loc,
                }
            }
        }
        Rule::subscript => {
            let inner = next(&mut pair.into_inner(), pair_loc)?;
            if inner.as_rule() == Rule::slice {
                let mut bounds: [Option<Box<Node>>; 3] = [None, None, None];
                for part in inner.into_inner() {
                    let slot = match part.as_rule() {
                        Rule::slice_start => 0,
                        Rule::slice_stop => 1,
                        _ => 2,
                    };
                    let part_loc = loc(&part);
                    let value = build_cond(next(&mut part.into_inner(), part_loc)?)?;
                    if let Some(b) = bounds.get_mut(slot) {
                        *b = Some(boxed(value));
                    }
                }
                Kind::Slice {
                    target: boxed(target),
                    bounds,
                }
            } else {
                Kind::Index {
                    target: boxed(target),
                    index: boxed(build_cond(inner)?),
                }
            }
        }
        _ => {
            return Err(match &target.kind {
                Kind::Attr { name_loc, .. } => {
                    ExprError::new(name_loc.to(pair_loc), "method calls are not supported")
                        .with_help("use a filter instead, e.g. `x | lower` or `x | join(',')`")
                }
                _ => ExprError::new(at, "function calls are not supported")
                    .with_help("use a filter instead, e.g. `x | max`"),
            });
        }
    };
    Node::new(kind, at)
}

fn build_suffix(target: Node, pair: Pair<'_, Rule>) -> Result<Node, ExprError> {
    let at = target.loc.to(loc(&pair));
    let is_filter = pair.as_rule() == Rule::filter;
    let mut negated = false;
    let mut name = None;
    let mut args = Vec::new();
    for part in pair.into_inner() {
        match part.as_rule() {
            Rule::kw_not => negated = true,
            Rule::name => name = Some((part.as_str().to_string(), loc(&part))),
            Rule::call => args = build_args(part)?,
            _ => {}
        }
    }
    let (name, name_loc) = name.ok_or_else(|| internal(at))?;
    let target = boxed(target);
    let kind = if is_filter {
        Kind::Filter {
            target,
            name,
            name_loc,
            args,
        }
    } else {
        Kind::Test {
            target,
            name,
            name_loc,
            negated,
            args,
        }
    };
    Node::new(kind, at)
}

fn build_args(call: Pair<'_, Rule>) -> Result<Vec<Arg>, ExprError> {
    let mut args = Vec::new();
    let mut keyword_seen = false;
    for part in call.into_inner() {
        let at = loc(&part);
        if part.as_rule() == Rule::kwarg {
            let mut kv = part.into_inner();
            let name = next(&mut kv, at)?.as_str().to_string();
            let value = build_cond(next(&mut kv, at)?)?;
            keyword_seen = true;
            args.push(Arg {
                name: Some(name),
                value,
                loc: at,
            });
        } else {
            if keyword_seen {
                return Err(
                    ExprError::new(at, "positional argument after keyword argument")
                        .with_help("put positional arguments first"),
                );
            }
            args.push(Arg {
                name: None,
                value: build_cond(part)?,
                loc: at,
            });
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (source, message, start, end) of the error `parse` gives.
    fn error(src: &str) -> (String, usize, usize) {
        match parse(src) {
            Ok(expr) => panic!("`{src}` parsed as {:?}", expr.root),
            Err(e) => (e.message, e.start, e.end),
        }
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        let cases: &[(&str, &str, usize, usize)] = &[
            ("", "empty expression", 0, 0),
            ("   ", "empty expression", 0, 3),
            ("(1 + 2", "unclosed `(`", 0, 1),
            ("[1, 2)", "`)` does not close `[`", 5, 6),
            ("1 + 2)", "unmatched `)`", 5, 6),
            ("'abc", "unterminated string literal", 0, 4),
            ("1 +", "unexpected end of expression", 3, 3),
            ("a b", "unexpected `b`", 2, 3),
            ("a = 1", "unexpected `=`", 2, 3),
            ("a && b", "unexpected `&&`", 2, 4),
            ("x.split(',')", "method calls are not supported", 2, 12),
            ("range(3)", "function calls are not supported", 0, 8),
            (
                "99999999999999999999",
                "integer literal is too large",
                0,
                20,
            ),
            ("'\\x4'", "invalid `\\x` escape", 1, 4),
            ("0x_1g", "unexpected `g`", 4, 5),
            (
                "x | round(precision=1, 2)",
                "positional argument after keyword argument",
                23,
                24,
            ),
            ("if", "unexpected `if`", 0, 2),
            ("x|first.name", "unexpected `.`", 7, 8),
        ];
        for (src, message, start, end) in cases {
            let got = error(src);
            assert_eq!(got, (message.to_string(), *start, *end), "error of `{src}`");
        }
    }

    #[test]
    fn syntax_errors_say_what_was_expected() {
        let help = |src: &str| parse(src).err().and_then(|e| e.help);
        assert_eq!(help("1 +").as_deref(), Some("expected a value"));
        assert_eq!(
            help("a b").as_deref(),
            Some("expected an operator or the end of the expression")
        );
        assert_eq!(
            help("a = 1").as_deref(),
            Some("use `==` to compare, or `name=value` inside a filter's arguments")
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        assert!(error(&deep).0.contains("deeper than 64"));
        let ok = format!("{}1{}", "(".repeat(60), ")".repeat(60));
        assert!(parse(&ok).is_ok());
        let nots = format!("{}x", "not ".repeat(100));
        assert!(error(&nots).0.contains("more than 64"));
        let minus = format!("{}1", "-".repeat(100));
        assert!(error(&minus).0.contains("deeper than 64"));
        let sum = vec!["1"; 100].join(" + ");
        assert!(error(&sum).0.contains("deeper than 64"));
        let huge = "[".repeat(100_000);
        assert!(error(&huge).0.contains("deeper than 64"));
    }

    #[test]
    fn string_literals_unescape_like_python() {
        let text = |src: &str| match parse(src).map(|e| e.root.kind) {
            Ok(Kind::Const(Value::Str(s))) => s,
            other => panic!("`{src}` gave {other:?}"),
        };
        assert_eq!(text(r"'a\nb'"), "a\nb");
        assert_eq!(text(r#""it\'s \"x\"""#), "it's \"x\"");
        assert_eq!(text(r"'\x41\u00e9\101\0'"), "AéA\0");
        assert_eq!(text(r"'\d\w'"), r"\d\w");
        assert_eq!(text(r"'a' 'b' "), "ab");
        assert_eq!(text("'x\r\ny'"), "x\ny");
    }
}
