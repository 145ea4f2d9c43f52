//! Running simulations: a compiled kernel loaded from a shared library ([`Kernel`]) or the
//! reference evaluator ([`run_interpreted`]) behind the same [`Launch`] / [`Outcome`] interface
//! (from `rateforge-rt`, which also runs kernels linked into a binary).

use crate::abi::{ABI_VERSION, LAYOUT_HASH, RfArgs, RfInfo};
use crate::error::RuntimeError;
use rateforge_ir::eval::{
    Connectivity as EvalConnectivity, Instance, RunConfig, SeriesInput, simulate_observed,
};
use rateforge_ir::{Handle, ValidModel, VarRef};
pub use rateforge_rt::exec::{
    Connectivity, DENSE_ABOVE, Launch, Outcome, Parallel, RunFn, SeriesColumns, SeriesData, Shape,
    StatsRequest, allocate, allocate_filled, check, pool, run_native, stats_len, trace_len,
};
pub use rateforge_rt::observe::{ObserveRequest, Observed};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A loaded kernel.
pub struct Kernel {
    // The library must outlive the function pointer below.
    _library: libloading::Library,
    run_fn: unsafe extern "C" fn(*const RfArgs) -> i32,
    info: RfInfo,
    path: PathBuf,
    noise: bool,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

impl Kernel {
    /// Loads a kernel library, whose exports end in `symbol` (`rf_info_<symbol>`,
    /// `rf_run_<symbol>`), and checks it was generated for `model`.
    pub fn load(path: &Path, model: &ValidModel, symbol: &str) -> Result<Kernel, RuntimeError> {
        let err = |reason: String| RuntimeError::Load {
            path: path.to_path_buf(),
            reason,
        };
        // SAFETY: the library is a rateforge kernel we compiled; its initialisers are trivial.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| err(e.to_string()))?;
        // SAFETY: the symbols have the signatures of the kernel ABI; checked through rf_info below.
        let (info_fn, run_fn) = unsafe {
            let info_name = format!("rf_info_{symbol}");
            let run_name = format!("rf_run_{symbol}");
            let info: libloading::Symbol<'_, unsafe extern "C" fn() -> *const RfInfo> = library
                .get(info_name.as_bytes())
                .map_err(|e| err(format!("missing symbol `{info_name}`: {e}")))?;
            let run: libloading::Symbol<'_, unsafe extern "C" fn(*const RfArgs) -> i32> = library
                .get(run_name.as_bytes())
                .map_err(|e| err(format!("missing symbol `{run_name}`: {e}")))?;
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
        if info.layout_hash != LAYOUT_HASH {
            return Err(err(format!(
                "the kernel's argument structs (layout {:016x}) differ from this runtime's ({LAYOUT_HASH:016x})",
                info.layout_hash
            )));
        }
        let m = model.model();
        let expected = (
            m.states.len(),
            m.params.len(),
            m.derived.len(),
            m.series.len(),
            m.delays.len(),
            m.couplings.len(),
        );
        let found = (
            info.n_state as usize,
            info.n_param as usize,
            info.n_derived as usize,
            info.n_series as usize,
            info.n_delay as usize,
            info.n_coupling as usize,
        );
        let hash = String::from_utf8_lossy(&info.model_hash).into_owned();
        if expected != found || hash != model.hash() || (info.network != 0) != m.network.is_some() {
            return Err(err(format!(
                "the kernel was generated for another model (hash {hash})"
            )));
        }
        Ok(Kernel {
            _library: library,
            run_fn,
            info,
            path: path.to_path_buf(),
            noise: model.info().has_noise,
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
        // SAFETY: the entry point and its description come from one loaded kernel, checked
        // against this runtime's ABI and layout when it was loaded.
        unsafe { run_native(self.run_fn, &self.info, self.noise, launch) }
    }
}

/// Runs the reference evaluator on every instance (in parallel), with the same inputs and outputs
/// as [`Kernel::run`].
pub fn run_interpreted(model: &ValidModel, launch: &Launch<'_>) -> Result<Outcome, RuntimeError> {
    let m = model.model();
    let (ns, np, nd) = (m.states.len(), m.params.len(), m.derived.len());
    let shape = Shape {
        n_state: ns,
        n_param: np,
        n_derived: nd,
        n_series: m.series.len(),
        network: m.network.is_some(),
        noise: model.info().has_noise,
    };
    check(launch, &shape)?;
    let n = launch.n_instances;
    let nn = launch.n_nodes();
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
        seed: launch.seed,
    };
    let n_samples = launch.n_samples();
    let n_record = launch.record.len();
    let mut final_state = allocate(ns * nn * n, "final states")?;
    let mut trace = allocate_filled(trace_len(launch)?, f64::NAN, "recorded trace")?;
    let pool = pool(launch.threads)?;
    let cancelled = AtomicBool::new(false);
    let network = launch.connectivity.map(|c| EvalConnectivity {
        n_nodes: c.n_nodes,
        row_start: &c.row_start,
        source: &c.source,
        weight: &c.weight,
        distance: &c.distance,
    });
    let one = |i: usize| -> Option<rateforge_ir::eval::Trajectory> {
        if launch.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            cancelled.store(true, Ordering::Relaxed);
            return None;
        }
        let params: Vec<f64> = (0..np).map(|k| launch.params[k * n + i]).collect();
        let init: Vec<f64> = (0..ns * nn).map(|k| launch.init[k * n + i]).collect();
        let columns = series_columns(launch, i);
        let series = series_inputs(launch, &columns);
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
            index: if launch.shared_noise {
                0
            } else {
                launch.instance_offset + i as u64
            },
            params: &params,
            init: &init,
            series: &series,
            network: network.as_ref(),
        };
        Some(simulate_observed(model, &config, &instance, &mut observe))
    };
    let results: Vec<Option<rateforge_ir::eval::Trajectory>> = match &pool {
        Some(p) => p.install(|| (0..n).into_par_iter().map(one).collect()),
        None => (0..n).into_par_iter().map(one).collect(),
    };
    let mut steps_done = vec![0u64; n];
    for (i, r) in results.into_iter().enumerate() {
        let Some(t) = r else { continue };
        for k in 0..ns * nn {
            final_state[k * n + i] = t.final_state[k];
        }
        steps_done[i] =
            (t.samples.len().saturating_sub(1) as u64 * launch.record_every).min(launch.n_steps);
        if t.samples.len() == n_samples {
            steps_done[i] = launch.n_steps;
        }
        for (j, sample) in t.samples.iter().enumerate().take(n_samples) {
            for r in 0..n_record {
                for node in 0..nn {
                    trace[((j * n_record + r) * nn + node) * n + i] = sample[r * nn + node];
                }
            }
        }
    }
    let stats = match &launch.stats {
        Some(s) => crate::stats::from_trace(
            &trace,
            n_samples,
            n_record,
            nn,
            n,
            s.transient_samples as usize,
            &s.thresholds,
            launch.record_every as f64 * launch.dt,
        ),
        None => Vec::new(),
    };
    if !launch.trace {
        trace = Vec::new();
    }
    let observed = match &launch.observe {
        Some(o) => Some(observe_interpreted(
            model,
            launch,
            o,
            &config,
            network.as_ref(),
        )?),
        None => None,
    };
    Ok(Outcome {
        final_state,
        trace,
        n_samples,
        stats,
        steps_done,
        cancelled: cancelled.load(Ordering::Relaxed),
        observed,
    })
}

/// BOLD, FC and FCD by the reference evaluator: each instance run again, its driver recorded at
/// every BOLD step and observed by the kernels' own observer code (`rateforge_kernel::observe`).
fn observe_interpreted(
    model: &ValidModel,
    launch: &Launch<'_>,
    o: &ObserveRequest,
    config: &RunConfig,
    network: Option<&EvalConnectivity<'_>>,
) -> Result<Observed, RuntimeError> {
    let m = model.model();
    let (ns, np) = (m.states.len(), m.params.len());
    let (n, nn) = (launch.n_instances, launch.n_nodes());
    let mut out = o.allocate(launch.n_steps, ns + m.derived.len(), nn, n, 1, 1)?;
    let id = o.driver as usize;
    let driver = if id < ns {
        VarRef::State(Handle::from_index(id))
    } else {
        VarRef::Derived(Handle::from_index(id - ns))
    };
    let config = RunConfig {
        record_every: o.bold_every,
        record: vec![driver],
        ..config.clone()
    };
    for i in 0..n {
        let params: Vec<f64> = (0..np).map(|k| launch.params[k * n + i]).collect();
        let init: Vec<f64> = (0..ns * nn).map(|k| launch.init[k * n + i]).collect();
        let columns = series_columns(launch, i);
        let series = series_inputs(launch, &columns);
        let instance = Instance {
            index: if launch.shared_noise {
                0
            } else {
                launch.instance_offset + i as u64
            },
            params: &params,
            init: &init,
            series: &series,
            network,
        };
        let t = simulate_observed(model, &config, &instance, &mut |_| true);
        o.observe_instance(&mut out, i, n, nn, |k, node| t.samples[k][node])?;
    }
    Ok(out)
}

/// The columns of every series that instance `i` reads, per node.
fn series_columns(launch: &Launch<'_>, i: usize) -> Vec<Vec<usize>> {
    let nn = launch.n_nodes();
    launch
        .series
        .iter()
        .map(|s| (0..nn).map(|node| s.columns.column(i, node, nn)).collect())
        .collect()
}

/// The series of a launch as the evaluator reads them, with an instance's `columns`.
fn series_inputs<'a>(launch: &Launch<'a>, columns: &'a [Vec<usize>]) -> Vec<SeriesInput<'a>> {
    launch
        .series
        .iter()
        .zip(columns)
        .map(|(s, cols)| SeriesInput {
            data: s.data,
            n_rows: s.n_rows,
            n_cols: s.n_cols,
            columns: cols,
        })
        .collect()
}
