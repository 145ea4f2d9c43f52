//! rateforge runtime: compile, cache and load kernels, run simulations, read inputs, write outputs.
//!
//! * [`compile`]: rustc to a shared library, with a content-hash cache and a lock.
//! * [`abi`]: the C ABI of generated Rust kernels.
//! * [`exec`]: [`Kernel`] (a loaded library) and the reference evaluator behind one interface.
//! * [`data`], [`output`]: numeric tables in, `.npz`/`.csv` out.

pub mod abi;
pub mod compile;
pub mod cuda;
pub mod exec;
pub mod peak;
pub mod stats;

pub use rateforge_rt::{connectivity, data, error, output};

pub use compile::{BuildOptions, Compiled, build_rust};
pub use error::RuntimeError;
pub use exec::{
    Connectivity, Kernel, Launch, Outcome, SeriesColumns, SeriesData, StatsRequest, run_interpreted,
};
