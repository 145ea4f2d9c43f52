//! # rateforge-rt
//!
//! What every generated rateforge model shares at run time, with none of the front end (no
//! parser, no templates, no compiler): a crate that builds its models with `rateforge-build`
//! depends on this crate alone.
//!
//! * [`exec`]: what to run ([`Launch`]), what comes back ([`Outcome`]), and [`run_native`],
//!   which spreads a kernel's lane blocks over all cores;
//! * [`model`]: the typed API of models compiled into the binary ([`Simulation`]);
//! * [`result`]: a run's results ([`RunResult`]) as arrays, with their metadata, written to
//!   `.npz` (numpy) or `.csv` exactly as the `rateforge` command line writes them;
//! * [`connectivity`], [`data`]: connectivities (TVB zips, directories, `.npy`/`.txt` matrices)
//!   and tables of numbers;
//! * [`kernel`]: `rateforge-kernel`, the runner and ABI the generated modules implement.

pub mod connectivity;
pub mod data;
pub mod error;
pub mod exec;
pub mod model;
pub mod output;
pub mod result;
pub mod spec;

/// `rateforge-kernel`: the lane-block runner, the ABI and the elementary functions the generated
/// modules use.
pub use rateforge_kernel as kernel;

pub use error::RuntimeError;
pub use exec::{
    Connectivity, Controls, Launch, Outcome, SeriesColumns, SeriesData, StatsRequest, run_native,
};
pub use model::{Recordable, Simulation, StaticModel, Values};
pub use rateforge_kernel::Solver;
pub use result::{Metadata, RunResult};
