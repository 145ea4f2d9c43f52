//! Running simulations and writing their results.

use crate::error::Error;
use crate::model::{Drive, Validated};
use rateforge_ir::{Diagnostic, Solver, VarRef};
pub use rateforge_rt::exec::Controls;
pub use rateforge_rt::kernel::observe::Hemodynamics;
use rateforge_rt::result::StatsMetadata;
use rateforge_rt::spec::{
    InitialValue, initial_values_from, sample_times, time_grid, transient_samples,
};
pub use rateforge_rt::{Metadata, RunResult};
pub use rateforge_runtime::abi::STATS;
use rateforge_runtime::cuda::CudaKernel;
use rateforge_runtime::data::Table;
use rateforge_runtime::{
    Connectivity, Kernel, Launch, Parallel, RuntimeError, SeriesColumns, SeriesData, StatsRequest,
    run_interpreted,
};
use serde_json::json;
use std::collections::BTreeMap;

/// Which implementation runs the model.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    /// A compiled kernel ([`Validated::build`]).
    Native(&'a Kernel),
    /// The reference evaluator (slow, obviously correct).
    Interp,
    /// A CUDA kernel on a GPU, or its CPU emulation ([`Validated::build_cuda`]).
    Cuda(&'a CudaKernel),
}

impl Backend<'_> {
    /// The backend's name in metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
            Backend::Interp => "interp",
            Backend::Cuda(_) => "cuda",
        }
    }
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Simulated time (a whole number of steps).
    pub time: f64,
    /// Step size.
    pub dt: f64,
    /// Start time.
    pub t0: f64,
    /// Solver.
    pub solver: Solver,
    /// Sampling interval (a whole number of steps); `None` records every step.
    pub every: Option<f64>,
    /// Recorded paths (states or algebraic variables); empty records every state.
    pub record: Vec<String>,
    /// Data for every input driven by a series (`Model::drive_with_series`), by path: one row per
    /// step; one column (shared by everything), one per node, one per instance, or one per
    /// (instance, node) pair (column `instance * nodes + node`). With as many nodes as instances,
    /// columns are per node.
    pub series: BTreeMap<String, Table>,
    /// Number of instances.
    pub instances: usize,
    /// Per-instance values of parameters or initial states (each of length `instances`).
    pub instance_values: Vec<(String, Vec<f64>)>,
    /// Per-node initial values of states (each of length `nodes`), the same in every instance.
    pub node_values: Vec<(String, Vec<f64>)>,
    /// The connectivity of a network model (default: the one its model file names).
    pub connectivity: Option<Connectivity>,
    /// Seed of the noise.
    pub seed: u64,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// How the threads share a network's work (default: chosen from the sizes).
    pub parallel: Parallel,
    /// Keep every sample of the recorded values (else only statistics and final states, so the
    /// memory stays proportional to the number of instances).
    pub trace: bool,
    /// Streaming statistics of the recorded values, computed inside the kernel.
    pub stats: Option<StatsSpec>,
    /// BOLD, FC and FCD, computed inside the kernel.
    pub bold: Option<BoldSpec>,
    /// Every instance draws the noise of instance 0 (common random numbers: a fit or a sweep
    /// then compares parameter values under one noise realisation).
    pub shared_noise: bool,
    /// The global index of this run's instance 0, for a shard of a larger sweep: noise and
    /// initial values drawn from ranges are those instances `instance_offset ..` have in the
    /// whole sweep, so the shards together give its numbers bit for bit.
    pub instance_offset: u64,
    /// What a shard of a sweep records about the whole (written to the metadata as `shard`).
    pub shard: Option<serde_json::Value>,
}

/// BOLD by the Balloon–Windkessel model, and the FC and FCD of the BOLD signals, computed inside
/// the kernel while it runs (see `rateforge_kernel::observe` for the equations and constants).
/// Times here are in seconds; the model's time unit is [`BoldSpec::time_unit`] seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct BoldSpec {
    /// The path of the value that drives it (a state or an algebraic variable).
    pub driver: String,
    /// The interval of the BOLD samples, in seconds (a whole number of BOLD steps).
    pub tr: f64,
    /// The step of the BOLD model, in seconds (a whole number of model steps).
    pub bold_dt: f64,
    /// Seconds per unit of the model's time (1e-3 for a model in milliseconds).
    pub time_unit: f64,
    /// The Balloon–Windkessel constants (default: Stephan et al. 2007).
    pub hemodynamics: Hemodynamics,
    /// Seconds of BOLD left out of FC and FCD at the start.
    pub transient: f64,
    /// FCD window length in TR samples (0: no FCD).
    pub fcd_window: usize,
    /// TR samples between the starts of consecutive FCD windows.
    pub fcd_step: usize,
    /// Keep the BOLD samples (`bold` in the results).
    pub keep_bold: bool,
}

impl Default for BoldSpec {
    fn default() -> Self {
        BoldSpec {
            driver: String::new(),
            tr: 0.72,
            bold_dt: 1e-3,
            time_unit: 1e-3,
            hemodynamics: Hemodynamics::STEPHAN_2007,
            transient: 0.0,
            fcd_window: 0,
            fcd_step: 1,
            keep_bold: false,
        }
    }
}

impl BoldSpec {
    /// The kernels' request for a run of `n_steps` steps of `dt` model time units, with the
    /// driver's id `driver`; errors say which option to change.
    pub fn request(
        &self,
        driver: u32,
        n_steps: u64,
        dt: f64,
    ) -> Result<rateforge_runtime::ObserveRequest, Error> {
        let usage = |m: String, help: &str| Err(Error::usage(Diagnostic::error(m).with_help(help)));
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.time_unit) || !positive(self.bold_dt) || !positive(self.tr) {
            return usage(
                format!(
                    "the TR ({} s), the BOLD step ({} s) and the time unit ({} s) must be positive",
                    self.tr, self.bold_dt, self.time_unit
                ),
                "e.g. `--tr 0.72 --bold-dt 1e-3 --time-unit ms`",
            );
        }
        // A whole number of `unit`s in `x`, to 1e-9 relative.
        let whole = |x: f64, unit: f64| {
            let k = (x / unit).round();
            (k >= 1.0 && (k * unit - x).abs() <= 1e-9 * x && k < 1e15).then_some(k as u64)
        };
        let step_s = dt * self.time_unit;
        let Some(bold_every) = whole(self.bold_dt, step_s) else {
            return usage(
                format!(
                    "the BOLD step {} s is not a whole number of model steps of {dt} x {} s",
                    self.bold_dt, self.time_unit
                ),
                "choose `--bold-dt` as a multiple of the step (and check `--time-unit`: ms or s)",
            );
        };
        let Some(tr_every) = whole(self.tr, self.bold_dt) else {
            return usage(
                format!(
                    "the TR {} s is not a whole number of BOLD steps of {} s",
                    self.tr, self.bold_dt
                ),
                "choose `--tr` as a multiple of `--bold-dt`",
            );
        };
        let n_tr = n_steps / bold_every / tr_every;
        let transient = if self.transient > 0.0 {
            (self.transient / self.tr - 1e-9).ceil() as u64
        } else {
            0
        };
        if n_tr < transient.saturating_add(2) {
            return usage(
                format!(
                    "the run gives {n_tr} BOLD samples (one per TR of {} s), {transient} of them in the transient: FC needs at least two after it",
                    self.tr
                ),
                "run longer (`--time`), or shorten `--bold-transient`",
            );
        }
        if self.fcd_window > 0 {
            if self.fcd_step == 0 || self.fcd_window < 2 {
                return usage(
                    format!(
                        "an FCD window of {} samples every {} samples",
                        self.fcd_window, self.fcd_step
                    ),
                    "windows need at least two samples and a step of at least one",
                );
            }
            if (n_tr - transient) < self.fcd_window as u64 {
                return usage(
                    format!(
                        "the FCD window ({} samples) is longer than the {} BOLD samples after the transient",
                        self.fcd_window,
                        n_tr - transient
                    ),
                    "run longer (`--time`) or shorten `--fcd-window`",
                );
            }
        }
        Ok(rateforge_runtime::ObserveRequest {
            driver,
            bold_every,
            bold_dt: self.bold_dt,
            hemodynamics: self.hemodynamics,
            tr_every,
            n_tr,
            transient,
            window: self.fcd_window as u64,
            window_step: self.fcd_step.max(1) as u64,
            keep_bold: self.keep_bold,
        })
    }
}

/// Which statistics a run computes (see `rateforge_runtime::stats` for the definitions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsSpec {
    /// Samples taken before `t0 + transient` are left out.
    pub transient: f64,
    /// Thresholds of the time-above statistic, by recorded path (others: none).
    pub thresholds: Vec<(String, f64)>,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            time: 1.0,
            dt: 1e-3,
            t0: 0.0,
            solver: Solver::Rk4,
            every: None,
            record: Vec::new(),
            series: BTreeMap::new(),
            instances: 1,
            instance_values: Vec::new(),
            node_values: Vec::new(),
            connectivity: None,
            seed: 0,
            threads: None,
            parallel: Parallel::Auto,
            trace: true,
            stats: None,
            bold: None,
            shared_noise: false,
            instance_offset: 0,
            shard: None,
        }
    }
}

fn unknown_path(v: &Validated, path: &str) -> Error {
    Error::usage(crate::model::unknown_path(
        v.valid.model(),
        path,
        "variable",
    ))
}

/// One node without edges: a network model run without a connectivity.
static SINGLE_NODE: std::sync::LazyLock<Connectivity> =
    std::sync::LazyLock::new(Connectivity::single_node);

impl Validated {
    /// The parameters a run of `spec` gives the same value in every instance, with those values:
    /// what [`crate::EmitOptions::inline`] can compile into a kernel specialised for the run.
    pub fn constant_parameters(&self, spec: &RunSpec) -> Vec<(usize, f64)> {
        let m = self.valid.model();
        m.params
            .iter()
            .filter(|(_, p)| {
                !spec
                    .instance_values
                    .iter()
                    .any(|(path, values)| path == &p.name && values.iter().any(|v| *v != values[0]))
            })
            .map(|(h, p)| {
                let value = spec
                    .instance_values
                    .iter()
                    .find(|(path, _)| path == &p.name)
                    .and_then(|(_, v)| v.first().copied())
                    .unwrap_or(p.value);
                (h.index(), value)
            })
            .collect()
    }

    /// The values one instance of a run of `spec` keeps in its delay history: `nb` buffered
    /// variables (the kernel plan's [`buffered`](rateforge_codegen::plan::KernelPlan::buffered))
    /// × nodes × (longest delay in steps + 1), the largest over the instances (up to 64 of
    /// them, evenly spread, are looked at; delays come from parameters such as a conduction
    /// speed). Times the bytes of a value, it is the history's memory per instance; a kernel
    /// block holds one per lane.
    pub fn history_values(&self, spec: &RunSpec, nb: usize) -> usize {
        let m = self.valid.model();
        if nb == 0 || !(spec.dt.is_finite() && spec.dt > 0.0) {
            return 0;
        }
        let connectivity = match (&m.network, &spec.connectivity, &self.connectivity) {
            (Some(_), Some(c), _) | (Some(_), None, Some(c)) => Some(c),
            _ => None,
        };
        let nn = connectivity.map_or(1, |c| c.n_nodes);
        let n = spec.instances.max(1);
        let defaults: Vec<f64> = m.params.values().map(|p| p.value).collect();
        let picks = n.min(64);
        let mut longest = 0usize;
        for pick in 0..picks {
            let i = if picks == 1 {
                0
            } else {
                pick * (n - 1) / (picks - 1)
            };
            let mut params = defaults.clone();
            for (path, values) in &spec.instance_values {
                if let (Some(VarRef::Param(h)), Some(&v)) = (m.lookup(path), values.get(i)) {
                    params[h.index()] = v;
                }
            }
            let delays = m
                .delays
                .values()
                .map(|d| rateforge_ir::eval::delay_steps(params[d.time.index()], spec.dt));
            let edges = connectivity.map_or_else(Vec::new, |c| {
                rateforge_ir::eval::edge_delays(&self.valid, &params, nn, spec.dt, &c.distance)
            });
            longest = delays.chain(edges).fold(longest, usize::max);
        }
        // Delays longer than the run are capped (as every backend does).
        let steps = (spec.time / spec.dt).round();
        let steps = if steps.is_finite() && steps >= 0.0 {
            steps as u64
        } else {
            0
        };
        let longest = longest.min(rateforge_ir::eval::delay_cap(steps));
        nb.saturating_mul(nn)
            .saturating_mul(longest.saturating_add(1))
    }

    /// The recorded paths, with a complex variable named whole (`p/op/z`) replaced by its two
    /// parts (`p/op/z.re`, `p/op/z.im`).
    pub fn record_paths(&self, paths: &[String]) -> Vec<String> {
        let m = self.valid.model();
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let (re, im) = (format!("{p}.re"), format!("{p}.im"));
            if m.lookup(p).is_none() && m.lookup(&re).is_some() && m.lookup(&im).is_some() {
                out.extend([re, im]);
            } else {
                out.push(p.clone());
            }
        }
        out
    }

    /// The ids of recorded paths (`< n_state` states, else derived values; see
    /// [`Validated::record_paths`]); empty means all states.
    pub fn record_ids(&self, paths: &[String]) -> Result<Vec<u32>, Error> {
        let m = self.valid.model();
        let paths = &self.record_paths(paths);
        if paths.is_empty() {
            return Ok((0..m.states.len() as u32).collect());
        }
        for (i, p) in paths.iter().enumerate() {
            if paths[..i].contains(p) {
                return Err(Error::usage(
                    Diagnostic::error(format!("`{p}` is recorded twice"))
                        .with_help("name each recorded path once"),
                ));
            }
        }
        paths
            .iter()
            .map(|p| match m.lookup(p) {
                Some(VarRef::State(h)) => Ok(h.index() as u32),
                Some(VarRef::Derived(h)) => Ok((m.states.len() + h.index()) as u32),
                Some(v) => Err(Error::usage(
                    Diagnostic::error(format!(
                        "cannot record `{p}`: it is {} and does not change",
                        v.kind_name()
                    ))
                    .with_help("record state variables or algebraic variables"),
                )),
                None => Err(unknown_path(self, p)),
            })
            .collect()
    }

    /// Runs a simulation.
    pub fn run(
        &self,
        backend: Backend<'_>,
        spec: &RunSpec,
        controls: Controls<'_>,
    ) -> Result<RunResult, Error> {
        let m = self.valid.model();
        let (n_steps, every) = time_grid(spec.time, spec.dt, spec.every)?;
        if self.valid.info().has_noise && spec.solver == Solver::Rk4 {
            return Err(Error::usage(
                Diagnostic::error("the model has noise, and rk4 has no stochastic form").with_help(
                    "use `--solver euler` (Euler-Maruyama) or `--solver heun` (stochastic Heun)",
                ),
            ));
        }
        let connectivity = match (&m.network, &spec.connectivity, &self.connectivity) {
            (None, None, _) => None,
            (None, Some(_), _) => {
                return Err(Error::usage(
                    Diagnostic::error(format!(
                        "`{}` is not a network model, but a connectivity was given",
                        m.name
                    ))
                    .with_help("declare a `network:` in the model, or leave out `--connectivity`"),
                ));
            }
            (Some(_), Some(c), _) | (Some(_), None, Some(c)) => Some(c),
            // Without a connectivity, a network model runs as one uncoupled node.
            (Some(_), None, None) => Some(&*SINGLE_NODE),
        };
        let nn = connectivity.map_or(1, |c| c.n_nodes);
        let n = spec.instances.max(1);
        let names: Vec<String> = if spec.record.is_empty() {
            self.default_record()
        } else {
            self.record_paths(&spec.record)
        };
        let record = self.record_ids(&names)?;
        // Parameters (per instance) and initial states (per node and instance), structure of arrays.
        let mut params = Vec::with_capacity(m.params.len() * n);
        for p in m.params.values() {
            params.extend(std::iter::repeat_n(p.value, n));
        }
        let states: Vec<InitialValue> = m
            .states
            .values()
            .map(|s| InitialValue {
                value: s.init,
                range: s.init_range,
                bounds: s.bounds,
            })
            .collect();
        let mut init = initial_values_from(&states, n, nn, spec.seed, spec.instance_offset);
        let finite = |path: &str, values: &[f64]| match values.iter().find(|v| !v.is_finite()) {
            Some(bad) => Err(Error::usage(
                Diagnostic::error(format!("`{path}`: value {bad} is not finite"))
                    .with_help("values are finite numbers"),
            )),
            None => Ok(()),
        };
        for (path, values) in &spec.node_values {
            finite(path, values)?;
            if values.len() != nn {
                return Err(Error::usage(
                    Diagnostic::error(format!(
                        "`{path}` has {} values for {nn} nodes",
                        values.len()
                    ))
                    .with_help("give one initial value per node"),
                ));
            }
            match m.lookup(path) {
                Some(VarRef::State(h)) => {
                    for (node, v) in values.iter().enumerate() {
                        let at = (h.index() * nn + node) * n;
                        init[at..at + n].fill(*v);
                    }
                }
                Some(v) => {
                    return Err(Error::usage(
                        Diagnostic::error(format!(
                            "cannot give `{path}` per node: it is {}",
                            v.kind_name()
                        ))
                        .with_help("initial values of states can differ between nodes"),
                    ));
                }
                None => return Err(unknown_path(self, path)),
            }
        }
        for (path, values) in &spec.instance_values {
            finite(path, values)?;
            if values.len() != n {
                return Err(Error::usage(
                    Diagnostic::error(format!(
                        "`{path}` has {} values for {n} instances",
                        values.len()
                    ))
                    .with_help("give one value per instance"),
                ));
            }
            match m.lookup(path) {
                Some(VarRef::Param(h)) => {
                    params[h.index() * n..(h.index() + 1) * n].copy_from_slice(values)
                }
                Some(VarRef::State(h)) => {
                    for node in 0..nn {
                        let at = (h.index() * nn + node) * n;
                        init[at..at + n].copy_from_slice(values);
                    }
                }
                Some(v) => {
                    return Err(Error::usage(
                        Diagnostic::error(format!("cannot vary `{path}`: it is {}", v.kind_name()))
                            .with_help("parameters and initial states can vary between instances"),
                    ));
                }
                None => return Err(unknown_path(self, path)),
            }
        }
        // A conduction speed divides the tract lengths (RateML's `rec_speed_dt` multiplies them):
        // one that is not a positive number would silently mean no delays at all.
        let which = |i: usize| {
            if n > 1 {
                format!(" (instance {i})")
            } else {
                String::new()
            }
        };
        match m.network.as_ref().map(|net| net.delays) {
            Some(rateforge_ir::EdgeDelays::Speed(speed)) => {
                let values = &params[speed.index() * n..(speed.index() + 1) * n];
                if let Some(i) = values.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                    return Err(Error::usage(
                        Diagnostic::error(format!(
                            "the conduction speed `{}` is {}{}; it must be a positive number",
                            m.params[speed].name,
                            values[i],
                            which(i)
                        ))
                        .with_help("give the speed in length units per time unit, e.g. `--speed 3.0`; for no delays at all, leave out the tract lengths"),
                    ));
                }
            }
            Some(rateforge_ir::EdgeDelays::StepsPerDistance(_)) => {
                for i in 0..n {
                    let p: Vec<f64> = (0..m.params.len()).map(|k| params[k * n + i]).collect();
                    let scale =
                        rateforge_ir::eval::steps_per_distance(&self.valid, &p, nn, spec.dt)
                            .unwrap_or(0.0);
                    if !(scale.is_finite() && scale >= 0.0) {
                        return Err(Error::usage(
                            Diagnostic::error(format!(
                                "the delays' steps per unit of length (`rec_speed_dt`) are {scale}{}; the conduction speed must be a positive number",
                                which(i)
                            ))
                            .with_help("give a positive speed, e.g. `--set global_speed=2.0`"),
                        ));
                    }
                }
            }
            _ => {}
        }
        // Series, in model order.
        let mut series = Vec::with_capacity(m.series.len());
        for s in m.series.values() {
            let Some(t) = spec.series.get(&s.name) else {
                return Err(Error::usage(
                    Diagnostic::error(format!("no data given for the input series `{}`", s.name))
                        .with_help("give the data with `--input PATH=FILE.npy`"),
                ));
            };
            if (t.n_rows as u64) < n_steps {
                return Err(Error::Input(RuntimeError::Invalid(format!(
                    "input `{}` has {} rows, but the run has {n_steps} steps; give one row per step",
                    s.name, t.n_rows
                ))));
            }
            let columns = if t.n_cols == 1 {
                SeriesColumns::Shared
            } else if m.network.is_some() && t.n_cols == nn {
                SeriesColumns::PerNode
            } else if t.n_cols == n {
                SeriesColumns::PerInstance
            } else if m.network.is_some() && t.n_cols == n * nn {
                SeriesColumns::PerInstanceAndNode
            } else {
                let nodes = if m.network.is_some() {
                    format!(
                        ", one per node ({nn}), or one per instance and node ({})",
                        n * nn
                    )
                } else {
                    String::new()
                };
                return Err(Error::Input(RuntimeError::Invalid(format!(
                    "input `{}` has {} columns; give one column, one per instance ({n}){nodes}",
                    s.name, t.n_cols
                ))));
            };
            series.push(SeriesData {
                data: &t.data,
                n_rows: t.n_rows,
                n_cols: t.n_cols,
                columns,
            });
        }
        // Statistics: the transient in samples, thresholds per recorded value.
        let stats = match &spec.stats {
            None => None,
            Some(s) => {
                let transient_samples = transient_samples(s.transient, every, spec.dt)?;
                let mut thresholds = vec![f64::NAN; names.len()];
                for (path, v) in &s.thresholds {
                    match names.iter().position(|n| n == path) {
                        Some(r) => thresholds[r] = *v,
                        None => {
                            return Err(Error::usage(
                                Diagnostic::error(format!(
                                    "a threshold is given for `{path}`, which is not recorded"
                                ))
                                .with_help(format!("recorded: {}", names.join(", "))),
                            ));
                        }
                    }
                }
                Some(StatsRequest {
                    transient_samples,
                    thresholds,
                })
            }
        };
        let observe = match &spec.bold {
            None => None,
            Some(b) => {
                let id = self.record_ids(std::slice::from_ref(&b.driver))?;
                Some(b.request(id[0], n_steps, spec.dt)?)
            }
        };
        let launch = Launch {
            n_instances: n,
            n_steps,
            dt: spec.dt,
            t0: spec.t0,
            solver: spec.solver,
            record_every: every,
            record: &record,
            params: &params,
            init: &init,
            series: &series,
            connectivity,
            seed: spec.seed,
            progress: controls.progress,
            cancel: controls.cancel,
            threads: spec.threads,
            parallel: spec.parallel,
            trace: spec.trace,
            stats: stats.clone(),
            observe: observe.clone(),
            shared_noise: spec.shared_noise,
            instance_offset: spec.instance_offset,
        };
        let outcome = match backend {
            Backend::Native(k) => k.run(&launch),
            Backend::Interp => run_interpreted(&self.valid, &launch),
            Backend::Cuda(k) => k.run(&launch),
        }
        .map_err(Error::from)?;
        let time = sample_times(spec.t0, spec.dt, every, outcome.n_samples);
        let metadata = Metadata {
            version: env!("CARGO_PKG_VERSION").to_string(),
            model: self.reference.clone(),
            model_name: m.name.clone(),
            model_hash: self.hash.clone(),
            files: self.files.iter().map(|f| f.display().to_string()).collect(),
            backend: backend.name().to_string(),
            solver: spec.solver.name().to_string(),
            dt: spec.dt,
            t0: spec.t0,
            time: spec.time,
            n_steps,
            record_every_steps: every,
            n_instances: n,
            network: connectivity.map(|c| {
                let source = match (&spec.connectivity, &self.connectivity_source) {
                    (Some(_), _) => "given at run time".to_string(),
                    (None, Some(s)) => s.clone(),
                    (None, None) => "none: one uncoupled node".to_string(),
                };
                (c.n_nodes, c.weight.len(), source)
            }),
            noise_seed: self.valid.info().has_noise.then_some(spec.seed),
            noise_shared: spec.shared_noise,
            shard: spec.shard.clone(),
            parameters: m
                .params
                .values()
                .map(|p| (p.name.clone(), p.value))
                .collect(),
            initial_state: m
                .states
                .values()
                .map(|s| (s.name.clone(), s.init))
                .collect(),
            inputs: self
                .drives
                .iter()
                .map(|(p, d)| {
                    let v = match d {
                        Drive::Expression(e) => json!({"expression": e}),
                        Drive::Series(s) => json!({"series": s}),
                    };
                    (p.clone(), v)
                })
                .collect(),
            varied: spec
                .instance_values
                .iter()
                .map(|(p, _)| p.clone())
                .collect(),
            varied_per_node: spec.node_values.iter().map(|(p, _)| p.clone()).collect(),
            recorded: names.clone(),
            units: names
                .iter()
                .filter_map(|n| m.units.get(n).map(|u| (n.clone(), u.clone())))
                .collect(),
            trace: spec.trace,
            stats: stats.as_ref().map(|s| StatsMetadata {
                transient: spec.stats.as_ref().map_or(0.0, |x| x.transient),
                transient_samples: s.transient_samples,
                thresholds: names
                    .iter()
                    .zip(&s.thresholds)
                    .filter(|(_, t)| !t.is_nan())
                    .map(|(n, t)| (n.clone(), *t))
                    .collect(),
            }),
            kernel: match backend {
                Backend::Native(k) => json!({
                    "lanes": k.info().lanes,
                    "float_bits": k.info().float_bits,
                    "history_bits": k.info().history_bits,
                    "inlined_parameters": k.info().n_inlined,
                    "linkage": "dynamic",
                }),
                Backend::Interp => serde_json::Value::Null,
                Backend::Cuda(k) => json!({
                    "device": k.device_name(),
                    "float_bits": k.info().float_bits,
                    "history_bits": k.info().history_bits,
                    "inlined_parameters": k.info().inline.len(),
                }),
            },
            partial: outcome.cancelled,
            observe: spec.bold.as_ref().zip(observe.as_ref()).map(|(b, o)| {
                json!({
                    "driver": b.driver,
                    "tr": b.tr,
                    "bold_dt": b.bold_dt,
                    "time_unit_s": b.time_unit,
                    "transient": b.transient,
                    "transient_samples": o.transient,
                    "samples": o.n_tr,
                    "fcd_window": o.window,
                    "fcd_step": o.window_step,
                    "model": "Balloon-Windkessel",
                    "hemodynamics": Hemodynamics::NAMED
                        .iter()
                        .find(|(_, c)| *c == b.hemodynamics)
                        .map_or("custom", |(n, _)| n),
                    "constants": {
                        "kappa": b.hemodynamics.kappa, "gamma": b.hemodynamics.gamma,
                        "tau": b.hemodynamics.tau, "alpha": b.hemodynamics.alpha,
                        "rho": b.hemodynamics.rho, "V0": b.hemodynamics.v0,
                        "k1": b.hemodynamics.k1, "k2": b.hemodynamics.k2, "k3": b.hemodynamics.k3,
                    },
                    "units": "BOLD in percent signal change; times in seconds",
                })
            }),
        }
        .to_json();
        Ok(RunResult {
            time,
            names,
            n_instances: n,
            n_nodes: nn,
            network: m.network.is_some(),
            trace: outcome.trace,
            stats: outcome.stats,
            steps_done: outcome.steps_done,
            final_state: outcome.final_state,
            metadata,
            varied: spec.instance_values.clone(),
            partial: outcome.cancelled,
            observed: outcome.observed,
            tr: spec.bold.as_ref().map_or(0.0, |b| b.tr),
            per_instance: Vec::new(),
            instance_axis: spec.shard.is_some(),
        }
        .with_non_finite())
    }
}
