//! Running kernels: what to run ([`Launch`]), what comes back ([`Outcome`]), the checks every
//! backend makes first, and [`run_native`], which spreads a Rust kernel's lane blocks over all
//! cores (a kernel in a shared library or linked into the binary: the same entry point,
//! `rf_run_<suffix>`).

use crate::error::RuntimeError;
use crate::observe::{ObserveRequest, Observed};
use rateforge_kernel::Solver;
use rateforge_kernel::abi::{N_STATS, RfArgs, RfInfo, RfObserve, RfSeries};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64};

/// Which column of a series an (instance, node) reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesColumns {
    /// One column for everything.
    Shared,
    /// One column per node.
    PerNode,
    /// One column per instance.
    PerInstance,
    /// One column per (instance, node): column `instance * n_nodes + node`.
    PerInstanceAndNode,
}

impl SeriesColumns {
    /// The `mode` of [`RfSeries`].
    pub fn code(self) -> u32 {
        match self {
            SeriesColumns::Shared => 0,
            SeriesColumns::PerNode => 1,
            SeriesColumns::PerInstance => 2,
            SeriesColumns::PerInstanceAndNode => 3,
        }
    }

    /// The column instance `instance`, node `node` reads.
    pub fn column(self, instance: usize, node: usize, n_nodes: usize) -> usize {
        match self {
            SeriesColumns::Shared => 0,
            SeriesColumns::PerNode => node,
            SeriesColumns::PerInstance => instance,
            SeriesColumns::PerInstanceAndNode => instance * n_nodes + node,
        }
    }

    fn n_cols(self, n_instances: usize, n_nodes: usize) -> usize {
        match self {
            SeriesColumns::Shared => 1,
            SeriesColumns::PerNode => n_nodes,
            SeriesColumns::PerInstance => n_instances,
            SeriesColumns::PerInstanceAndNode => n_instances * n_nodes,
        }
    }
}

/// A time series for a run: row-major `n_rows x n_cols`, one row per step.
#[derive(Clone, Debug)]
pub struct SeriesData<'a> {
    /// The values.
    pub data: &'a [f64],
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_cols: usize,
    /// Which column an (instance, node) reads.
    pub columns: SeriesColumns,
}

/// A network's connectivity by target node (compressed rows): the edges into node `i` are
/// `row_start[i] .. row_start[i + 1]`, in increasing source order, with nonzero weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Connectivity {
    /// Number of nodes.
    pub n_nodes: usize,
    /// `n_nodes + 1` offsets.
    pub row_start: Vec<usize>,
    /// Source node of each edge.
    pub source: Vec<usize>,
    /// Weight of each edge.
    pub weight: Vec<f64>,
    /// Distance of each edge (a tract length, or a delay in time units with speed 1).
    pub distance: Vec<f64>,
}

impl Connectivity {
    /// From dense `n x n` matrices (row = target, column = source), keeping nonzero weights.
    pub fn from_dense(n: usize, weights: &[f64], distances: &[f64]) -> Connectivity {
        // Sized once: a dense matrix of millions of edges is not copied as the vectors grow.
        let edges = weights[..n * n].iter().filter(|&&w| w != 0.0).count();
        let mut row_start = Vec::with_capacity(n + 1);
        row_start.push(0);
        let mut c = Connectivity {
            n_nodes: n,
            row_start,
            source: Vec::with_capacity(edges),
            weight: Vec::with_capacity(edges),
            distance: Vec::with_capacity(edges),
        };
        for i in 0..n {
            for j in 0..n {
                let w = weights[i * n + j];
                if w != 0.0 {
                    c.source.push(j);
                    c.weight.push(w);
                    c.distance.push(distances[i * n + j]);
                }
            }
            c.row_start.push(c.source.len());
        }
        c
    }

    /// One node without edges (a network model run without a connectivity).
    pub fn single_node() -> Connectivity {
        Connectivity::from_dense(1, &[0.0], &[0.0])
    }

    /// The connectivity as bytes (little-endian: nodes, edges, `row_start`, sources, weights,
    /// distances), for embedding in a binary ([`Connectivity::from_le_bytes`] reads them).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let ne = self.weight.len();
        let mut out = Vec::with_capacity(8 * (2 + self.n_nodes + 1 + 3 * ne));
        let mut word = |w: u64| out.extend_from_slice(&w.to_le_bytes());
        word(self.n_nodes as u64);
        word(ne as u64);
        self.row_start.iter().for_each(|&x| word(x as u64));
        self.source.iter().for_each(|&x| word(x as u64));
        self.weight.iter().for_each(|&x| word(x.to_bits()));
        self.distance.iter().for_each(|&x| word(x.to_bits()));
        out
    }

    /// Reads [`Connectivity::to_le_bytes`]; `None` when the bytes are not such a connectivity.
    pub fn from_le_bytes(bytes: &[u8]) -> Option<Connectivity> {
        let mut words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
        let n = usize::try_from(words.next()?).ok()?;
        let ne = usize::try_from(words.next()?).ok()?;
        if bytes.len() != 8 * (2 + n.checked_add(1)? + ne.checked_mul(3)?) {
            return None;
        }
        let mut take = |k: usize| -> Vec<u64> { words.by_ref().take(k).collect() };
        let row_start = take(n + 1).into_iter().map(|x| x as usize).collect();
        let source = take(ne).into_iter().map(|x| x as usize).collect();
        let weight = take(ne).into_iter().map(f64::from_bits).collect();
        let distance = take(ne).into_iter().map(f64::from_bits).collect();
        Some(Connectivity {
            n_nodes: n,
            row_start,
            source,
            weight,
            distance,
        })
    }

    /// Fraction of nonzero entries.
    pub fn density(&self) -> f64 {
        self.weight.len() as f64 / ((self.n_nodes * self.n_nodes).max(1)) as f64
    }

    /// The dense `n x n` weights and distances (zeros where there is no edge).
    pub fn to_dense(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.n_nodes;
        let (mut w, mut d) = (vec![0.0; n * n], vec![0.0; n * n]);
        for i in 0..n {
            for e in self.row_start[i]..self.row_start[i + 1] {
                w[i * n + self.source[e]] = self.weight[e];
                d[i * n + self.source[e]] = self.distance[e];
            }
        }
        (w, d)
    }
}

/// Progress counter and cancellation flag shared with a running simulation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Controls<'a> {
    /// Incremented by instance-steps done.
    pub progress: Option<&'a AtomicU64>,
    /// Set it to stop the run; the result is then marked partial.
    pub cancel: Option<&'a AtomicBool>,
}

/// Above this density the kernel loops over dense rows instead of compressed ones.
pub const DENSE_ABOVE: f64 = 0.5;

/// Why a kernel refuses to record a value it does not compute (its status 4).
pub const UNCOMPUTED: &str = "a recorded or observed value reads a coupling that this kernel does not compute (a parameter compiled in as zero gates it off); build the kernel again with that value among its records";

/// How the threads of a CPU run share the work of a network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parallel {
    /// Chosen from the sizes of the run ([`Parallel::plan`]).
    #[default]
    Auto,
    /// Each thread integrates whole lane blocks of instances.
    Instances,
    /// The threads share the nodes of each lane block, meeting twice per step.
    Nodes,
}

/// Below this much work per step of a lane block (edges and nodes, times lanes) the two barriers
/// per step that sharing nodes costs outweigh what a second thread brings.
pub const NODE_PARALLEL_MIN_WORK: usize = 4096;

impl Parallel {
    /// The name of the choice on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Parallel::Auto => "auto",
            Parallel::Instances => "instances",
            Parallel::Nodes => "nodes",
        }
    }

    /// The choice named `name` on the command line.
    pub fn from_name(name: &str) -> Option<Parallel> {
        [Parallel::Auto, Parallel::Instances, Parallel::Nodes]
            .into_iter()
            .find(|p| p.name() == name)
    }

    /// How `threads` threads run `n` instances of `lanes`-lane blocks of a network of `nodes`
    /// nodes and `edges` edges: the kernel calls, each `(first, end, node_threads)`. Instances
    /// are spread over the threads in whole blocks while there are at least as many blocks as
    /// threads (or the network is too small to share: [`NODE_PARALLEL_MIN_WORK`]); with fewer
    /// blocks, each block gets `threads / blocks` threads that share its nodes. A single node,
    /// or `Instances`, never shares; `Nodes` always does.
    pub fn plan(
        self,
        n: usize,
        lanes: usize,
        nodes: usize,
        edges: usize,
        threads: usize,
    ) -> Vec<(u64, u64, u32)> {
        let lanes = lanes.max(1);
        let threads = threads.max(1);
        let blocks = n.div_ceil(lanes);
        let share = nodes > 1
            && threads > 1
            && match self {
                Parallel::Instances => false,
                Parallel::Nodes => true,
                Parallel::Auto => {
                    blocks < threads
                        && (edges + nodes).saturating_mul(lanes) >= NODE_PARALLEL_MIN_WORK
                }
            };
        if share {
            // One call per block at most, the threads divided among them.
            let calls = blocks.min(threads).max(1);
            let node_threads = (threads / calls).max(1) as u32;
            let per_call = blocks.div_ceil(calls);
            return (0..blocks)
                .step_by(per_call)
                .map(|b| {
                    let end = ((b + per_call) * lanes).min(n);
                    ((b * lanes) as u64, end as u64, node_threads)
                })
                .collect();
        }
        // Several chunks per thread balance uneven progress; chunks are whole lane blocks. A
        // network's blocks all cost the same, and a call reuses its delay history from block
        // to block: one chunk per thread.
        let per_thread = if nodes > 1 || edges > 0 { 1 } else { 4 };
        let chunk_blocks = blocks.div_ceil(threads * per_thread).max(1);
        (0..blocks)
            .step_by(chunk_blocks)
            .map(|b| {
                (
                    (b * lanes) as u64,
                    ((b + chunk_blocks) * lanes).min(n) as u64,
                    1,
                )
            })
            .collect()
    }
}

/// What to run. Arrays are structure-of-arrays, instance fastest: `params[k * n_instances + i]`,
/// `init[(s * n_nodes + node) * n_instances + i]`.
#[derive(Clone, Debug)]
pub struct Launch<'a> {
    /// Number of instances.
    pub n_instances: usize,
    /// Steps to integrate.
    pub n_steps: u64,
    /// Step size.
    pub dt: f64,
    /// Start time.
    pub t0: f64,
    /// Solver.
    pub solver: Solver,
    /// Record every this many steps.
    pub record_every: u64,
    /// Recorded ids: `< n_state` states, else derived `id - n_state`.
    pub record: &'a [u32],
    /// Parameters, `n_param * n_instances`.
    pub params: &'a [f64],
    /// Initial states, `n_state * n_nodes * n_instances`.
    pub init: &'a [f64],
    /// One per model series.
    pub series: &'a [SeriesData<'a>],
    /// The connectivity of a network model.
    pub connectivity: Option<&'a Connectivity>,
    /// Seed of the noise.
    pub seed: u64,
    /// Incremented by instance-steps done.
    pub progress: Option<&'a AtomicU64>,
    /// Stops the run when set.
    pub cancel: Option<&'a AtomicBool>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// How the threads share a network's work.
    pub parallel: Parallel,
    /// Keep every sample (else only the statistics and final states: memory O(instances)).
    pub trace: bool,
    /// Streaming statistics of the recorded values.
    pub stats: Option<StatsRequest>,
    /// BOLD, FC and FCD, computed inside the kernel.
    pub observe: Option<ObserveRequest>,
    /// Every instance draws the noise of instance 0 (common random numbers).
    pub shared_noise: bool,
    /// The global index of instance 0 (a shard of a larger run): noise is keyed by
    /// `instance_offset + i`.
    pub instance_offset: u64,
}

/// Which statistics a run streams (see `rateforge_kernel::stats`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsRequest {
    /// Samples before this one are the transient, left out.
    pub transient_samples: u64,
    /// Per recorded value, the threshold of the time above it (NaN: none).
    pub thresholds: Vec<f64>,
}

impl Launch<'_> {
    /// Samples per instance: steps 0, k, 2k, ... up to `n_steps`.
    pub fn n_samples(&self) -> usize {
        (self.n_steps / self.record_every.max(1)) as usize + 1
    }

    /// Nodes per instance.
    pub fn n_nodes(&self) -> usize {
        self.connectivity.map_or(1, |c| c.n_nodes)
    }
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Final states, `[(s * n_nodes + node) * n_instances + i]`.
    pub final_state: Vec<f64>,
    /// Samples, `[((sample * n_record + r) * n_nodes + node) * n_instances + i]`.
    pub trace: Vec<f64>,
    /// Samples per instance.
    pub n_samples: usize,
    /// Statistics, `[((k * n_record + r) * n_nodes + node) * n_instances + i]` (k in
    /// `rateforge_kernel::abi::STATS` order); empty unless requested.
    pub stats: Vec<f64>,
    /// Steps integrated per instance (all of them unless cancelled).
    pub steps_done: Vec<u64>,
    /// Whether the run was stopped early (the outputs are then incomplete: samples not reached
    /// are NaN, statistics cover the samples taken, `steps_done` says how far each instance got).
    pub cancelled: bool,
    /// BOLD, FC and FCD, when the launch asked for them.
    pub observed: Option<Observed>,
}

/// Model facts every backend checks a launch against.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// States.
    pub n_state: usize,
    /// Parameters.
    pub n_param: usize,
    /// Derived values.
    pub n_derived: usize,
    /// Series.
    pub n_series: usize,
    /// A network model.
    pub network: bool,
    /// The model has noise.
    pub noise: bool,
}

/// Checks a launch against a model's shape (what every backend does first).
pub fn check(launch: &Launch<'_>, shape: &Shape) -> Result<(), RuntimeError> {
    let n = launch.n_instances;
    let nn = launch.n_nodes();
    let bad = |m: String| Err(RuntimeError::Invalid(m));
    if n == 0 {
        return bad("a run needs at least one instance".into());
    }
    if !(launch.dt.is_finite() && launch.dt > 0.0) {
        return bad(format!(
            "the step size must be a positive number, found {}",
            launch.dt
        ));
    }
    if !launch.t0.is_finite() {
        return bad(format!(
            "the start time must be finite, found {}",
            launch.t0
        ));
    }
    if launch.record_every == 0 {
        return bad("the recording interval must be at least one step".into());
    }
    if shape.noise && launch.solver == Solver::Rk4 {
        return bad("the model has noise, and rk4 has no stochastic form; use euler (Euler-Maruyama) or heun (stochastic Heun)".into());
    }
    match (shape.network, launch.connectivity) {
        (true, None) => return bad("the model is a network: give a connectivity".into()),
        (false, Some(_)) => {
            return bad("the model is not a network, but a connectivity was given".into());
        }
        (_, Some(c)) => {
            if c.n_nodes == 0 || c.n_nodes > u32::MAX as usize {
                return bad(format!(
                    "a network needs between 1 and 2^32 nodes, found {}",
                    c.n_nodes
                ));
            }
            let ne = c.weight.len();
            let ok = c.row_start.len() == c.n_nodes + 1
                && c.row_start[0] == 0
                && c.row_start.windows(2).all(|w| w[0] <= w[1])
                && c.row_start[c.n_nodes] == ne
                && c.source.len() == ne
                && c.distance.len() == ne
                && c.source.iter().all(|&j| j < c.n_nodes);
            if !ok {
                return bad(
                    "the connectivity is malformed (rows, sources and weights do not match)".into(),
                );
            }
        }
        (false, None) => {}
    }
    if launch.params.len() != shape.n_param * n {
        return bad(format!(
            "expected {} parameter values ({} x {n} instances), found {}",
            shape.n_param * n,
            shape.n_param,
            launch.params.len()
        ));
    }
    if launch.init.len() != shape.n_state * nn * n {
        return bad(format!(
            "expected {} initial values ({} states x {nn} nodes x {n} instances), found {}",
            shape.n_state * nn * n,
            shape.n_state,
            launch.init.len()
        ));
    }
    if launch.series.len() != shape.n_series {
        return bad(format!(
            "the model has {} time series inputs, {} were given",
            shape.n_series,
            launch.series.len()
        ));
    }
    for (k, s) in launch.series.iter().enumerate() {
        if s.n_rows == 0
            || s.n_cols == 0
            || s.data.len() != s.n_rows * s.n_cols
            || s.n_cols < s.columns.n_cols(n, nn)
        {
            return bad(format!(
                "time series {k} is empty or its size does not match {} x {}",
                s.n_rows, s.n_cols
            ));
        }
    }
    if let Some(&id) = launch
        .record
        .iter()
        .find(|&&id| id as usize >= shape.n_state + shape.n_derived)
    {
        return bad(format!("recorded value id {id} is out of range"));
    }
    if launch.record.len() > u32::MAX as usize {
        return bad("too many recorded values".into());
    }
    Ok(())
}

/// A zeroed buffer of `len` values, or an out-of-memory error naming `what`.
pub fn allocate(len: usize, what: &str) -> Result<Vec<f64>, RuntimeError> {
    allocate_filled(len, 0.0, what)
}

/// A buffer of `len` copies of `value`, or an out-of-memory error naming `what`.
pub fn allocate_filled(len: usize, value: f64, what: &str) -> Result<Vec<f64>, RuntimeError> {
    let mut v = empty_for(len).map_err(|_| {
        RuntimeError::OutOfMemory(format!(
            "not enough memory for the {what} ({:.1} GiB); record fewer values, sample less often or run fewer instances",
            len as f64 * 8.0 / (1u64 << 30) as f64
        ))
    })?;
    v.resize(len, value);
    Ok(v)
}

/// An empty vector with room for `len` values; a large one (an output array) asks for huge
/// pages, so that filling it costs one page fault per 2 MiB rather than per 4 KiB.
pub fn empty_for(len: usize) -> Result<Vec<f64>, std::collections::TryReserveError> {
    let mut v: Vec<f64> = Vec::new();
    v.try_reserve_exact(len)?;
    let bytes = v.capacity() * std::mem::size_of::<f64>();
    if bytes >= 4 * rateforge_kernel::history::HUGE_PAGE {
        rateforge_kernel::history::advise_huge_pages_within(v.as_mut_ptr().cast(), bytes);
    }
    Ok(v)
}

/// The length of a launch's statistics array.
pub fn stats_len(launch: &Launch<'_>) -> usize {
    if launch.stats.is_some() {
        N_STATS * launch.record.len() * launch.n_nodes() * launch.n_instances
    } else {
        0
    }
}

/// The length of a launch's trace.
pub fn trace_len(launch: &Launch<'_>) -> Result<usize, RuntimeError> {
    launch
        .n_samples()
        .checked_mul(launch.record.len())
        .and_then(|x| x.checked_mul(launch.n_nodes()))
        .and_then(|x| x.checked_mul(launch.n_instances))
        .ok_or_else(|| {
            RuntimeError::OutOfMemory("the requested trace is too large to address".into())
        })
}

/// This machine's memory in bytes (`MemTotal` of `/proc/meminfo`), where the system says.
pub fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The most threads a run may ask for: eight per core, at least 64 and at most 1024 (more
/// only wait for each other; starting 10^5 threads takes minutes).
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (8 * cores).clamp(64, 1024)
}

/// A thread pool of `threads` workers (`None`: rayon's global pool).
pub fn pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>, RuntimeError> {
    match threads {
        None => Ok(None),
        Some(n) if n > max_threads() => Err(RuntimeError::Invalid(format!(
            "{n} threads is too many for this machine (at most {}, {} cores here)\n  = help: leave out `--threads` to use every core",
            max_threads(),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ))),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map(Some)
            .map_err(|e| RuntimeError::Invalid(format!("cannot start {n} threads: {e}"))),
    }
}

/// The entry point of a Rust kernel (`rf_run_<suffix>`).
pub type RunFn = unsafe extern "C" fn(*const RfArgs) -> i32;

/// Raw argument block shared across worker threads; each thread writes a disjoint instance range.
#[derive(Clone, Copy)]
struct Shared(RfArgs);
// SAFETY: the pointers refer to buffers that outlive the parallel section; threads write disjoint
// instance ranges of the output buffers and only read the inputs.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// Runs a Rust kernel (`run_fn`, described by `info`; `noise`: the model has noise) on every
/// instance of `launch`, spread over threads in lane-aligned chunks.
///
/// # Safety
///
/// `run_fn` and `info` belong to one kernel that follows the ABI of `rateforge_kernel::abi`.
pub unsafe fn run_native(
    run_fn: RunFn,
    info: &RfInfo,
    noise: bool,
    launch: &Launch<'_>,
) -> Result<Outcome, RuntimeError> {
    {
        let i = info;
        let shape = Shape {
            n_state: i.n_state as usize,
            n_param: i.n_param as usize,
            n_derived: i.n_derived as usize,
            n_series: i.n_series as usize,
            network: i.network != 0,
            noise,
        };
        check(launch, &shape)?;
        let n = launch.n_instances;
        let nn = launch.n_nodes();
        let mut final_state = allocate(shape.n_state * nn * n, "final states")?;
        // Samples not reached (a cancelled run) stay NaN.
        let mut trace = if launch.trace {
            allocate_filled(trace_len(launch)?, f64::NAN, "recorded trace")?
        } else {
            Vec::new()
        };
        let mut stats = allocate_filled(stats_len(launch), f64::NAN, "statistics")?;
        let thresholds: Vec<f64> = launch.stats.as_ref().map_or_else(Vec::new, |s| {
            (0..launch.record.len())
                .map(|r| s.thresholds.get(r).copied().unwrap_or(f64::NAN))
                .collect()
        });
        let mut steps_done = vec![0u64; n];
        let lanes = i.lanes.max(1) as usize;
        let pool = pool(launch.threads)?;
        let threads = pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
        let mut observed = match &launch.observe {
            Some(o) => Some(o.allocate(
                launch.n_steps,
                shape.n_state + shape.n_derived,
                nn,
                n,
                lanes,
                threads,
            )?),
            None => None,
        };
        let observe_args = match (&launch.observe, observed.as_mut()) {
            (Some(o), Some(out)) => Some(o.abi(out)),
            _ => None,
        };
        let series: Vec<RfSeries> = launch
            .series
            .iter()
            .map(|s| RfSeries {
                data: s.data.as_ptr(),
                n_rows: s.n_rows as u64,
                n_cols: s.n_cols as u64,
                mode: s.columns.code(),
            })
            .collect();
        // The connectivity, dense or compressed by density.
        let dense = launch
            .connectivity
            .is_some_and(|c| c.density() > DENSE_ABOVE);
        let (dense_w, dense_d) = match launch.connectivity {
            Some(c) if dense => c.to_dense(),
            _ => (Vec::new(), Vec::new()),
        };
        // A dense connectivity is read as matrices: no rows, no sources.
        let compressed = launch.connectivity.filter(|_| !dense);
        let row_start: Vec<u64> = compressed.map_or_else(Vec::new, |c| {
            c.row_start.iter().map(|&x| x as u64).collect()
        });
        let source: Vec<u32> =
            compressed.map_or_else(Vec::new, |c| c.source.iter().map(|&x| x as u32).collect());
        let (weight, distance): (&[f64], &[f64]) = match launch.connectivity {
            Some(_) if dense => (&dense_w, &dense_d),
            Some(c) => (&c.weight, &c.distance),
            None => (&[], &[]),
        };
        let ptr_or_null = |s: &[f64]| {
            if launch.connectivity.is_some() {
                s.as_ptr()
            } else {
                std::ptr::null()
            }
        };
        let args = Shared(RfArgs {
            n_instances: n as u64,
            begin: 0,
            end: n as u64,
            n_nodes: nn as u64,
            n_steps: launch.n_steps,
            record_every: launch.record_every,
            dt: launch.dt,
            t0: launch.t0,
            seed: launch.seed,
            solver: launch.solver.id(),
            n_record: launch.record.len() as u32,
            record: launch.record.as_ptr(),
            params: launch.params.as_ptr(),
            init: launch.init.as_ptr(),
            final_state: final_state.as_mut_ptr(),
            trace: if launch.trace {
                trace.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
            stats: if launch.stats.is_some() {
                stats.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
            thresholds: if launch.stats.is_some() {
                thresholds.as_ptr()
            } else {
                std::ptr::null()
            },
            transient_samples: launch.stats.as_ref().map_or(0, |s| s.transient_samples),
            steps_done: steps_done.as_mut_ptr(),
            series: series.as_ptr(),
            dense: u32::from(dense),
            row_start: if launch.connectivity.is_some() {
                row_start.as_ptr()
            } else {
                std::ptr::null()
            },
            source: if launch.connectivity.is_some() {
                source.as_ptr()
            } else {
                std::ptr::null()
            },
            weight: ptr_or_null(weight),
            distance: ptr_or_null(distance),
            progress: launch
                .progress
                .map_or(std::ptr::null(), |p| p as *const AtomicU64),
            cancel: launch
                .cancel
                .map_or(std::ptr::null(), |c| c as *const AtomicBool),
            node_threads: 1,
            shared_noise: u32::from(launch.shared_noise),
            instance_offset: launch.instance_offset,
            observe: observe_args
                .as_ref()
                .map_or(std::ptr::null(), |o| o as *const RfObserve),
        });
        let (nodes, edges) = match (i.network != 0, launch.connectivity) {
            (true, Some(c)) => (c.n_nodes, c.weight.len()),
            _ => (1, 0),
        };
        let chunks = launch.parallel.plan(n, lanes, nodes, edges, threads);
        let work = || -> Vec<i32> {
            chunks
                .par_iter()
                .map(|&(begin, end, node_threads)| {
                    let mut a = args;
                    a.0.begin = begin;
                    a.0.end = end;
                    a.0.node_threads = node_threads;
                    // SAFETY: the arguments were checked above; buffers are sized for all instances
                    // and this call only writes instances begin..end.
                    unsafe { run_fn(&a.0) }
                })
                .collect()
        };
        let statuses = match &pool {
            Some(p) => p.install(work),
            None => work(),
        };
        if statuses.contains(&1) {
            return Err(RuntimeError::Invalid(
                "the kernel rejected its arguments".into(),
            ));
        }
        if statuses.contains(&4) {
            return Err(RuntimeError::Invalid(UNCOMPUTED.into()));
        }
        if statuses.contains(&3) {
            return Err(RuntimeError::Invalid(
                "the parameter values differ from those compiled into the kernel; build it again for these values".into(),
            ));
        }
        Ok(Outcome {
            final_state,
            trace,
            n_samples: launch.n_samples(),
            stats,
            steps_done,
            cancelled: statuses.contains(&2),
            observed,
        })
    }
}
