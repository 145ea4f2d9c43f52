//! Running simulations and writing their results.

use crate::error::Error;
use crate::model::{Drive, Validated};
use rateforge_ir::{Diagnostic, Solver, VarRef, did_you_mean};
use rateforge_runtime::data::Table;
use rateforge_runtime::output::{NpzArray, write_csv, write_npz};
use rateforge_runtime::{Kernel, Launch, RuntimeError, SeriesData, run_interpreted};
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
}

impl Backend<'_> {
    /// The backend's name in metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
            Backend::Interp => "interp",
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
    /// step, one column (shared) or one per instance.
    pub series: BTreeMap<String, Table>,
    /// Number of instances.
    pub instances: usize,
    /// Per-instance values of parameters or initial states (each of length `instances`).
    pub instance_values: Vec<(String, Vec<f64>)>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
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
            threads: None,
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
    /// Samples `[(sample * names.len() + r) * n_instances + i]`.
    pub trace: Vec<f64>,
    /// Final states `[k * n_instances + i]`.
    pub final_state: Vec<f64>,
    /// Run metadata (model, hash, solver, dt, parameters, version, ...).
    pub metadata: serde_json::Value,
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

impl Validated {
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
        let n = spec.instances.max(1);
        let record = self.record_ids(&spec.record)?;
        let names: Vec<String> = if spec.record.is_empty() {
            m.states.values().map(|s| s.name.clone()).collect()
        } else {
            spec.record.clone()
        };
        // Parameters and initial states, structure of arrays.
        let (np, ns) = (m.params.len(), m.states.len());
        let mut params = Vec::with_capacity(np * n);
        for p in m.params.values() {
            params.extend(std::iter::repeat_n(p.value, n));
        }
        let mut init = Vec::with_capacity(ns * n);
        for s in m.states.values() {
            init.extend(std::iter::repeat_n(s.init, n));
        }
        for (path, values) in &spec.instance_values {
            if values.len() != n {
                return Err(Error::usage(
                    Diagnostic::error(format!(
                        "`{path}` has {} values for {n} instances",
                        values.len()
                    ))
                    .with_help("give one value per instance"),
                ));
            }
            if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                return Err(Error::usage(
                    Diagnostic::error(format!("`{path}`: value {bad} is not finite"))
                        .with_help("values are finite numbers"),
                ));
            }
            match m.lookup(path) {
                Some(VarRef::Param(h)) => {
                    params[h.index() * n..(h.index() + 1) * n].copy_from_slice(values)
                }
                Some(VarRef::State(h)) => {
                    init[h.index() * n..(h.index() + 1) * n].copy_from_slice(values)
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
            if t.n_cols != 1 && t.n_cols != n {
                return Err(Error::Input(RuntimeError::Invalid(format!(
                    "input `{}` has {} columns; give one column, or one per instance ({n})",
                    s.name, t.n_cols
                ))));
            }
            series.push(SeriesData {
                data: &t.data,
                n_rows: t.n_rows,
                n_cols: t.n_cols,
            });
        }
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
            progress: controls.progress,
            cancel: controls.cancel,
            threads: spec.threads,
        };
        let outcome = match backend {
            Backend::Native(k) => k.run(&launch),
            Backend::Interp => run_interpreted(&self.valid, &launch),
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
            "parameters": parameters,
            "initial_state": initial,
            "inputs": inputs,
            "varied": spec.instance_values.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
            "recorded": names,
            "partial": outcome.cancelled,
        });
        Ok(RunResult {
            time,
            names,
            n_instances: n,
            trace: outcome.trace,
            final_state: outcome.final_state,
            metadata,
            partial: outcome.cancelled,
        })
    }
}

impl RunResult {
    /// The samples of recorded value `r` for instance `i`.
    pub fn column(&self, r: usize, i: usize) -> Vec<f64> {
        let (nr, n) = (self.names.len(), self.n_instances);
        (0..self.time.len())
            .map(|j| self.trace[(j * nr + r) * n + i])
            .collect()
    }

    /// The samples of the recorded path `name` for instance 0.
    pub fn series(&self, name: &str) -> Option<Vec<f64>> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|r| self.column(r, 0))
    }

    /// Writes `.npz` (any number of instances) or `.csv` (one instance), chosen by extension.
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

    /// Writes `time`, one array per recorded path (shape `(samples,)`, or `(samples, instances)`
    /// for several instances) and `metadata` (a JSON string).
    pub fn write_npz(&self, path: &Path) -> Result<(), Error> {
        let n = self.n_instances;
        let mut arrays = vec![NpzArray {
            name: "time".into(),
            shape: vec![self.time.len()],
            data: self.time.clone(),
        }];
        for (r, name) in self.names.iter().enumerate() {
            let (shape, data) = if n == 1 {
                (vec![self.time.len()], self.column(r, 0))
            } else {
                let mut d = Vec::with_capacity(self.time.len() * n);
                for j in 0..self.time.len() {
                    d.extend_from_slice(
                        &self.trace
                            [(j * self.names.len() + r) * n..(j * self.names.len() + r + 1) * n],
                    );
                }
                (vec![self.time.len(), n], d)
            };
            arrays.push(NpzArray {
                name: name.clone(),
                shape,
                data,
            });
        }
        write_npz(path, &arrays, &self.metadata.to_string()).map_err(Error::from)
    }

    /// Writes a CSV with a `time` column and one column per recorded path (one instance only).
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
        header.extend(self.names.iter().cloned());
        let mut columns = vec![self.time.clone()];
        columns.extend((0..self.names.len()).map(|r| self.column(r, 0)));
        write_csv(path, &header, &columns).map_err(Error::from)
    }
}
