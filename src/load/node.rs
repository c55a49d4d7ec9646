//! The spanned YAML tree every later stage reads. Input: nothing (a data type). Output:
//! `Node`s that carry their value, how the scalar was written, and the byte span of the text
//! they came from. Guarantee: every helper here is total; `locate` maps a range of a
//! string's value back into the file exactly where that is provable, and otherwise falls back
//! to the whole scalar's span, never a wrong or out-of-range one.

use crate::source::Span;

/// How a scalar was written in the file (`Collection` for sequences and mappings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
    Collection,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order; keys are unique.
    Map(Vec<(Key, Node)>),
}

/// A mapping key: the scalar's text as written (`1: x` has the key "1") and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: NodeValue,
    pub style: Style,
}

impl Node {
    /// A node written in the plain style (or `Collection` for sequences and mappings).
    pub fn new(span: Span, value: NodeValue) -> Node {
        let style = match value {
            NodeValue::Seq(_) | NodeValue::Map(_) => Style::Collection,
            _ => Style::Plain,
        };
        Node { span, value, style }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries_mut()?
            .iter_mut()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The entries when this node is a mapping.
    pub fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn entries_mut(&mut self) -> Option<&mut Vec<(Key, Node)>> {
        match &mut self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items when this node is a sequence.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn items_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Replaces the value under `key.name` (keeping its position, taking the new key's span),
    /// or appends the entry. Does nothing on a non-mapping.
    pub fn set(&mut self, key: Key, value: Node) {
        if let Some(entries) = self.entries_mut() {
            match entries.iter_mut().find(|(k, _)| k.name == key.name) {
                Some(entry) => *entry = (key, value),
                None => entries.push((key, value)),
            }
        }
    }

    /// Removes the entry under `key` from a mapping.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let entries = self.entries_mut()?;
        let index = entries.iter().position(|(k, _)| k.name == key)?;
        Some(entries.remove(index).1)
    }

    /// The kind of value, as named in messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "boolean",
            NodeValue::Int(_) => "integer",
            NodeValue::Float(_) => "float",
            NodeValue::Str(_) => "string",
            NodeValue::Seq(_) => "list",
            NodeValue::Map(_) => "mapping",
        }
    }

    /// Whether two trees hold the same data, ignoring spans and styles (NaN equals NaN).
    pub fn same_value(&self, other: &Node) -> bool {
        use NodeValue::*;
        match (&self.value, &other.value) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Str(a), Str(b)) => a == b,
            (Seq(a), Seq(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y)),
            (Map(a), Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka.name == kb.name && va.same_value(vb))
            }
            _ => false,
        }
    }

    /// Maps the byte range `start..end` of this string's value to a span in the file whose
    /// text is `text`. Exact for one-line plain and quoted scalars when the value and the
    /// source agree up to `end` (no escapes before the range), and for literal block scalars
    /// line by line. Otherwise, when the range's text occurs as often in the source as in the
    /// value (folded blocks, multi-line or escaped scalars), the matching occurrence is used;
    /// failing that, the whole scalar's span.
    pub fn locate(&self, text: &str, start: usize, end: usize) -> Span {
        self.try_locate(text, start, end).unwrap_or(self.span)
    }

    fn try_locate(&self, text: &str, start: usize, end: usize) -> Option<Span> {
        let value = self.as_str()?;
        if start > end || !value.is_char_boundary(start) || !value.is_char_boundary(end) {
            return None;
        }
        let span_start = self.span.start as usize;
        let raw = text.get(span_start..self.span.end as usize)?;
        let exact = match self.style {
            Style::Plain => locate_one_line(raw, 0, value, start, end),
            Style::SingleQuoted | Style::DoubleQuoted => locate_one_line(raw, 1, value, start, end),
            Style::Literal => locate_literal(text, span_start, value, start, end),
            Style::Folded | Style::Collection => None,
        };
        let relative = exact
            .map(|(s, e)| (s + span_start, e + span_start))
            .or_else(|| {
                let (s, e) = locate_occurrence(raw, value, start, end)?;
                Some((s + span_start, e + span_start))
            })?;
        Some(Span::new(self.span.file, relative.0, relative.1))
    }
}

/// A one-line scalar whose content starts `skip` bytes into `raw` and matches the value up to
/// `end`: offsets into `raw`.
fn locate_one_line(
    raw: &str,
    skip: usize,
    value: &str,
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    if raw.contains('\n') {
        return None;
    }
    let content = raw.get(skip..)?;
    (content.get(..end)? == value.get(..end)?).then_some((skip + start, skip + end))
}

/// A literal block scalar: value line `k` is the source line `k - leading_empty` lines after
/// the first content line, with the first content line's indentation stripped. Returns
/// offsets relative to `span_start`.
fn locate_literal(
    text: &str,
    span_start: usize,
    value: &str,
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    let line_start = text.get(..span_start)?.rfind('\n').map_or(0, |i| i + 1);
    let indent = span_start - line_start;
    let leading_empty = value.len() - value.trim_start_matches('\n').len();
    let position = |offset: usize| -> Option<usize> {
        let before = value.get(..offset)?;
        let line = before.matches('\n').count();
        let column = offset - before.rfind('\n').map_or(0, |i| i + 1);
        let value_line = value.split('\n').nth(line)?;
        let mut source_line_start = line_start;
        for _ in 0..line.checked_sub(leading_empty)? {
            source_line_start += text.get(source_line_start..)?.find('\n')? + 1;
        }
        let rest = text.get(source_line_start..)?;
        let source_line = rest.split('\n').next()?;
        (source_line.get(indent..)? == value_line).then_some(source_line_start + indent + column)
    };
    let s = position(start)?;
    let e = position(end)?;
    Some((s.checked_sub(span_start)?, e.checked_sub(span_start)?))
}

/// The `i`-th occurrence of the range's text in the value, mapped to the `i`-th occurrence in
/// the raw source, when both have the same number of occurrences.
fn locate_occurrence(raw: &str, value: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let needle = value.get(start..end)?;
    if needle.is_empty() || needle.contains('\n') {
        return None;
    }
    let in_value: Vec<usize> = value.match_indices(needle).map(|(i, _)| i).collect();
    let in_raw: Vec<usize> = raw.match_indices(needle).map(|(i, _)| i).collect();
    if in_value.len() != in_raw.len() {
        return None;
    }
    let index = in_value.iter().position(|&i| i == start)?;
    let at = *in_raw.get(index)?;
    Some((at, at + needle.len()))
}
