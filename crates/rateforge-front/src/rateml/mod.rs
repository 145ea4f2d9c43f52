//! The RateML/LEMS XML frontend (`../shared/spec/rateml-xml.md`).
//!
//! [`load`] reads one XML file with quick-xml ([`xml`], spans kept for every element and
//! attribute), checks it against the element set RateML uses (unknown elements and attributes are
//! errors, elements RateML ignores are warnings), and lowers it to the same IR as the YAML
//! frontend:
//!
//! * `ComponentType name="derivatives"`: swept `Parameter`s (`dimension="lo, hi"`; the default
//!   value is `lo`), `DerivedParameter`s and `Constant`s (parameters when their value is a number,
//!   else algebraic variables), `Exposure`s (the default recorded values), and `Dynamics`:
//!   `StateVariable` (`dimension` = initial range, `exposure` = bounds), `DerivedVariable`,
//!   `ConditionalDerivedVariable`/`Case` (a conditional expression; the last Case is the else
//!   branch) and `TimeDerivative` (paired with the state of the same name, else by position).
//! * Every `ComponentType` whose name contains `coupling`: one network coupling per
//!   `DerivedParameter` (the coupling term), `c_i = (sum_j w_ij * (post * pre)) * value`, the
//!   coupling `Parameter`s (`dimension="k"`) reading state `k` of source node `j`, delayed.
//!   `rec_speed_dt` gives the delays, `round_half_even(tract_length * rec_speed_dt)` steps.
//! * `ComponentType name="noise"`: additive noise on every state with RateML's per-step standard
//!   deviation `nsig` (default 1), i.e. the amplitude `nsig / sqrt(dt)`.
//!
//! Expressions go through the equation grammar, which reads the LEMS forms (`{x^2}`, `.gt.`,
//! `1.0f`). Like the YAML frontend, every problem is reported with its position in the file and
//! all of them are collected before failing.

mod lower;
pub mod xml;

use crate::{LoadFailure, Loaded};
use rateforge_ir::{Diagnostic, Diagnostics, SourceMap, Span};
use std::path::Path;

/// Loads a RateML/LEMS XML model file.
pub fn load(path: &Path) -> Result<Loaded, LoadFailure> {
    let sources = SourceMap::new();
    let fail = |sources: SourceMap, d: Diagnostic| LoadFailure {
        sources,
        diagnostics: d.into(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Err(fail(
                sources,
                Diagnostic::error(format!("cannot read model file `{}`: {e}", path.display()))
                    .with_help("check that the file exists and is readable"),
            ));
        }
    };
    let mut sources = sources;
    let text = match crate::utf8_text(&mut sources, &crate::pretty_path(path), bytes) {
        Ok(text) => text,
        Err(d) => return Err(fail(sources, d)),
    };
    let files = vec![path.to_path_buf()];
    parse_and_lower(sources, path, &crate::pretty_path(path), text, files)
}

/// Loads a RateML/LEMS XML model given as text, shown in diagnostics as `name` (its file stem
/// names the model).
pub fn load_source(name: &str, text: &str) -> Result<Loaded, LoadFailure> {
    let path = Path::new(name);
    parse_and_lower(SourceMap::new(), path, path, text.to_string(), Vec::new())
}

/// Parses and lowers the text of the model at `path`, shown as `display`, read from `files`.
fn parse_and_lower(
    mut sources: SourceMap,
    path: &Path,
    display: &Path,
    text: String,
    files: Vec<std::path::PathBuf>,
) -> Result<Loaded, LoadFailure> {
    let fail = |sources: SourceMap, d: Diagnostic| LoadFailure {
        sources,
        diagnostics: d.into(),
    };
    let file = sources.add(display.display().to_string(), text);
    let text = &sources.get(file).expect("just added").text;
    let root = match xml::parse(text, file) {
        Ok(root) => root,
        Err(d) => return Err(fail(sources, d)),
    };
    let name = path
        .file_stem()
        .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned());
    let lowered = lower::lower(&root, file, &name);
    let mut diags: Diagnostics = lowered.diags;
    diags.sort();
    match lowered.model {
        Some(model) if !diags.has_errors() => Ok(Loaded {
            model,
            sources,
            warnings: diags,
            files,
            connectivity: None,
            sweep: lowered.sweep,
            record: lowered.record,
            bold: lowered.bold,
        }),
        _ => Err(LoadFailure {
            sources,
            diagnostics: diags,
        }),
    }
}

/// Whether a model reference names an XML file (by extension).
pub fn is_xml(reference: &str) -> bool {
    Path::new(reference)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
}

/// A swept parameter declared in a model file (`<Parameter dimension="lo, hi">`).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepAxis {
    /// The parameter's name in the model.
    pub name: String,
    /// The first value.
    pub lo: f64,
    /// The last value.
    pub hi: f64,
    /// Where the range is written.
    pub span: Span,
}
