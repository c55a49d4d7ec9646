//! Named collections to list form. Input: a parsed workflow tree. Output: the same tree with
//! every named collection written as a list of `{name: ...}` mappings. Guarantee: the list form
//! passes through untouched, the map form becomes the list form in the same order with spans
//! kept (the `name` node spans the map key), and anything of an unexpected shape is left for
//! later stages to report. Normalising twice changes nothing.

use super::node::{Key, Node, NodeValue, Style};
use crate::source::Span;

/// Top-level keys that hold named collections.
pub const NAMED_COLLECTIONS: [&str; 5] =
    ["variables", "artifacts", "backends", "operators", "storage"];

/// Rewrites every named collection of a workflow tree into list form.
pub fn normalize(root: &mut Node) {
    for key in NAMED_COLLECTIONS {
        if let Some(collection) = root.get_mut(key) {
            to_list(collection);
        }
    }
    let Some(workflow) = root.get_mut("workflow") else {
        return;
    };
    if let Some(variables) = workflow.get_mut("variables") {
        to_list(variables);
    }
    let Some(tasks) = workflow.get_mut("tasks") else {
        return;
    };
    to_list(tasks);
    for task in tasks.items_mut().into_iter().flatten() {
        if let Some(variables) = task.get_mut("variables") {
            to_list(variables);
        }
    }
}

/// `{a: {x: 1}, b: 2}` becomes `[{name: a, x: 1}, {name: b, value: 2}]`. In the map form the
/// key is the name: a `name` inside the entry is replaced by it.
fn to_list(collection: &mut Node) {
    let NodeValue::Map(entries) = &mut collection.value else {
        return;
    };
    let items = std::mem::take(entries)
        .into_iter()
        .map(|(key, value)| {
            let span = Span {
                end: value.span.end.max(key.span.end),
                ..key.span
            };
            let name = Node {
                span: key.span,
                value: NodeValue::Str(key.name.clone()),
                style: Style::Plain,
            };
            let name_key = Key {
                name: "name".to_owned(),
                span: key.span,
            };
            let mut fields = vec![(name_key, name)];
            match value.value {
                NodeValue::Map(inner) => {
                    fields.extend(inner.into_iter().filter(|(k, _)| k.name != "name"));
                }
                _ => fields.push((
                    Key {
                        name: "value".to_owned(),
                        span: key.span,
                    },
                    value,
                )),
            }
            Node {
                span,
                value: NodeValue::Map(fields),
                style: Style::Collection,
            }
        })
        .collect();
    collection.value = NodeValue::Seq(items);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_yaml;

    fn normalized(text: &str) -> Node {
        let mut root = parse_yaml(0, text).unwrap();
        normalize(&mut root);
        root
    }

    #[test]
    fn both_forms_become_the_list_form() {
        let cases = [
            // map form, mapping values
            (
                "backends: {sl: {type: slurm, nodes: 2}}",
                "backends: [{name: sl, type: slurm, nodes: 2}]",
            ),
            // map form, shorthand values
            (
                "variables: {X: 5, Y: [1, 2], Z: null}",
                "variables: [{name: X, value: 5}, {name: Y, value: [1, 2]}, {name: Z, value: null}]",
            ),
            // the list form is left alone
            (
                "artifacts: [{name: m, uri: 'fs:///m'}]",
                "artifacts: [{name: m, uri: 'fs:///m'}]",
            ),
            // in the map form the key is the name
            (
                "operators: {a: {name: b, type: bash}}",
                "operators: [{name: a, type: bash}]",
            ),
            (
                "storage: {s3: {bucket: b}}",
                "storage: [{name: s3, bucket: b}]",
            ),
            // workflow variables, tasks and each task's variables
            (
                "workflow: {variables: {W: 1}, tasks: {t: {script: [x], variables: {V: 2}}}}",
                "workflow: {variables: [{name: W, value: 1}], tasks: [{name: t, script: [x], variables: [{name: V, value: 2}]}]}",
            ),
            (
                "workflow: {tasks: [{name: t, variables: {V: 2}}]}",
                "workflow: {tasks: [{name: t, variables: [{name: V, value: 2}]}]}",
            ),
            // unexpected shapes are left for later stages
            ("variables: 5", "variables: 5"),
            ("variables:", "variables:"),
            ("workflow: [1]", "workflow: [1]"),
            ("workflow: {tasks: 3}", "workflow: {tasks: 3}"),
            ("other: {a: 1}", "other: {a: 1}"),
        ];
        for (input, expected) in cases {
            let got = normalized(input);
            let want = parse_yaml(0, expected).unwrap();
            assert!(got.same_value(&want), "{input}\n got: {got:?}");
            let mut again = got.clone();
            normalize(&mut again);
            assert_eq!(again, got, "normalising twice changes nothing: {input}");
        }
    }

    #[test]
    fn spans_point_at_the_map_form() {
        let text = "variables:\n  X: 5\n  Y:\n    value: a\n";
        let root = normalized(text);
        let slice = |span: Span| &text[span.start as usize..span.end as usize];
        let items = root.get("variables").unwrap().items().unwrap();
        let x = &items[0];
        assert_eq!(slice(x.get("name").unwrap().span), "X");
        assert_eq!(slice(x.entries().unwrap()[0].0.span), "X");
        assert_eq!(slice(x.get("value").unwrap().span), "5");
        assert_eq!(slice(x.span), "X: 5");
        assert_eq!(slice(items[1].get("value").unwrap().span), "a");
    }
}
