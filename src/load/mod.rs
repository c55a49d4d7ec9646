//! Loading: workflow files to one merged, normalised YAML tree. Input: the text of each file
//! (already in `Sources`) and the command-line overrides. Output: a spanned `Node` tree with
//! every named collection in list form, plus diagnostics. Guarantee: every diagnostic points
//! into a file or a command-line value; nothing here interprets the workflow's meaning, later
//! stages do, with the spans kept here.

mod emit_yaml;
mod merge;
mod node;
mod normalize;
mod overrides;
mod yaml;

pub use emit_yaml::to_yaml;
pub use merge::merge;
pub use node::{Key, Node, NodeValue};
pub use normalize::normalize;
pub use overrides::{apply_artifacts, apply_sets, strip_missable};
pub use yaml::parse_yaml;

/// The shared reference folder (`../shared` next to the crate), when it is present.
#[cfg(test)]
pub(crate) fn shared_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("note: {} is absent; skipping this test", dir.display());
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    /// Every loading step on one text; panics only when a property fails.
    fn exercise(text: &str) {
        let Ok(doc) = parse_yaml(0, text) else {
            return;
        };
        let (mut root, _) = merge(vec![doc.clone(), doc]);
        let mut sources = Sources::default();
        sources.add("wf.yaml", text);
        apply_sets(&mut root, &["X=[1]".into(), "Y=2".into()], &mut sources);
        apply_artifacts(&mut root, &["A=hf://x".into()], &mut sources);
        strip_missable(&mut root, &["*".into()]);
        let written = to_yaml(&root);
        if root.value != NodeValue::Null {
            let back = parse_yaml(0, &written).unwrap_or_else(|e| panic!("{e:?}\n{written}"));
            assert!(back.same_value(&root), "{written}");
        }
        check_locate(&root, text);
    }

    /// A located range that differs from the whole scalar holds exactly the value's text.
    fn check_locate(node: &Node, text: &str) {
        if let Some(value) = node.as_str() {
            for start in 0..=value.len().min(40) {
                let end = (start + 3).min(value.len());
                let span = node.locate(text, start, end);
                if let Some(needle) = value.get(start..end)
                    && span != node.span
                    && !needle.contains('\n')
                {
                    assert_eq!(&text[span.start as usize..span.end as usize], needle);
                }
            }
        }
        for child in node.items().into_iter().flatten() {
            check_locate(child, text);
        }
        for (_, child) in node.entries().into_iter().flatten() {
            check_locate(child, text);
        }
    }

    #[test]
    fn mutated_corpus_files_never_panic_and_still_round_trip() {
        let Some(shared) = shared_dir() else { return };
        let dir = shared.join("corpus/modular/inference_x_v2");
        let base = std::fs::read_to_string(dir.join("common_workflow.yaml")).unwrap();
        let pieces = [
            ":",
            " ",
            "\n",
            "- ",
            "[",
            "]",
            "{",
            "}",
            "'",
            "\"",
            "|",
            ">",
            "&a ",
            "*a",
            "!!str ",
            "#",
            "? ",
            ",",
            "\t",
            "é",
            "\r",
            "\\",
            "---",
            "${{",
            "\n  x: 1\n",
            "\u{85}",
        ];
        // A fixed xorshift sequence: the same mutations on every run.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..800 {
            let mut text = base.clone();
            for _ in 0..1 + next(3) {
                let mut at = next(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match next(3) {
                    0 => text.insert_str(at, pieces[next(pieces.len())]),
                    1 => text.truncate(at),
                    _ => {
                        let mut end = (at + next(20)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end -= 1;
                        }
                        text.replace_range(at..end, "");
                    }
                }
            }
            exercise(&text);
        }
    }
}
