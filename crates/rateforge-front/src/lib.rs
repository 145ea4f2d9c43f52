//! rateforge frontends: the equation grammar and the model file formats, lowered to the IR.
//!
//! * [`equation`]: the pest grammar of equations (`grammar/equation.pest`) and its parser.
//! * [`ast`]: the syntax tree, and the PyRates equation edits applied on it.
//! * [`lower_expr`]: expressions from the syntax tree to the IR (names, functions, vectors).
//! * [`yaml`]: YAML documents with spans.
//! * [`pyrates`]: PyRates-style YAML templates to a flat IR model.
//! * [`rateml`]: RateML/LEMS XML files to the same IR.

pub mod ast;
pub mod equation;
pub mod lower_expr;
pub mod observe;
pub mod pyrates;
pub mod rateml;
pub mod yaml;

pub use observe::BoldDecl;
pub use pyrates::LoadOptions;
pub use rateml::SweepAxis;

use rateforge_ir::{Diagnostic, Diagnostics, Model, SourceMap, Span};
use std::path::{Path, PathBuf};

/// A successfully loaded model.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The flattened model (not yet validated).
    pub model: Model,
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// Warnings (unused variables, replacements that match nothing, ...).
    pub warnings: Diagnostics,
    /// The files the model was read from, in the order they were read.
    pub files: Vec<PathBuf>,
    /// The connectivity a `network:` section names (loaded by the caller).
    pub connectivity: Option<pyrates::ConnectivitySource>,
    /// Swept parameters the model file declares (RateML), in declaration order.
    pub sweep: Vec<SweepAxis>,
    /// What to record when a run names nothing (RateML's `Exposure`s); empty: every state.
    pub record: Vec<String>,
    /// The BOLD observer the model file declares (YAML `network: {bold: ...}`, RateML
    /// `<Bold .../>`): what runs compute unless told otherwise.
    pub bold: Option<BoldDecl>,
}

/// A failed load: the diagnostics and the files needed to render them.
#[derive(Clone, Debug)]
pub struct LoadFailure {
    /// Every file read.
    pub sources: SourceMap,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// The text of a model file given by its user, or the diagnostic for one that is not UTF-8,
/// located at its first invalid byte (the file is then added to `sources` as read, with invalid
/// bytes replaced by U+FFFD).
pub(crate) fn utf8_text(
    sources: &mut SourceMap,
    display: &Path,
    bytes: Vec<u8>,
) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let id = sources.add(
            display.display().to_string(),
            String::from_utf8_lossy(e.as_bytes()).into_owned(),
        );
        Diagnostic::error(format!(
            "model file `{}` is not valid UTF-8 text",
            display.display()
        ))
        .with_primary(
            Span::new(id, at..at + char::REPLACEMENT_CHARACTER.len_utf8()),
            "not UTF-8",
        )
        .with_help("save the file as UTF-8 text")
    })
}

/// A path relative to the current directory when it lies below it (for messages).
pub(crate) fn pretty_path(path: &Path) -> PathBuf {
    if let (Ok(abs), Ok(cwd)) = (path.canonicalize(), std::env::current_dir())
        && let Ok(rel) = abs.strip_prefix(&cwd)
    {
        return rel.to_path_buf();
    }
    path.to_path_buf()
}
