//! Running simulations: a compiled kernel ([`Kernel`]) or the reference evaluator
//! ([`run_interpreted`]) behind the same [`Launch`] / [`Outcome`] interface.

use crate::abi::{ABI_VERSION, RfArgs, RfInfo, RfSeries};
use crate::error::RuntimeError;
use rateforge_ir::eval::{Instance, RunConfig, simulate_observed};
use rateforge_ir::{Handle, Solver, ValidModel, VarRef};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A time series for a run: row-major `n_rows x n_cols`, one row per step; instance `i` reads
/// column `i % n_cols`.
#[derive(Clone, Debug)]
pub struct SeriesData<'a> {
    /// The values.
    pub data: &'a [f64],
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_cols: usize,
}

/// What to run. Arrays are structure-of-arrays: `params[k * n_instances + i]`.
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
    /// Initial states, `n_state * n_instances`.
    pub init: &'a [f64],
    /// One per model series.
    pub series: &'a [SeriesData<'a>],
    /// Incremented by instance-steps done.
    pub progress: Option<&'a AtomicU64>,
    /// Stops the run when set.
    pub cancel: Option<&'a AtomicBool>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
}

impl Launch<'_> {
    /// Samples per instance: steps 0, k, 2k, ... up to `n_steps`.
    pub fn n_samples(&self) -> usize {
        (self.n_steps / self.record_every.max(1)) as usize + 1
    }
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Final states, `[k * n_instances + i]`.
    pub final_state: Vec<f64>,
    /// Samples, `[(sample * n_record + r) * n_instances + i]`.
    pub trace: Vec<f64>,
    /// Samples per instance.
    pub n_samples: usize,
    /// Whether the run was stopped early (the outputs are then incomplete).
    pub cancelled: bool,
}

fn check(
    launch: &Launch<'_>,
    n_state: usize,
    n_param: usize,
    n_derived: usize,
    n_series: usize,
) -> Result<(), RuntimeError> {
    let n = launch.n_instances;
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
    if launch.params.len() != n_param * n {
        return bad(format!(
            "expected {} parameter values ({n_param} x {n} instances), found {}",
            n_param * n,
            launch.params.len()
        ));
    }
    if launch.init.len() != n_state * n {
        return bad(format!(
            "expected {} initial values ({n_state} x {n} instances), found {}",
            n_state * n,
            launch.init.len()
        ));
    }
    if launch.series.len() != n_series {
        return bad(format!(
            "the model has {n_series} time series inputs, {} were given",
            launch.series.len()
        ));
    }
    for (k, s) in launch.series.iter().enumerate() {
        if s.n_rows == 0 || s.n_cols == 0 || s.data.len() != s.n_rows * s.n_cols {
            return bad(format!(
                "time series {k} is empty or its size does not match {} x {}",
                s.n_rows, s.n_cols
            ));
        }
    }
    if let Some(&id) = launch
        .record
        .iter()
        .find(|&&id| id as usize >= n_state + n_derived)
    {
        return bad(format!("recorded value id {id} is out of range"));
    }
    if launch.record.len() > u32::MAX as usize {
        return bad("too many recorded values".into());
    }
    Ok(())
}

fn allocate(len: usize, what: &str) -> Result<Vec<f64>, RuntimeError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        RuntimeError::OutOfMemory(format!(
            "not enough memory for the {what} ({:.1} GiB); record fewer values, sample less often or run fewer instances",
            len as f64 * 8.0 / (1u64 << 30) as f64
        ))
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

fn trace_len(launch: &Launch<'_>) -> Result<usize, RuntimeError> {
    launch
        .n_samples()
        .checked_mul(launch.record.len())
        .and_then(|x| x.checked_mul(launch.n_instances))
        .ok_or_else(|| {
            RuntimeError::OutOfMemory("the requested trace is too large to address".into())
        })
}

fn pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>, RuntimeError> {
    match threads {
        None => Ok(None),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map(Some)
            .map_err(|e| RuntimeError::Invalid(format!("cannot start {n} threads: {e}"))),
    }
}

/// A loaded kernel.
pub struct Kernel {
    // The library must outlive the function pointer below.
    _library: libloading::Library,
    run_fn: unsafe extern "C" fn(*const RfArgs) -> i32,
    info: RfInfo,
    path: PathBuf,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

/// Raw argument block shared across worker threads; each thread writes a disjoint instance range.
#[derive(Clone, Copy)]
struct Shared(RfArgs);
// SAFETY: the pointers refer to buffers that outlive the parallel section; threads write disjoint
// instance ranges of the output buffers and only read the inputs.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Kernel {
    /// Loads a kernel library and checks it was generated for `model`.
    pub fn load(path: &Path, model: &ValidModel) -> Result<Kernel, RuntimeError> {
        let err = |reason: String| RuntimeError::Load {
            path: path.to_path_buf(),
            reason,
        };
        // SAFETY: the library is a rateforge kernel we compiled; its initialisers are trivial.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| err(e.to_string()))?;
        // SAFETY: the symbols have the signatures of the kernel ABI; checked through rf_info below.
        let (info_fn, run_fn) = unsafe {
            let info: libloading::Symbol<'_, unsafe extern "C" fn() -> *const RfInfo> = library
                .get(b"rf_info")
                .map_err(|e| err(format!("missing symbol `rf_info`: {e}")))?;
            let run: libloading::Symbol<'_, unsafe extern "C" fn(*const RfArgs) -> i32> = library
                .get(b"rf_run")
                .map_err(|e| err(format!("missing symbol `rf_run`: {e}")))?;
            (*info, *run)
        };
        // SAFETY: rf_info returns a pointer to a static.
        let info = unsafe { info_fn().as_ref().copied() }
            .ok_or_else(|| err("rf_info returned null".into()))?;
        if info.abi_version != ABI_VERSION {
            return Err(err(format!(
                "kernel ABI {} does not match this runtime's ABI {ABI_VERSION}",
                info.abi_version
            )));
        }
        let m = model.model();
        let expected = (
            m.states.len(),
            m.params.len(),
            m.derived.len(),
            m.series.len(),
        );
        let found = (
            info.n_state as usize,
            info.n_param as usize,
            info.n_derived as usize,
            info.n_series as usize,
        );
        let hash = String::from_utf8_lossy(&info.model_hash).into_owned();
        if expected != found || hash != model.hash() {
            return Err(err(format!(
                "the kernel was generated for another model (hash {hash})"
            )));
        }
        Ok(Kernel {
            _library: library,
            run_fn,
            info,
            path: path.to_path_buf(),
        })
    }

    /// What the kernel reports about itself.
    pub fn info(&self) -> &RfInfo {
        &self.info
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the kernel on all instances, spread over threads in lane-aligned chunks.
    pub fn run(&self, launch: &Launch<'_>) -> Result<Outcome, RuntimeError> {
        let i = &self.info;
        check(
            launch,
            i.n_state as usize,
            i.n_param as usize,
            i.n_derived as usize,
            i.n_series as usize,
        )?;
        let n = launch.n_instances;
        let mut final_state = allocate(i.n_state as usize * n, "final states")?;
        let mut trace = allocate(trace_len(launch)?, "recorded trace")?;
        let series: Vec<RfSeries> = launch
            .series
            .iter()
            .map(|s| RfSeries {
                data: s.data.as_ptr(),
                n_rows: s.n_rows as u64,
                n_cols: s.n_cols as u64,
            })
            .collect();
        let args = Shared(RfArgs {
            n_instances: n as u64,
            begin: 0,
            end: n as u64,
            n_steps: launch.n_steps,
            record_every: launch.record_every,
            dt: launch.dt,
            t0: launch.t0,
            solver: launch.solver.id(),
            n_record: launch.record.len() as u32,
            record: launch.record.as_ptr(),
            params: launch.params.as_ptr(),
            init: launch.init.as_ptr(),
            final_state: final_state.as_mut_ptr(),
            trace: trace.as_mut_ptr(),
            series: series.as_ptr(),
            progress: launch
                .progress
                .map_or(std::ptr::null(), |p| p as *const AtomicU64),
            cancel: launch
                .cancel
                .map_or(std::ptr::null(), |c| c as *const AtomicBool),
        });
        let lanes = i.lanes.max(1) as usize;
        let pool = pool(launch.threads)?;
        let threads = pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
        // Several chunks per thread balance uneven progress; chunks are whole lane blocks.
        let blocks = n.div_ceil(lanes);
        let chunk_blocks = blocks.div_ceil(threads * 4).max(1);
        let chunks: Vec<(u64, u64)> = (0..blocks)
            .step_by(chunk_blocks)
            .map(|b| {
                (
                    (b * lanes) as u64,
                    ((b + chunk_blocks) * lanes).min(n) as u64,
                )
            })
            .collect();
        let run_fn = self.run_fn;
        let work = || -> Vec<i32> {
            chunks
                .par_iter()
                .map(|&(begin, end)| {
                    let mut a = args;
                    a.0.begin = begin;
                    a.0.end = end;
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
        Ok(Outcome {
            final_state,
            trace,
            n_samples: launch.n_samples(),
            cancelled: statuses.contains(&2),
        })
    }
}

/// Runs the reference evaluator on every instance (in parallel), with the same inputs and outputs
/// as [`Kernel::run`].
pub fn run_interpreted(model: &ValidModel, launch: &Launch<'_>) -> Result<Outcome, RuntimeError> {
    let m = model.model();
    let (ns, np, nd) = (m.states.len(), m.params.len(), m.derived.len());
    check(launch, ns, np, nd, m.series.len())?;
    let n = launch.n_instances;
    let record: Vec<VarRef> = launch
        .record
        .iter()
        .map(|&id| {
            let id = id as usize;
            if id < ns {
                VarRef::State(Handle::from_index(id))
            } else {
                VarRef::Derived(Handle::from_index(id - ns))
            }
        })
        .collect();
    let config = RunConfig {
        solver: launch.solver,
        dt: launch.dt,
        t0: launch.t0,
        n_steps: launch.n_steps,
        record_every: launch.record_every,
        record,
    };
    let n_samples = launch.n_samples();
    let n_record = launch.record.len();
    let mut final_state = allocate(ns * n, "final states")?;
    let mut trace = allocate(trace_len(launch)?, "recorded trace")?;
    let pool = pool(launch.threads)?;
    let cancelled = AtomicBool::new(false);
    let one = |i: usize| -> Option<rateforge_ir::eval::Trajectory> {
        if launch.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            cancelled.store(true, Ordering::Relaxed);
            return None;
        }
        let params: Vec<f64> = (0..np).map(|k| launch.params[k * n + i]).collect();
        let init: Vec<f64> = (0..ns).map(|k| launch.init[k * n + i]).collect();
        let columns: Vec<Vec<f64>> = launch
            .series
            .iter()
            .map(|s| {
                (0..s.n_rows)
                    .map(|r| s.data[r * s.n_cols + i % s.n_cols])
                    .collect()
            })
            .collect();
        let rows: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let mut observe = |steps: u64| {
            if let Some(p) = launch.progress {
                p.fetch_add(steps, Ordering::Relaxed);
            }
            let stop = launch.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
            if stop {
                cancelled.store(true, Ordering::Relaxed);
            }
            !stop
        };
        let instance = Instance {
            params: &params,
            init: &init,
            series: &rows,
        };
        let t = simulate_observed(model, &config, &instance, &mut observe);
        Some(t)
    };
    let results: Vec<Option<rateforge_ir::eval::Trajectory>> = match &pool {
        Some(p) => p.install(|| (0..n).into_par_iter().map(one).collect()),
        None => (0..n).into_par_iter().map(one).collect(),
    };
    for (i, r) in results.into_iter().enumerate() {
        let Some(t) = r else { continue };
        for k in 0..ns {
            final_state[k * n + i] = t.final_state[k];
        }
        for (j, sample) in t.samples.iter().enumerate().take(n_samples) {
            for (r, v) in sample.iter().enumerate() {
                trace[(j * n_record + r) * n + i] = *v;
            }
        }
    }
    Ok(Outcome {
        final_state,
        trace,
        n_samples,
        cancelled: cancelled.load(Ordering::Relaxed),
    })
}
