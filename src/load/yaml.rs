//! YAML text to a spanned tree. Input: one file's index and text. Output: its single document
//! as a `Node`, scalars typed by the YAML 1.2 core schema, or one diagnostic at the offending
//! place. Guarantee: never panics; rejects duplicate and complex keys, unknown tags, several
//! documents, integers outside i64, nesting deeper than `MAX_DEPTH`, and alias expansion past
//! `MAX_ALIAS_NODES` (so a "billion laughs" file fails fast instead of exhausting memory).

use super::node::{Key, Node, NodeValue, Style};
use crate::diagnostic::Diagnostic;
use crate::source::Span;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use std::collections::HashMap;

/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 100;
/// Most nodes that aliases may add to a document, all aliases together.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Parses one YAML file into its single document.
pub fn parse_yaml(file: u32, text: &str) -> Result<Node, Diagnostic> {
    if u32::try_from(text.len()).is_err() {
        return Err(Diagnostic::error(
            "file-too-large",
            "the workflow file is larger than 4 GiB",
        ));
    }
    let mut builder = Builder {
        file,
        text,
        offsets: Offsets::new(text),
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        root: None,
    };
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| builder.scan_error(&e))?;
        let start = builder.offsets.byte(span.start.index());
        let end = builder.offsets.byte(span.end.index());
        let span = Span::new(file, start, end);
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::error(
                        "yaml-multiple-documents",
                        "a workflow file must hold exactly one YAML document",
                    )
                    .at(span, "a second document starts here")
                    .help("put each workflow part in its own file and pass them all"));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let scalar = Scalar {
                    value: &value,
                    style,
                    tag: tag.as_deref(),
                    anchored: anchor != 0,
                    span,
                };
                let node = builder.scalar(scalar)?;
                builder.deliver(node, Some(value.into_owned()), anchor)?;
            }
            Event::Alias(anchor) => {
                let (node, key_text) = builder.alias(anchor, span)?;
                builder.deliver(node, key_text, 0)?;
            }
            Event::SequenceStart(anchor, tag) => {
                builder.check_collection_tag(tag.as_deref(), "seq", span)?;
                builder.open(Frame::Seq(Vec::new()), span, anchor)?;
            }
            Event::MappingStart(anchor, tag) => {
                builder.check_collection_tag(tag.as_deref(), "map", span)?;
                builder.open(Frame::Map(MapFrame::default()), span, anchor)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(span)?,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
    match builder.root {
        Some(root) if root.value != NodeValue::Null => Ok(root),
        _ => Err(Diagnostic::error("empty-file", "empty workflow file")
            .at(Span::new(file, 0, 0), "this file holds no YAML document")),
    }
}

/// Character index to byte offset; the identity for ASCII text.
struct Offsets {
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let table = (!text.is_ascii()).then(|| {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        });
        Offsets {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(table) => table.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

/// One scalar event's parts.
struct Scalar<'e> {
    value: &'e str,
    style: ScalarStyle,
    tag: Option<&'e Tag>,
    anchored: bool,
    span: Span,
}

enum Frame {
    Seq(Vec<Node>),
    Map(MapFrame),
}

#[derive(Default)]
struct MapFrame {
    entries: Vec<(Key, Node)>,
    pending: Option<Key>,
    seen: HashMap<String, Span>,
}

struct Open {
    frame: Frame,
    span: Span,
    anchor: usize,
}

struct Anchored {
    node: Node,
    /// The scalar's text when the anchored node is a scalar (usable as a key).
    key_text: Option<String>,
    size: usize,
}

struct Builder<'a> {
    file: u32,
    text: &'a str,
    offsets: Offsets,
    stack: Vec<Open>,
    anchors: HashMap<usize, Anchored>,
    alias_nodes: usize,
    root: Option<Node>,
}

impl Builder<'_> {
    fn scan_error(&self, error: &ScanError) -> Diagnostic {
        let at = self.offsets.byte(error.marker().index());
        Diagnostic::error("yaml-syntax", format!("invalid YAML: {}", error.info()))
            .at(Span::new(self.file, at, at), "here")
    }

    fn open(&mut self, frame: Frame, span: Span, anchor: usize) -> Result<(), Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                "yaml-too-deep",
                format!("YAML nesting is deeper than {MAX_DEPTH} levels"),
            )
            .at(span, "too deep"));
        }
        self.stack.push(Open {
            frame,
            span,
            anchor,
        });
        Ok(())
    }

    fn close(&mut self, end: Span) -> Result<(), Diagnostic> {
        let Some(open) = self.stack.pop() else {
            return Ok(());
        };
        let value = match open.frame {
            Frame::Seq(items) => NodeValue::Seq(items),
            Frame::Map(mut map) => {
                if let Some(key) = map.pending.take() {
                    let span = Span::new(self.file, key.span.end as usize, key.span.end as usize);
                    map.entries.push((key, Node::new(span, NodeValue::Null)));
                }
                NodeValue::Map(map.entries)
            }
        };
        // A flow collection's end event covers its closing bracket; a block collection's end
        // event is empty, so the block ends with its last child.
        let last_child = match &value {
            NodeValue::Seq(items) => items.last().map(|n| n.span.end),
            NodeValue::Map(entries) => entries.last().map(|(_, n)| n.span.end),
            _ => None,
        };
        let end = if end.start < end.end {
            end.end
        } else {
            last_child.unwrap_or(open.span.end).max(open.span.end)
        };
        let span = Span::new(self.file, open.span.start as usize, end as usize);
        self.deliver(Node::new(span, value), None, open.anchor)
    }

    /// Hands a finished node to the collection being built (or makes it the root).
    fn deliver(
        &mut self,
        node: Node,
        key_text: Option<String>,
        anchor: usize,
    ) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    key_text: key_text.clone(),
                    size: count_nodes(&node),
                },
            );
        }
        let Some(open) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut open.frame {
            Frame::Seq(items) => items.push(node),
            Frame::Map(map) => match map.pending.take() {
                Some(key) => map.entries.push((key, node)),
                None => {
                    let Some(name) = key_text else {
                        return Err(Diagnostic::error(
                            "yaml-complex-key",
                            "mapping keys must be scalars",
                        )
                        .at(node.span, "a collection used as a key"));
                    };
                    if let Some(&first) = map.seen.get(&name) {
                        return Err(Diagnostic::error(
                            "yaml-duplicate-key",
                            format!("duplicate key `{name}`"),
                        )
                        .at(node.span, "defined again here")
                        .also(first, "first defined here"));
                    }
                    map.seen.insert(name.clone(), node.span);
                    map.pending = Some(Key {
                        name,
                        span: node.span,
                    });
                }
            },
        }
        Ok(())
    }

    fn alias(&mut self, anchor: usize, span: Span) -> Result<(Node, Option<String>), Diagnostic> {
        let Some(anchored) = self.anchors.get(&anchor) else {
            return Err(Diagnostic::error(
                "yaml-alias",
                "this alias refers to a node that contains it",
            )
            .at(span, "recursive alias"));
        };
        self.alias_nodes = self.alias_nodes.saturating_add(anchored.size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(Diagnostic::error(
                "yaml-alias-expansion",
                "YAML alias expansion is too large",
            )
            .at(span, "expanding this alias goes past the limit")
            .help(format!(
                "aliases may add at most {MAX_ALIAS_NODES} nodes to a file"
            )));
        }
        Ok((anchored.node.clone(), anchored.key_text.clone()))
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        expected: &str,
        span: Span,
    ) -> Result<(), Diagnostic> {
        match tag.map(|t| (t, tag_kind(t))) {
            None | Some((_, TagKind::NonSpecific)) => Ok(()),
            Some((_, TagKind::Core(suffix))) if suffix == expected => Ok(()),
            Some((tag, _)) => Err(tag_error(tag, span, "a collection")),
        }
    }

    /// Whether the next node delivered is a mapping key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Open { frame: Frame::Map(map), .. }) if map.pending.is_none())
    }

    fn scalar(&self, scalar: Scalar<'_>) -> Result<Node, Diagnostic> {
        let Scalar {
            value,
            style,
            tag,
            anchored,
            span,
        } = scalar;
        let span = self.scalar_span(span, anchored || tag.is_some(), style);
        let style = match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        };
        let text = || Plain::Value(NodeValue::Str(value.to_owned()));
        let resolved = match tag.map(|t| (t, tag_kind(t))) {
            // A key is its text as written; its type does not matter.
            None if self.expecting_key() => text(),
            None if style == Style::Plain => resolve_plain(value),
            None | Some((_, TagKind::NonSpecific)) => text(),
            Some((_, TagKind::Core(_))) if self.expecting_key() => text(),
            Some((tag, TagKind::Core(suffix))) => {
                let wanted = match suffix {
                    "str" => return Ok(node(span, NodeValue::Str(value.to_owned()), style)),
                    "int" => "integer",
                    "float" => "float",
                    "bool" => "boolean",
                    "null" => "null",
                    _ => return Err(tag_error(tag, span, "a scalar")),
                };
                let resolved = match (wanted, resolve_plain(value.trim())) {
                    ("float", Plain::Value(NodeValue::Int(i))) => {
                        Plain::Value(NodeValue::Float(i as f64))
                    }
                    (_, resolved) => resolved,
                };
                let kind = match &resolved {
                    Plain::Value(v) => Node::new(span, v.clone()).kind_name(),
                    Plain::IntOutOfRange => "integer",
                };
                if kind != wanted {
                    return Err(Diagnostic::error(
                        "yaml-tag",
                        format!("`{value}` is not a valid !!{suffix}"),
                    )
                    .at(span, format!("expected {wanted} for this tag")));
                }
                resolved
            }
            Some((tag, TagKind::Other)) => return Err(tag_error(tag, span, "a scalar")),
        };
        match resolved {
            Plain::Value(v) => Ok(node(span, v, style)),
            Plain::IntOutOfRange => Err(Diagnostic::error(
                "integer-out-of-range",
                format!("integer `{value}` does not fit in 64 bits"),
            )
            .at(span, "out of range")
            .help("quote it to keep it as a string")),
        }
    }

    /// The span of the scalar itself: past any anchor and tag, and without the trailing
    /// blank lines a block scalar's event includes.
    fn scalar_span(&self, span: Span, has_properties: bool, style: ScalarStyle) -> Span {
        let (mut start, mut end) = (span.start as usize, span.end as usize);
        if has_properties {
            while let Some(rest) = self.text.get(start..end) {
                if !rest.starts_with(['&', '!']) {
                    break;
                }
                let word = rest.find([' ', '\t', '\n', '\r']).unwrap_or(rest.len());
                let after = &rest[word..];
                let spaces = after.len() - after.trim_start().len();
                start += word + spaces;
            }
        }
        if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
            && let Some(raw) = self.text.get(start..end)
        {
            end = start + raw.trim_end().len();
        }
        Span::new(self.file, start.min(end), end)
    }
}

/// How a tag is spelled in the file's terms.
enum TagKind<'t> {
    /// `!!x` or `!<tag:yaml.org,2002:x>`: the core schema's `x`.
    Core(&'t str),
    /// `!` alone: "not resolved", a string for scalars.
    NonSpecific,
    Other,
}

fn tag_kind(tag: &Tag) -> TagKind<'_> {
    const CORE: &str = "tag:yaml.org,2002:";
    if tag.is_yaml_core_schema() {
        return TagKind::Core(&tag.suffix);
    }
    match (tag.handle.as_str(), tag.suffix.as_str()) {
        ("", "!") | ("!", "") => TagKind::NonSpecific,
        ("", verbatim) => verbatim
            .strip_prefix(CORE)
            .map_or(TagKind::Other, TagKind::Core),
        _ => TagKind::Other,
    }
}

fn node(span: Span, value: NodeValue, style: Style) -> Node {
    Node { span, value, style }
}

fn tag_error(tag: &Tag, span: Span, what: &str) -> Diagnostic {
    let shown = match tag_kind(tag) {
        TagKind::Core(suffix) => format!("!!{suffix}"),
        _ if tag.handle.is_empty() => format!("!<{}>", tag.suffix),
        _ => tag.to_string(),
    };
    Diagnostic::error(
        "yaml-tag",
        format!("unsupported YAML tag `{shown}` on {what}"),
    )
    .at(span, "unsupported tag")
    .help("only the core tags !!str, !!int, !!float, !!bool, !!null, !!seq and !!map are allowed")
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        NodeValue::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeValue::Map(entries) => entries.iter().map(|(_, v)| 1 + count_nodes(v)).sum(),
        _ => 0,
    }
}

/// What a plain scalar means under the core schema.
#[derive(Debug, PartialEq)]
pub(crate) enum Plain {
    Value(NodeValue),
    /// Looks like an integer but does not fit in an i64.
    IntOutOfRange,
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
pub(crate) fn resolve_plain(text: &str) -> Plain {
    let value = match text {
        "" | "~" | "null" | "Null" | "NULL" => NodeValue::Null,
        "true" | "True" | "TRUE" => NodeValue::Bool(true),
        "false" | "False" | "FALSE" => NodeValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => NodeValue::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => NodeValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => NodeValue::Float(f64::NAN),
        _ => {
            let radix = [("0o", 8), ("0x", 16)]
                .into_iter()
                .find_map(|(prefix, radix)| Some((text.strip_prefix(prefix)?, radix)));
            if let Some((digits, radix)) = radix
                && !digits.is_empty()
                && digits.chars().all(|c| c.is_digit(radix))
            {
                return match i64::from_str_radix(digits, radix) {
                    Ok(i) => Plain::Value(NodeValue::Int(i)),
                    Err(_) => Plain::IntOutOfRange,
                };
            }
            let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
            if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return match text.parse::<i64>() {
                    Ok(i) => Plain::Value(NodeValue::Int(i)),
                    Err(_) => Plain::IntOutOfRange,
                };
            }
            match is_core_float(unsigned).then(|| text.parse::<f64>()) {
                Some(Ok(f)) => NodeValue::Float(f),
                _ => NodeValue::Str(text.to_owned()),
            }
        }
    };
    Plain::Value(value)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core float without its sign.
fn is_core_float(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    exponent_ok && mantissa_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::render;
    use crate::source::Sources;

    fn parse(text: &str) -> Result<Node, Diagnostic> {
        parse_yaml(0, text)
    }

    fn rendered(text: &str) -> String {
        let mut sources = Sources::default();
        let file = sources.add("wf.yaml", text);
        let error = parse_yaml(file, text).expect_err("the text should not parse");
        render(&error, &sources)
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        use NodeValue::*;
        let cases: Vec<(&str, NodeValue)> = vec![
            ("~", Null),
            ("null", Null),
            ("Null", Null),
            ("NULL", Null),
            ("", Null),
            ("true", Bool(true)),
            ("True", Bool(true)),
            ("TRUE", Bool(true)),
            ("false", Bool(false)),
            ("FALSE", Bool(false)),
            ("TRue", Str("TRue".into())),
            ("yes", Str("yes".into())),
            ("no", Str("no".into())),
            ("on", Str("on".into())),
            ("off", Str("off".into())),
            ("010", Int(10)),
            ("0", Int(0)),
            ("-12", Int(-12)),
            ("+7", Int(7)),
            ("0o17", Int(15)),
            ("0x1F", Int(31)),
            ("0x", Str("0x".into())),
            ("0b101", Str("0b101".into())),
            ("1_000", Str("1_000".into())),
            ("1e3", Float(1000.0)),
            (".5", Float(0.5)),
            ("1.", Float(1.0)),
            ("-1.5", Float(-1.5)),
            ("1.5E-2", Float(0.015)),
            ("+.inf", Float(f64::INFINITY)),
            ("-.Inf", Float(f64::NEG_INFINITY)),
            (".", Str(".".into())),
            ("e3", Str("e3".into())),
            ("1.2.3", Str("1.2.3".into())),
            ("12:30", Str("12:30".into())),
            ("\"010\"", Str("010".into())),
            ("'true'", Str("true".into())),
            ("\"1e3\"", Str("1e3".into())),
            ("!!str 010", Str("010".into())),
            ("!!int \"42\"", Int(42)),
            ("!!float 1", Float(1.0)),
            ("!!bool true", Bool(true)),
            ("!!null ''", Null),
            ("! 12", Str("12".into())),
            ("!<tag:yaml.org,2002:int> \"5\"", Int(5)),
            ("|\n  010\n", Str("010\n".into())),
        ];
        for (text, expected) in cases {
            let doc = parse(&format!("v: {text}\n")).unwrap();
            let got = &doc.get("v").unwrap().value;
            assert_eq!(got, &expected, "`{text}`");
        }
        let nan = parse("v: .NaN").unwrap();
        assert!(matches!(nan.get("v").unwrap().value, Float(f) if f.is_nan()));
    }

    #[test]
    fn keys_are_their_text_as_written() {
        let doc = parse("1: a\ntrue: b\n\"x y\": c\n~: d\n!!str 07: e\n").unwrap();
        let names: Vec<&str> = doc
            .entries()
            .unwrap()
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect();
        assert_eq!(names, ["1", "true", "x y", "~", "07"]);
        let big = parse("99999999999999999999: x\n").unwrap();
        assert!(big.get("99999999999999999999").is_some());
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let cases = [
            ("a: 99999999999999999999\n", "integer-out-of-range"),
            ("a: -0x10\n", "yaml-syntax"),
            ("a: !foo x\n", "yaml-tag"),
            ("a: !!binary eA==\n", "yaml-tag"),
            ("a: !<tag:x> 1\n", "yaml-tag"),
            ("a: !x [1]\n", "yaml-tag"),
            ("a: !!int abc\n", "yaml-tag"),
            ("a: !!bool yes\n", "yaml-tag"),
            ("a: !!seq x\n", "yaml-tag"),
            ("a: !!map [1]\n", "yaml-tag"),
            ("? [a]\n: 1\n", "yaml-complex-key"),
            ("a: 1\n---\nb: 2\n", "yaml-multiple-documents"),
            ("", "empty-file"),
            ("# only a comment\n", "empty-file"),
            ("a: &x [*x]\n", "yaml-alias"),
            ("a: *x\n", "yaml-syntax"),
            ("a: [1\n", "yaml-syntax"),
            ("a:\n\t- b\n", "yaml-syntax"),
        ];
        for (text, code) in cases {
            let result = parse(text);
            // `-0x10` is a valid string under the core schema, so it parses.
            if code == "yaml-syntax" && text.contains("0x") {
                assert_eq!(result.unwrap().get("a").unwrap().as_str(), Some("-0x10"));
                continue;
            }
            let error = result.expect_err(text);
            assert_eq!(error.code, code, "{text:?}: {}", error.message);
            assert!(error.primary.is_some(), "{text:?} has no location");
        }
    }

    #[test]
    fn duplicate_keys_point_at_both() {
        let text = "version: \"0.1\"\nworkflow:\n  name: a\n  tasks: []\n  name: b\n";
        insta::assert_snapshot!(rendered(text), @r"
        error[yaml-duplicate-key]: duplicate key `name`
         --> wf.yaml:5:3
          |
        5 |   name: b
          |   ^^^^ defined again here
         --> wf.yaml:3:3
          |
        3 |   name: a
          |   ---- first defined here
        ");
    }

    #[test]
    fn scan_errors_keep_their_line_and_column() {
        let text = "tasks:\n  - name: a\n   script: x\n";
        insta::assert_snapshot!(rendered(text), @r"
        error[yaml-syntax]: invalid YAML: while parsing a block collection, did not find expected '-' indicator
         --> wf.yaml:3:4
          |
        3 |    script: x
          |    ^ here
        ");
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let error = parse(&text).unwrap_err();
        assert_eq!(error.code, "yaml-alias-expansion");
        assert_eq!(error.message, "YAML alias expansion is too large");
        // Modest reuse is fine.
        let doc = parse("base: &b {x: 1}\nuse: *b\nkey: &k k1\n*k : 2\n").unwrap();
        assert!(doc.get("use").unwrap().same_value(doc.get("base").unwrap()));
        assert_eq!(
            doc.get("k1").map(|n| n.value.clone()),
            Some(NodeValue::Int(2))
        );
    }

    #[test]
    fn nesting_depth_is_limited() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        let error = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(error.code, "yaml-too-deep");
        let error = parse(&nested(MAX_DEPTH + 50)).unwrap_err();
        assert_eq!(error.code, "yaml-too-deep");
        let block: String = (0..MAX_DEPTH + 1)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect();
        assert_eq!(parse(&block).unwrap_err().code, "yaml-too-deep");
        // The scanner has its own limit for flow nesting; it fails fast too.
        assert!(parse(&nested(100_000)).is_err());
    }

    #[test]
    fn spans_cover_what_was_written() {
        let text = "é: &a !!str 010\nq: 'x y'\nf: {k: [1, 2]}\nb:\n  c: 1\n  d: 2\nl: |\n  one\n  two\n\nz: 1\n";
        let doc = parse(text).unwrap();
        let slice = |n: &Node| &text[n.span.start as usize..n.span.end as usize];
        let (key, value) = &doc.entries().unwrap()[0];
        assert_eq!(&text[key.span.start as usize..key.span.end as usize], "é");
        assert_eq!(slice(value), "010");
        assert_eq!(slice(doc.get("q").unwrap()), "'x y'");
        assert_eq!(slice(doc.get("f").unwrap()), "{k: [1, 2]}");
        assert_eq!(slice(doc.get("f").unwrap().get("k").unwrap()), "[1, 2]");
        assert_eq!(slice(doc.get("b").unwrap()), "c: 1\n  d: 2");
        assert_eq!(slice(doc.get("l").unwrap()), "one\n  two");
        assert_eq!(doc.get("l").unwrap().style, Style::Literal);
        assert_eq!(slice(&doc), text.trim_end());
        // A byte-order mark and CRLF line ends count as the bytes they are.
        let text = "\u{feff}a: 1\r\nbé: \"x\"\r\n";
        let doc = parse(text).unwrap();
        let keys: Vec<&str> = doc
            .entries()
            .unwrap()
            .iter()
            .map(|(k, _)| &text[k.span.start as usize..k.span.end as usize])
            .collect();
        assert_eq!(keys, ["a", "bé"]);
        let value = doc.get("bé").unwrap().span;
        assert_eq!(&text[value.start as usize..value.end as usize], "\"x\"");
    }

    #[test]
    fn locate_maps_value_ranges_into_the_file() {
        let text = concat!(
            "p: run ${{ a }} now\n",
            "s: 'it''s ${{ b }}'\n",
            "d: \"tab\\t ${{ c }}\"\n",
            "u: \"é ${{ d }}\"\n",
            "l: |\n  echo ${{ e }}\n\n  go ${{ f }}\n",
            "k: |\n\n  x ${{ g }}\n",
            "f: >\n  fold ${{ h }}\n  more ${{ i }}\n",
            "m: \"\\u0024{{ j }} ${{ j }}\"\n",
        );
        let doc = parse(text).unwrap();
        let cases = [
            ("p", "${{ a }}", Some("${{ a }}")),
            ("s", "${{ b }}", Some("${{ b }}")),
            ("d", "${{ c }}", Some("${{ c }}")),
            ("u", "${{ d }}", Some("${{ d }}")),
            ("l", "${{ e }}", Some("${{ e }}")),
            ("l", "${{ f }}", Some("${{ f }}")),
            ("l", "echo ${{ e }}\n\ngo", Some("echo ${{ e }}\n\n  go")),
            ("k", "${{ g }}", Some("${{ g }}")),
            ("f", "${{ h }}", Some("${{ h }}")),
            ("f", "${{ i }}", Some("${{ i }}")),
            // The source has the text once, the value twice: no way to tell which.
            ("m", "${{ j }}", None),
        ];
        for (key, needle, expected) in cases {
            let node = doc.get(key).unwrap();
            let value = node.as_str().unwrap();
            let start = value.rfind(needle).unwrap();
            let span = node.locate(text, start, start + needle.len());
            let got = &text[span.start as usize..span.end as usize];
            match expected {
                Some(expected) => assert_eq!(got, expected, "{key}"),
                None => assert_eq!(span, node.span, "{key}"),
            }
        }
        // Out-of-range or non-string requests fall back to the node's span.
        let p = doc.get("p").unwrap();
        assert_eq!(p.locate(text, 5, 500), p.span);
        assert_eq!(p.locate(text, 9, 3), p.span);
        assert_eq!(p.locate("", 0, 1), p.span);
        assert_eq!(doc.locate(text, 0, 1), doc.span);
    }
}
