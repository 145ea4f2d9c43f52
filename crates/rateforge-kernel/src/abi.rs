//! The C ABI between kernels and their callers, described once.
//!
//! Every struct that crosses the boundary is declared here with `abi_struct!`, which gives the
//! `#[repr(C)]` Rust struct and, from the same text, its [`Layout`]: the C type, offset and size of
//! each field. The Rust kernels use these very structs; the CUDA kernels' C definitions are
//! printed from the layouts ([`Layout::c_definition`]) together with a probe
//! ([`Layout::c_probe`]) that makes the C compiler report the sizes and offsets it chose, which
//! the runtime compares with the Rust layout before the first launch (emulated or on a GPU). A
//! Rust kernel reports [`LAYOUT_HASH`] in its [`RfInfo`], and a caller refuses a kernel whose hash
//! differs from its own.
//!
//! ## The Rust kernels (`RfArgs`, `RfSeries`, `RfInfo`)
//!
//! A kernel module exports two functions whose names carry the module's name and a hash of the
//! kernel (so any number of kernels link into one binary):
//! * `rf_info_<suffix>() -> *const RfInfo`: the ABI version, the lane width, the counts of states,
//!   parameters, derived values and series, the layout hash and the model hash;
//! * `rf_run_<suffix>(*const RfArgs) -> i32`: integrates instances `begin..end`; returns 0, 1
//!   (invalid arguments), 2 (cancelled, with what was done written) or 3 (a parameter differs
//!   from the value compiled into the kernel).
//!
//! Memory layout (instance fastest): parameters `[k * n_instances + i]`, initial and final states
//! `[(s * n_nodes + node) * n_instances + i]`, the trace
//! `[((sample * n_record + r) * n_nodes + node) * n_instances + i]`, the statistics
//! `[((k * n_record + r) * n_nodes + node) * n_instances + i]` (k in [`STATS`] order), the steps
//! done `[i]`; recorded ids `< n_state` are states, the rest derived values (`id - n_state`).
//! Series are row-major `n_rows x n_cols`, one row per step; `mode` picks the column (0: column 0,
//! 1: the node, 2: the instance, 3: `instance * n_nodes + node`). The connectivity lists the
//! edges into each node in increasing source order: compressed rows (`row_start[n_nodes + 1]`,
//! `source`, `weight`, `distance`), or with `dense` set `n_nodes x n_nodes` row-major `weight` and
//! `distance`. `trace`, `stats`, `thresholds`, `steps_done`, `progress` and `cancel` may be null.
//!
//! ## The CUDA kernels (`RfCudaArgs`)
//!
//! `rf_run(RfCudaArgs)` integrates steps `step_begin .. step_end` of the chunk's instances, one
//! thread each; pointers are device addresses. Device arrays are instance-fastest with stride
//! `stride` (the chunk's instance count): parameters `[k*stride + i]`, states
//! `[(s*n_nodes + node)*stride + i]`, the trace `[((sample*n_record + r)*n_nodes + node)*stride + i]`,
//! the statistics `[((k*n_record + r)*n_nodes + node)*stride + i]` (k: last, mean, m2 -> variance,
//! min, max, count above -> time above), the history `[((b*n_nodes + node)*horizon + slot)*stride + i]`,
//! edge delays `[e*edge_delay_stride + i]` (stride 0: one delay per edge `[e]`, the same in every
//! instance). Series are concatenated in `series_data`; `series_meta` holds (offset, rows,
//! columns, mode) per series.

use std::sync::atomic::{AtomicBool, AtomicU64};

/// The version of the Rust kernels' ABI (`RfArgs`, `RfSeries`, `RfInfo` and the exports).
pub const ABI_VERSION: u32 = 5;

/// The version of the CUDA kernels' ABI (`RfCudaArgs` and the kernels `rf_run`, `rf_prepare`).
pub const CUDA_ABI_VERSION: u32 = 3;

/// The statistics a kernel streams, in their order in the `stats` array: the last sample, the
/// mean, the (population) variance, the minimum, the maximum, and the time spent above the
/// threshold (samples above it times the sampling interval).
pub const STATS: [&str; N_STATS] = ["last", "mean", "var", "min", "max", "above"];

/// The number of statistics per recorded value and node.
pub const N_STATS: usize = 6;

/// One field of an ABI struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name (the same in Rust and C).
    pub name: &'static str,
    /// Its C type; an array's length follows in brackets (`unsigned char[64]`).
    pub c_type: &'static str,
    /// Its offset in bytes.
    pub offset: usize,
    /// Its size in bytes.
    pub size: usize,
}

/// The layout of an ABI struct, as Rust lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The struct's name (the same in Rust and C).
    pub name: &'static str,
    /// `size_of`.
    pub size: usize,
    /// `align_of`.
    pub align: usize,
    /// The fields, in declaration order.
    pub fields: &'static [Field],
}

/// A struct of the ABI.
pub trait AbiStruct {
    /// Its layout.
    const LAYOUT: Layout;
}

/// Declares `#[repr(C)]` structs of the ABI with the C type of every field, and implements
/// [`AbiStruct`] for each.
macro_rules! abi_struct {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty = $c:literal, )*
        }
    )*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl AbiStruct for $name {
            const LAYOUT: Layout = Layout {
                name: stringify!($name),
                size: ::core::mem::size_of::<$name>(),
                align: ::core::mem::align_of::<$name>(),
                fields: &[$(Field {
                    name: stringify!($field),
                    c_type: $c,
                    offset: ::core::mem::offset_of!($name, $field),
                    size: ::core::mem::size_of::<$ty>(),
                },)*],
            };
        }
    )*};
}

abi_struct! {
    /// A time series passed to a Rust kernel.
    pub struct RfSeries {
        /// Row-major data.
        pub data: *const f64 = "const double*",
        /// Rows (one per step).
        pub n_rows: u64 = "unsigned long long",
        /// Columns.
        pub n_cols: u64 = "unsigned long long",
        /// Which column an (instance, node) reads.
        pub mode: u32 = "unsigned int",
    }

    /// The arguments of a Rust kernel's `rf_run_<suffix>`.
    pub struct RfArgs {
        /// Total instances (the stride of every array).
        pub n_instances: u64 = "unsigned long long",
        /// First instance of this call.
        pub begin: u64 = "unsigned long long",
        /// One past the last instance of this call.
        pub end: u64 = "unsigned long long",
        /// Nodes of a network (1 otherwise).
        pub n_nodes: u64 = "unsigned long long",
        /// Steps to integrate.
        pub n_steps: u64 = "unsigned long long",
        /// Record every this many steps.
        pub record_every: u64 = "unsigned long long",
        /// Step size.
        pub dt: f64 = "double",
        /// Start time.
        pub t0: f64 = "double",
        /// Seed of the noise.
        pub seed: u64 = "unsigned long long",
        /// 0 euler, 1 heun, 2 rk4.
        pub solver: u32 = "unsigned int",
        /// Number of recorded values.
        pub n_record: u32 = "unsigned int",
        /// Recorded value ids.
        pub record: *const u32 = "const unsigned int*",
        /// Parameters.
        pub params: *const f64 = "const double*",
        /// Initial states.
        pub init: *const f64 = "const double*",
        /// Final states (written).
        pub final_state: *mut f64 = "double*",
        /// Samples (written; null: no trace).
        pub trace: *mut f64 = "double*",
        /// Statistics of the recorded values (written; null: none).
        pub stats: *mut f64 = "double*",
        /// Per recorded value, the threshold of the time-above statistic (null: none).
        pub thresholds: *const f64 = "const double*",
        /// Samples before this one are left out of the statistics (the transient).
        pub transient_samples: u64 = "unsigned long long",
        /// Steps done per instance (written; null: not wanted).
        pub steps_done: *mut u64 = "unsigned long long*",
        /// Series, one per model series.
        pub series: *const RfSeries = "const RfSeries*",
        /// Nonzero: the connectivity is dense.
        pub dense: u32 = "unsigned int",
        /// Compressed rows: `n_nodes + 1` offsets.
        pub row_start: *const u64 = "const unsigned long long*",
        /// Compressed rows: source node of each edge.
        pub source: *const u32 = "const unsigned int*",
        /// Weight of each edge.
        pub weight: *const f64 = "const double*",
        /// Distance of each edge.
        pub distance: *const f64 = "const double*",
        /// Incremented (atomically) by instance-steps done (may be null).
        pub progress: *const AtomicU64 = "unsigned long long*",
        /// Polled; when set the kernel stops with status 2 (may be null).
        pub cancel: *const AtomicBool = "const unsigned char*",
        /// Threads that share the nodes of each lane block of a network (0 or 1: the calling
        /// thread alone); the kernel starts the others itself and keeps them in step. The
        /// results are the same bits whatever the number.
        pub node_threads: u32 = "unsigned int",
        /// Nonzero: every instance draws the noise of instance 0 (common random numbers, e.g. to
        /// compare parameter values in a fit under the same noise).
        pub shared_noise: u32 = "unsigned int",
        /// The global index of instance 0 of these arrays (a shard of a larger run): the noise
        /// of instance `i` is keyed by `instance_offset + i`.
        pub instance_offset: u64 = "unsigned long long",
        /// The observers: BOLD, FC and FCD (null: none).
        pub observe: *const RfObserve = "const RfObserve*",
    }

    /// What a Rust kernel observes besides its recorded values (see [`crate::observe`]). The
    /// outputs are instance-fastest: BOLD `[(sample * n_nodes + node) * n_instances + i]`, FC
    /// `[(a * n_nodes + b) * n_instances + i]`, FCD `[(a * n_windows + b) * n_instances + i]`.
    pub struct RfObserve {
        /// The value that drives the BOLD model (an id as in `record`).
        pub driver: u32 = "unsigned int",
        /// Padding.
        pub pad: u32 = "unsigned int",
        /// Model steps per BOLD step.
        pub bold_every: u64 = "unsigned long long",
        /// The BOLD step in seconds.
        pub bold_dt: f64 = "double",
        /// The Balloon–Windkessel constants: kappa, gamma, tau, alpha, rho, V0, k1, k2, k3.
        pub hemodynamics: [f64; 9] = "double[9]",
        /// BOLD steps per TR sample.
        pub tr_every: u64 = "unsigned long long",
        /// TR samples in the run.
        pub n_tr: u64 = "unsigned long long",
        /// TR samples left out of FC and FCD (the transient).
        pub transient: u64 = "unsigned long long",
        /// FCD window in TR samples (0: no FCD).
        pub window: u64 = "unsigned long long",
        /// TR samples between the starts of consecutive FCD windows.
        pub window_step: u64 = "unsigned long long",
        /// BOLD samples (written; null: not kept).
        pub bold: *mut f64 = "double*",
        /// FC (written; null: not wanted).
        pub fc: *mut f64 = "double*",
        /// FCD (written; null: not wanted).
        pub fcd: *mut f64 = "double*",
    }

    /// What a Rust kernel was generated for (returned by `rf_info_<suffix>`).
    pub struct RfInfo {
        /// [`ABI_VERSION`].
        pub abi_version: u32 = "unsigned int",
        /// Instances per lane block.
        pub lanes: u32 = "unsigned int",
        /// States.
        pub n_state: u32 = "unsigned int",
        /// Parameters.
        pub n_param: u32 = "unsigned int",
        /// Derived values.
        pub n_derived: u32 = "unsigned int",
        /// Series.
        pub n_series: u32 = "unsigned int",
        /// Delays.
        pub n_delay: u32 = "unsigned int",
        /// Couplings.
        pub n_coupling: u32 = "unsigned int",
        /// Nonzero for a network model.
        pub network: u32 = "unsigned int",
        /// Bits of the arithmetic (64 or 32).
        pub float_bits: u32 = "unsigned int",
        /// Bits of the delay history (64 or 32).
        pub history_bits: u32 = "unsigned int",
        /// Parameters compiled in as constants.
        pub n_inlined: u32 = "unsigned int",
        /// [`LAYOUT_HASH`] as the kernel was compiled.
        pub layout_hash: u64 = "unsigned long long",
        /// Hex SHA-256 of the model (`ValidModel::hash`).
        pub model_hash: [u8; 64] = "unsigned char[64]",
    }

    /// The arguments of a CUDA kernel's `rf_run` (see the module docs); pointers are device
    /// addresses, `H` the history's type.
    pub struct RfCudaArgs {
        /// Instances of this chunk.
        pub n_instances: u64 = "unsigned long long",
        /// The stride of the chunk's arrays.
        pub stride: u64 = "unsigned long long",
        /// The global index of the chunk's first instance (keys the noise).
        pub first_instance: u64 = "unsigned long long",
        /// Nodes.
        pub n_nodes: u64 = "unsigned long long",
        /// Steps of the whole run.
        pub n_steps: u64 = "unsigned long long",
        /// The first step of this launch.
        pub step_begin: u64 = "unsigned long long",
        /// One past the last step of this launch.
        pub step_end: u64 = "unsigned long long",
        /// Record every this many steps.
        pub record_every: u64 = "unsigned long long",
        /// Samples before this one are left out of the statistics.
        pub transient_samples: u64 = "unsigned long long",
        /// Slots of the history ring.
        pub horizon: u64 = "unsigned long long",
        /// 0: one delay per edge; else the stride of per-instance edge delays.
        pub edge_delay_stride: u64 = "unsigned long long",
        /// Seed of the noise.
        pub seed: u64 = "unsigned long long",
        /// Step size.
        pub dt: f64 = "double",
        /// Start time.
        pub t0: f64 = "double",
        /// Recorded value ids.
        pub record: u64 = "const unsigned int*",
        /// Parameters.
        pub params: u64 = "const double*",
        /// Initial states.
        pub init: u64 = "const double*",
        /// Current states (written).
        pub state: u64 = "double*",
        /// Samples (written; 0: none).
        pub trace: u64 = "double*",
        /// Running statistics (written; 0: none).
        pub stats: u64 = "double*",
        /// Thresholds of the time-above statistic.
        pub thresholds: u64 = "const double*",
        /// The history ring.
        pub history: u64 = "H*",
        /// Compressed rows.
        pub row_start: u64 = "const unsigned long long*",
        /// Source of each edge.
        pub source: u64 = "const unsigned int*",
        /// Weight of each edge.
        pub weight: u64 = "const double*",
        /// Delay of each edge in steps.
        pub edge_delay: u64 = "const unsigned int*",
        /// The series, concatenated.
        pub series_data: u64 = "const double*",
        /// (offset, rows, columns, mode) per series.
        pub series_meta: u64 = "const unsigned long long*",
        /// 0 euler, 1 heun, 2 rk4.
        pub solver: u32 = "unsigned int",
        /// Number of recorded values.
        pub n_record: u32 = "unsigned int",
        /// Nonzero: the connectivity is dense.
        pub dense: u32 = "unsigned int",
        /// The value that drives the BOLD model (an id as in `record`).
        pub bold_driver: u32 = "unsigned int",
        /// Model steps per BOLD step (0: no observers).
        pub bold_every: u64 = "unsigned long long",
        /// BOLD steps per TR sample.
        pub tr_every: u64 = "unsigned long long",
        /// TR samples in the run.
        pub n_tr: u64 = "unsigned long long",
        /// TR samples left out of FC and FCD.
        pub bold_transient: u64 = "unsigned long long",
        /// FCD window in TR samples (0: no FCD).
        pub fcd_window: u64 = "unsigned long long",
        /// TR samples between the starts of consecutive FCD windows.
        pub fcd_step: u64 = "unsigned long long",
        /// FCD windows in the run.
        pub fcd_windows: u64 = "unsigned long long",
        /// The BOLD step in seconds.
        pub bold_dt: f64 = "double",
        /// The Balloon–Windkessel constants: kappa, gamma, tau, alpha, rho, V0, k1, k2, k3.
        pub hemodynamics: [f64; 9] = "double[9]",
        /// The observers' state `[k * stride + i]` (`rateforge_kernel::observe::RawLayout`).
        pub observe_state: u64 = "double*",
        /// BOLD samples `[(sample * n_nodes + node) * stride + i]` (0: not kept).
        pub bold: u64 = "double*",
        /// Nonzero: every instance draws the noise of instance 0.
        pub shared_noise: u32 = "unsigned int",
        /// Padding to a multiple of 8 bytes.
        pub pad: u32 = "unsigned int",
    }
}

impl Default for RfCudaArgs {
    fn default() -> Self {
        RfCudaArgs {
            n_instances: 0,
            stride: 0,
            first_instance: 0,
            n_nodes: 0,
            n_steps: 0,
            step_begin: 0,
            step_end: 0,
            record_every: 0,
            transient_samples: 0,
            horizon: 0,
            edge_delay_stride: 0,
            seed: 0,
            dt: 0.0,
            t0: 0.0,
            record: 0,
            params: 0,
            init: 0,
            state: 0,
            trace: 0,
            stats: 0,
            thresholds: 0,
            history: 0,
            row_start: 0,
            source: 0,
            weight: 0,
            edge_delay: 0,
            series_data: 0,
            series_meta: 0,
            solver: 0,
            n_record: 0,
            dense: 0,
            bold_driver: 0,
            bold_every: 0,
            tr_every: 0,
            n_tr: 0,
            bold_transient: 0,
            fcd_window: 0,
            fcd_step: 0,
            fcd_windows: 0,
            bold_dt: 0.0,
            hemodynamics: [0.0; 9],
            observe_state: 0,
            bold: 0,
            shared_noise: 0,
            pad: 0,
        }
    }
}

/// The structs of the Rust kernels' ABI, each after the structs it names (so their C definitions
/// compile in this order).
pub const RUST_LAYOUTS: [Layout; 4] = [
    RfSeries::LAYOUT,
    RfObserve::LAYOUT,
    RfArgs::LAYOUT,
    RfInfo::LAYOUT,
];

/// A hash (FNV-1a, 64 bits) of the names, C types, sizes and offsets of the Rust kernels' ABI:
/// equal hashes mean that a kernel and its caller agree on every field.
pub const LAYOUT_HASH: u64 = {
    let mut h = Fnv::new();
    let mut k = 0;
    while k < RUST_LAYOUTS.len() {
        h = h.layout(&RUST_LAYOUTS[k]);
        k += 1;
    }
    h.0
};

/// FNV-1a, usable in constants.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Fnv {
    const fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    const fn bytes(mut self, b: &[u8]) -> Fnv {
        let mut i = 0;
        while i < b.len() {
            self.0 = (self.0 ^ b[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        self
    }

    const fn word(self, w: usize) -> Fnv {
        self.bytes(&(w as u64).to_le_bytes())
    }

    const fn layout(self, l: &Layout) -> Fnv {
        let mut h = self.bytes(l.name.as_bytes()).word(l.size).word(l.align);
        let mut k = 0;
        while k < l.fields.len() {
            let f = &l.fields[k];
            h = h
                .bytes(f.name.as_bytes())
                .bytes(f.c_type.as_bytes())
                .word(f.offset)
                .word(f.size);
            k += 1;
        }
        h
    }
}

impl Layout {
    /// The C (and C++) definition of the struct: `struct Name { type field; ... };`.
    pub fn c_definition(&self) -> String {
        let mut s = format!("struct {} {{\n", self.name);
        for f in self.fields {
            match f.c_type.split_once('[') {
                Some((ty, len)) => s.push_str(&format!("    {} {}[{len};\n", ty.trim(), f.name)),
                None => s.push_str(&format!("    {} {};\n", f.c_type, f.name)),
            }
        }
        s.push_str("};\n");
        s
    }

    /// The words [`Layout::c_probe`] makes a C++ compiler report, in this order: the size, the
    /// alignment, then the offset and size of every field.
    pub fn words(&self) -> Vec<u64> {
        let mut w = vec![self.size as u64, self.align as u64];
        for f in self.fields {
            w.push(f.offset as u64);
            w.push(f.size as u64);
        }
        w
    }

    /// A C++ function `qualifiers void function(unsigned long long* out)` (after
    /// [`Layout::c_definition`]) that writes [`Layout::words`] as the compiler lays the struct
    /// out. Run where the struct is used (a GPU kernel, the CPU emulation) and compared with
    /// [`Layout::words`] by [`Layout::check`], it tells whether that compiler agrees with Rust.
    pub fn c_probe(&self, qualifiers: &str, function: &str) -> String {
        let mut s = format!(
            "{qualifiers} void {function}(unsigned long long* out) {{\n    {n} s;\n    const char* base = (const char*)&s;\n    out[0] = sizeof({n});\n    out[1] = alignof({n});\n",
            n = self.name
        );
        for (k, f) in self.fields.iter().enumerate() {
            s.push_str(&format!(
                "    out[{}] = (unsigned long long)((const char*)&s.{f} - base);\n    out[{}] = sizeof(s.{f});\n",
                2 + 2 * k,
                3 + 2 * k,
                f = f.name
            ));
        }
        s.push_str("}\n");
        s
    }

    /// Compares the words a compiler reported ([`Layout::c_probe`]) with Rust's; the error names
    /// the first field that differs.
    pub fn check(&self, reported: &[u64]) -> Result<(), String> {
        let expected = self.words();
        if reported.len() != expected.len() {
            return Err(format!(
                "`{}` has {} fields in the kernel, {} in the caller",
                self.name,
                reported.len().saturating_sub(2) / 2,
                self.fields.len()
            ));
        }
        let what = |k: usize| match k {
            0 => "size".to_string(),
            1 => "alignment".to_string(),
            k if k % 2 == 0 => format!("offset of `{}`", self.fields[(k - 2) / 2].name),
            k => format!("size of `{}`", self.fields[(k - 2) / 2].name),
        };
        // The fields first (the most telling difference), then the size and the alignment.
        let order = (2..expected.len()).chain(0..2);
        match order.into_iter().find(|&k| expected[k] != reported[k]) {
            None => Ok(()),
            Some(k) => Err(format!(
                "the {} of `{}` is {} in the kernel and {} in the caller",
                what(k),
                self.name,
                reported[k],
                expected[k]
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_complete_and_consistent() {
        for l in RUST_LAYOUTS.iter().chain([&RfCudaArgs::LAYOUT]) {
            // Fields in increasing offset order, inside the struct, without overlap.
            let mut end = 0;
            for f in l.fields {
                assert!(f.offset >= end, "{}.{} overlaps", l.name, f.name);
                end = f.offset + f.size;
            }
            assert!(end <= l.size);
            assert_eq!(l.size % l.align, 0);
            assert!(l.check(&l.words()).is_ok());
        }
        // The CUDA argument block has no implicit padding, so C and Rust cannot disagree on it.
        let c = RfCudaArgs::LAYOUT;
        assert_eq!(c.fields.iter().map(|f| f.size).sum::<usize>(), c.size);
        assert!(
            RfInfo::LAYOUT
                .c_definition()
                .contains("unsigned char model_hash[64];")
        );
    }

    #[test]
    fn a_changed_offset_is_named() {
        let l = RfArgs::LAYOUT;
        let mut w = l.words();
        w[2 + 2 * 6] += 8; // the offset of `dt`
        assert_eq!(
            l.check(&w).unwrap_err(),
            format!(
                "the offset of `dt` of `RfArgs` is {} in the kernel and {} in the caller",
                w[14],
                w[14] - 8
            )
        );
    }
}
