//! Fields: YAML values that may hold `${{ }}` expressions. Input: a YAML node. Output: a
//! `Field` whose literal parts are typed values and whose strings with `${{` are parsed
//! templates. Guarantee: every expression in the workflow is parsed (and every syntax
//! error reported) when its field is built, and evaluating a field reports errors at the
//! exact place in the YAML file.

use crate::diagnostic::Diagnostic;
use crate::expr::{self, ExprError, Scope, Template, Value};
use crate::load::{Key, Node, NodeValue};
use crate::source::{Sources, Span};

/// A value from the workflow, unevaluated.
#[derive(Clone, Debug)]
pub struct Field {
    pub node: Node,
    pub kind: FieldKind,
}

#[derive(Clone, Debug)]
pub enum FieldKind {
    Lit(Value),
    Tmpl(Template),
    List(Vec<Field>),
    Map(Vec<(Key, Field)>),
}

impl Field {
    /// Builds a field from a node; expression syntax errors go to `diags`.
    pub fn new(node: &Node, sources: &Sources, diags: &mut Vec<Diagnostic>) -> Field {
        let kind = match &node.value {
            NodeValue::Null => FieldKind::Lit(Value::None),
            NodeValue::Bool(b) => FieldKind::Lit(Value::Bool(*b)),
            NodeValue::Int(i) => FieldKind::Lit(Value::Int(*i)),
            NodeValue::Float(f) => FieldKind::Lit(Value::Float(*f)),
            NodeValue::Str(s) => match expr::parse_template(s) {
                Ok(t) if t.is_plain() => FieldKind::Lit(Value::Str(s.clone())),
                Ok(t) => FieldKind::Tmpl(t),
                Err(errors) => {
                    for e in errors {
                        diags.push(expr_diagnostic(node, &e, sources));
                    }
                    FieldKind::Lit(Value::Str(s.clone()))
                }
            },
            NodeValue::Seq(items) => FieldKind::List(
                items
                    .iter()
                    .map(|n| Field::new(n, sources, diags))
                    .collect(),
            ),
            NodeValue::Map(entries) => FieldKind::Map(
                entries
                    .iter()
                    .map(|(k, n)| (k.clone(), Field::new(n, sources, diags)))
                    .collect(),
            ),
        };
        Field {
            node: node.clone(),
            kind,
        }
    }

    pub fn span(&self) -> Span {
        self.node.span
    }

    /// Whether any expression in this field satisfies `pred`.
    pub fn any_expr(&self, pred: &mut dyn FnMut(&expr::Expr) -> bool) -> bool {
        match &self.kind {
            FieldKind::Lit(_) => false,
            FieldKind::Tmpl(t) => t.segments.iter().any(|s| match s {
                expr::Segment::Expr { expr, .. } => pred(expr),
                expr::Segment::Lit(_) => false,
            }),
            FieldKind::List(items) => items.iter().any(|f| f.any_expr(pred)),
            FieldKind::Map(entries) => entries.iter().any(|(_, f)| f.any_expr(pred)),
        }
    }

    /// Every variable name the field's expressions read.
    pub fn variable_refs(&self, out: &mut Vec<String>) {
        self.any_expr(&mut |e| {
            out.extend(expr::variable_refs(e).into_iter().map(|(name, _, _)| name));
            false
        });
    }

    /// Evaluates the field; a failure is a diagnostic at the expression's position.
    pub fn eval(&self, scope: &dyn Scope, sources: &Sources) -> Result<Value, Option<Diagnostic>> {
        match &self.kind {
            FieldKind::Lit(v) => Ok(v.clone()),
            FieldKind::Tmpl(t) => expr::eval_template(t, scope)
                .map_err(|e| (!e.reported).then(|| expr_diagnostic(&self.node, &e, sources))),
            FieldKind::List(items) => items
                .iter()
                .map(|f| f.eval(scope, sources))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            FieldKind::Map(entries) => entries
                .iter()
                .map(|(k, f)| Ok((k.name.clone(), f.eval(scope, sources)?)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Dict),
        }
    }
}

/// The diagnostic for an error inside an expression of `node`.
pub fn expr_diagnostic(node: &Node, error: &ExprError, sources: &Sources) -> Diagnostic {
    let text = &sources.get(node.span.file).text;
    let span = node.locate(text, error.start, error.end);
    let diagnostic = Diagnostic::error("expression", error.message.clone()).at(span, "here");
    match &error.help {
        Some(help) => diagnostic.help(help.clone()),
        None => diagnostic,
    }
}
