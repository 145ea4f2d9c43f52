//! # rateforge-kernel
//!
//! What every generated rateforge kernel links, written once as ordinary Rust: compiled, linted
//! and tested like any other crate. A generated kernel (see `rateforge-codegen`) holds only what
//! depends on its model: the model's functions (right-hand sides, derived values, noise
//! amplitudes, coupling terms) as an implementation of [`Model`]. Everything else is here:
//!
//! * [`abi`]: the C ABI between kernels and their callers, described once (every struct with the
//!   C type, offset and size of each field), from which the CUDA kernels' C definitions are
//!   generated and against which every loaded kernel's layout is checked;
//! * [`vmath`]: rateforge's elementary functions (`exp`, `log`, `sin`, `cos`, `tanh`, `sigmoid`),
//!   the semantics of every backend, in an exact and a fused-multiply-add build;
//! * [`rng`]: counter-based random numbers (Philox4x32-10) keyed by (seed, instance, node, step);
//! * [`stats`]: the streaming statistics of recorded values;
//! * [`observe`]: the observers (BOLD by the Balloon–Windkessel model, streaming FC and FCD);
//! * [`history`]: the delay history's memory (reused across blocks, on huge pages);
//! * [`barrier`]: what keeps the threads that share a network's nodes in step;
//! * [`runner`]: the lane-block runner (time loop, node loop, delay history ring, couplings,
//!   sampling, statistics, progress and cancellation) over any [`Model`];
//! * [`model_prelude!`]: the helper functions a generated module's expressions call.
//!
//! It has no dependencies, so the command-line tool can compile it with `rustc` alone (as an rlib
//! from [`SOURCES`], once per toolchain and CPU) for the kernels it builds at run time, and a
//! downstream crate gets it through `rateforge-rt`.

pub mod abi;
pub mod barrier;
pub mod history;
pub mod observe;
pub mod real;
pub mod rng;
pub mod runner;
pub mod solver;
pub mod stats;
pub mod vmath;

mod prelude;

pub use abi::{RfArgs, RfInfo, RfSeries};
pub use real::{Lanes, Real};
pub use runner::{Buffered, Model, StepInputs, info, run, run_dispatch};
pub use solver::Solver;

/// The crate's source files `(name, text)`, so that a program can compile this crate with `rustc`
/// where Cargo is not available (the command-line tool does, for kernels it builds at run time).
pub const SOURCES: &[(&str, &str)] = &[
    ("lib.rs", include_str!("lib.rs")),
    ("abi.rs", include_str!("abi.rs")),
    ("barrier.rs", include_str!("barrier.rs")),
    ("history.rs", include_str!("history.rs")),
    ("observe.rs", include_str!("observe.rs")),
    ("real.rs", include_str!("real.rs")),
    ("rng.rs", include_str!("rng.rs")),
    ("runner.rs", include_str!("runner.rs")),
    ("solver.rs", include_str!("solver.rs")),
    ("stats.rs", include_str!("stats.rs")),
    ("vmath/functions.rs", include_str!("vmath/functions.rs")),
    ("vmath/mod.rs", include_str!("vmath/mod.rs")),
    ("prelude.rs", include_str!("prelude.rs")),
];
