//! `${{ ... }}` expressions. Input: the text of one expression, or a YAML string that may
//! hold several (a template), and a `Scope` naming what they can see. Output: typed
//! `Value`s, where node names and IPs known only in the job stay symbolic pieces, or
//! `ExprError`s with byte ranges. Guarantee: the language is the Jinja2 expression subset
//! of SPEC section 3 with Python semantics on typed values; no input panics, nests without
//! bound, or builds a value larger than about 1 MB.

mod ast;
mod eval;
mod filters;
mod ops;
mod parse;
mod pyfmt;
mod scope;
mod template;
#[cfg(test)]
mod test_scope;
mod value;

pub use ast::{Expr, uses_namespace, variable_refs};
pub use eval::eval;
pub use parse::parse;
pub use scope::{Lookup, Namespace, Scope, Variable};
pub use template::{Segment, Template, eval_template, parse_template};
pub use value::{NodeField, Piece, Text, Value};

use ast::Loc;
use std::fmt;

/// A parse or evaluation error in an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// Byte range relative to the text given to `parse` (or to the template string for
    /// template errors).
    pub start: usize,
    pub end: usize,
    /// Lower case, no final period.
    pub message: String,
    pub help: Option<String>,
    /// A failure that was already reported elsewhere: callers print nothing for it.
    pub reported: bool,
}

impl ExprError {
    pub(crate) fn new(loc: Loc, message: impl Into<String>) -> ExprError {
        ExprError {
            start: loc.start,
            end: loc.end,
            message: message.into(),
            help: None,
            reported: false,
        }
    }

    /// An error for a lookup whose failure its resolver already reported.
    pub(crate) fn already_reported(loc: Loc, name: &str) -> ExprError {
        ExprError {
            reported: true,
            ..ExprError::new(loc, format!("`{name}` could not be resolved"))
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> ExprError {
        self.help = Some(help.into());
        self
    }

    /// The same error with its range moved right by `offset` bytes.
    pub(crate) fn shifted(mut self, offset: usize) -> ExprError {
        self.start += offset;
        self.end += offset;
        self
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}
