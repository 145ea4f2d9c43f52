//! Running simulations and writing their results.

use crate::error::Error;
use crate::model::{Drive, Validated};
use rateforge_ir::{Diagnostic, Solver, VarRef, did_you_mean};
pub use rateforge_runtime::abi::STATS;
use rateforge_runtime::cuda::CudaKernel;
use rateforge_runtime::data::Table;
use rateforge_runtime::output::{NpzArray, write_csv, write_npz};
use rateforge_runtime::{
    Connectivity, Kernel, Launch, RuntimeError, SeriesColumns, SeriesData, StatsRequest,
    run_interpreted,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};

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
    /// Keep every sample of the recorded values (else only statistics and final states, so the
    /// memory stays proportional to the number of instances).
    pub trace: bool,
    /// Streaming statistics of the recorded values, computed inside the kernel.
    pub stats: Option<StatsSpec>,
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
            trace: true,
            stats: None,
        }
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

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Sample times.
    pub time: Vec<f64>,
    /// Recorded paths.
    pub names: Vec<String>,
    /// Instances.
    pub n_instances: usize,
    /// Nodes (1 unless the model is a network).
    pub n_nodes: usize,
    /// Whether the model is a network (arrays then have a node axis).
    pub network: bool,
    /// Samples `[((sample * names.len() + r) * n_nodes + node) * n_instances + i]` (empty when
    /// the run kept no trace).
    pub trace: Vec<f64>,
    /// Statistics `[((k * names.len() + r) * n_nodes + node) * n_instances + i]`, `k` in the order
    /// of [`STATS`] (empty unless requested).
    pub stats: Vec<f64>,
    /// Steps integrated per instance (all of them unless the run was interrupted).
    pub steps_done: Vec<u64>,
    /// Final states `[(k * n_nodes + node) * n_instances + i]`.
    pub final_state: Vec<f64>,
    /// Run metadata (model, hash, solver, dt, parameters, version, ...).
    pub metadata: serde_json::Value,
    /// The values varied between instances ([`RunSpec::instance_values`]): one value per instance
    /// each, written to `.npz` as `grid/<path>`.
    pub varied: Vec<(String, Vec<f64>)>,
    /// Whether the run was stopped early.
    pub partial: bool,
}

fn whole_steps(what: &str, x: f64, dt: f64) -> Result<u64, Error> {
    let ratio = x / dt;
    let n = ratio.round();
    if !ratio.is_finite() || n < 0.0 || (ratio - n).abs() > 1e-6 * n.max(1.0) {
        return Err(Error::usage(
            Diagnostic::error(format!("{what} {x} is not a whole number of steps of {dt}"))
                .with_help(format!(
                    "choose {what} as a multiple of the step size (nearest: {})",
                    n * dt
                )),
        ));
    }
    Ok(n as u64)
}

fn unknown_path(v: &Validated, path: &str) -> Error {
    let names: Vec<&str> = v.valid.model().names().map(|(n, _)| n).collect();
    let d = Diagnostic::error(format!("the model has no variable `{path}`"));
    Error::usage(match did_you_mean(path, names.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help("`rateforge check MODEL` lists every path"),
    })
}

/// One node without edges: a network model run without a connectivity.
static SINGLE_NODE: std::sync::LazyLock<Connectivity> =
    std::sync::LazyLock::new(|| Connectivity::from_dense(1, &[0.0], &[0.0]));

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

    /// The ids of recorded paths (`< n_state` states, else derived values); empty means all states.
    pub fn record_ids(&self, paths: &[String]) -> Result<Vec<u32>, Error> {
        let m = self.valid.model();
        if paths.is_empty() {
            return Ok((0..m.states.len() as u32).collect());
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
        if !(spec.dt.is_finite() && spec.dt > 0.0) {
            return Err(Error::usage(
                Diagnostic::error(format!("the step size must be positive, found {}", spec.dt))
                    .with_help("give `--dt` as a positive number, e.g. `--dt 1e-3`"),
            ));
        }
        if !(spec.time.is_finite() && spec.time >= 0.0) {
            return Err(Error::usage(
                Diagnostic::error(format!(
                    "the simulated time must be positive, found {}",
                    spec.time
                ))
                .with_help("give `--time` as a positive number"),
            ));
        }
        let n_steps = whole_steps("the simulated time", spec.time, spec.dt)?;
        let every = match spec.every {
            None => 1,
            Some(e) => whole_steps("the sampling interval", e, spec.dt)?.max(1),
        };
        if spec.every.is_some_and(|e| e < spec.dt * 0.999_999) {
            return Err(Error::usage(
                Diagnostic::error("the sampling interval is shorter than the step size")
                    .with_help("choose `--every` as a multiple of `--dt`"),
            ));
        }
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
            spec.record.clone()
        };
        let record = self.record_ids(&names)?;
        // Parameters (per instance) and initial states (per node and instance), structure of arrays.
        let (np, ns) = (m.params.len(), m.states.len());
        let mut params = Vec::with_capacity(np * n);
        for p in m.params.values() {
            params.extend(std::iter::repeat_n(p.value, n));
        }
        let mut init = Vec::with_capacity(ns * nn * n);
        for (k, s) in m.states.values().enumerate() {
            match s.init_range {
                None => init.extend(std::iter::repeat_n(s.init, nn * n)),
                // Drawn per instance and node from the seed (IR docs, "Initial values").
                Some((lo, hi)) => {
                    for node in 0..nn {
                        for i in 0..n {
                            let u = rateforge_ir::rng::uniform_init(
                                spec.seed,
                                i as u64,
                                node as u64,
                                k as u32,
                            );
                            let v = lo + (hi - lo) * u;
                            init.push(match s.bounds {
                                Some((blo, bhi)) => rateforge_ir::eval::clamp_value(v, blo, bhi),
                                None => v,
                            });
                        }
                    }
                }
            }
        }
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
                if !(s.transient.is_finite() && s.transient >= 0.0) {
                    return Err(Error::usage(
                        Diagnostic::error(format!(
                            "the transient must be a positive time, found {}",
                            s.transient
                        ))
                        .with_help("give `--transient` in the model's time unit, e.g. 100"),
                    ));
                }
                let interval = every as f64 * spec.dt;
                let transient_samples = (s.transient / interval - 1e-9).ceil().max(0.0) as u64;
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
            trace: spec.trace,
            stats: stats.clone(),
        };
        let outcome = match backend {
            Backend::Native(k) => k.run(&launch),
            Backend::Interp => run_interpreted(&self.valid, &launch),
            Backend::Cuda(k) => k.run(&launch),
        }
        .map_err(Error::from)?;
        let time: Vec<f64> = (0..outcome.n_samples)
            .map(|j| spec.t0 + (j as u64 * every) as f64 * spec.dt)
            .collect();
        let parameters: serde_json::Map<String, serde_json::Value> = m
            .params
            .values()
            .map(|p| (p.name.clone(), json!(p.value)))
            .collect();
        let initial: serde_json::Map<String, serde_json::Value> = m
            .states
            .values()
            .map(|s| (s.name.clone(), json!(s.init)))
            .collect();
        let inputs: serde_json::Map<String, serde_json::Value> = self
            .drives
            .iter()
            .map(|(p, d)| {
                let v = match d {
                    Drive::Expression(e) => json!({"expression": e}),
                    Drive::Series(s) => json!({"series": s}),
                };
                (p.clone(), v)
            })
            .collect();
        let network = connectivity.map(|c| {
            json!({
                "nodes": c.n_nodes,
                "edges": c.weight.len(),
                                "connectivity": match (&spec.connectivity, &self.connectivity_source) {
                    (Some(_), _) => Some("given at run time".to_string()),
                    (None, Some(s)) => Some(s.clone()),
                    (None, None) => Some("none: one uncoupled node".to_string()),
                },
            })
        });
        let metadata = json!({
            "rateforge_version": env!("CARGO_PKG_VERSION"),
            "model": self.reference,
            "model_name": m.name,
            "model_hash": self.hash,
            "files": self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "backend": backend.name(),
            "solver": spec.solver.name(),
            "dt": spec.dt,
            "t0": spec.t0,
            "time": spec.time,
            "n_steps": n_steps,
            "record_every_steps": every,
            "n_instances": n,
            "network": network,
            "noise": self.valid.info().has_noise.then_some(json!({"seed": spec.seed})),
            "parameters": parameters,
            "initial_state": initial,
            "inputs": inputs,
            "varied": spec.instance_values.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            "varied_per_node": spec.node_values.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
                        "recorded": names,
            "trace": spec.trace,
            "array_axes": if m.network.is_some() { "samples, nodes[, instances]" } else { "samples[, instances]" },
            "stats": stats.as_ref().map(|s| json!({
                "names": STATS,
                "transient": spec.stats.as_ref().map_or(0.0, |x| x.transient),
                "transient_samples": s.transient_samples,
                "thresholds": names.iter().zip(&s.thresholds).filter(|(_, t)| !t.is_nan()).map(|(n, t)| (n.clone(), json!(t))).collect::<serde_json::Map<_, _>>(),
                "array_axes": if m.network.is_some() { "nodes[, instances]" } else { "[instances]" },
            })),
            "kernel": match backend {
                Backend::Native(k) => json!({
                    "lanes": k.info().lanes,
                    "float_bits": k.info().float_bits,
                    "history_bits": k.info().history_bits,
                    "inlined_parameters": k.info().n_inlined,
                }),
                                Backend::Interp => serde_json::Value::Null,
                Backend::Cuda(k) => json!({
                    "device": k.device_name(),
                    "float_bits": k.info().float_bits,
                    "history_bits": k.info().history_bits,
                    "inlined_parameters": k.info().inline.len(),
                }),
            },
            "partial": outcome.cancelled,
        });
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
        })
    }
}

impl RunResult {
    /// The samples of recorded value `r` at node 0 for instance `i`.
    pub fn column(&self, r: usize, i: usize) -> Vec<f64> {
        self.node_column(r, 0, i)
    }

    /// The samples of recorded value `r` at `node` for instance `i`.
    pub fn node_column(&self, r: usize, node: usize, i: usize) -> Vec<f64> {
        let (nr, nn, n) = (self.names.len(), self.n_nodes, self.n_instances);
        (0..self.time.len())
            .map(|j| self.trace[((j * nr + r) * nn + node) * n + i])
            .collect()
    }

    /// Statistic `stat` (a name of [`STATS`]) of recorded value `r` at `node` for instance `i`.
    pub fn stat(&self, stat: &str, r: usize, node: usize, i: usize) -> Option<f64> {
        let k = STATS.iter().position(|s| *s == stat)?;
        let (nr, nn, n) = (self.names.len(), self.n_nodes, self.n_instances);
        self.stats.get(((k * nr + r) * nn + node) * n + i).copied()
    }

    /// The samples of the recorded path `name` at node 0 for instance 0.
    pub fn series(&self, name: &str) -> Option<Vec<f64>> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|r| self.column(r, 0))
    }

    /// Writes `.npz` (any number of instances) or `.csv` (one instance of a single node), chosen by
    /// extension.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => self.write_csv(path),
            Some("npz") => self.write_npz(path),
            _ => Err(Error::usage(
                Diagnostic::error(format!(
                    "cannot tell the output format of `{}`",
                    path.display()
                ))
                .with_help("use a `.npz` (numpy) or `.csv` file name"),
            )),
        }
    }

    /// Writes `time` and one array per recorded path (when the run kept a trace),
    /// `<stat>/<path>` for every statistic (when computed), `grid/<path>` for every value varied
    /// between instances (one entry per instance), `steps_done` for an interrupted run, and
    /// `metadata` (a JSON string). Traces have the axes `(samples, nodes, instances)`, statistics
    /// `(nodes, instances)`, without the node axis for a model that is not a network and without
    /// the instance axis for a single instance.
    pub fn write_npz(&self, path: &Path) -> Result<(), Error> {
        let (n, nn, nr, ns) = (
            self.n_instances,
            self.n_nodes,
            self.names.len(),
            self.time.len(),
        );
        let mut arrays = Vec::new();
        let traced = !self.trace.is_empty();
        if traced {
            arrays.push(NpzArray {
                name: "time".into(),
                shape: vec![ns],
                data: self.time.clone(),
            });
        }
        for (r, name) in self.names.iter().enumerate().filter(|_| traced) {
            let mut shape = vec![ns];
            if self.network {
                shape.push(nn);
            }
            if n > 1 {
                shape.push(n);
            }
            // The trace is already (sample, node, instance) within one recorded value.
            let mut data = Vec::with_capacity(ns * nn * n);
            for j in 0..ns {
                let at = (j * nr + r) * nn * n;
                data.extend_from_slice(&self.trace[at..at + nn * n]);
            }
            arrays.push(NpzArray {
                name: name.clone(),
                shape,
                data,
            });
        }
        // Statistics: `<stat>/<path>`, shape ([nodes,] [instances]).
        if !self.stats.is_empty() {
            for (k, stat) in STATS.iter().enumerate() {
                for (r, name) in self.names.iter().enumerate() {
                    let mut shape = Vec::new();
                    if self.network {
                        shape.push(nn);
                    }
                    if n > 1 {
                        shape.push(n);
                    }
                    let at = (k * nr + r) * nn * n;
                    arrays.push(NpzArray {
                        name: format!("{stat}/{name}"),
                        shape,
                        data: self.stats[at..at + nn * n].to_vec(),
                    });
                }
            }
        }
        for (name, values) in &self.varied {
            arrays.push(NpzArray {
                name: format!("grid/{name}"),
                shape: vec![values.len()],
                data: values.clone(),
            });
        }
        if self.partial {
            arrays.push(NpzArray {
                name: "steps_done".into(),
                shape: vec![n],
                data: self.steps_done.iter().map(|&s| s as f64).collect(),
            });
        }
        write_npz(path, &arrays, &self.metadata.to_string()).map_err(Error::from)
    }

    /// Writes a CSV with a `time` column and one column per recorded path (one instance; for a
    /// network, one column per path and node, named `path[node]`).
    pub fn write_csv(&self, path: &Path) -> Result<(), Error> {
        if self.n_instances != 1 {
            return Err(Error::usage(
                Diagnostic::error(format!(
                    "a CSV file holds one instance, this run has {}",
                    self.n_instances
                ))
                .with_help("write a `.npz` file instead"),
            ));
        }
        let mut header = vec!["time".to_string()];
        let mut columns = vec![self.time.clone()];
        for (r, name) in self.names.iter().enumerate() {
            for node in 0..self.n_nodes {
                header.push(if self.network {
                    format!("{name}[{node}]")
                } else {
                    name.clone()
                });
                columns.push(self.node_column(r, node, 0));
            }
        }
        write_csv(path, &header, &columns).map_err(Error::from)
    }
}
