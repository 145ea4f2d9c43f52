//! The library's error type: model diagnostics (with their source files) or runtime failures.

use rateforge_ir::{Diagnostic, Diagnostics, SourceMap};
use rateforge_runtime::RuntimeError;
use std::fmt;

/// Everything that can go wrong, each with a clear message.
#[derive(Debug)]
pub enum Error {
    /// The model, or an argument referring to it, is wrong: diagnostics with spans.
    Model {
        /// The files the spans point into.
        sources: Box<SourceMap>,
        /// The diagnostics (errors first).
        diagnostics: Diagnostics,
    },
    /// A user input outside the model is wrong (a data file, a run setting).
    Input(RuntimeError),
    /// Building, loading or running a kernel failed.
    Runtime(RuntimeError),
    /// Generating code failed (a rateforge bug, or a broken template override).
    Codegen(rateforge_codegen::EmitError),
}

impl Error {
    /// One diagnostic without a model source (command-line values and the like).
    pub fn usage(diagnostic: Diagnostic) -> Self {
        Error::Model {
            sources: Box::default(),
            diagnostics: diagnostic.into(),
        }
    }

    /// Diagnostics with their sources.
    pub fn model(sources: &SourceMap, diagnostics: Diagnostics) -> Self {
        Error::Model {
            sources: Box::new(sources.clone()),
            diagnostics,
        }
    }

    /// The files the diagnostics were read from (model files that exist on disk), so a build
    /// script can rerun when one of them is edited.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        match self {
            Error::Model { sources, .. } => sources
                .iter()
                .map(|(_, f)| std::path::PathBuf::from(&f.name))
                .filter(|p| p.is_file())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The process exit code: 2 for mistakes in the user's input, 1 for failures of the machinery.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Model { .. } | Error::Input(_) => 2,
            Error::Runtime(_) | Error::Codegen(_) => 1,
        }
    }

    /// The full plain-text report (what the command line prints, without colour).
    pub fn render(&self) -> String {
        match self {
            Error::Model {
                sources,
                diagnostics,
            } => diagnostics.render(sources),
            Error::Input(e) | Error::Runtime(e) => format!("error: {e}\n"),
            Error::Codegen(e) => format!("error: code generation failed: {e}\n"),
        }
    }

    /// Writes the report to stderr, in colour when `colour` is set.
    pub fn emit(&self, colour: bool) {
        match self {
            Error::Model {
                sources,
                diagnostics,
            } => {
                for d in diagnostics.iter() {
                    d.emit_stderr(sources, colour);
                }
                let n = diagnostics.error_count();
                if n > 0 {
                    eprintln!(
                        "error: aborting due to {n} previous error{}",
                        if n == 1 { "" } else { "s" }
                    );
                }
            }
            Error::Input(e) | Error::Runtime(e) => eprintln!("error: {e}"),
            Error::Codegen(e) => eprintln!("error: code generation failed: {e}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render().trim_end())
    }
}

impl std::error::Error for Error {}

impl From<rateforge_rt::spec::SpecError> for Error {
    fn from(e: rateforge_rt::spec::SpecError) -> Self {
        Error::usage(Diagnostic::error(e.message).with_help(e.help))
    }
}

impl From<RuntimeError> for Error {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Data { .. } | RuntimeError::Invalid(_) | RuntimeError::Write { .. } => {
                Error::Input(e)
            }
            other => Error::Runtime(other),
        }
    }
}
