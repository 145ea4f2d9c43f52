//! The PyRates-style YAML frontend (`../shared/spec/pyrates-yaml.md`).
//!
//! [`load`] resolves a template reference, reads every file it needs, resolves `base:`
//! inheritance (equation edits applied on the syntax tree), flattens the circuit and lowers it to
//! an IR `Model`. Every problem is reported with its position in the file; all template errors
//! are collected before lowering starts.

mod lower;
mod templates;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use templates::{ConnectivitySource, Kind};

/// Where to look for files referenced in dotted form (`pkg.file.Template`).
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Model directories, searched in order after the referencing file's own directory. The
    /// current directory is always searched last.
    pub model_paths: Vec<PathBuf>,
    /// Network couplings given outside the model file (the command line's `--coupling`), each
    /// `SOURCE->TARGET[:FUNCTION][:NAME=VALUE]...`. They turn a node or circuit model into a
    /// network of copies of it, or replace the couplings of a network model.
    pub couplings: Vec<String>,
}

pub use crate::{LoadFailure, Loaded};

/// Loads a model from a PyRates template reference: `dir/file.yaml/Template`, `dir/file/Template`,
/// dotted `pkg.file.Template` (searched in the model paths and the current directory), or just
/// `dir/file.yaml` when the file has exactly one circuit template.
pub fn load(reference: &str, options: &LoadOptions) -> Result<Loaded, LoadFailure> {
    load_with_sources(reference, &[], options)
}

/// [`load`], with model files given as text: each `(path, text)` is served as the file at `path`
/// (relative to the current directory) before the file system is looked at, so a model can be
/// loaded from memory (`base:` references between such files work as between files).
pub fn load_with_sources(
    reference: &str,
    sources: &[(&std::path::Path, &str)],
    options: &LoadOptions,
) -> Result<Loaded, LoadFailure> {
    let mut loader = templates::Loader::new(options);
    for (path, text) in sources {
        loader.add_source(path, text);
    }
    let mut template = loader.top_level(reference);
    if !options.couplings.is_empty()
        && let Some(t) = template.take()
    {
        template = loader.with_couplings(t, &options.couplings);
    }
    let mut diags = std::mem::take(&mut loader.diags);
    let mut model = None;
    // Lowering runs even after template errors, so errors in equations are reported together
    // with them; lowering does not repeat consequences of templates that failed.
    if let Some(t) = template {
        let (m, d) = lower::lower(&t, &mut loader);
        diags.extend(d);
        model = Some(m);
    }
    diags.extend(std::mem::take(&mut loader.diags));
    diags.sort();
    let files = loader.file_paths();
    match model {
        Some(lowered) if !diags.has_errors() => Ok(Loaded {
            model: lowered.model,
            connectivity: lowered.connectivity,
            sources: loader.sources,
            warnings: diags,
            files,
            sweep: Vec::new(),
            record: Vec::new(),
            bold: lowered.bold,
        }),
        _ => Err(LoadFailure {
            sources: loader.sources,
            diagnostics: diags,
        }),
    }
}

/// Lists the templates of a file with their kinds (for `rateforge check` on a bare file and for
/// error messages).
pub fn list_templates(path: &std::path::Path) -> Result<Vec<(String, Kind)>, LoadFailure> {
    let mut loader = templates::Loader::new(&LoadOptions::default());
    let out = loader.list(path);
    if loader.diags.has_errors() {
        return Err(LoadFailure {
            sources: loader.sources,
            diagnostics: loader.diags,
        });
    }
    Ok(out)
}
