//! Runtime errors. None of them is a panic; each message says what to do.

use std::fmt;
use std::path::PathBuf;

/// Something went wrong building, loading or running a kernel, or reading or writing data.
#[derive(Debug)]
pub enum RuntimeError {
    /// rustc could not be started.
    RustcMissing {
        /// The command tried.
        rustc: String,
        /// Why it failed.
        reason: String,
    },
    /// rustc rejected the generated source (a rateforge bug, or a broken template override).
    CompileFailed {
        /// The command line.
        command: String,
        /// rustc's error output.
        stderr: String,
        /// Where the source was kept for inspection.
        source_path: PathBuf,
    },
    /// The kernel cache could not be used.
    Cache {
        /// The path involved.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A compiled kernel could not be loaded or does not match the model.
    Load {
        /// The library.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Invalid run arguments (sizes, steps, recorded values).
    Invalid(String),
    /// Not enough memory for the requested outputs.
    OutOfMemory(String),
    /// A data file could not be read or is malformed.
    Data {
        /// The file.
        path: PathBuf,
        /// What went wrong (with the line, when there is one).
        reason: String,
    },
    /// An output could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An output file was created but writing it failed (a full disk, an I/O error); nothing
    /// was left at its path.
    WriteFailed {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// CUDA cannot be used here: no driver, no GPU, or no NVRTC.
    CudaUnavailable(String),
    /// A CUDA call failed (NVRTC's log, or the driver's error).
    Cuda(String),
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::RustcMissing { rustc, reason } => write!(
                f,
                "cannot run the Rust compiler `{rustc}`: {reason}\n  = help: the native backend compiles kernels with rustc; install Rust (https://rustup.rs), set RUSTC to the compiler, or use `--backend interp`"
            ),
            RuntimeError::CompileFailed {
                command,
                stderr,
                source_path,
            } => write!(
                f,
                "the generated kernel did not compile (this is a rateforge bug unless you override templates)\n  = note: command: {command}\n  = note: source kept at {}\n{stderr}",
                source_path.display()
            ),
            RuntimeError::Cache { path, reason } => write!(
                f,
                "kernel cache `{}`: {reason}\n  = help: set RATEFORGE_CACHE_DIR to a writable directory",
                path.display()
            ),
            RuntimeError::Load { path, reason } => {
                write!(f, "cannot load kernel `{}`: {reason}", path.display())
            }
            RuntimeError::Invalid(msg) => f.write_str(msg),
            RuntimeError::OutOfMemory(msg) => f.write_str(msg),
            RuntimeError::Data { path, reason } => write!(f, "{}: {reason}", path.display()),
            RuntimeError::Write { path, reason } => {
                write!(f, "cannot write `{}`: {reason}", path.display())
            }
            RuntimeError::WriteFailed { path, reason } => {
                write!(f, "writing `{}` failed: {reason}", path.display())
            }
            RuntimeError::CudaUnavailable(msg) => write!(
                f,
                "the CUDA backend is not available: {msg}\n  = help: it needs an NVIDIA GPU with its driver (libcuda) and NVRTC (libnvrtc, e.g. `pip install nvidia-cuda-nvrtc-cu12`, found through RATEFORGE_NVRTC, CUDA_HOME or LD_LIBRARY_PATH); run on the CPU with `--backend native`"
            ),
            RuntimeError::Cuda(msg) => write!(f, "CUDA: {msg}"),
        }
    }
}

impl std::error::Error for RuntimeError {}
