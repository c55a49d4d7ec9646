//! Source files and byte spans. Input: the text of every workflow file (and of every
//! command-line value that can carry an error). Output: `Span`s that any later stage can
//! attach to a diagnostic, and line/column lookup for rendering them. Guarantee: a span is
//! three integers; turning it into a line and column happens only when an error is printed.

/// A byte range in one of the loaded sources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Index into `Sources::files`.
    pub file: u32,
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
}

impl Span {
    pub fn new(file: u32, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// A sub-range of this span, given offsets relative to its start.
    pub fn sub(self, start: usize, end: usize) -> Span {
        let len = (self.end - self.start) as usize;
        let start = start.min(len);
        Span {
            file: self.file,
            start: self.start + start as u32,
            end: self.start + end.clamp(start, len) as u32,
        }
    }
}

/// One loaded text: a workflow file or a command-line value.
#[derive(Debug)]
pub struct SourceFile {
    /// The name shown in diagnostics (the path as the user typed it, or `--set`).
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text[start..floor_char_boundary(&self.text, offset)]
            .chars()
            .count();
        (line + 1, column + 1)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Every source of one compilation, addressed by `Span::file`.
#[derive(Debug, Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> u32 {
        self.files.push(SourceFile::new(name, text));
        (self.files.len() - 1) as u32
    }

    pub fn get(&self, file: u32) -> &SourceFile {
        &self.files[file as usize]
    }

    /// The source text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        let text = &self.get(span.file).text;
        let start = floor_char_boundary(text, (span.start as usize).min(text.len()));
        let end = floor_char_boundary(text, (span.end as usize).min(text.len()));
        &text[start..end.max(start)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let file = SourceFile::new("wf.yaml", "a: 1\nb: é x\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(5), (2, 1));
        // "é" is two bytes; the column after it counts one character.
        assert_eq!(file.line_col(10), (2, 5));
        assert_eq!(file.line_text(2), "b: é x");
    }
}
