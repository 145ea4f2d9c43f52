//! rateforge runtime: compile, cache and load kernels, and run them or the reference evaluator.
//!
//! * [`compile`]: rustc to a shared library (against `rateforge-kernel`, compiled once to an
//!   rlib), with a content-hash cache and a lock.
//! * [`abi`]: the C ABI of generated kernels (`rateforge_kernel::abi`, described once).
//! * [`exec`]: [`Kernel`] (a loaded library) and the reference evaluator behind the run interface
//!   of `rateforge-rt`.
//! * [`cuda`]: NVRTC, the CPU emulation of CUDA kernels, and a model's description for the CUDA
//!   host driver (in `rateforge-rt`).
//! * [`data`], [`output`], [`connectivity`]: `rateforge-rt`'s tables in, `.npz`/`.csv` out,
//!   connectivities.

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
    Connectivity, Kernel, Launch, ObserveRequest, Observed, Outcome, Parallel, SeriesColumns,
    SeriesData, StatsRequest, run_interpreted,
};
