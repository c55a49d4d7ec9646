//! A tree back to YAML text, for `sflow compose`. Input: a `Node` tree. Output: block-style
//! YAML with keys in tree order. Guarantee: deterministic, and `parse_yaml(to_yaml(n))` gives
//! the same values as `n`: a string is written plain only when it reads back as that string
//! (also under YAML 1.1 readers such as the reference's), as a literal block only when that
//! block was checked to read back exactly, and double-quoted with escapes otherwise.

use super::node::{Node, NodeValue};
use super::yaml::{Plain, parse_yaml, resolve_plain};

/// YAML limits an implicit key (`key: value`) to 1024 characters; longer keys use `? key`.
const MAX_IMPLICIT_KEY: usize = 1000;

/// Writes a tree as block-style YAML ending with a newline.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        NodeValue::Map(entries) if !entries.is_empty() => write_map(node, 0, false, &mut out),
        NodeValue::Seq(items) if !items.is_empty() => write_seq(items, 0, false, &mut out),
        _ => {
            out.push_str(&scalar(node, None));
            out.push('\n');
        }
    }
    out
}

/// Entries at column `indent`; with `inline`, the first one continues the current line.
fn write_map(map: &Node, indent: usize, inline: bool, out: &mut String) {
    for (i, (key, value)) in map.entries().into_iter().flatten().enumerate() {
        if !(inline && i == 0) {
            push_indent(out, indent);
        }
        let key = string(&key.name, None);
        if key.len() > MAX_IMPLICIT_KEY {
            // Too long for `key: value`; the explicit form has no length limit.
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            push_indent(out, indent);
        } else {
            out.push_str(&key);
        }
        out.push(':');
        write_value(value, indent, false, out);
    }
}

fn write_seq(items: &[Node], indent: usize, inline: bool, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if !(inline && i == 0) {
            push_indent(out, indent);
        }
        out.push('-');
        write_value(item, indent, true, out);
    }
}

/// The value after `key:` or `-` at column `indent`, through the end of its last line.
fn write_value(value: &Node, indent: usize, after_dash: bool, out: &mut String) {
    let nested = match &value.value {
        NodeValue::Map(entries) => !entries.is_empty(),
        NodeValue::Seq(items) => !items.is_empty(),
        _ => false,
    };
    if !nested {
        out.push(' ');
        out.push_str(&scalar(value, Some(indent)));
        out.push('\n');
        return;
    }
    out.push(if after_dash { ' ' } else { '\n' });
    match &value.value {
        NodeValue::Seq(items) => write_seq(items, indent + 2, after_dash, out),
        _ => write_map(value, indent + 2, after_dash, out),
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar or empty collection on one line (a literal block continues on the next lines,
/// indented past `indent`; `None` allows no block).
fn scalar(node: &Node, indent: Option<usize>) -> String {
    match &node.value {
        NodeValue::Null => "null".to_owned(),
        NodeValue::Bool(b) => b.to_string(),
        NodeValue::Int(i) => i.to_string(),
        NodeValue::Float(f) => float(*f),
        NodeValue::Str(s) => string(s, indent),
        NodeValue::Seq(_) => "[]".to_owned(),
        NodeValue::Map(_) => "{}".to_owned(),
    }
}

/// A float in a form both YAML 1.2 and 1.1 read back as the same number.
fn float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let shortest = format!("{f:?}");
    match shortest.split_once('e') {
        Some((mantissa, exponent)) => {
            let point = if mantissa.contains('.') { "" } else { ".0" };
            let sign = if exponent.starts_with('-') { "" } else { "+" };
            format!("{mantissa}{point}e{sign}{exponent}")
        }
        None => shortest,
    }
}

fn string(s: &str, indent: Option<usize>) -> String {
    if s.contains('\n') {
        if let Some(block) = indent.and_then(|indent| literal_block(s, indent)) {
            return block;
        }
        return double_quoted(s);
    }
    if plain_is_safe(s) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// Whether `s` written plain reads back as the string `s`, in block context.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let second = s.chars().nth(1);
    let indicator = match first {
        '-' | '?' | ':' => second.is_none_or(|c| c == ' '),
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => true,
        _ => false,
    };
    !indicator
        && matches!(resolve_plain(s), Plain::Value(NodeValue::Str(_)))
        && !looks_special_in_yaml_1_1(s)
        && !s.starts_with("---")
        && !s.starts_with("...")
        && !s.starts_with([' ', '\t'])
        && !s.ends_with([' ', '\t', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.chars().any(|c| c == '\t' || needs_escape(c))
}

/// Strings a YAML 1.1 reader would not take as strings: its booleans, and anything that
/// starts like a number (base 60, timestamps, underscores).
fn looks_special_in_yaml_1_1(s: &str) -> bool {
    const WORDS: [&str; 19] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", "<<", "=", "~",
    ];
    let mut chars = s.chars();
    let first = chars.next();
    let second = chars.next();
    WORDS.contains(&s)
        || first.is_some_and(|c| c.is_ascii_digit())
        || (matches!(first, Some('+' | '-' | '.'))
            && second.is_some_and(|c| c.is_ascii_digit() || c == '.'))
}

/// Characters that only a double-quoted escape can carry.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `|`, `|-` or `|+` with the lines indented to `indent + 2`, when that reads back as `s`.
fn literal_block(s: &str, indent: usize) -> Option<String> {
    if s.chars().any(needs_escape) {
        return None;
    }
    let (chomp, body) = match s.strip_suffix('\n') {
        None => ("-", s),
        Some(rest) if rest.ends_with('\n') || rest.is_empty() => ("+", rest),
        Some(rest) => ("", rest),
    };
    // The indentation must be given when the first line with text starts with a space.
    let first_text = body.split('\n').find(|line| !line.is_empty());
    let indicator = if first_text.is_none_or(|line| line.starts_with(' ')) {
        "2"
    } else {
        ""
    };
    let render = |indent: usize| {
        let mut out = format!("|{indicator}{chomp}");
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                push_indent(&mut out, indent + 2);
                out.push_str(line);
            }
        }
        out
    };
    let check = format!("k: {}\n", render(0));
    let reads_back = parse_yaml(0, &check)
        .ok()
        .is_some_and(|doc| doc.get("k").and_then(Node::as_str) == Some(s));
    reads_back.then(|| render(indent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Key, shared_dir};
    use crate::source::Span;

    fn node(value: NodeValue) -> Node {
        Node::new(Span::default(), value)
    }

    fn string(s: &str) -> Node {
        node(NodeValue::Str(s.to_owned()))
    }

    fn map(entries: Vec<(&str, Node)>) -> Node {
        let entries = entries
            .into_iter()
            .map(|(name, value)| {
                let key = Key {
                    name: name.to_owned(),
                    span: Span::default(),
                };
                (key, value)
            })
            .collect();
        node(NodeValue::Map(entries))
    }

    fn assert_round_trip(tree: &Node) -> String {
        let text = to_yaml(tree);
        let back = parse_yaml(0, &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        assert!(back.same_value(tree), "{tree:?}\n{text}");
        assert_eq!(to_yaml(&back), text, "writing is deterministic");
        text
    }

    const TRICKY: &[&str] = &[
        "yes",
        "No",
        "on",
        "y",
        "010",
        "0x1F",
        "0o7",
        "1e3",
        ".5",
        "-.inf",
        ".NaN",
        "1_000",
        "12:30",
        "2024-01-01",
        "null",
        "~",
        "true",
        "FALSE",
        ": x",
        "a: b",
        "a #b",
        "a#b",
        "#x",
        "",
        "  x ",
        " x",
        "x ",
        "a\n b",
        "x\n",
        "\t",
        "a\tb",
        "a\rb",
        "\r\n",
        "\u{1}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{feff}x",
        "é ü",
        "a\n\n",
        "\n",
        "\n\n",
        "\nx",
        "\n\nx",
        " lead\nnext",
        "  \n  x",
        "a\n   \nb",
        "line1\n  indented\nend",
        "tab\n\tstart",
        "trail \nx",
        "x\n ",
        "-",
        "- x",
        "-x",
        "--partition=a",
        "?",
        "? x",
        "?x",
        ":",
        ":x",
        "x:",
        "x: ",
        "---",
        "--- x",
        "...",
        "[a]",
        "{a}",
        "*a",
        "&a",
        "!a",
        "|",
        ">",
        "'",
        "\"",
        "\\",
        "%x",
        "@x",
        "`x",
        ",x",
        "a,b",
        "<<",
        "=",
        "${{ variables.X }}",
        "echo \"$X\" | grep 'y' # not a comment",
        "http://h:80/p",
        "a\\nb",
        "\"quoted\"",
        "multi\nline\nwith \"quotes\" and 'single' and \\ and ${{ x }}\n",
    ];

    #[test]
    fn tricky_strings_round_trip_everywhere() {
        for s in TRICKY {
            let leaf = string(s);
            let tree = map(vec![
                ("value", leaf.clone()),
                (s, string("as a key")),
                (
                    "list",
                    node(NodeValue::Seq(vec![leaf.clone(), leaf.clone()])),
                ),
                (
                    "deep",
                    node(NodeValue::Seq(vec![map(vec![
                        ("name", leaf.clone()),
                        ("more", node(NodeValue::Seq(vec![leaf.clone()]))),
                    ])])),
                ),
            ]);
            assert_round_trip(&tree);
            if !s.is_empty() && !["null", "~"].contains(s) {
                assert_round_trip(&leaf);
            }
        }
    }

    #[test]
    fn long_keys_use_the_explicit_form() {
        let long = "k".repeat(3000);
        let tree = map(vec![
            (&long, string("v")),
            ("short", string("w")),
            (
                "seq",
                node(NodeValue::Seq(vec![map(vec![(
                    &long,
                    map(vec![("a", string("b"))]),
                )])])),
            ),
        ]);
        let text = assert_round_trip(&tree);
        assert!(text.starts_with("? kkk"), "{}", &text[..20]);
    }

    #[test]
    fn numbers_round_trip() {
        let floats = [
            0.1,
            1.0,
            -0.0,
            1e300,
            -1e-300,
            1e16,
            123456789.123,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut items: Vec<Node> = floats.map(|f| node(NodeValue::Float(f))).to_vec();
        items.extend([i64::MIN, -1, 0, i64::MAX].map(|i| node(NodeValue::Int(i))));
        items.extend([NodeValue::Bool(true), NodeValue::Null].map(node));
        let text = assert_round_trip(&node(NodeValue::Seq(items)));
        assert!(
            text.contains("- 1.0e+300\n") && text.contains("- 1.0e+16\n"),
            "{text}"
        );
    }

    #[test]
    fn layout_is_block_style_in_tree_order() {
        let doc = parse_yaml(
            0,
            "version: '0.1'\nworkflow:\n  name: wf\n  tasks:\n  - name: a\n    script:\n    - |\n      echo 1\n      echo 2\n    - ' x'\n    depends_on: []\n    resources: {}\n  - [1, [2, 3], {k: v}]\n",
        )
        .unwrap();
        let text = assert_round_trip(&doc);
        insta::assert_snapshot!(text, @r#"
        version: "0.1"
        workflow:
          name: wf
          tasks:
            - name: a
              script:
                - |
                  echo 1
                  echo 2
                - " x"
              depends_on: []
              resources: {}
            - - 1
              - - 2
                - 3
              - k: v
        "#);
    }

    #[test]
    fn literal_blocks_keep_their_indentation_when_nested() {
        let leaf = string("  two leading spaces\nnext\n");
        let inner = node(NodeValue::Seq(vec![leaf.clone()]));
        let tree = node(NodeValue::Seq(vec![
            node(NodeValue::Seq(vec![inner.clone()])),
            map(vec![("k", leaf.clone()), ("l", inner)]),
        ]));
        let text = assert_round_trip(&tree);
        assert!(text.contains("|2"), "{text}");
    }

    #[test]
    fn every_corpus_file_round_trips() {
        let Some(shared) = shared_dir() else { return };
        let mut stack = vec![shared.join("corpus")];
        let mut count = 0;
        while let Some(dir) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let doc = parse_yaml(0, &text)
                        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                    assert_round_trip(&doc);
                    count += 1;
                }
            }
        }
        assert!(count >= 50, "only {count} corpus files found");
    }
}
