//! The lane-block runner: everything a CPU kernel does that does not depend on its model.
//!
//! Instances are processed in blocks of `L` lanes (the lane width of the kernel), the time loop
//! inside the block and, for a network, the node loop inside the time loop. Each solver stage is
//! one call of the model ([`Model`]), which loops over the lanes, evaluates the model and updates
//! the states, so a block's states stay in the L1 cache and LLVM turns the lane loops into SIMD
//! code. Per step and block:
//!
//! 1. the series values of the step are loaded;
//! 2. the history ring receives this step's buffered values (the states and coupling-free
//!    derived values that delays and couplings read); its slots are consecutive steps of one
//!    (buffer, node), so an edge reads neighbouring memory at consecutive steps. The history
//!    before t0 (the value at t0, or zero) fills the ring's slots before the first step, except
//!    where only the sums read ahead (step 3) read the history: then it is kept once per (buffer,
//!    node) and read in place of the slots not yet written, and a block does not fill its ring;
//! 3. the delayed values and the couplings (`post(sum_j w_ij pre(x_j(t - d_ij), node i))`) are
//!    computed from the history, for up to [`T_BLOCK`] steps in one pass over the edges when every
//!    `pre` reads only its source and every edge is delayed by at least that many steps;
//! 4. a sample is recorded when due (the trace, and the streaming statistics after the
//!    transient), the BOLD model advances when due (and at each TR its sample feeds FC and FCD,
//!    see [`crate::observe`]), the noise increments are drawn (Philox, keyed by seed, instance,
//!    node, step);
//! 5. the solver advances every node by one step.
//!
//! Progress is reported and cancellation checked every [`CHECK_EVERY`] steps.

use crate::abi::{ABI_VERSION, LAYOUT_HASH, N_STATS, RfArgs, RfInfo, RfObserve, RfSeries};
use crate::barrier::SpinBarrier;
use crate::history::HistoryBuffer;
use crate::observe::{Balloon, BalloonStep, FcStream, Hemodynamics, ObserveShape};
use crate::real::{Lanes, Real};
use crate::stats::LaneStats;
use std::sync::atomic::Ordering;

/// Solver id of Euler (Euler–Maruyama with noise): [`crate::Solver::id`].
pub const EULER: u32 = 0;
/// Solver id of Heun (stochastic Heun with noise).
pub const HEUN: u32 = 1;
/// Solver id of the classical Runge–Kutta method.
pub const RK4: u32 = 2;
/// Steps between progress reports and cancellation checks (a power of two).
pub const CHECK_EVERY: u64 = 4096;
/// The most steps whose coupling sums are computed in one pass over the edges.
pub const T_BLOCK: usize = 16;
/// The most threads that share one block's nodes ([`RfArgs::node_threads`]).
pub const MAX_NODE_THREADS: usize = 1024;
/// How many steps ahead the history rows an edge reads are prefetched.
const PREFETCH_AHEAD: usize = 2;
/// How many edges ahead [`coupling_sums_ahead`] prefetches an edge's run of history rows.
const EDGE_PREFETCH: usize = 2;

/// What a history buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffered {
    /// A state, by index.
    State(usize),
    /// A derived value that depends on no delay and no coupling, by index.
    Derived(usize),
}

/// One node's inputs that are constant within a step.
pub struct StepInputs<M: Model<L>, const L: usize> {
    /// The series values.
    pub u: M::Series,
    /// The delayed values.
    pub q: M::Delayed,
    /// The coupling terms.
    pub c: M::Couplings,
    /// The number of nodes.
    pub nn: M::F,
    /// The step size.
    pub dt: M::F,
}

/// A model, as a generated kernel module describes it: its sizes (as the types of its lane
/// arrays), its tables, and its functions. Every function loops over the `L` lanes of a block;
/// `t` is the time of the stage, `p` the parameters, `x` the node's inputs of the step, `ys` the
/// node's states.
pub trait Model<const L: usize>: Sized + 'static {
    /// The arithmetic.
    type F: Real;
    /// What the delay history stores.
    type H: Real;
    /// The states of one node.
    type States: Lanes<Self::F, L>;
    /// The parameters.
    type Params: Lanes<Self::F, L>;
    /// The derived values of one node.
    type Derived: Lanes<Self::F, L>;
    /// The series values.
    type Series: Lanes<Self::F, L>;
    /// The delayed values.
    type Delayed: Lanes<Self::F, L>;
    /// The coupling terms.
    type Couplings: Lanes<Self::F, L>;
    /// The noise amplitudes or increments (one per noisy state).
    type Noise: Lanes<Self::F, L>;

    /// A network model (a node loop, a connectivity).
    const NETWORK: bool;
    /// Fast arithmetic: fused multiply-adds, also in the elementary functions of the noise.
    const FUSED: bool;
    /// Delayed values read before the start are zero (else the value at the start).
    const HISTORY_ZERO: bool;
    /// Every coupling's `pre` reads only the source value, parameters and constants.
    const PRE_SOURCE_ONLY: bool;
    /// The model's hash (hex SHA-256).
    const MODEL_HASH: [u8; 64];
    /// What each history buffer holds.
    const BUFFERED: &'static [Buffered];
    /// For each delay: (the parameter holding its time, the history buffer it reads).
    const DELAYS: &'static [(usize, usize)];
    /// The couplings computed: (its index among the model's couplings, the history buffer of its
    /// source). A coupling gated off by a compiled-in zero is not, and reads as zero.
    const COUPLINGS: &'static [(usize, usize)];
    /// Record ids of the derived values not computed (they read a coupling that is not): a
    /// run that records or observes one is refused.
    const UNCOMPUTED: &'static [usize];
    /// States that start at another value at `t0`: (state, value).
    const INIT_FROM: &'static [(usize, Buffered)];
    /// Parameters compiled in as constants: (index, value). Other values are refused.
    const INLINED: &'static [(usize, f64)];

    /// Every derived value at `(t, ys)`.
    fn derived(
        t: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        out: &mut Self::Derived,
    );
    /// The derived values that depend on no delay and no coupling (the others are left alone).
    fn derived_free(
        t: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        out: &mut Self::Derived,
    );
    /// The noise amplitudes at the step's start (`d` holds the derived values).
    fn noise(
        t: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        d: &Self::Derived,
        g: &mut Self::Noise,
    );
    /// Euler: `ys <- clamp(ys + dt*f(t, ys) + eta)`.
    fn euler(
        t: f64,
        dt: Self::F,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &mut Self::States,
        eta: &Self::Noise,
    );
    /// Heun, first stage: `k1 = f(t, ys)`, `tmp = clamp(ys + dt*k1 + eta)`.
    #[allow(clippy::too_many_arguments)]
    fn heun1(
        t: f64,
        dt: Self::F,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        tmp: &mut Self::States,
        k1: &mut Self::States,
        eta: &Self::Noise,
    );
    /// Heun, second stage: `k2 = f(t, ys)` (`ys` the first stage's `tmp`),
    /// `y = clamp(y + h2*(k1 + k2) + eta)`.
    #[allow(clippy::too_many_arguments)]
    fn heun2(
        t: f64,
        h2: Self::F,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        y: &mut Self::States,
        k1: &Self::States,
        eta: &Self::Noise,
    );
    /// RK4, first stage: `acc = k1 = f(t, ys)`, `tmp = clamp(ys + h2*k1)`.
    fn rk4_1(
        t: f64,
        h2: Self::F,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        tmp: &mut Self::States,
        acc: &mut Self::States,
    );
    /// RK4, second and third stages: `k = f(t, ys)`, `acc = acc + 2*k`, `ys = clamp(y + h*k)`.
    fn rk4_mid(
        t: f64,
        h: Self::F,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &mut Self::States,
        y: &Self::States,
        acc: &mut Self::States,
    );
    /// RK4, last stage: `k4 = f(t, ys)`, `y = clamp(y + h6*(acc + k4))`.
    fn rk4_4(
        t: f64,
        h6: Self::F,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        y: &mut Self::States,
        acc: &Self::States,
    );
    /// Coupling `c`, one edge of weight `w`: `gx[l] += w * pre_c(cs[l], node i)` (fused as the
    /// model's arithmetic says; `cs` the delayed source values as the history stores them), with
    /// node i's values `ys`, `d` at the step's start.
    #[allow(clippy::too_many_arguments)]
    fn coupling_pre(
        c: usize,
        w: Self::F,
        cs: &[Self::H; L],
        t: Self::F,
        n_nodes: Self::F,
        step_dt: Self::F,
        p: &Self::Params,
        ys: &Self::States,
        d: &Self::Derived,
        gx: &mut [Self::F; L],
    );
    /// Coupling `c`: `out = post_c(gx)`.
    fn coupling_post(
        c: usize,
        t: Self::F,
        n_nodes: Self::F,
        step_dt: Self::F,
        gx: &[Self::F; L],
        p: &Self::Params,
        out: &mut [Self::F; L],
    );
    /// The delay in steps of an edge of length `dist` for lane `l`, from the float64 parameters
    /// (the same on every backend, whatever the kernel's precision).
    fn edge_delay(l: usize, dist: f64, dt: f64, n_nodes: f64, p64: &[[f64; L]]) -> usize;
}

/// The description of a kernel for `model` with `L` lanes (what `rf_info_<suffix>` returns).
pub const fn info<M: Model<L>, const L: usize>() -> RfInfo {
    RfInfo {
        abi_version: ABI_VERSION,
        lanes: L as u32,
        n_state: <M::States as Lanes<M::F, L>>::LEN as u32,
        n_param: <M::Params as Lanes<M::F, L>>::LEN as u32,
        n_derived: <M::Derived as Lanes<M::F, L>>::LEN as u32,
        n_series: <M::Series as Lanes<M::F, L>>::LEN as u32,
        n_delay: <M::Delayed as Lanes<M::F, L>>::LEN as u32,
        n_coupling: <M::Couplings as Lanes<M::F, L>>::LEN as u32,
        network: M::NETWORK as u32,
        float_bits: <M::F as Real>::BITS,
        history_bits: <M::H as Real>::BITS,
        n_inlined: M::INLINED.len() as u32,
        layout_hash: LAYOUT_HASH,
        model_hash: M::MODEL_HASH,
    }
}

/// Integrates instances `begin .. end` of a run. Returns 0 on success, 1 for invalid arguments
/// (an unknown solver, noise with rk4, a recorded id out of range, a series without rows, a
/// network without nodes, a null array, or a history larger than memory), 2 when cancelled (after writing what is done), 3 when a
/// parameter differs from its compiled-in value, 4 when a recorded or observed value is one the
/// kernel does not compute ([`Model::UNCOMPUTED`]).
///
/// # Safety
///
/// `args` is null or points to arguments whose arrays have the sizes the ABI gives
/// ([`crate::abi`]), and no other thread writes instances `begin .. end` of the outputs.
#[inline(always)]
pub unsafe fn run<M: Model<L>, const L: usize>(args: *const RfArgs) -> i32 {
    let Some(a) = (unsafe { args.as_ref() }) else {
        return 1;
    };
    let n_state = <M::States as Lanes<M::F, L>>::LEN;
    let n_param = <M::Params as Lanes<M::F, L>>::LEN;
    let n_derived = <M::Derived as Lanes<M::F, L>>::LEN;
    let n_series = <M::Series as Lanes<M::F, L>>::LEN;
    let noisy = <M::Noise as Lanes<M::F, L>>::LEN > 0;
    if a.begin > a.end
        || a.end > a.n_instances
        || a.solver > RK4
        || (noisy && a.solver == RK4)
        || L == 0
    {
        return 1;
    }
    if a.final_state.is_null() || (n_param > 0 && a.params.is_null()) || a.init.is_null() {
        return 1;
    }
    if M::NETWORK
        && (a.n_nodes == 0
            || a.weight.is_null()
            || a.distance.is_null()
            || (a.dense == 0 && (a.row_start.is_null() || a.source.is_null())))
    {
        return 1;
    }
    if a.n_record > 0 && a.record.is_null() {
        return 1;
    }
    for r in 0..a.n_record as usize {
        if unsafe { *a.record.add(r) } as usize >= n_state + n_derived {
            return 1;
        }
    }
    if n_series > 0 && a.series.is_null() {
        return 1;
    }
    // SAFETY: null or valid (the ABI).
    let observe = unsafe { a.observe.as_ref() };
    if let Some(o) = observe
        && !observe_is_valid(o, a, n_state + n_derived)
    {
        return 1;
    }
    // SAFETY: `record` has `n_record` values (checked above).
    let records = (0..a.n_record as usize).map(|r| unsafe { *a.record.add(r) } as usize);
    if records
        .chain(observe.map(|o| o.driver as usize))
        .any(|id| M::UNCOMPUTED.contains(&id))
    {
        return 4;
    }
    for k in 0..n_series {
        let s = unsafe { &*a.series.add(k) };
        if s.data.is_null() || s.n_rows == 0 || s.n_cols == 0 || s.mode > 3 {
            return 1;
        }
    }
    // Threads sharing each block's nodes: this one and `node_threads - 1` more.
    let workers = if M::NETWORK {
        (a.node_threads as usize).clamp(1, MAX_NODE_THREADS)
    } else {
        1
    };
    // One history for every block of this call: its pages are faulted in once.
    let mut history = HistoryBuffer::<M::H>::default();
    let mut first = a.begin as usize;
    while first < a.end as usize {
        let n = (a.end as usize - first).min(L);
        let h = &mut history;
        let status = unsafe {
            match a.solver {
                EULER => run_block::<M, L, EULER>(a, first, n, h, workers),
                HEUN => run_block::<M, L, HEUN>(a, first, n, h, workers),
                _ => run_block::<M, L, RK4>(a, first, n, h, workers),
            }
        };
        if status != 0 {
            return status;
        }
        first += n;
    }
    0
}

/// [`run`] compiled for the widest SIMD the CPU running it has. A kernel compiled for a baseline
/// CPU (a binary that ships to many machines) carries copies of the runner for AVX-512 and for
/// AVX2 with FMA, and picks one at run time; where the crate is compiled for such a CPU already
/// (`-C target-cpu=native`), this is [`run`]. Exact arithmetic gives the same bits in every copy
/// (fused multiply-adds come only from fast arithmetic, which the copies do not turn on).
///
/// # Safety
///
/// As [`run`].
#[inline(always)]
pub unsafe fn run_dispatch<M: Model<L>, const L: usize>(args: *const RfArgs) -> i32 {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx512f")))]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512bw")
        {
            // SAFETY: the CPU has the features.
            return unsafe { x86::run_avx512::<M, L>(args) };
        }
        #[cfg(not(target_feature = "avx2"))]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features.
            return unsafe { x86::run_avx2::<M, L>(args) };
        }
    }
    // SAFETY: as the caller promises.
    unsafe { run::<M, L>(args) }
}

/// The runner compiled with x86-64 SIMD extensions (see [`run_dispatch`]).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Model, run};
    use crate::abi::RfArgs;

    /// # Safety
    ///
    /// As [`run`], on a CPU with AVX-512 F, VL, DQ and BW.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
    pub(super) unsafe fn run_avx512<M: Model<L>, const L: usize>(args: *const RfArgs) -> i32 {
        // SAFETY: as the caller promises.
        unsafe { run::<M, L>(args) }
    }

    /// # Safety
    ///
    /// As [`run`], on a CPU with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
    pub(super) unsafe fn run_avx2<M: Model<L>, const L: usize>(args: *const RfArgs) -> i32 {
        // SAFETY: as the caller promises.
        unsafe { run::<M, L>(args) }
    }
}

/// Scratch arrays of the solver stages.
struct Scratch<M: Model<L>, const L: usize> {
    k1: M::States,
    tmp: M::States,
}

/// One solver step of one node; inputs fixed for the step, `eta` the noise increments.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_node<M: Model<L>, const L: usize, const SOLVER: u32>(
    t0: f64,
    dt: f64,
    step: u64,
    p: &M::Params,
    x: &StepInputs<M, L>,
    y: &mut M::States,
    eta: &M::Noise,
    s: &mut Scratch<M, L>,
) {
    let tn = t0 + step as f64 * dt;
    // The left limit of the end of the step, so a step input on the grid integrates exactly.
    let t_end = (t0 + (step + 1) as f64 * dt).next_down();
    let h = M::F::from_f64(dt);
    match SOLVER {
        EULER => M::euler(tn, h, p, x, y, eta),
        HEUN => {
            M::heun1(tn, h, p, x, y, &mut s.tmp, &mut s.k1, eta);
            M::heun2(t_end, M::F::from_f64(0.5 * dt), p, x, &s.tmp, y, &s.k1, eta);
        }
        _ => {
            let t_mid = t0 + (step as f64 + 0.5) * dt;
            let h2 = M::F::from_f64(0.5 * dt);
            M::rk4_1(tn, h2, p, x, y, &mut s.tmp, &mut s.k1);
            M::rk4_mid(t_mid, h2, p, x, &mut s.tmp, y, &mut s.k1);
            M::rk4_mid(t_mid, h, p, x, &mut s.tmp, y, &mut s.k1);
            M::rk4_4(t_end, M::F::from_f64(dt / 6.0), p, x, &s.tmp, y, &s.k1);
        }
    }
}

/// Per-block data: the arguments, the history ring, delays and the connectivity.
struct BlockCtx<'a, H: Real, const L: usize> {
    a: &'a RfArgs,
    nn: usize,
    horizon: usize,
    /// `[((b * nn + node) * horizon + slot) * L + l]`: per buffer and node, consecutive steps are
    /// neighbours in memory.
    history: HistoryBuffer<H>,
    /// The history's values, once it is prepared: read and written through this pointer only,
    /// by the threads that share the nodes (each writes its own nodes' rows).
    hist: *mut H,
    /// `[k * L + l]`: the delay of delay `k` in steps, per lane.
    delay: Vec<usize>,
    /// `[e]`: the delay of edge `e` in steps when every lane has the same one, else `u32::MAX`.
    uniform: Vec<u32>,
    /// The delay of every edge when all of them (in every lane) have the same, else `u32::MAX`
    /// (a dense network without delays then reads no per-edge delay).
    same_delay: u32,
    /// `[e * L + l]`: the delay of edge `e` in steps, per lane (only for edges without a uniform
    /// delay).
    edge_delay: Vec<u32>,
    /// `[(b * nn + node) * L + l]`: the history before t0 (the value at t0, or zero), when the
    /// ring is not filled with it: only the coupling sums read ahead ([`coupling_sums_ahead`])
    /// read the history then, and they take these rows for the steps before t0. Empty when the
    /// ring is filled.
    init: Vec<H>,
}

impl<H: Real, const L: usize> BlockCtx<'_, H, L> {
    /// The slot `back` steps before the current one, `cur` (`back < horizon`).
    #[inline(always)]
    fn slot_back(&self, cur: usize, back: usize) -> usize {
        let s = cur + self.horizon - back;
        if s >= self.horizon {
            s - self.horizon
        } else {
            s
        }
    }

    /// `slot + k`, wrapped around the ring.
    #[inline(always)]
    fn slot_ahead(&self, slot: usize, k: usize) -> usize {
        let s = slot + k;
        if s >= self.horizon {
            s - self.horizon
        } else {
            s
        }
    }

    /// Where the lanes of (buffer `b`, `node`, `slot`) start in the history.
    #[inline(always)]
    fn at(&self, b: usize, node: usize, slot: usize) -> usize {
        ((b * self.nn + node) * self.horizon + slot) * L
    }

    /// The lanes of (buffer `b`, `node`, `slot`), a row no thread writes while it is read.
    #[inline(always)]
    fn row(&self, b: usize, node: usize, slot: usize) -> &[H; L] {
        let at = self.at(b, node, slot);
        assert!(
            at + L <= self.history.len(),
            "a history row is inside the history"
        );
        // SAFETY: inside the history (checked); the barriers keep writers away from the rows
        // being read.
        unsafe { &*self.hist.add(at).cast::<[H; L]>() }
    }

    /// The lanes of (buffer `b`, `node`) before t0 (`init` is not empty).
    #[inline(always)]
    fn init_row(&self, b: usize, node: usize) -> &[H; L] {
        let at = (b * self.nn + node) * L;
        self.init[at..at + L].try_into().expect("a row of lanes")
    }

    /// The `n` consecutive rows of (buffer `b`, `node`) from `slot` on (`slot + n <= horizon`), rows
    /// no thread writes while they are read.
    #[inline(always)]
    fn rows(&self, b: usize, node: usize, slot: usize, n: usize) -> &[[H; L]] {
        let at = self.at(b, node, slot);
        assert!(
            slot + n <= self.horizon && at + n * L <= self.history.len(),
            "history rows are inside the history"
        );
        // SAFETY: inside the history (checked); as in `row`.
        unsafe { std::slice::from_raw_parts(self.hist.add(at).cast::<[H; L]>(), n) }
    }

    /// Asks the CPU to bring the `n` rows of (buffer `b`, `node`) from `slot` on into the cache
    /// (wrapping around the ring).
    #[inline(always)]
    fn prefetch_run(&self, b: usize, node: usize, slot: usize, n: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let row = std::mem::size_of::<[H; L]>();
            let first = (self.horizon - slot).min(n);
            for (from, rows) in [(slot, first), (0, n - first)] {
                let base = self.hist.wrapping_add(self.at(b, node, from)).cast::<i8>();
                let mut off = 0;
                while off < rows * row {
                    // SAFETY: prefetching has no effect on memory; the address is inside `history`.
                    unsafe {
                        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                            base.wrapping_add(off),
                        );
                    }
                    off += 64;
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (b, node, slot, n);
    }

    /// The history value at `at`.
    #[inline(always)]
    fn get(&self, at: usize) -> H {
        assert!(
            at < self.history.len(),
            "a history value is inside the history"
        );
        // SAFETY: as in `row`.
        unsafe { *self.hist.add(at) }
    }

    /// Writes the lanes of (buffer `b`, `node`, `slot`), a row of a node that this thread owns.
    #[inline(always)]
    fn put_row(&self, b: usize, node: usize, slot: usize, row: [H; L]) {
        let at = self.at(b, node, slot);
        assert!(
            at + L <= self.history.len(),
            "a history row is inside the history"
        );
        // SAFETY: inside the history (checked); one thread writes a node's rows, and no thread
        // reads them between the barriers around the write.
        unsafe { *self.hist.add(at).cast::<[H; L]>() = row };
    }

    /// Asks the CPU to bring the history row `PREFETCH_AHEAD` slots after `slot` into the cache:
    /// the rows an edge reads at consecutive steps are neighbours, and with thousands of edges the
    /// hardware prefetchers cannot follow every stream.
    #[inline(always)]
    fn prefetch(&self, b: usize, node: usize, slot: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let row = self.at(b, node, self.slot_ahead(slot, PREFETCH_AHEAD));
            let bytes = L * std::mem::size_of::<H>();
            let base = self.hist.wrapping_add(row).cast::<i8>();
            let mut off = 0;
            while off < bytes {
                // SAFETY: prefetching has no effect on memory; the address is inside `history`.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        base.wrapping_add(off),
                    );
                }
                off += 64;
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (b, node, slot);
    }

    /// The edges into node `i` (`lo .. hi`: rows of the compressed connectivity, or every source
    /// of a dense one) .
    #[inline(always)]
    fn edge_range(&self, i: usize) -> (usize, usize) {
        let a = self.a;
        if a.dense != 0 {
            (0, self.nn)
        } else {
            // SAFETY: `row_start` has `n_nodes + 1` entries (the ABI).
            unsafe {
                (
                    *a.row_start.add(i) as usize,
                    *a.row_start.add(i + 1) as usize,
                )
            }
        }
    }

    /// Edge `k` of node `i`'s range: (edge index, source node, weight).
    #[inline(always)]
    fn edge(&self, i: usize, k: usize) -> (usize, usize, f64) {
        let a = self.a;
        let (e, j) = if a.dense != 0 {
            (i * self.nn + k, k)
        } else {
            // SAFETY: `k` is inside node i's row.
            (k, unsafe { *a.source.add(k) } as usize)
        };
        // SAFETY: `e` is an edge of the connectivity.
        (e, j, unsafe { *a.weight.add(e) })
    }

    /// The number of edges.
    fn n_edges(&self, network: bool) -> usize {
        let a = self.a;
        if !network {
            0
        } else if a.dense != 0 {
            self.nn * self.nn
        } else {
            // SAFETY: `row_start` has `n_nodes + 1` entries.
            unsafe { *a.row_start.add(self.nn) as usize }
        }
    }

    /// The delayed source values of edge `e` (from node `j`, buffer `b`, uniform delay `u` or
    /// `u32::MAX`) at `k` steps after the current one: the history row itself when every lane
    /// has the same delay, else gathered lane by lane into `gather`. With `prefetch`, the row the
    /// edge reads a few steps later is fetched ahead of time.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn sources<'s>(
        &'s self,
        cur: usize,
        b: usize,
        j: usize,
        e: usize,
        u: u32,
        k: usize,
        prefetch: bool,
        gather: &'s mut [H; L],
    ) -> &'s [H; L] {
        if u != u32::MAX {
            let slot = self.slot_ahead(self.slot_back(cur, u as usize), k);
            if prefetch {
                self.prefetch(b, j, slot);
            }
            self.row(b, j, slot)
        } else {
            for (l, c) in gather.iter_mut().enumerate() {
                let back = self.edge_delay[e * L + l] as usize;
                let slot = self.slot_ahead(self.slot_back(cur, back), k);
                *c = self.get(self.at(b, j, slot) + l);
            }
            gather
        }
    }
}

/// `sum_j w_ij pre_c(x_j(t_n - d_ij))` then `post_c`, for every coupling `c` of target node `i`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn couplings_of_node<M: Model<L>, const L: usize>(
    i: usize,
    ctx: &BlockCtx<'_, M::H, L>,
    cur: usize,
    t: f64,
    p: &M::Params,
    ys: &M::States,
    d: &M::Derived,
    out: &mut M::Couplings,
) {
    let t = M::F::from_f64(t);
    let nn = M::F::from_f64(ctx.nn as f64);
    let step_dt = M::F::from_f64(ctx.a.dt);
    let (lo, hi) = ctx.edge_range(i);
    for &(c, b) in M::COUPLINGS {
        let mut gx = [M::F::ZERO; L];
        let mut gather = [M::H::ZERO; L];
        for k in lo..hi {
            let (e, j, w) = ctx.edge(i, k);
            let prefetch = ctx.a.dense == 0;
            let cs = ctx.sources(cur, b, j, e, ctx.uniform[e], 0, prefetch, &mut gather);
            M::coupling_pre(c, M::F::from_f64(w), cs, t, nn, step_dt, p, ys, d, &mut gx);
        }
        let row: &mut [M::F; L] = &mut out.rows_mut()[c];
        M::coupling_post(c, t, nn, step_dt, &gx, p, row);
    }
}

/// Targets whose dense rows are summed side by side ([`couplings_of_dense_group`]).
pub const DENSE_GROUP: usize = 8;

/// [`couplings_of_node`] for the `DENSE_GROUP` targets `i0 ..`, of a dense connectivity: the
/// sources are walked once for the group, each target's sum still in source order (so the same
/// bits), but with `DENSE_GROUP` independent sums in flight instead of one chain of dependent
/// additions, and each source row read once for the group.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn couplings_of_dense_group<M: Model<L>, const L: usize>(
    i0: usize,
    ctx: &BlockCtx<'_, M::H, L>,
    cur: usize,
    t: f64,
    p: &M::Params,
    ys: &[M::States],
    d: &[M::Derived],
    out: &mut [StepInputs<M, L>],
) {
    let t = M::F::from_f64(t);
    let nn = ctx.nn;
    let nnf = M::F::from_f64(nn as f64);
    let step_dt = M::F::from_f64(ctx.a.dt);
    let ys: &[M::States; DENSE_GROUP] = ys[i0..i0 + DENSE_GROUP]
        .try_into()
        .expect("a group of targets");
    let d: &[M::Derived; DENSE_GROUP] = d[i0..i0 + DENSE_GROUP]
        .try_into()
        .expect("a group of targets");
    for &(c, b) in M::COUPLINGS {
        let mut gx = [[M::F::ZERO; L]; DENSE_GROUP];
        let mut gather = [M::H::ZERO; L];
        for k in 0..nn {
            for g in 0..DENSE_GROUP {
                let (e, j, w) = ctx.edge(i0 + g, k);
                let u = if ctx.same_delay != u32::MAX {
                    ctx.same_delay
                } else {
                    ctx.uniform[e]
                };
                let cs = ctx.sources(cur, b, j, e, u, 0, false, &mut gather);
                M::coupling_pre(
                    c,
                    M::F::from_f64(w),
                    cs,
                    t,
                    nnf,
                    step_dt,
                    p,
                    &ys[g],
                    &d[g],
                    &mut gx[g],
                );
            }
        }
        for g in 0..DENSE_GROUP {
            let row: &mut [M::F; L] = &mut out[i0 + g].c.rows_mut()[c];
            M::coupling_post(c, t, nnf, step_dt, &gx[g], p, row);
        }
    }
}

/// The sums `sum_j w_ij pre_c(x_j(t_(n+k) - d_ij))` of node `i` for the next `out.len()` steps
/// (`n` the current step), every edge delayed by at least that many steps (compressed rows).
///
/// An edge with one delay in every lane reads a run of `out.len()` consecutive rows, at most two
/// pieces where the ring wraps, each checked once; the run of the edge [`EDGE_PREFETCH`] edges
/// later is prefetched meanwhile (thousands of edges start thousands of streams, which the
/// hardware prefetchers cannot follow).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn coupling_sums_ahead<M: Model<L>, const L: usize>(
    i: usize,
    ctx: &BlockCtx<'_, M::H, L>,
    cur: usize,
    step: usize,
    p: &M::Params,
    ys: &M::States,
    d: &M::Derived,
    out: &mut [M::Couplings],
) {
    let t = M::F::ZERO; // `pre` reads only the source here
    let nn = M::F::from_f64(ctx.nn as f64);
    let step_dt = M::F::from_f64(ctx.a.dt);
    let (lo, hi) = ctx.edge_range(i);
    let len = out.len();
    for o in out.iter_mut() {
        *o = M::Couplings::zeroed();
    }
    let mut gather = [M::H::ZERO; L];
    for &(c, b) in M::COUPLINGS {
        for k in lo..hi {
            if k + EDGE_PREFETCH < hi {
                let (e, j, _) = ctx.edge(i, k + EDGE_PREFETCH);
                let u = ctx.uniform[e];
                if u != u32::MAX {
                    ctx.prefetch_run(b, j, ctx.slot_back(cur, u as usize), len);
                }
            }
            let (e, j, w) = ctx.edge(i, k);
            let w = M::F::from_f64(w);
            let u = ctx.uniform[e];
            if u != u32::MAX {
                // The first `before` steps read the history before t0, where the ring does not
                // hold it.
                let before = if ctx.init.is_empty() {
                    0
                } else {
                    (u as usize).saturating_sub(step).min(len)
                };
                let (early, rest) = out.split_at_mut(before);
                if before > 0 {
                    let cs = ctx.init_row(b, j);
                    for o in early {
                        M::coupling_pre(c, w, cs, t, nn, step_dt, p, ys, d, &mut o.rows_mut()[c]);
                    }
                }
                let s0 = ctx.slot_ahead(ctx.slot_back(cur, u as usize), before);
                let first = (ctx.horizon - s0).min(rest.len());
                let (near, far) = rest.split_at_mut(first);
                let far_len = far.len();
                for (rows, outs) in [
                    (ctx.rows(b, j, s0, first), near),
                    (ctx.rows(b, j, 0, far_len), far),
                ] {
                    for (cs, o) in rows.iter().zip(outs.iter_mut()) {
                        M::coupling_pre(c, w, cs, t, nn, step_dt, p, ys, d, &mut o.rows_mut()[c]);
                    }
                }
            } else {
                for (ahead, o) in out.iter_mut().enumerate() {
                    let cs = ctx.sources(cur, b, j, e, u, ahead, false, &mut gather);
                    M::coupling_pre(c, w, cs, t, nn, step_dt, p, ys, d, &mut o.rows_mut()[c]);
                }
            }
        }
    }
}

/// The value of history buffer `b` for lane `l` of a node.
#[inline(always)]
fn buffered_value<M: Model<L>, const L: usize>(
    b: Buffered,
    y: &M::States,
    free: &M::Derived,
    l: usize,
) -> M::H {
    match b {
        Buffered::State(s) => y.rows()[s][l].cast(),
        Buffered::Derived(k) => free.rows()[k][l].cast(),
    }
}

/// What the threads integrating one block share: set up once by the calling thread, then only
/// read, but for the history, whose rows of the current step each thread writes for its own
/// nodes (through [`BlockCtx::put`]) between two barriers.
struct Block<'a, M: Model<L>, const L: usize> {
    ctx: BlockCtx<'a, M::H, L>,
    /// The first instance and the number of instances of the block.
    first: usize,
    n: usize,
    /// The parameters in the kernel's arithmetic.
    p: M::Params,
    /// The states of every node at the start.
    y0: Vec<M::States>,
    /// Steps whose coupling sums one pass over the edges computes.
    t_block: usize,
    series: &'a [RfSeries],
    record: &'a [u32],
    thresholds: Vec<f64>,
    /// Present when several threads share the nodes.
    barrier: Option<SpinBarrier>,
    /// The observers (BOLD, FC, FCD), when asked for.
    observe: Option<BlockObserve<L>>,
}

/// Whether the observers' arguments agree with the run's: counts that fit the steps, a driver
/// among the `n_values` values, and the FC array.
fn observe_is_valid(o: &RfObserve, a: &RfArgs, n_values: usize) -> bool {
    let bold_steps = o.n_tr.checked_mul(o.tr_every);
    (o.driver as usize) < n_values
        && o.bold_every > 0
        && o.tr_every > 0
        && o.bold_dt.is_finite()
        && o.bold_dt > 0.0
        && o.hemodynamics.iter().all(|c| c.is_finite())
        && bold_steps.is_some_and(|b| b <= a.n_steps / o.bold_every)
        && (o.window == 0 || o.window_step > 0)
        && !o.fc.is_null()
        && (o.window == 0 || !o.fcd.is_null())
}

/// A block's observers: the BOLD samples of the current TR (each thread writes its nodes' rows;
/// the first thread reads them all after a barrier) and the FC and FCD accumulators (the first
/// thread's alone).
struct BlockObserve<const L: usize> {
    o: RfObserve,
    step: BalloonStep,
    /// BOLD steps in the run.
    n_bold: u64,
    /// `[node]`: the BOLD of the TR just sampled (memory of `_bold_now`).
    bold_now: *mut [f64; L],
    _bold_now: Vec<[f64; L]>,
    fc: std::cell::UnsafeCell<FcStream<L>>,
}

impl<const L: usize> BlockObserve<L> {
    /// The observers of a block of `nn` nodes, `None` when they do not fit in memory.
    fn new(o: &RfObserve, nn: usize) -> Option<Self> {
        let shape = ObserveShape {
            n: nn,
            n_tr: o.n_tr as usize,
            transient: o.transient as usize,
            window: o.window as usize,
            window_step: o.window_step as usize,
        };
        let mut bold_now = vec![[0.0; L]; nn];
        Some(BlockObserve {
            o: *o,
            step: BalloonStep::new(o.bold_dt, Hemodynamics::from_array(o.hemodynamics)),
            n_bold: o.n_tr * o.tr_every,
            bold_now: bold_now.as_mut_ptr(),
            _bold_now: bold_now,
            fc: std::cell::UnsafeCell::new(FcStream::new(shape)?),
        })
    }

    /// Adds TR sample `j` (every node's row written) to FC and FCD unless it is in the
    /// transient.
    ///
    /// # Safety
    ///
    /// Only the first thread calls this, after a barrier that follows the rows' writes and
    /// before the next one that precedes other writes.
    unsafe fn add(&self, j: u64, nn: usize) {
        if j >= self.o.transient {
            // SAFETY: as the caller promises; `bold_now` has `nn` rows.
            unsafe { (*self.fc.get()).add(std::slice::from_raw_parts(self.bold_now, nn)) };
        }
    }
}

// SAFETY: the block is read by every thread; the raw pointers it holds (the arguments' arrays and
// the history) are written only at places that one thread owns (its nodes' rows of the history,
// trace, statistics and final states), and the barriers order the history's writes before their
// reads.
unsafe impl<M: Model<L>, const L: usize> Sync for Block<'_, M, L> {}

impl<M: Model<L>, const L: usize> Block<'_, M, L> {
    /// The instance lane `l` integrates (unused lanes repeat the last instance).
    #[inline(always)]
    fn lane_instance(&self, l: usize) -> usize {
        self.first + if l < self.n { l } else { self.n - 1 }
    }

    /// The series values of `step` for nodes `nodes`.
    #[inline(always)]
    fn load_series(
        &self,
        inputs: &mut [StepInputs<M, L>],
        nodes: std::ops::Range<usize>,
        step: u64,
    ) {
        let nn = self.ctx.nn;
        for (k, s) in self.series.iter().enumerate() {
            let row = step.min(s.n_rows.saturating_sub(1)) as usize;
            for node in nodes.clone() {
                for l in 0..L {
                    let col = match s.mode {
                        0 => 0,
                        1 => node,
                        2 => self.lane_instance(l),
                        _ => self.lane_instance(l) * nn + node,
                    };
                    // SAFETY: the series has `n_rows * n_cols` values and `col < n_cols`.
                    let v = unsafe { *s.data.add(row * s.n_cols as usize + col) };
                    inputs[node].u.rows_mut()[k][l] = M::F::from_f64(v);
                }
            }
        }
    }

    /// Waits for the other threads sharing the nodes (none: returns at once).
    #[inline(always)]
    fn sync(&self) {
        if let Some(b) = &self.barrier {
            b.wait();
        }
    }
}

/// Integrates instances `first .. first + n` (`n <= L`); unused lanes repeat the last instance.
/// `history` is the memory of the history ring, kept for the next block. With `workers > 1`
/// threads share the block's nodes (each a contiguous range, the calling thread the first),
/// meeting at two barriers per step; every node's arithmetic is the same as with one thread, so
/// the results are the same bits. Returns 0, 1 when the history does not fit in memory, 2 when
/// cancelled (after writing what is done), or 3 when a parameter differs from its compiled-in
/// value.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn run_block<M: Model<L>, const L: usize, const SOLVER: u32>(
    a: &RfArgs,
    first: usize,
    n: usize,
    history: &mut HistoryBuffer<M::H>,
    workers: usize,
) -> i32 {
    let n_state = <M::States as Lanes<M::F, L>>::LEN;
    let n_param = <M::Params as Lanes<M::F, L>>::LEN;
    let n_series = <M::Series as Lanes<M::F, L>>::LEN;
    let n_coupling = M::COUPLINGS.len();
    let n_buffered = M::BUFFERED.len();
    let total = a.n_instances as usize;
    let nn = if M::NETWORK { a.n_nodes as usize } else { 1 };
    let lane_instance = |l: usize| first + if l < n { l } else { n - 1 };
    // Parameters in float64 (delays are set up from them) and in the kernel's arithmetic.
    let mut p64 = vec![[0.0f64; L]; n_param];
    let mut p = M::Params::zeroed();
    for k in 0..n_param {
        for l in 0..L {
            // SAFETY: `params` has `n_param * n_instances` values.
            p64[k][l] = unsafe { *a.params.add(k * total + lane_instance(l)) };
            p.rows_mut()[k][l] = M::F::from_f64(p64[k][l]);
        }
    }
    for &(k, v) in M::INLINED {
        for l in 0..n {
            // SAFETY: as above.
            if unsafe { *a.params.add(k * total + first + l) } != v {
                return 3;
            }
        }
    }
    // States of every node: y[node].rows()[s][l].
    let mut y: Vec<M::States> = vec![M::States::zeroed(); nn];
    for node in 0..nn {
        for s in 0..n_state {
            for l in 0..L {
                // SAFETY: `init` has `n_state * n_nodes * n_instances` values.
                let v = unsafe { *a.init.add((s * nn + node) * total + lane_instance(l)) };
                y[node].rows_mut()[s][l] = M::F::from_f64(v);
            }
        }
    }
    let (dt, t0) = (a.dt, a.t0);
    // Delays in steps, and the history's length.
    let mut ctx = BlockCtx::<M::H, L> {
        a,
        nn,
        horizon: 1,
        history: std::mem::take(history),
        hist: std::ptr::null_mut(),
        delay: vec![0; M::DELAYS.len() * L],
        uniform: Vec::new(),
        same_delay: u32::MAX,
        edge_delay: Vec::new(),
        init: Vec::new(),
    };
    let mut max_delay = 0usize;
    let cap = delay_cap(a.n_steps);
    for (k, &(param, _)) in M::DELAYS.iter().enumerate() {
        for l in 0..L {
            let d = delay_steps(p64[param][l], dt).min(cap);
            ctx.delay[k * L + l] = d;
            max_delay = max_delay.max(d);
        }
    }
    let n_edges = ctx.n_edges(M::NETWORK);
    if M::NETWORK && n_coupling > 0 {
        ctx.uniform = vec![u32::MAX; n_edges];
        let mut per_lane = [0usize; L];
        for e in 0..n_edges {
            // SAFETY: `distance` has a value per edge.
            let dist = unsafe { *a.distance.add(e) };
            for l in 0..L {
                per_lane[l] = M::edge_delay(l, dist, dt, nn as f64, &p64).min(cap);
                max_delay = max_delay.max(per_lane[l]);
            }
            if per_lane.iter().all(|&d| d == per_lane[0]) && per_lane[0] < u32::MAX as usize {
                ctx.uniform[e] = per_lane[0] as u32;
            } else {
                if ctx.edge_delay.is_empty() {
                    ctx.edge_delay = vec![0; n_edges * L];
                }
                for l in 0..L {
                    ctx.edge_delay[e * L + l] = per_lane[l] as u32;
                }
            }
        }
    }
    ctx.horizon = max_delay + 1;
    if let Some(&d) = ctx.uniform.first()
        && ctx.uniform.iter().all(|&u| u == d)
    {
        ctx.same_delay = d;
    }
    // Couplings whose `pre` reads only the source are summed for up to T_BLOCK steps at a time
    // when every edge is delayed by at least that many steps (the values they read are then
    // already in the history): each edge reads a run of consecutive slots, which the memory
    // system streams, instead of one slot per step.
    let mut t_block = 1usize;
    if M::NETWORK && n_coupling > 0 && M::PRE_SOURCE_ONLY && a.dense == 0 {
        let d_min = (0..n_edges)
            .map(|e| match ctx.uniform[e] {
                u32::MAX => (0..L)
                    .map(|l| ctx.edge_delay[e * L + l] as usize)
                    .min()
                    .unwrap_or(0),
                u => u as usize,
            })
            .min();
        if let Some(d) = d_min {
            t_block = d.clamp(1, T_BLOCK);
        }
    }
    // The history before t0 is kept once per (buffer, node) rather than written into every slot
    // of the ring (for every block) when only the sums read ahead read the history: no delayed
    // variable, every edge's delay the same in every lane, no edge shorter than two steps.
    let lazy = n_buffered > 0 && t_block > 1 && M::DELAYS.is_empty() && ctx.edge_delay.is_empty();
    if lazy {
        ctx.init = vec![M::H::ZERO; n_buffered * nn * L];
    }
    // Otherwise every slot is written below unless the history before t0 is zero.
    let len = history_len(n_buffered, nn, ctx.horizon, L);
    if !len.is_some_and(|len| ctx.history.prepare(len, M::HISTORY_ZERO && !lazy)) {
        *history = ctx.history;
        return 1;
    }
    ctx.hist = ctx.history.as_mut_ptr();
    let series: &[RfSeries] = if n_series == 0 {
        &[]
    } else {
        // SAFETY: `series` has one entry per model series (checked non-null by `run`).
        unsafe { std::slice::from_raw_parts(a.series, n_series) }
    };
    let record: &[u32] = if a.n_record == 0 {
        &[]
    } else {
        // SAFETY: `record` has `n_record` entries.
        unsafe { std::slice::from_raw_parts(a.record, a.n_record as usize) }
    };
    let thresholds: Vec<f64> = (0..record.len())
        .map(|r| {
            if a.thresholds.is_null() {
                f64::NAN
            } else {
                // SAFETY: `thresholds` has `n_record` entries.
                unsafe { *a.thresholds.add(r) }
            }
        })
        .collect();
    let workers = workers.clamp(1, nn);
    // SAFETY: null or valid (the ABI).
    let observe = match unsafe { a.observe.as_ref() } {
        None => None,
        Some(o) => match BlockObserve::new(o, nn) {
            Some(b) => Some(b),
            None => {
                *history = ctx.history;
                return 1;
            }
        },
    };
    let block = Block::<M, L> {
        ctx,
        first,
        n,
        p,
        y0: Vec::new(),
        t_block,
        series,
        record,
        thresholds,
        barrier: (workers > 1).then(|| SpinBarrier::new(workers)),
        observe,
    };
    let mut block = block;
    let mut inputs = new_inputs::<M, L>(nn, dt);
    let mut free: Vec<M::Derived> = vec![M::Derived::zeroed(); nn];
    // States that start at another variable's value at t0 (stages of distributed delays).
    if !M::INIT_FROM.is_empty() {
        block.load_series(&mut inputs, 0..nn, 0);
        for node in 0..nn {
            let y0 = y[node];
            M::derived_free(t0, &block.p, &inputs[node], &y0, &mut free[node]);
            for &(s, from) in M::INIT_FROM {
                for l in 0..L {
                    y[node].rows_mut()[s][l] = if M::HISTORY_ZERO {
                        M::F::ZERO
                    } else {
                        match from {
                            Buffered::State(k) => y0.rows()[k][l],
                            Buffered::Derived(k) => free[node].rows()[k][l],
                        }
                    };
                }
            }
        }
    }
    // History before t0: the value at t0, or zero.
    if n_buffered > 0 && !M::HISTORY_ZERO {
        block.load_series(&mut inputs, 0..nn, 0);
        for node in 0..nn {
            M::derived_free(t0, &block.p, &inputs[node], &y[node], &mut free[node]);
            for (b, &which) in M::BUFFERED.iter().enumerate() {
                let mut row = [M::H::ZERO; L];
                for (l, v) in row.iter_mut().enumerate() {
                    *v = buffered_value::<M, L>(which, &y[node], &free[node], l);
                }
                let ctx = &mut block.ctx;
                if ctx.init.is_empty() {
                    for slot in 0..ctx.horizon {
                        ctx.put_row(b, node, slot, row);
                    }
                } else {
                    let at = (b * nn + node) * L;
                    ctx.init[at..at + L].copy_from_slice(&row);
                }
            }
        }
    }
    block.y0 = y;
    let status = if workers == 1 {
        // SAFETY: as the caller promises.
        unsafe { integrate::<M, L, SOLVER>(&block, 0, 1) }
    } else {
        let block = &block;
        std::thread::scope(|s| {
            for w in 1..workers {
                // SAFETY: as the caller promises; each worker owns its nodes.
                s.spawn(move || unsafe { integrate::<M, L, SOLVER>(block, w, workers) });
            }
            // SAFETY: as above.
            unsafe { integrate::<M, L, SOLVER>(block, 0, workers) }
        })
    };
    *history = block.ctx.history;
    status
}

/// The values of a history ring of `n_buffered` buffers, `nn` nodes, `horizon` slots and `lanes`
/// lanes (`None` when the count overflows): its bytes per instance are
/// `n_buffered * nn * horizon * size_of::<H>()` for a block of as many instances as lanes.
pub fn history_len(n_buffered: usize, nn: usize, horizon: usize, lanes: usize) -> Option<usize> {
    [nn, horizon, lanes]
        .iter()
        .try_fold(n_buffered, |acc, &k| acc.checked_mul(k))
}

/// Every node's inputs of a step, zeroed.
fn new_inputs<M: Model<L>, const L: usize>(nn: usize, dt: f64) -> Vec<StepInputs<M, L>> {
    (0..nn)
        .map(|_| StepInputs {
            u: M::Series::zeroed(),
            q: M::Delayed::zeroed(),
            c: M::Couplings::zeroed(),
            nn: M::F::from_f64(nn as f64),
            dt: M::F::from_f64(dt),
        })
        .collect()
}

/// The time loop of one block for the nodes of `worker` (of `workers`, sharing the nodes in
/// contiguous ranges). Returns 0, or 2 when cancelled.
///
/// # Safety
///
/// As [`run`]; every worker of the block runs this with the same `block` at the same time.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn integrate<M: Model<L>, const L: usize, const SOLVER: u32>(
    block: &Block<'_, M, L>,
    worker: usize,
    workers: usize,
) -> i32 {
    let ctx = &block.ctx;
    let a = ctx.a;
    let (first, n, p, t_block) = (block.first, block.n, &block.p, block.t_block);
    let n_state = <M::States as Lanes<M::F, L>>::LEN;
    let n_series = <M::Series as Lanes<M::F, L>>::LEN;
    let n_noisy = <M::Noise as Lanes<M::F, L>>::LEN;
    let n_derived = <M::Derived as Lanes<M::F, L>>::LEN;
    let n_coupling = M::COUPLINGS.len();
    let n_buffered = M::BUFFERED.len();
    let total = a.n_instances as usize;
    let nn = ctx.nn;
    // Contiguous ranges; with a dense connectivity, whole groups of targets.
    let split = |w: usize| {
        let at = nn * w / workers;
        if a.dense != 0 && w < workers {
            at / DENSE_GROUP * DENSE_GROUP
        } else {
            at
        }
    };
    let nodes = split(worker)..split(worker + 1);
    let lead = worker == 0;
    let (dt, t0) = (a.dt, a.t0);
    // Per-node arrays are indexed by node; this worker touches only its own.
    let mut y = block.y0.clone();
    let mut inputs = new_inputs::<M, L>(nn, dt);
    let mut free: Vec<M::Derived> = vec![M::Derived::zeroed(); nn];
    let mut ahead: Vec<M::Couplings> = if t_block > 1 {
        vec![M::Couplings::zeroed(); nn * t_block]
    } else {
        Vec::new()
    };
    let mut block_left = 0usize;
    let mut block_k = 0usize;
    let mut cur = 0usize;
    let record = block.record;
    let n_record = record.len();
    let needs_derived = record.iter().any(|&v| v as usize >= n_state);
    let mut dv = M::Derived::zeroed();
    let mut g = M::Noise::zeroed();
    let mut eta = M::Noise::zeroed();
    let mut scratch = Scratch::<M, L> {
        k1: M::States::zeroed(),
        tmp: M::States::zeroed(),
    };
    let sqrt_dt = dt.sqrt();
    let every = a.record_every.max(1);
    // Statistics: [r * nn + node], over samples numbered from `transient_samples` on.
    let with_stats = !a.stats.is_null();
    let mut stats: Vec<LaneStats<L>> = if with_stats {
        vec![LaneStats::default(); n_record * nn]
    } else {
        Vec::new()
    };
    let mut sample = 0u64;
    let mut until_sample = 0u64;
    // Observers: this worker's nodes' hemodynamic states, the BOLD step due, the TR sample
    // waiting for the first thread.
    let observe = block.observe.as_ref();
    let mut balloons: Vec<Balloon<L>> = if observe.is_some() {
        vec![Balloon::rest(); nn]
    } else {
        Vec::new()
    };
    let mut bold_k = 0u64;
    let mut until_bold = 0u64;
    let mut tr_pending: Option<u64> = None;

    let mut step: u64 = 0;
    let mut status = 0;
    loop {
        let tn = t0 + step as f64 * dt;
        if let (Some(j), Some(o)) = (tr_pending.take(), observe)
            && lead
        {
            // SAFETY: the barrier at the end of the last step ordered every row's write before
            // this; no thread writes rows before the barrier below.
            unsafe { o.add(j, nn) };
        }
        // 1. Series; 2. the history entry of this step.
        if n_series > 0 {
            block.load_series(&mut inputs, nodes.clone(), step);
        }
        if n_buffered > 0 {
            for node in nodes.clone() {
                M::derived_free(tn, p, &inputs[node], &y[node], &mut free[node]);
                for (b, &which) in M::BUFFERED.iter().enumerate() {
                    let mut row = [M::H::ZERO; L];
                    for (l, v) in row.iter_mut().enumerate() {
                        *v = buffered_value::<M, L>(which, &y[node], &free[node], l);
                    }
                    ctx.put_row(b, node, cur, row);
                }
            }
        }
        // Every node's entry is in before any edge reads it.
        block.sync();
        // 3. Delayed values and couplings.
        for node in nodes.clone() {
            let x = &mut inputs[node];
            for (k, &(_, b)) in M::DELAYS.iter().enumerate() {
                for l in 0..L {
                    let slot = ctx.slot_back(cur, ctx.delay[k * L + l]);
                    x.q.rows_mut()[k][l] = ctx.get(ctx.at(b, node, slot) + l).cast();
                }
            }
        }
        if n_coupling > 0 && t_block > 1 {
            // The sums of the next steps, read as runs of consecutive history slots.
            if block_left == 0 {
                let len = t_block.min((a.n_steps - step + 1) as usize);
                for node in nodes.clone() {
                    let at = node * t_block;
                    coupling_sums_ahead::<M, L>(
                        node,
                        ctx,
                        cur,
                        step as usize,
                        p,
                        &y[node],
                        &free[node],
                        &mut ahead[at..at + len],
                    );
                }
                block_left = len;
                block_k = 0;
            }
            let t = M::F::from_f64(tn);
            let nnf = M::F::from_f64(nn as f64);
            let step_dt = M::F::from_f64(dt);
            for node in nodes.clone() {
                let gx = &ahead[node * t_block + block_k];
                for &(c, _) in M::COUPLINGS {
                    let mut out = [M::F::ZERO; L];
                    M::coupling_post(c, t, nnf, step_dt, &gx.rows()[c], p, &mut out);
                    inputs[node].c.rows_mut()[c] = out;
                }
            }
            block_k += 1;
            block_left -= 1;
        } else if n_coupling > 0 {
            let mut node = nodes.start;
            if a.dense != 0 {
                // Worker ranges start at a whole group.
                debug_assert_eq!(node % DENSE_GROUP, 0);
                while node + DENSE_GROUP <= nodes.end {
                    couplings_of_dense_group::<M, L>(node, ctx, cur, tn, p, &y, &free, &mut inputs);
                    node += DENSE_GROUP;
                }
            }
            for node in node..nodes.end {
                let mut c = M::Couplings::zeroed();
                couplings_of_node::<M, L>(node, ctx, cur, tn, p, &y[node], &free[node], &mut c);
                inputs[node].c = c;
            }
        }
        // 4. Samples, noise; 5. the solver, node by node.
        let sampling = until_sample == 0;
        let counting = sampling && with_stats && sample >= a.transient_samples;
        for node in nodes.clone() {
            if sampling {
                if needs_derived {
                    M::derived(tn, p, &inputs[node], &y[node], &mut dv);
                }
                for (r, &v) in record.iter().enumerate() {
                    let v = v as usize;
                    let row = if v < n_state {
                        &y[node].rows()[v]
                    } else {
                        &dv.rows()[v - n_state]
                    };
                    let mut values = [0.0f64; L];
                    for (v, x) in values.iter_mut().zip(row) {
                        *v = x.to_f64();
                    }
                    if !a.trace.is_null() {
                        let at = ((sample as usize * n_record + r) * nn + node) * total + first;
                        // SAFETY: the trace has `n_samples * n_record * n_nodes * n_instances`
                        // values; this thread owns instances first..first+n of its nodes.
                        let out = unsafe { std::slice::from_raw_parts_mut(a.trace.add(at), n) };
                        out.copy_from_slice(&values[..n]);
                    }
                    if counting {
                        stats[r * nn + node].add(&values, block.thresholds[r]);
                    }
                }
            }
            if let Some(o) = observe
                && until_bold == 0
                && bold_k < o.n_bold
            {
                let v = o.o.driver as usize;
                let row = if v < n_state {
                    &y[node].rows()[v]
                } else {
                    M::derived(tn, p, &inputs[node], &y[node], &mut dv);
                    &dv.rows()[v - n_state]
                };
                let mut x = [0.0f64; L];
                for (x, v) in x.iter_mut().zip(row) {
                    *x = v.to_f64();
                }
                balloons[node].step(&x, &o.step);
                if (bold_k + 1).is_multiple_of(o.o.tr_every) {
                    let j = (bold_k + 1) / o.o.tr_every - 1;
                    let bold = balloons[node].bold(&o.step);
                    // SAFETY: `bold_now` has a row per node; this worker owns `node`'s.
                    unsafe { o.bold_now.add(node).write(bold) };
                    if !o.o.bold.is_null() {
                        let at = (j as usize * nn + node) * total + first;
                        // SAFETY: the BOLD array has `n_tr * n_nodes * n_instances` values;
                        // this thread owns instances first..first+n of its nodes.
                        let out = unsafe { std::slice::from_raw_parts_mut(o.o.bold.add(at), n) };
                        out.copy_from_slice(&bold[..n]);
                    }
                }
            }
            if step == a.n_steps {
                continue;
            }
            if n_noisy > 0 {
                if n_derived > 0 {
                    M::derived(tn, p, &inputs[node], &y[node], &mut dv);
                }
                M::noise(tn, p, &inputs[node], &y[node], &dv, &mut g);
                for q in 0..n_noisy {
                    for l in 0..L {
                        let i = if a.shared_noise != 0 {
                            0
                        } else {
                            a.instance_offset + block.lane_instance(l) as u64
                        };
                        let node = node as u64;
                        let z = if M::FUSED {
                            crate::rng::normal_with::<true>(a.seed, i, node, step, q as u32)
                        } else {
                            crate::rng::normal_with::<false>(a.seed, i, node, step, q as u32)
                        };
                        eta.rows_mut()[q][l] = g.rows()[q][l] * M::F::from_f64(sqrt_dt * z);
                    }
                }
            }
            step_node::<M, L, SOLVER>(
                t0,
                dt,
                step,
                p,
                &inputs[node],
                &mut y[node],
                &eta,
                &mut scratch,
            );
        }
        if sampling {
            sample += 1;
            until_sample = every;
        }
        until_sample -= 1;
        if let Some(o) = observe {
            if until_bold == 0 && bold_k < o.n_bold {
                if (bold_k + 1).is_multiple_of(o.o.tr_every) {
                    tr_pending = Some((bold_k + 1) / o.o.tr_every - 1);
                }
                bold_k += 1;
                until_bold = o.o.bold_every;
            }
            until_bold = until_bold.saturating_sub(1);
        }
        if step == a.n_steps {
            break;
        }
        step += 1;
        cur = if cur + 1 == ctx.horizon { 0 } else { cur + 1 };
        let check = step & (CHECK_EVERY - 1) == 0;
        if check && lead {
            if !a.progress.is_null() {
                // SAFETY: a valid counter (the ABI).
                unsafe { &*a.progress }.fetch_add(CHECK_EVERY * n as u64, Ordering::Relaxed);
            }
            // SAFETY: a valid flag (the ABI).
            if !a.cancel.is_null() && unsafe { &*a.cancel }.load(Ordering::Relaxed) {
                match &block.barrier {
                    Some(b) => b.request_stop(),
                    None => status = 2,
                }
            }
        }
        // No worker writes the next step's history entries before every edge has read this
        // step's (the oldest slot is overwritten), and all see the same stop request.
        block.sync();
        if check && block.barrier.as_ref().is_some_and(SpinBarrier::stopping) {
            status = 2;
        }
        if status == 2 {
            break;
        }
    }
    if status == 0 && lead && !a.progress.is_null() {
        // SAFETY: as above.
        unsafe { &*a.progress }.fetch_add(
            (a.n_steps & (CHECK_EVERY - 1)) * n as u64,
            Ordering::Relaxed,
        );
    }
    for node in nodes.clone() {
        for s in 0..n_state {
            for l in 0..n {
                let at = (s * nn + node) * total + first + l;
                // SAFETY: `final_state` has `n_state * n_nodes * n_instances` values.
                unsafe { *a.final_state.add(at) = y[node].rows()[s][l].to_f64() };
            }
        }
    }
    if let Some(o) = observe
        && lead
    {
        if let Some(j) = tr_pending {
            // SAFETY: the run stopped after a barrier that followed the rows' writes.
            unsafe { o.add(j, nn) };
        }
        // SAFETY: the first thread alone uses the accumulators.
        let fc = unsafe { &*o.fc.get() };
        for l in 0..n {
            // SAFETY: FC has `n_nodes^2 * n_instances` values and FCD `n_windows^2 *
            // n_instances`; this thread owns instances first..first+n.
            fc.write_fc(l, &mut |k, v| unsafe {
                *o.o.fc.add(k * total + first + l) = v
            });
            if o.o.window > 0 {
                fc.write_fcd(l, &mut |k, v| unsafe {
                    *o.o.fcd.add(k * total + first + l) = v
                });
            }
        }
    }
    if lead && !a.steps_done.is_null() {
        for l in 0..n {
            // SAFETY: `steps_done` has `n_instances` values.
            unsafe { *a.steps_done.add(first + l) = step };
        }
    }
    if with_stats {
        let interval = every as f64 * dt;
        for r in 0..n_record {
            for node in nodes.clone() {
                for l in 0..n {
                    let values = stats[r * nn + node].finish(l, interval);
                    for (k, v) in values.iter().enumerate().take(N_STATS) {
                        let at = ((k * n_record + r) * nn + node) * total + first + l;
                        // SAFETY: `stats` has `N_STATS * n_record * n_nodes * n_instances` values.
                        unsafe { *a.stats.add(at) = *v };
                    }
                }
            }
        }
    }
    status
}

/// `round_half_even(time / dt)` as a number of steps (0 for negative, NaN or infinite values).
#[inline(always)]
pub fn delay_steps(time: f64, dt: f64) -> usize {
    whole_steps(time / dt)
}

/// The longest delay, in steps, that a run of `n_steps` steps keeps. A delay longer than the
/// run only ever reads the history before `t0`, which is constant (the initial values, or zero),
/// so every backend caps delays here: no value changes, and the history ring (its memory) is
/// never longer than the run, whatever delay or conduction speed the input gives.
#[inline]
pub fn delay_cap(n_steps: u64) -> usize {
    usize::try_from(n_steps.saturating_add(2)).unwrap_or(usize::MAX)
}

/// `round_half_even(steps)` as a number of steps (0 for negative, NaN or infinite values).
#[inline(always)]
pub fn whole_steps(steps: f64) -> usize {
    let d = steps.round_ties_even();
    if d.is_finite() && d > 0.0 {
        d as usize
    } else {
        0
    }
}

/// `x` clamped to `[lo, hi]`; NaN stays NaN (every backend uses these comparisons).
#[inline(always)]
pub fn clamp_value(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}
