//! Values of expressions. Input: constants, scope lookups and operation results. Output:
//! typed values and their text form as Python's `str()` spells it (`True`, `None`, `1e-05`,
//! `[1, 'a']`), where text known only in the job (node names and IPs) stays a `Piece`.
//! Guarantee: a `Text` never holds an empty or two adjacent literal pieces, and a value's
//! text form is the same string the reference (Python/Jinja) would produce.

use super::pyfmt;
use std::fmt;

/// The most bytes (roughly) one value may occupy; larger results are an error.
pub(crate) const MAX_SIZE: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Text known only when the job runs (allocated node names and IPs), possibly mixed
    /// with literal text.
    Runtime(Text),
    List(Vec<Value>),
    /// Insertion-ordered.
    Dict(Vec<(String, Value)>),
}

/// Text made of literal parts and parts known only in the job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(pub Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    /// A fact about the allocation's node number `index` (in `scontrol show hostnames` order).
    Node {
        index: u32,
        field: NodeField,
    },
    /// The workspace directory of the job (`SFLOW_WORKSPACE_DIR`).
    Workspace,
    /// The output root (`SFLOW_OUTPUT_DIR`).
    OutputDir,
    /// The run directory (`SFLOW_WORKFLOW_OUTPUT_DIR`).
    RunDir,
    /// The task's own directory (`SFLOW_TASK_OUTPUT_DIR`).
    TaskDir,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeField {
    Name,
    Ip,
}

impl Text {
    /// Text with one literal piece (none if `s` is empty).
    pub fn lit(s: &str) -> Text {
        let mut text = Text::default();
        text.push_str(s);
        text
    }

    /// Text that is one node fact.
    pub fn node(index: u32, field: NodeField) -> Text {
        Text(vec![Piece::Node { index, field }])
    }

    pub fn push_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(Piece::Lit(last)) => last.push_str(s),
            _ => self.0.push(Piece::Lit(s.to_string())),
        }
    }

    pub fn push(&mut self, piece: &Piece) {
        match piece {
            Piece::Lit(s) => self.push_str(s),
            node => self.0.push(node.clone()),
        }
    }

    pub fn append(&mut self, other: &Text) {
        for piece in &other.0 {
            self.push(piece);
        }
    }

    /// The text, when every piece is literal.
    pub fn to_plain(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Bytes of literal text plus a nominal 16 per node piece.
    pub(crate) fn size(&self) -> usize {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => s.len(),
                _ => 16,
            })
            .sum()
    }
}

impl fmt::Display for NodeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeField::Name => "name",
            NodeField::Ip => "ip",
        })
    }
}

/// Literal pieces as themselves, node pieces as `<node0.name>` / `<node1.ip>`.
impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in &self.0 {
            match piece {
                Piece::Lit(s) => f.write_str(s)?,
                Piece::Node { index, field } => write!(f, "<node{index}.{field}>")?,
                Piece::Workspace => f.write_str("<workspace>")?,
                Piece::OutputDir => f.write_str("<output_dir>")?,
                Piece::RunDir => f.write_str("<run_dir>")?,
                Piece::TaskDir => f.write_str("<task_dir>")?,
            }
        }
        Ok(())
    }
}

impl Value {
    /// The Python type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "none",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) | Value::Runtime(_) => "str",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }

    /// `Str` for plain text, `Runtime` when some piece is known only in the job.
    pub fn from_text(text: Text) -> Value {
        match text.to_plain() {
            Some(s) => Value::Str(s),
            None => Value::Runtime(text),
        }
    }

    /// The text form (Python `str()`).
    pub fn to_text(&self) -> Text {
        let mut out = Text::default();
        self.write_text(&mut out);
        out
    }

    /// The text form, when it holds no piece known only in the job.
    pub fn to_plain_string(&self) -> Option<String> {
        self.to_text().to_plain()
    }

    /// Python `repr()` as a plain string (runtime pieces shown as `<node0.ip>`), for messages.
    pub fn repr_plain(&self) -> String {
        let mut out = Text::default();
        self.write_repr(&mut out);
        out.to_string()
    }

    /// Python `==` (`1 == 1.0`; text known only in the job equals only itself).
    pub fn py_eq(&self, other: &Value) -> bool {
        super::ops::equals(self, other)
    }

    /// Whether this value, or anything inside it, is known only in the job.
    pub fn is_runtime(&self) -> bool {
        match self {
            Value::Runtime(_) => true,
            Value::List(items) => items.iter().any(Value::is_runtime),
            Value::Dict(entries) => entries.iter().any(|(_, v)| v.is_runtime()),
            _ => false,
        }
    }

    fn write_text(&self, out: &mut Text) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Runtime(t) => out.append(t),
            _ => self.write_repr(out),
        }
    }

    /// Python `repr()`, as used for items of lists and dicts.
    fn write_repr(&self, out: &mut Text) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(n) => out.push_str(&n.to_string()),
            Value::Float(x) => out.push_str(&pyfmt::float_repr(*x)),
            Value::Str(s) => out.push_str(&pyfmt::str_repr(s)),
            Value::Runtime(text) => {
                // Node names and IPs never hold quotes or backslashes, so only the
                // literal pieces decide the quote and need escaping.
                let literal: String = text
                    .0
                    .iter()
                    .filter_map(|p| match p {
                        Piece::Lit(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                let quote = pyfmt::quote_for(&literal);
                out.push_str(&quote.to_string());
                for piece in &text.0 {
                    match piece {
                        Piece::Lit(s) => {
                            let mut escaped = String::new();
                            pyfmt::escape_into(&mut escaped, s, quote);
                            out.push_str(&escaped);
                        }
                        node => out.push(node),
                    }
                }
                out.push_str(&quote.to_string());
            }
            Value::List(items) => {
                out.push_str("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out);
                }
                out.push_str("]");
            }
            Value::Dict(entries) => {
                out.push_str("{");
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&pyfmt::str_repr(key));
                    out.push_str(": ");
                    value.write_repr(out);
                }
                out.push_str("}");
            }
        }
    }

    /// Roughly the bytes this value occupies, to bound what operations build.
    pub(crate) fn size(&self) -> usize {
        match self {
            Value::Str(s) => s.len() + 8,
            Value::Runtime(t) => t.size() + 8,
            Value::List(items) => items
                .iter()
                .fold(8, |acc: usize, v| acc.saturating_add(v.size())),
            Value::Dict(entries) => entries.iter().fold(8, |acc: usize, (k, v)| {
                acc.saturating_add(k.len() + 8).saturating_add(v.size())
            }),
            _ => 8,
        }
    }

    /// Python truthiness; `None` for text known only in the job.
    pub(crate) fn truthy(&self) -> Option<bool> {
        Some(match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Float(x) => *x != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Runtime(_) => return None,
            Value::List(items) => !items.is_empty(),
            Value::Dict(entries) => !entries.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn text_form_is_python_str() {
        let cases = [
            (Value::None, "None"),
            (Value::Bool(true), "True"),
            (Value::Bool(false), "False"),
            (Value::Int(-42), "-42"),
            (Value::Float(1e-5), "1e-05"),
            (s("plain 'text'"), "plain 'text'"),
            (
                Value::List(vec![
                    Value::Int(1),
                    s("a"),
                    Value::Bool(true),
                    Value::None,
                    Value::Float(1.5),
                ]),
                "[1, 'a', True, None, 1.5]",
            ),
            (
                Value::Dict(vec![("a".into(), Value::Int(1)), ("b".into(), s("x"))]),
                "{'a': 1, 'b': 'x'}",
            ),
            (Value::List(vec![s("it's")]), "[\"it's\"]"),
            (Value::List(vec![]), "[]"),
            (Value::Dict(vec![]), "{}"),
            (
                Value::List(vec![Value::List(vec![Value::Int(1)]), Value::Dict(vec![])]),
                "[[1], {}]",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(value.to_plain_string().as_deref(), Some(want));
        }
    }

    #[test]
    fn runtime_text_keeps_node_pieces_inside_quotes() {
        let node = Value::Runtime(Text::node(0, NodeField::Name));
        let list = Value::List(vec![Value::Dict(vec![("name".into(), node.clone())])]);
        assert_eq!(list.to_text().to_string(), "[{'name': '<node0.name>'}]");
        assert_eq!(list.to_plain_string(), None);
        assert!(list.is_runtime());
        assert_eq!(node.to_text(), Text::node(0, NodeField::Name));
    }

    #[test]
    fn text_merges_literal_pieces() {
        let mut text = Text::lit("a");
        text.push_str("");
        text.push_str("b");
        text.append(&Text::node(1, NodeField::Ip));
        text.push_str("c");
        text.append(&Text::lit("d"));
        assert_eq!(
            text.0,
            vec![
                Piece::Lit("ab".into()),
                Piece::Node {
                    index: 1,
                    field: NodeField::Ip
                },
                Piece::Lit("cd".into()),
            ]
        );
        assert_eq!(Text::lit("").0, vec![]);
        assert_eq!(Value::from_text(Text::lit("x")), s("x"));
    }
}
