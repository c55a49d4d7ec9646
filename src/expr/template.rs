//! Strings with `${{ ... }}` inside. Input: a YAML string value. Output: a `Template` of
//! literal text and parsed expressions, and its value: the typed value of a lone
//! expression, else the concatenated text. Guarantee: only `${{` opens an expression
//! (`{{ }}`, `{% %}`, `{# #}` and bash's `${#x}` stay literal text), the closing `}}` is
//! found respecting string literals and bracket nesting, and every bad expression in the
//! string is reported with byte ranges relative to the whole string.

use super::ExprError;
use super::ast::{Expr, Loc};
use super::eval::{eval, too_large};
use super::parse::{parse, string_end};
use super::scope::Scope;
use super::value::{MAX_SIZE, Text, Value};

const OPEN: &str = "${{";

/// A string split into literal text and expressions.
#[derive(Clone, Debug)]
pub struct Template {
    pub segments: Vec<Segment>,
}

#[derive(Clone, Debug)]
pub enum Segment {
    Lit(String),
    /// `start..end` is the byte range of the whole `${{ ... }}` in the string.
    Expr {
        expr: Expr,
        start: usize,
        end: usize,
    },
}

impl Template {
    /// No expression at all.
    pub fn is_plain(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Lit(_)))
    }

    /// The expression, when the string is exactly one `${{ ... }}` and nothing else (not
    /// even spaces).
    pub fn single_expr(&self) -> Option<&Expr> {
        match self.segments.as_slice() {
            [Segment::Expr { expr, .. }] => Some(expr),
            _ => None,
        }
    }
}

/// Splits a string into literal text and expressions, reporting every bad expression.
pub fn parse_template(s: &str) -> Result<Template, Vec<ExprError>> {
    let mut segments = Vec::new();
    let mut errors = Vec::new();
    let mut literal = String::new();
    let mut pos = 0;
    while let Some(found) = s.get(pos..).and_then(|rest| rest.find(OPEN)) {
        let open = pos + found;
        literal.push_str(&s[pos..open]);
        let inner_start = open + OPEN.len();
        let close = match find_close(s, inner_start) {
            Some(close) => close,
            None => match s[inner_start..].find("}}") {
                // Unbalanced inside: parse up to the first `}}` to say what is wrong.
                Some(naive) => inner_start + naive,
                None => {
                    errors.push(
                        ExprError::new(Loc::new(open, open + OPEN.len()), "unterminated `${{`")
                            .with_help("close the expression with `}}`"),
                    );
                    pos = s.len();
                    break;
                }
            },
        };
        match parse(&s[inner_start..close]) {
            Ok(expr) => {
                if !literal.is_empty() {
                    segments.push(Segment::Lit(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Expr {
                    expr,
                    start: open,
                    end: close + 2,
                });
            }
            Err(e) => errors.push(e.shifted(inner_start)),
        }
        pos = close + 2;
    }
    if let Some(rest) = s.get(pos..) {
        literal.push_str(rest);
    }
    if !literal.is_empty() {
        segments.push(Segment::Lit(literal));
    }
    if errors.is_empty() {
        Ok(Template { segments })
    } else {
        Err(errors)
    }
}

/// The offset of the `}}` that closes an expression starting at `from`: the first one
/// outside string literals and brackets. `None` when there is none.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\'' | b'"' => i = string_end(bytes, i)?,
            b'}' if depth == 0 && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Evaluates a template: a single-expression template gives the typed value; otherwise
/// the literal text and each value's text form, concatenated (`Runtime` if any piece is
/// known only in the job). Error ranges are relative to the template string.
pub fn eval_template(t: &Template, scope: &dyn Scope) -> Result<Value, ExprError> {
    let eval_at =
        |expr: &Expr, start: usize| eval(expr, scope).map_err(|e| e.shifted(start + OPEN.len()));
    if let [Segment::Expr { expr, start, .. }] = t.segments.as_slice() {
        return eval_at(expr, *start);
    }
    let mut text = Text::default();
    for segment in &t.segments {
        match segment {
            Segment::Lit(s) => text.push_str(s),
            Segment::Expr { expr, start, end } => {
                text.append(&eval_at(expr, *start)?.to_text());
                if text.size() > MAX_SIZE {
                    return Err(too_large(Loc::new(*start, *end)));
                }
            }
        }
    }
    Ok(Value::from_text(text))
}

#[cfg(test)]
mod tests {
    use super::super::test_scope::TestScope;
    use super::*;

    fn render(s: &str) -> String {
        match parse_template(s) {
            Err(errors) => format!("parse errors: {errors:?}"),
            Ok(t) => match eval_template(&t, &TestScope) {
                Ok(v) => v.to_text().to_string(),
                Err(e) => format!("error at {}..{}: {}", e.start, e.end, e.message),
            },
        }
    }

    #[test]
    fn templates_render_text_and_values() {
        let cases = [
            ("plain text", "plain text"),
            ("", ""),
            ("${{ A }}", "3"),
            ("n=${{ A }} m=${{ B }}", "n=3 m=2"),
            ("${{A}}${{B}}", "32"),
            ("x ${{ [1, 'a'] }}", "x [1, 'a']"),
            (
                "{{ A }} {% if x %} {# c #} ${{ A }}",
                "{{ A }} {% if x %} {# c #} 3",
            ),
            ("echo ${#arr[@]} ${{ A }} ${#x}", "echo ${#arr[@]} 3 ${#x}"),
            ("${{ {'a': {'b': 1}} }}", "{'a': {'b': 1}}"),
            ("${{ {'a': 1}}}", "{'a': 1}"),
            ("${{ '}}' ~ A }}", "}}3"),
            ("${{ \"a}}b\" }}", "a}}b"),
            ("${{ A }}}", "3}"),
            ("$${{ A }}", "$3"),
            (
                "url=http://${{ backends.gpu.nodes[0].ip_address }}:8000",
                "url=http://<node0.ip>:8000",
            ),
            ("${{ True }} ${{ none }} ${{ 0.1 }}", "True None 0.1"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src), want, "{src:?}");
        }
    }

    #[test]
    fn single_expression_templates_keep_their_type() {
        let t = parse_template("${{ A * 2 }}").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(t.single_expr().is_some());
        assert_eq!(eval_template(&t, &TestScope), Ok(Value::Int(6)));
        let spaced = parse_template(" ${{ A }}").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(spaced.single_expr().is_none());
        assert_eq!(
            eval_template(&spaced, &TestScope),
            Ok(Value::Str(" 3".into()))
        );
        let plain = parse_template("no ${ expr } here").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(plain.is_plain());
        assert!(!t.is_plain());
    }

    #[test]
    fn template_segments_have_ranges() {
        let t = parse_template("a ${{ A }} b").unwrap_or_else(|e| panic!("{e:?}"));
        match t.segments.as_slice() {
            [
                Segment::Lit(a),
                Segment::Expr { start, end, .. },
                Segment::Lit(b),
            ] => {
                assert_eq!((a.as_str(), *start, *end, b.as_str()), ("a ", 2, 10, " b"));
            }
            other => panic!("unexpected segments {other:?}"),
        }
    }

    #[test]
    fn every_bad_expression_is_reported() {
        let errors = |s: &str| match parse_template(s) {
            Ok(_) => panic!("{s:?} parsed"),
            Err(errors) => errors
                .into_iter()
                .map(|e| (e.message, e.start, e.end))
                .collect::<Vec<_>>(),
        };
        assert_eq!(
            errors("a ${{ 1 + }} b ${{ ok }} c ${{ x y }}"),
            vec![
                ("unexpected end of expression".to_string(), 10, 10),
                ("unexpected `y`".to_string(), 33, 34),
            ]
        );
        assert_eq!(
            errors("x ${{ A"),
            vec![("unterminated `${{`".to_string(), 2, 5)]
        );
        assert_eq!(
            errors("${{ [1, 2 }} ok"),
            vec![("unclosed `[`".to_string(), 4, 5)]
        );
        assert_eq!(
            errors("${{ 'abc }} ${{ A }}"),
            vec![("unterminated string literal".to_string(), 4, 9)]
        );
        assert_eq!(
            errors("${{ }}"),
            vec![("empty expression".to_string(), 3, 4)]
        );
    }

    #[test]
    fn evaluation_errors_are_relative_to_the_string() {
        assert_eq!(
            render("abc ${{ 1 + 'a' }}"),
            "error at 10..11: unsupported operand types for `+`: int and str"
        );
        assert_eq!(
            render("${{ MISSING }}"),
            "error at 4..11: undefined variable `MISSING`"
        );
    }
}
