//! Loading: workflow files to one merged, normalised YAML tree. Input: the text of each file
//! (already in `Sources`) and the command-line overrides. Output: a spanned `Node` tree with
//! every named collection in list form, plus diagnostics. Guarantee: every diagnostic points
//! into a file or a command-line value; nothing here interprets the workflow's meaning, later
//! stages do, with the spans kept here.

mod node;
mod yaml;

pub use node::{Key, Node, NodeValue, Style};
pub use yaml::{MAX_ALIAS_NODES, MAX_DEPTH, parse_yaml};
