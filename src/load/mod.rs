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
pub use node::{Key, Node, NodeValue, Style};
pub use normalize::{NAMED_COLLECTIONS, normalize};
pub use overrides::{apply_artifacts, apply_sets, strip_missable};
pub use yaml::{MAX_ALIAS_NODES, MAX_DEPTH, parse_yaml};

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
