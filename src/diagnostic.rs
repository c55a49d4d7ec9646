//! User-facing errors and warnings. Input: what a stage found wrong and where (`Span`s).
//! Output: rustc-style text naming file, line and column, the offending line with a caret,
//! and a did-you-mean when a close name exists. Guarantee: rendering never fails and is
//! deterministic; every stage reports all the errors it finds, not only the first.

use crate::source::{Sources, Span};
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A span with the short note printed under its caret.
#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case identifier, e.g. `unknown-dependency`.
    pub code: &'static str,
    /// Lower case, no final period.
    pub message: String,
    /// Where the problem is; `None` for problems of the whole input.
    pub primary: Option<Label>,
    /// Other places that explain the problem ("first defined here").
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn also(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the help unless a suggestion already did.
    pub fn help_if_none(self, help: impl Into<String>) -> Diagnostic {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }

    /// Adds "did you mean `x`?" when one of `candidates` is close to `name`.
    pub fn suggest<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match did_you_mean(name, candidates) {
            Some(help) => self.help(help),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The closest candidate to `name`: a case-insensitive match first, then the smallest
/// edit distance within a third of the name's length.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            strsim::osa_distance(&lower, &candidate.to_lowercase())
        };
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    let limit = (name.chars().count() / 3).max(1);
    best.filter(|&(d, _)| d <= limit).map(|(_, c)| c)
}

/// "did you mean `x`?" when one of `candidates` is close to `name` (see `suggest`).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|best| format!("did you mean `{best}`?"))
}

/// All diagnostics of a run, in the order they were found.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = String::new();
        for diagnostic in &self.0 {
            out.push_str(&render(diagnostic, sources));
            out.push('\n');
        }
        let errors = self.0.iter().filter(|d| d.is_error()).count();
        if errors > 1 {
            let _ = writeln!(out, "error: {errors} errors found");
        }
        out
    }
}

/// Renders one diagnostic as plain text (no colour, so output is stable for snapshots).
pub fn render(diagnostic: &Diagnostic, sources: &Sources) -> String {
    let mut out = String::new();
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(
        out,
        "{severity}[{}]: {}",
        diagnostic.code, diagnostic.message
    );
    let labels = diagnostic.primary.iter().chain(&diagnostic.secondary);
    for (i, label) in labels.enumerate() {
        render_label(&mut out, label, sources, i == 0);
    }
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out
}

fn render_label(out: &mut String, label: &Label, sources: &Sources, primary: bool) {
    let Some(file) = sources.files.get(label.span.file as usize) else {
        return;
    };
    let (line, column) = file.line_col(label.span.start as usize);
    let text = file.line_text(line);
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {}:{line}:{column}", file.name);
    let _ = writeln!(out, "{pad} |");
    let shown: String = text
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let _ = writeln!(out, "{line} | {shown}");
    let (end_line, end_column) = file.line_col(label.span.end as usize);
    let line_chars = text.chars().count();
    let width = if end_line == line {
        end_column.saturating_sub(column)
    } else {
        (line_chars + 1).saturating_sub(column)
    }
    .max(1);
    let marker = if primary { "^" } else { "-" };
    let _ = writeln!(
        out,
        "{pad} | {}{} {}",
        " ".repeat(column - 1),
        marker.repeat(width),
        label.message
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_column_and_caret() {
        let mut sources = Sources::default();
        let file = sources.add("wf.yaml", "tasks:\n  - depends_on: [trian]\n");
        let span = Span::new(file, 24, 29);
        let diagnostic = Diagnostic::error("unknown-dependency", "unknown task `trian`")
            .at(span, "no task with this name")
            .suggest("trian", ["train", "eval"]);
        insta::assert_snapshot!(render(&diagnostic, &sources), @r"
        error[unknown-dependency]: unknown task `trian`
         --> wf.yaml:2:18
          |
        2 |   - depends_on: [trian]
          |                  ^^^^^ no task with this name
          = help: did you mean `train`?
        ");
    }

    #[test]
    fn suggestion_needs_a_close_name() {
        assert_eq!(suggest("scirpt", ["script", "name"]), Some("script"));
        assert_eq!(suggest("NAME", ["name"]), Some("name"));
        assert_eq!(suggest("zzzzzz", ["script"]), None);
    }
}
