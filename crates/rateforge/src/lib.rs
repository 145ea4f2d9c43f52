//! # rateforge
//!
//! Describe a rate-based neural model once (PyRates-style YAML or RateML XML), and rateforge generates a
//! specialised kernel, compiles and loads it, and runs it. The command-line tool is a thin layer
//! over this API; so are build scripts of downstream crates.
//!
//! ```no_run
//! use rateforge::{Backend, Controls, Model, RunSpec, Solver};
//!
//! # fn main() -> Result<(), rateforge::Error> {
//! // load -> edit -> validate
//! let mut model = Model::load("examples/models/montbrio.yaml/qif", &Default::default())?;
//! model.set("p/qif_op/eta", -5.0)?;
//! model.drive("p/qif_op/I_ext", "30*(t>=30)*(t<60)")?;
//! let model = model.validate()?;
//! // generate -> build (rustc, cached) -> run
//! let kernel = model.build(&Default::default(), &Default::default())?;
//! let spec = RunSpec {
//!     time: 100.0,
//!     dt: 1e-3,
//!     solver: Solver::Rk4,
//!     every: Some(0.01),
//!     record: vec!["p/qif_op/r".into(), "p/qif_op/v".into()],
//!     ..Default::default()
//! };
//! let result = model.run(Backend::Native(&kernel), &spec, Controls::default())?;
//! result.write("montbrio.npz".as_ref())?;
//! # Ok(()) }
//! ```
//!
//! The stages are types: [`Model`] (loaded, editable) → [`Validated`] (the only thing that can
//! be generated or run) → a compiled [`Kernel`] → a [`RunResult`]. Every error is an [`Error`]
//! that renders with file, line, column and a help line.

/// The version of rateforge.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod cmaes;
mod engine;
mod error;
pub mod fit;
pub mod library;
mod model;
mod run;
pub mod sweep;

pub use engine::{BackendKind, Engine, EngineOptions};
pub use error::Error;
pub use model::{CudaTarget, Drive, Format, Model, Validated};
pub use rateforge_runtime::cuda::CudaKernel;
pub use run::{Backend, BoldSpec, Controls, Hemodynamics, RunResult, RunSpec, STATS, StatsSpec};

pub use rateforge_codegen::{EmitOptions, Precision};
pub use rateforge_front::SweepAxis;
pub use rateforge_front::pyrates::LoadOptions;
pub use rateforge_ir::Solver;
pub use rateforge_runtime::data::{Table, read_table};
pub use rateforge_runtime::{BuildOptions, Kernel, Parallel};

/// The crates behind the API, for users who need the IR or a backend directly.
pub mod crates {
    pub use rateforge_codegen as codegen;
    pub use rateforge_front as front;
    pub use rateforge_ir as ir;
    pub use rateforge_kernel as kernel;
    pub use rateforge_rt as rt;
    pub use rateforge_runtime as runtime;
}
