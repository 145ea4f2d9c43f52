//! Diagnostics: every user-facing error or warning, with spans, rendered with codespan-reporting.
//!
//! Messages are lower case, names in backticks; every diagnostic that concerns the user's text
//! has a primary label on that text and, where one exists, a `help:` line with a fix.

use crate::clip::Clipped;
use crate::span::{SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something probably unintended that does not stop the pipeline.
    Warning,
    /// The input is wrong; the stage fails.
    Error,
}

/// A span with a message; the primary label marks the offending text.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
    /// Primary labels are underlined with `^`, secondary ones with `-`.
    pub primary: bool,
}

/// One error or warning.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline, lower case.
    pub message: String,
    /// Source locations.
    pub labels: Vec<Label>,
    /// Extra `= note:` lines.
    pub notes: Vec<String>,
    /// The `= help:` line.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a headline and no location yet.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// A warning with a headline and no location yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Adds the primary label (undefined spans are skipped).
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Self {
        if span.is_defined() {
            self.labels.push(Label {
                span,
                message: message.into(),
                primary: true,
            });
        }
        self
    }

    /// Adds a secondary label (undefined spans are skipped).
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        if span.is_defined() {
            self.labels.push(Label {
                span,
                message: message.into(),
                primary: false,
            });
        }
        self
    }

    /// Adds a note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Help for a name that is not known: "did you mean `X`?" when one of `candidates` is close
    /// to `name` (see [`did_you_mean`]), else `otherwise`. Every front end and the run
    /// options suggest through this one place.
    pub fn with_suggestion<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        otherwise: impl Into<String>,
    ) -> Self {
        self.with_suggestion_as(
            name,
            candidates,
            |s| format!("`{s}`"),
            Some(otherwise.into()),
        )
    }

    /// [`Diagnostic::with_suggestion`] with the suggestion written by `show` (e.g. a whole path
    /// around the close name), and no help at all when nothing is close and `otherwise` is
    /// `None`.
    pub fn with_suggestion_as<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        show: impl FnOnce(&str) -> String,
        otherwise: Option<String>,
    ) -> Self {
        match (did_you_mean(name, candidates), otherwise) {
            (Some(s), _) => self.with_help(format!("did you mean {}?", show(s))),
            (None, Some(o)) => self.with_help(o),
            (None, None) => self,
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The span of the primary label, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    /// The codespan diagnostic, its spans placed in `sources` (long lines cut).
    fn to_codespan(&self, sources: &Clipped<'_>) -> cs::Diagnostic<crate::span::FileId> {
        let severity = match self.severity {
            Severity::Warning => cs::Severity::Warning,
            Severity::Error => cs::Severity::Error,
        };
        let labels = self
            .labels
            .iter()
            .map(|l| {
                let style = if l.primary {
                    cs::LabelStyle::Primary
                } else {
                    cs::LabelStyle::Secondary
                };
                let r = l.span.range();
                let range = sources.map(l.span.file, r.start)..sources.map(l.span.file, r.end);
                cs::Label::new(style, l.span.file, range).with_message(l.message.clone())
            })
            .collect();
        let mut notes = self.notes.clone();
        if let Some(help) = &self.help {
            notes.push(format!("help: {help}"));
        }
        cs::Diagnostic::new(severity)
            .with_message(self.message.clone())
            .with_labels(labels)
            .with_notes(notes)
    }

    /// Renders the diagnostic as plain text (no colour), the form used in tests and logs.
    pub fn render(&self, sources: &SourceMap) -> String {
        let config = term::Config::default();
        let clipped = self.clipped(sources);
        term::emit_into_string(&config, &clipped, &self.to_codespan(&clipped))
            .unwrap_or_else(|_| self.render_fallback(sources))
    }

    /// Writes the diagnostic to stderr, in colour when `colour` is true.
    pub fn emit_stderr(&self, sources: &SourceMap, colour: bool) {
        use term::termcolor::{ColorChoice, StandardStream};
        let choice = if colour {
            ColorChoice::Auto
        } else {
            ColorChoice::Never
        };
        let stream = StandardStream::stderr(choice);
        let mut lock = stream.lock();
        let config = term::Config::default();
        let clipped = self.clipped(sources);
        let d = self.to_codespan(&clipped);
        if term::emit_to_write_style(&mut lock, &config, &clipped, &d).is_err() {
            eprint!("{}", self.render_fallback(sources));
        }
    }

    fn clipped<'a>(&self, sources: &'a SourceMap) -> Clipped<'a> {
        let spans: Vec<_> = self.labels.iter().map(|l| l.span).collect();
        Clipped::new(sources, &spans)
    }

    fn render_fallback(&self, sources: &SourceMap) -> String {
        let kind = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        let mut out = format!("{kind}: {}\n", self.message);
        for label in &self.labels {
            out.push_str(&format!(
                "  --> {}: {}\n",
                sources.location(label.span),
                label.message
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("  = {note}\n"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }
}

/// A collection of diagnostics; stages push into it and fail at the end if any is an error.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one diagnostic.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Adds all diagnostics of another collection.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Whether the collection is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All diagnostics in the order they were raised.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    /// Only the warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    /// Sorts by file and position (stable), so output does not depend on discovery order.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| {
            let span = d.primary_span().unwrap_or(Span::UNDEFINED);
            (d.severity == Severity::Warning, span.file, span.start)
        });
    }

    /// Renders every diagnostic as plain text, followed by a summary line when there are errors.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render(sources));
        }
        let n = self.error_count();
        if n > 0 {
            out.push_str(&format!(
                "error: aborting due to {n} previous error{}\n",
                plural(n)
            ));
        }
        out
    }

    /// Moves the diagnostics out.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d] }
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Diagnostics {
            items: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| {
            (
                if c.eq_ignore_ascii_case(name) {
                    0
                } else {
                    edit_distance(name, c)
                },
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        // Ties: the longer common prefix first (`sinn` is `sin`, not `sign`), then alphabetical.
        .min_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| common_prefix(name, b.1).cmp(&common_prefix(name, a.1)))
                .then_with(|| a.1.cmp(b.1))
        })
        .map(|(_, c)| c)
}

/// How many leading characters `a` and `b` share.
fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Levenshtein distance counting transpositions of neighbours as one edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(prev2[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("tua", ["tau", "eta", "r"]), Some("tau"));
        assert_eq!(did_you_mean("Delat", ["Delta", "eta"]), Some("Delta"));
        assert_eq!(did_you_mean("xyz", ["tau", "eta"]), None);
        assert_eq!(did_you_mean("V", ["v", "r"]), Some("v"));
        // Equally close: the longer shared beginning wins, then the alphabet.
        assert_eq!(did_you_mean("sinn", ["sign", "sin"]), Some("sin"));
        assert_eq!(did_you_mean("sinn", ["sin", "sign"]), Some("sin"));
        assert_eq!(did_you_mean("ab", ["ac", "ad"]), Some("ac"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn renders_with_location_and_help() {
        let mut sources = SourceMap::new();
        let file = sources.add("m.yaml", "a: 1\neq: \"x' = -x/tua\"\n");
        let start = sources.get(file).unwrap().text.find("tua").unwrap();
        let d = Diagnostic::error("unknown symbol `tua`")
            .with_primary(Span::new(file, start..start + 3), "not defined")
            .with_help("did you mean `tau`?");
        let text = d.render(&sources);
        assert!(text.contains("m.yaml:2:14"), "{text}");
        assert!(text.contains("^^^ not defined"), "{text}");
        assert!(text.contains("help: did you mean `tau`?"), "{text}");
    }
}
