//! The C ABI between the runtime and generated Rust kernels (version
//! [`rateforge_codegen::rust::ABI_VERSION`]); these structs mirror `kernel-templates/rust/kernel.rs.tera`.
//!
//! A kernel exports two symbols:
//! * `rf_info() -> *const RfInfo`: the ABI version, the lane width, the counts of states,
//!   parameters, derived values and series, and the model hash it was generated from;
//! * `rf_run(*const RfArgs) -> i32`: integrates instances `begin..end`; returns 0, 1 (invalid
//!   arguments), 2 (cancelled, with what was done written) or 3 (a parameter differs from the
//!   value compiled into the kernel).
//!
//! Memory layout (instance fastest): parameters `[k * n_instances + i]`, initial and final states
//! `[(s * n_nodes + node) * n_instances + i]`, the trace
//! `[((sample * n_record + r) * n_nodes + node) * n_instances + i]`, the statistics
//! `[((k * n_record + r) * n_nodes + node) * n_instances + i]` (k in [`STATS`] order), the steps
//! done `[i]`; recorded ids `< n_state` are
//! states, the rest derived values (`id - n_state`). Series are row-major `n_rows x n_cols`, one
//! row per step; `mode` picks the column (0: column 0, 1: the node, 2: the instance, 3:
//! `instance * n_nodes + node`). The connectivity lists the edges into each node in increasing
//! source order: compressed rows (`row_start[n_nodes + 1]`, `source`, `weight`, `distance`), or
//! with `dense` set `n_nodes x n_nodes` row-major `weight` and `distance`.

use std::sync::atomic::{AtomicBool, AtomicU64};

/// The ABI version this runtime speaks.
pub const ABI_VERSION: u32 = rateforge_codegen::rust::ABI_VERSION;

/// A time series passed to the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RfSeries {
    /// Row-major data.
    pub data: *const f64,
    /// Rows (one per step).
    pub n_rows: u64,
    /// Columns.
    pub n_cols: u64,
    /// Which column an (instance, node) reads.
    pub mode: u32,
}

/// Arguments of `rf_run`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RfArgs {
    /// Total instances (the stride of every array).
    pub n_instances: u64,
    /// First instance of this call.
    pub begin: u64,
    /// One past the last instance of this call.
    pub end: u64,
    /// Nodes of a network (1 otherwise).
    pub n_nodes: u64,
    /// Steps to integrate.
    pub n_steps: u64,
    /// Record every this many steps.
    pub record_every: u64,
    /// Step size.
    pub dt: f64,
    /// Start time.
    pub t0: f64,
    /// Seed of the noise.
    pub seed: u64,
    /// 0 euler, 1 heun, 2 rk4 (`Solver::id`).
    pub solver: u32,
    /// Number of recorded values.
    pub n_record: u32,
    /// Recorded value ids.
    pub record: *const u32,
    /// Parameters.
    pub params: *const f64,
    /// Initial states.
    pub init: *const f64,
    /// Final states (written).
    pub final_state: *mut f64,
    /// Samples (written; null: no trace).
    pub trace: *mut f64,
    /// Statistics of the recorded values (written; null: none).
    pub stats: *mut f64,
    /// Per recorded value, the threshold of the time-above statistic (null: none).
    pub thresholds: *const f64,
    /// Samples before this one are left out of the statistics (the transient).
    pub transient_samples: u64,
    /// Steps done per instance (written; null: not wanted).
    pub steps_done: *mut u64,
    /// Series, one per model series.
    pub series: *const RfSeries,
    /// Nonzero: the connectivity is dense.
    pub dense: u32,
    /// Compressed rows: `n_nodes + 1` offsets.
    pub row_start: *const u64,
    /// Compressed rows: source node of each edge.
    pub source: *const u32,
    /// Weight of each edge.
    pub weight: *const f64,
    /// Distance of each edge.
    pub distance: *const f64,
    /// Incremented by instance-steps done (may be null).
    pub progress: *const AtomicU64,
    /// Polled; when set the kernel stops with status 2 (may be null).
    pub cancel: *const AtomicBool,
}

/// What a kernel was generated for (returned by `rf_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RfInfo {
    /// ABI version.
    pub abi_version: u32,
    /// Instances per lane block.
    pub lanes: u32,
    /// States.
    pub n_state: u32,
    /// Parameters.
    pub n_param: u32,
    /// Derived values.
    pub n_derived: u32,
    /// Series.
    pub n_series: u32,
    /// Delays.
    pub n_delay: u32,
    /// Couplings.
    pub n_coupling: u32,
    /// Nonzero for a network model.
    pub network: u32,
    /// Bits of the arithmetic (64 or 32).
    pub float_bits: u32,
    /// Bits of the delay history (64 or 32).
    pub history_bits: u32,
    /// Parameters compiled in as constants.
    pub n_inlined: u32,
    /// Hex SHA-256 of the model (`ValidModel::hash`).
    pub model_hash: [u8; 64],
}

/// The statistics a kernel streams, in their order in the `stats` array: the last sample, the
/// mean, the (population) variance, the minimum, the maximum, and the time spent above the
/// threshold (samples above it times the sampling interval).
pub const STATS: [&str; 6] = ["last", "mean", "var", "min", "max", "above"];
