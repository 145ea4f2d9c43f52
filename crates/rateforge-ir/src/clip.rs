//! Long source lines cut down for diagnostics.
//!
//! A generated model can put an equation of hundreds of kilobytes on one line; a diagnostic that
//! quotes it whole is unreadable. [`Clipped`] is the source map a diagnostic is rendered against:
//! each line longer than [`MAX_LINE`] bytes that holds a label is shown as the part around its
//! labels, with `…` where text was left out, while line and column numbers stay those of the file.

use crate::span::{FileId, SourceFile, SourceMap, Span};
use codespan_reporting::files::{Error, Files};
use std::collections::BTreeMap;
use std::ops::Range;

/// Lines longer than this (in bytes) are cut around their labels.
pub const MAX_LINE: usize = 240;
/// Text kept on each side of the labels of a cut line, in bytes.
const CONTEXT: usize = 60;
/// The longest stretch of labelled text shown, in bytes.
const MAX_LABEL: usize = 120;
const MARK: &str = "…";

/// One cut line: which original bytes are shown, and where they start in the new text.
#[derive(Clone, Debug)]
struct Cut {
    shown: Range<usize>,
    /// Characters of the original line before `shown`.
    chars_before: usize,
    /// Whether a mark stands in front of the shown text.
    marked: bool,
}

/// A file with its long labelled lines cut.
#[derive(Debug)]
struct View {
    file: SourceFile,
    /// Cut lines by 0-based line index.
    cuts: BTreeMap<usize, Cut>,
    /// For every cut line, in order: (first original byte after it, total byte shift after it).
    shifts: Vec<(usize, isize)>,
    original_line_starts: Vec<usize>,
}

/// A source map whose long labelled lines are cut; see the module documentation.
#[derive(Debug)]
pub struct Clipped<'a> {
    base: &'a SourceMap,
    views: BTreeMap<FileId, View>,
}

impl<'a> Clipped<'a> {
    /// Cuts the long lines of `base` that hold one of `spans`.
    pub fn new(base: &'a SourceMap, spans: &[Span]) -> Self {
        let mut per_line: BTreeMap<(FileId, usize), Range<usize>> = BTreeMap::new();
        for span in spans {
            let Some(file) = base.get(span.file) else {
                continue;
            };
            let r = span.range();
            let line = file.line_index(r.start);
            let Some(lr) = file.line_range(line) else {
                continue;
            };
            if lr.len() <= MAX_LINE || r.end > lr.end {
                continue;
            }
            let e = per_line.entry((span.file, line)).or_insert(r.clone());
            e.start = e.start.min(r.start);
            e.end = e.end.max(r.end);
        }
        let mut views = BTreeMap::new();
        let mut by_file: BTreeMap<FileId, Vec<(usize, Range<usize>)>> = BTreeMap::new();
        for ((file, line), r) in per_line {
            by_file.entry(file).or_default().push((line, r));
        }
        for (id, lines) in by_file {
            let file = base.get(id).expect("file of a span");
            views.insert(id, View::new(file, &lines));
        }
        Clipped { base, views }
    }

    /// Where byte `byte` of file `file` is in the clipped text.
    pub fn map(&self, file: FileId, byte: usize) -> usize {
        match self.views.get(&file) {
            Some(view) => view.map(byte),
            None => byte,
        }
    }

    fn file(&self, id: FileId) -> Result<&SourceFile, Error> {
        match self.views.get(&id) {
            Some(v) => Ok(&v.file),
            None => self.base.get(id).ok_or(Error::FileMissing),
        }
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

impl View {
    fn new(file: &SourceFile, lines: &[(usize, Range<usize>)]) -> View {
        let text = &file.text;
        let mut out = String::with_capacity(text.len().min(1 << 16));
        let mut cuts = BTreeMap::new();
        let mut shifts = Vec::new();
        let mut copied = 0;
        let mut shift: isize = 0;
        for (line, labels) in lines {
            let lr = file.line_range(*line).expect("line of a span");
            let hi = labels.end.min(labels.start + MAX_LABEL);
            let start = floor_boundary(text, labels.start.saturating_sub(CONTEXT).max(lr.start));
            let end = ceil_boundary(text, (hi + CONTEXT).min(lr.end));
            out.push_str(&text[copied..lr.start]);
            let marked = start > lr.start;
            if marked {
                out.push_str(MARK);
            }
            out.push_str(&text[start..end]);
            if end < lr.end {
                out.push_str(MARK);
            }
            copied = lr.end;
            cuts.insert(
                *line,
                Cut {
                    shown: start..end,
                    chars_before: text[lr.start..start].chars().count(),
                    marked,
                },
            );
            let new_len = (end - start)
                + if marked { MARK.len() } else { 0 }
                + if end < lr.end { MARK.len() } else { 0 };
            shift += new_len as isize - lr.len() as isize;
            shifts.push((lr.end, shift));
        }
        out.push_str(&text[copied..]);
        let mut original_line_starts = vec![0];
        original_line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        View {
            file: SourceFile::new(file.name.clone(), out),
            cuts,
            shifts,
            original_line_starts,
        }
    }

    fn map(&self, byte: usize) -> usize {
        let line = match self.original_line_starts.binary_search(&byte) {
            Ok(l) => l,
            Err(next) => next - 1,
        };
        // The shift of every cut line before this one.
        let before = self
            .shifts
            .iter()
            .take_while(|(end, _)| *end <= self.original_line_starts[line])
            .last()
            .map_or(0, |(_, s)| *s);
        let line_start = (self.original_line_starts[line] as isize + before) as usize;
        match self.cuts.get(&line) {
            Some(cut) => {
                let b = byte.clamp(cut.shown.start, cut.shown.end);
                let mark = if cut.marked { MARK.len() } else { 0 };
                line_start + mark + (b - cut.shown.start)
            }
            None => (byte as isize + before) as usize,
        }
    }
}

impl<'a> Files<'a> for Clipped<'a> {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, Error> {
        self.base.name(id)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, Error> {
        Ok(self.file(id)?.text.as_str())
    }

    fn line_index(&'a self, id: FileId, byte: usize) -> Result<usize, Error> {
        Ok(self.file(id)?.line_index(byte))
    }

    fn line_range(&'a self, id: FileId, line: usize) -> Result<Range<usize>, Error> {
        let file = self.file(id)?;
        let max = file.line_count() - 1;
        file.full_line_range(line)
            .ok_or(Error::LineTooLarge { given: line, max })
    }

    fn column_number(&'a self, id: FileId, line: usize, byte: usize) -> Result<usize, Error> {
        let file = self.file(id)?;
        let start = file.full_line_range(line).map_or(0, |r| r.start);
        let col = file.text.get(start..byte).map_or(0, |s| s.chars().count());
        Ok(match self.views.get(&id).and_then(|v| v.cuts.get(&line)) {
            Some(cut) => cut.chars_before + col - usize::from(cut.marked) + 1,
            None => col + 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Diagnostic, SourceMap, Span};

    #[test]
    fn a_long_line_is_cut_around_its_label_and_keeps_its_column() {
        let mut sources = SourceMap::new();
        let long = format!(
            "first line\nx = {}tua + 1{}\nlast\n",
            "a+".repeat(5000),
            "+b".repeat(5000)
        );
        let at = long.find("tua").unwrap();
        let f = sources.add("m.yaml", long.clone());
        let d = Diagnostic::error("unknown symbol `tua`")
            .with_primary(Span::new(f, at..at + 3), "here")
            .with_help("did you mean `tau`?");
        let text = d.render(&sources);
        assert!(text.len() < 1000, "{text}");
        let col = at - long.find("x =").unwrap() + 1;
        assert!(text.contains(&format!("m.yaml:2:{col}")), "{text}");
        assert!(text.contains("…a+a+a+"), "{text}");
        assert!(text.contains("tua + 1+b+b"), "{text}");
        // The underline sits under `tua`.
        let lines: Vec<&str> = text.lines().collect();
        let src = lines.iter().position(|l| l.contains("tua + 1")).unwrap();
        let caret = lines[src + 1].find('^').unwrap();
        let under = lines[src]
            .char_indices()
            .position(|(i, _)| lines[src][i..].starts_with("tua"));
        assert_eq!(
            Some(lines[src + 1][..caret].chars().count()),
            under,
            "{text}"
        );
        // A later label on a short line is unaffected.
        let last = long.find("last").unwrap();
        let d2 = Diagnostic::error("e").with_primary(Span::new(f, last..last + 4), "l");
        assert!(d2.render(&sources).contains("m.yaml:3:1"));
    }
}
