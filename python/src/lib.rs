//! The native part of the `rateforge` Python package (`rateforge._rateforge`): models, runs and
//! sweeps through the rateforge library, results as numpy arrays. The Python layer
//! (`python/rateforge/__init__.py`) normalises arguments, draws progress, and adds pandas,
//! xarray and matplotlib conveniences; everything that decides a result happens here, in the
//! same library calls the command line makes.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Complex64, IntoPyArray, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rateforge::sweep::{Mode, Sweep, Values};
use rateforge::{
    BackendKind, Controls, Engine, EngineOptions, Error, Format, LoadOptions, Precision, RunSpec,
    Solver, StatsSpec, Table,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

create_exception!(
    _rateforge,
    ModelError,
    PyValueError,
    "A model that does not load or validate, or a run that cannot start: the message is \
     rateforge's diagnostic (file:line:col, the text underlined, a help line)."
);

fn model_error(e: Error) -> PyErr {
    ModelError::new_err(e.render())
}

fn usage_error(message: impl Into<String>, help: &str) -> PyErr {
    ModelError::new_err(format!("error: {}\n  = help: {help}", message.into()))
}

/// A loaded model that can be edited (`set`, `drive`) and run. Runs reuse the kernels they
/// built (and rustc's cache on disk), so repeated runs cost the simulation only.
#[pyclass(name = "Model", module = "rateforge._rateforge")]
struct PyModel {
    model: rateforge::Model,
    /// Engines built for this model, by (model hash, emit options, backend).
    engines: Mutex<Vec<(String, Arc<Mutex<Engine>>)>>,
}

impl PyModel {
    fn new(model: rateforge::Model) -> Self {
        PyModel {
            model,
            engines: Mutex::new(Vec::new()),
        }
    }
}

/// Loads a model: `file.yaml/Template`, `dir/file/Template`, `package.file.Template` (searched
/// in `model_path` and the current directory), a YAML file with a single circuit, or a RateML
/// file `model.xml`; the same forms as the command line.
#[pyfunction]
#[pyo3(signature = (model, model_path = None))]
fn load(model: &str, model_path: Option<Vec<PathBuf>>) -> PyResult<PyModel> {
    let options = LoadOptions {
        model_paths: model_path.unwrap_or_default(),
        ..Default::default()
    };
    rateforge::Model::load(model, &options)
        .map(PyModel::new)
        .map_err(model_error)
}

/// A model from text: `format` is `"yaml"` (then `template` names the circuit or node to run,
/// unless the text has a single one) or `"xml"` (RateML/LEMS).
#[pyfunction]
#[pyo3(signature = (text, format = "yaml", template = None))]
fn from_source(text: &str, format: &str, template: Option<&str>) -> PyResult<PyModel> {
    let (format, reference) = match format {
        "yaml" => (
            Format::Yaml,
            match template {
                Some(t) => format!("<source>.yaml/{t}"),
                None => "<source>.yaml".to_string(),
            },
        ),
        "xml" => (Format::Xml, "<source>.xml".to_string()),
        other => {
            return Err(usage_error(
                format!("unknown model format `{other}`"),
                "use format=\"yaml\" (PyRates templates) or format=\"xml\" (RateML/LEMS)",
            ));
        }
    };
    rateforge::Model::from_source(&reference, text, format)
        .map(PyModel::new)
        .map_err(model_error)
}

fn precision(text: &str) -> PyResult<Precision> {
    match text {
        "f64" | "float64" | "double" => Ok(Precision::F64),
        "f32" | "float32" | "single" => Ok(Precision::F32),
        other => Err(usage_error(
            format!("unknown precision `{other}`"),
            "use \"f64\" or \"f32\"",
        )),
    }
}

/// What `Model.run` and `Model.sweep` take besides the sweep (see the Python docstrings), as a
/// dict.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RunArgs {
    time: f64,
    dt: f64,
    solver: String,
    t0: f64,
    every: Option<f64>,
    record: Vec<String>,
    seed: u64,
    threads: Option<usize>,
    parallel: String,
    backend: String,
    precision: String,
    history_precision: String,
    fast: bool,
    lanes: Option<usize>,
    generic: bool,
    trace: bool,
    stats: bool,
    transient: Option<f64>,
    thresholds: HashMap<String, f64>,
    instance_values: HashMap<String, Vec<f64>>,
    node_values: HashMap<String, Vec<f64>>,
    same_noise: bool,
    bold: Option<BoldArgs>,
    no_bold: bool,
}

/// `bold=` of `Model.run` (every key filled in by the Python layer), as a dict.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct BoldArgs {
    driver: String,
    tr: f64,
    bold_dt: f64,
    time_unit: String,
    balloon: String,
    transient: f64,
    fcd_window: usize,
    fcd_step: usize,
    keep_bold: bool,
}

impl BoldArgs {
    fn spec(self) -> PyResult<rateforge::BoldSpec> {
        Ok(rateforge::BoldSpec {
            driver: self.driver,
            tr: self.tr,
            bold_dt: self.bold_dt,
            time_unit: match self.time_unit.as_str() {
                "ms" => 1e-3,
                "s" => 1.0,
                other => {
                    return Err(usage_error(
                        format!("unknown time unit `{other}`"),
                        "use time_unit=\"ms\" or \"s\"",
                    ));
                }
            },
            hemodynamics: rateforge::Hemodynamics::named(&self.balloon).ok_or_else(|| {
                usage_error(
                    format!("unknown Balloon-Windkessel constants `{}`", self.balloon),
                    "use balloon=\"stephan2007\", \"friston2003\" or \"cubnm\"",
                )
            })?,
            transient: self.transient,
            fcd_window: self.fcd_window,
            fcd_step: self.fcd_step,
            keep_bold: self.keep_bold,
        })
    }
}

/// `target=` of `Model.run`, `Model.sweep` and `Model.fit`: empirical FC (and FCD), or BOLD.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct TargetArgs<'py> {
    fc: Option<PyReadonlyArray2<'py, f64>>,
    fcd: Option<PyReadonlyArray2<'py, f64>>,
    bold: Option<PyReadonlyArray2<'py, f64>>,
}

impl TargetArgs<'_> {
    fn target(&self, spec: &RunSpec) -> PyResult<rateforge::fit::FitTarget> {
        let square = |a: &PyReadonlyArray2<'_, f64>, what: &str| -> PyResult<(Vec<f64>, usize)> {
            let (r, c) = a.as_array().dim();
            if r != c {
                return Err(usage_error(
                    format!("the target {what} is {r} x {c}; it is square"),
                    "give the matrix itself, nodes x nodes",
                ));
            }
            Ok((a.as_array().iter().copied().collect(), r))
        };
        match (&self.fc, &self.bold) {
            (Some(fc), None) => {
                let (m, n) = square(fc, "FC")?;
                let fcd = self.fcd.as_ref().map(|a| square(a, "FCD")).transpose()?;
                Ok(rateforge::fit::FitTarget::from_matrices(m, n, fcd))
            }
            (None, Some(b)) => {
                let (rows, n) = b.as_array().dim();
                let data: Vec<f64> = b.as_array().iter().copied().collect();
                Ok(rateforge::fit::FitTarget::from_bold(
                    &data,
                    rows,
                    n,
                    &spec.bold.clone().unwrap_or_default(),
                ))
            }
            _ => Err(usage_error(
                "a target is an FC matrix (and an FCD matrix) or BOLD time series",
                "give target=dict(fc=FC, fcd=FCD) or target=dict(bold=BOLD)",
            )),
        }
    }
}

/// The values of one swept path: the command line's text (`lo:hi:n`, `log:lo:hi:n`, `lo:hi` for
/// random designs) or numbers.
#[derive(FromPyObject)]
enum AxisValues {
    Text(String),
    List(Vec<f64>),
}

/// The sweep of `Model.sweep`, as a dict.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SweepArgs {
    /// (path, values) in order.
    axes: Vec<(String, AxisValues)>,
    /// Points of the model's declared swept parameters, by name.
    points: Vec<(String, usize)>,
    mode: String,
    samples: Option<usize>,
    seed: u64,
    table: Vec<(String, Vec<f64>)>,
    /// (K, N): run shard K of N (from 1) of the sweep.
    shard: Option<(usize, usize)>,
}

#[pymethods]
impl PyModel {
    /// A copy that can be edited independently.
    fn copy(&self) -> PyModel {
        PyModel::new(self.model.clone())
    }

    /// Sets a parameter's value or a state's initial value.
    fn set(&mut self, path: &str, value: f64) -> PyResult<()> {
        self.model.set(path, value).map_err(model_error)
    }

    /// Drives an input with an expression of the time `t` (`"30*(t>=30)*(t<60)"`).
    fn drive(&mut self, path: &str, expression: &str) -> PyResult<()> {
        self.model.drive(path, expression).map_err(model_error)
    }

    /// Adds noise `sigma dW` to a state.
    fn set_noise(&mut self, path: &str, sigma: f64) -> PyResult<()> {
        self.model.set_noise(path, sigma).map_err(model_error)
    }

    /// Runs a network model on a connectivity: a directory or TVB zip (`weights.txt`,
    /// `tract_lengths.txt`, ...), or a weights file with optional tract lengths or delays, as
    /// `--connectivity`, `--tract-lengths` and `--delays` read them.
    #[pyo3(signature = (path, tract_lengths = None, delays = None))]
    fn set_connectivity(
        &mut self,
        path: PathBuf,
        tract_lengths: Option<PathBuf>,
        delays: Option<PathBuf>,
    ) -> PyResult<()> {
        let loaded = rateforge::crates::runtime::connectivity::load(
            &path,
            tract_lengths.as_deref(),
            delays.as_deref(),
        )
        .map_err(|e| model_error(Error::Input(e)))?;
        self.model.set_connectivity(loaded).map_err(model_error)
    }

    /// The history before the start: `"initial"` (each state's initial value) or `"zero"`.
    fn set_history(&mut self, history: &str) -> PyResult<()> {
        use rateforge::crates::ir::History;
        self.model.set_history(match history {
            "initial" => History::Initial,
            "zero" => History::Zero,
            other => {
                return Err(usage_error(
                    format!("unknown history `{other}`"),
                    "use \"initial\" or \"zero\"",
                ));
            }
        });
        Ok(())
    }

    /// Validates the model and describes it: name, hash, states (path, initial value),
    /// parameters (path, value, kind), algebraic variables, swept axes, warnings and the listing
    /// `rateforge check` prints.
    fn check<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let valid = self.model.clone().validate().map_err(model_error)?;
        let m = valid.ir().model();
        let out = PyDict::new(py);
        out.set_item("name", &m.name)?;
        out.set_item("reference", valid.reference())?;
        out.set_item("hash", valid.hash())?;
        let states = PyList::empty(py);
        for s in m.states.values() {
            states.append((&s.name, s.init))?;
        }
        out.set_item("states", states)?;
        let params = PyList::empty(py);
        for p in m.params.values() {
            params.append((&p.name, p.value, format!("{:?}", p.kind).to_lowercase()))?;
        }
        out.set_item("parameters", params)?;
        let derived: Vec<&str> = m.derived.values().map(|d| d.name.as_str()).collect();
        out.set_item("derived", derived)?;
        out.set_item("network", m.network.is_some())?;
        let axes = PyList::empty(py);
        for a in valid.sweep_axes() {
            axes.append((&a.name, a.lo, a.hi))?;
        }
        out.set_item("sweep_axes", axes)?;
        out.set_item("record", valid.default_record())?;
        out.set_item("warnings", valid.warnings())?;
        out.set_item("listing", valid.listing())?;
        Ok(out)
    }

    /// Runs the model; see `rateforge.Model.run` for the arguments.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (args, exprs, series, sweep = None, progress = None, target = None))]
    fn _run(
        &self,
        py: Python<'_>,
        args: RunArgs,
        exprs: Vec<(String, String)>,
        series: Vec<(String, PyReadonlyArray2<'_, f64>)>,
        sweep: Option<SweepArgs>,
        progress: Option<Bound<'_, PyAny>>,
        target: Option<TargetArgs<'_>>,
    ) -> PyResult<PyRunResult> {
        let (valid, spec, options) = self.spec(args, exprs, series, sweep)?;
        let target = target.map(|t| t.target(&spec)).transpose()?;
        let engine = self.engine(py, &valid, &spec, &options)?;
        let mut out = run_interruptibly(py, &valid, &spec, &engine, progress)?;
        if let Some(t) = &target {
            out.result.per_instance = t.per_instance(&out.result).map_err(model_error)?;
        }
        Ok(out)
    }

    /// Fits free parameters to a target; see `rateforge.Model.fit`. Returns the arrays of the
    /// fit's `.npz` file as a dict, and whether it was interrupted.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (args, exprs, series, target, free, method, points, population, generations, sigma, progress = None))]
    fn _fit<'py>(
        &self,
        py: Python<'py>,
        args: RunArgs,
        exprs: Vec<(String, String)>,
        series: Vec<(String, PyReadonlyArray2<'_, f64>)>,
        target: TargetArgs<'_>,
        free: Vec<(String, f64, f64)>,
        method: &str,
        points: usize,
        population: Option<usize>,
        generations: usize,
        sigma: f64,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyDict>, bool)> {
        let (valid, base, options) = self.spec(args, exprs, series, None)?;
        let target = target.target(&base)?;
        let n_free = free.len();
        let fit = rateforge::fit::FitOptions {
            free: free
                .into_iter()
                .map(|(path, lo, hi)| rateforge::fit::FreeParam { path, lo, hi })
                .collect(),
            method: match method {
                "grid" => rateforge::fit::Method::Grid { points },
                "cmaes" => rateforge::fit::Method::Cmaes {
                    population: population
                        .unwrap_or_else(|| rateforge::fit::default_population(n_free)),
                    generations,
                    sigma,
                },
                other => {
                    return Err(usage_error(
                        format!("unknown method `{other}`"),
                        "use method=\"cmaes\" or \"grid\"",
                    ));
                }
            },
            seed: base.seed,
        };
        fit.check().map_err(model_error)?;
        let probe = rateforge::fit::probe_spec(&base, &fit);
        let engine = self.engine(py, &valid, &probe, &options)?;
        let engine = engine
            .lock()
            .map_err(|_| usage_error("a previous run failed badly", "load the model again"))?;
        let cancel = AtomicBool::new(false);
        let progress = progress.map(|p| p.unbind());
        let mut interrupted = false;
        let mut callback_error: Option<PyErr> = None;
        let outcome = py.detach(|| {
            std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::channel();
                let (gen_tx, gen_rx) = std::sync::mpsc::channel::<(usize, usize, f64, Vec<f64>)>();
                let controls = Controls {
                    progress: None,
                    cancel: Some(&cancel),
                };
                let backend = engine.backend();
                let (valid, base, target, fit) = (&valid, &base, &target, &fit);
                scope.spawn(move || {
                    let r = rateforge::fit::fit(valid, backend, base, target, fit, controls, |g| {
                        let _ = gen_tx.send((
                            g.index,
                            g.of,
                            g.best.goodness.cost,
                            g.best.point.clone(),
                        ));
                    });
                    let _ = tx.send(r);
                });
                loop {
                    let done = rx.recv_timeout(Duration::from_millis(50));
                    Python::attach(|py| {
                        if !interrupted && py.check_signals().is_err() {
                            cancel.store(true, Ordering::SeqCst);
                            interrupted = true;
                        }
                        while let Ok((g, of, cost, point)) = gen_rx.try_recv() {
                            if let Some(p) = &progress
                                && callback_error.is_none()
                                && let Err(e) = p.call1(py, (g + 1, of, cost, point))
                            {
                                callback_error = Some(e);
                            }
                        }
                    });
                    match done {
                        Ok(r) => return Some(r),
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    }
                }
            })
        });
        let result = match outcome {
            Some(r) => r.map_err(model_error)?,
            None => {
                return Err(usage_error(
                    "the fit's thread panicked (a bug in rateforge)",
                    "please report it",
                ));
            }
        };
        if let Some(e) = callback_error {
            return Err(e);
        }
        let dict = PyDict::new(py);
        for a in result.arrays() {
            dict.set_item(a.name, a.data.into_pyarray(py))?;
        }
        Ok((dict, result.interrupted))
    }
}

impl PyModel {
    /// The validated model, the run and the engine options of `Model.run` / `Model.sweep`.
    fn spec(
        &self,
        args: RunArgs,
        exprs: Vec<(String, String)>,
        series: Vec<(String, PyReadonlyArray2<'_, f64>)>,
        sweep: Option<SweepArgs>,
    ) -> PyResult<(rateforge::Validated, RunSpec, EngineOptions)> {
        let mut model = self.model.clone();
        for (path, e) in &exprs {
            model.drive(path, e).map_err(model_error)?;
        }
        let mut tables = BTreeMap::new();
        for (path, array) in &series {
            let a = array.as_array();
            let (n_rows, n_cols) = a.dim();
            model
                .drive_with_series(path, "<numpy array>")
                .map_err(model_error)?;
            tables.insert(
                path.clone(),
                Table {
                    data: a.iter().copied().collect(),
                    n_rows,
                    n_cols,
                },
            );
        }
        let valid = model.validate().map_err(model_error)?;
        // BOLD: as given, else as the model declares it (unless switched off).
        let bold = match (args.no_bold, args.bold) {
            (true, _) => None,
            (false, Some(b)) => Some(b.spec()?),
            (false, None) => valid.declared_bold(),
        };
        let solver: Solver = args
            .solver
            .parse()
            .map_err(|e: String| usage_error(e, "use solver=\"euler\", \"heun\" or \"rk4\""))?;
        let mut spec = RunSpec {
            time: args.time,
            dt: args.dt,
            t0: args.t0,
            solver,
            every: args.every,
            record: args.record,
            series: tables,
            seed: args.seed,
            threads: args.threads,
            parallel: match args.parallel.as_str() {
                "auto" => rateforge::Parallel::Auto,
                "instances" => rateforge::Parallel::Instances,
                "nodes" => rateforge::Parallel::Nodes,
                other => {
                    return Err(usage_error(
                        format!("unknown parallel mode `{other}`"),
                        "use parallel=\"auto\", \"instances\" or \"nodes\"",
                    ));
                }
            },
            trace: args.trace,
            node_values: args.node_values.into_iter().collect(),
            shared_noise: args.same_noise,
            bold,
            ..Default::default()
        };
        let mut instance_values: Vec<(String, Vec<f64>)> =
            args.instance_values.into_iter().collect();
        instance_values.sort_by(|a, b| a.0.cmp(&b.0));
        let stats = args.stats || args.transient.is_some() || !args.thresholds.is_empty();
        let mut stats = stats.then(|| StatsSpec {
            transient: args.transient.unwrap_or(0.0),
            thresholds: args.thresholds.into_iter().collect(),
        });
        let mut shard = None;
        if let Some(mut sweep) = sweep {
            shard = sweep.shard.take();
            let instances = build_sweep(&valid, sweep)?;
            if stats.is_none() {
                stats = Some(StatsSpec::default());
            }
            instance_values.extend(instances);
        }
        spec.instances = instance_values.first().map_or(1, |(_, v)| v.len());
        if let Some((path, v)) = instance_values
            .iter()
            .find(|(_, v)| v.len() != spec.instances)
        {
            return Err(usage_error(
                format!(
                    "`{path}` has {} values per instance, the run has {} instances",
                    v.len(),
                    spec.instances
                ),
                "give every per-instance value the same length",
            ));
        }
        spec.instance_values = instance_values;
        spec.stats = stats;
        if let Some((k, n)) = shard {
            rateforge::sweep::apply_shard(&mut spec, k, n).map_err(model_error)?;
        }
        let options = EngineOptions {
            backend: args
                .backend
                .parse::<BackendKind>()
                .map_err(|e| usage_error(e, "e.g. backend=\"native\""))?,
            precision: precision(&args.precision)?,
            history: precision(&args.history_precision)?,
            fast: args.fast,
            lanes: args.lanes,
            generic: args.generic,
            ..Default::default()
        };
        Ok((valid, spec, options))
    }

    /// The engine for this run, built once per (model, emit options, backend) and kept.
    fn engine(
        &self,
        py: Python<'_>,
        valid: &rateforge::Validated,
        spec: &RunSpec,
        options: &EngineOptions,
    ) -> PyResult<Arc<Mutex<Engine>>> {
        let emit = valid.emit_options(spec, options).map_err(model_error)?;
        valid.record_ids(&spec.record).map_err(model_error)?;
        let key = format!("{} {:?} {:?}", valid.hash(), emit, options.backend);
        if let Some((_, e)) = self
            .engines
            .lock()
            .map_err(|_| usage_error("a previous run failed badly", "load the model again"))?
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(e.clone());
        }
        let engine = py
            .detach(|| valid.engine(spec, options))
            .map_err(model_error)?;
        let engine = Arc::new(Mutex::new(engine));
        if let Ok(mut engines) = self.engines.lock() {
            engines.push((key, engine.clone()));
        }
        Ok(engine)
    }
}

/// The instances of a sweep: the model's declared axes first (as `rateforge sweep` does), then
/// the given ones (replacing a declared axis of the same path), combined by the mode.
fn build_sweep(valid: &rateforge::Validated, args: SweepArgs) -> PyResult<Vec<(String, Vec<f64>)>> {
    let mut sweep = Sweep {
        seed: args.seed,
        table: args.table,
        axes: rateforge::sweep::declared_axes(valid, &args.points).map_err(model_error)?,
        ..Default::default()
    };
    for (path, values) in args.axes {
        let values = match values {
            AxisValues::Text(text) => {
                Values::parse(&path, &text).map_err(|e| model_error(e.into()))?
            }
            AxisValues::List(v) => Values::List(v),
        };
        match sweep.axes.iter_mut().find(|(p, _)| *p == path) {
            Some(axis) => axis.1 = values,
            None => sweep.axes.push((path, values)),
        }
    }
    sweep.mode = match (args.mode.as_str(), args.samples) {
        ("product", _) => Mode::Product,
        ("zip", _) => Mode::Zip,
        ("uniform", Some(n)) => Mode::Uniform(n),
        ("lhs", Some(n)) => Mode::LatinHypercube(n),
        ("uniform" | "lhs", None) => {
            return Err(usage_error(
                format!("a `{}` sweep needs a number of samples", args.mode),
                "give samples=N",
            ));
        }
        (other, _) => {
            return Err(usage_error(
                format!("unknown sweep mode `{other}`"),
                "use mode=\"product\", \"zip\", \"uniform\" or \"lhs\"",
            ));
        }
    };
    if sweep.axes.is_empty() && sweep.table.is_empty() {
        return Err(usage_error(
            "nothing to sweep",
            "give grid={path: values}, or a table",
        ));
    }
    sweep.instances().map_err(|e| model_error(e.into()))
}

/// Runs with the GIL released; every 50 ms (and once at the end) the calling thread takes the GIL
/// to call `progress` and to see Ctrl-C, which stops the run at its next check: the partial result is attached to
/// the `KeyboardInterrupt` (`.result`).
fn run_interruptibly(
    py: Python<'_>,
    valid: &rateforge::Validated,
    spec: &RunSpec,
    engine: &Mutex<Engine>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyRunResult> {
    let engine = engine
        .lock()
        .map_err(|_| usage_error("a previous run failed badly", "load the model again"))?;
    let done = AtomicU64::new(0);
    let cancel = AtomicBool::new(false);
    let steps = ((spec.time / spec.dt).round().max(0.0) as u64).max(1);
    let total = steps.saturating_mul(spec.instances.max(1) as u64);
    let progress = progress.map(|p| p.unbind());
    let mut interrupted: Option<PyErr> = None;
    let mut callback_error: Option<PyErr> = None;
    let outcome = py.detach(|| {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            let controls = Controls {
                progress: Some(&done),
                cancel: Some(&cancel),
            };
            let backend = engine.backend();
            scope.spawn(move || {
                let start = Instant::now();
                let outcome = valid.run(backend, spec, controls);
                let _ = tx.send((outcome, start.elapsed().as_secs_f64()));
            });
            loop {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(outcome) => return Some(outcome),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                }
                Python::attach(|py| {
                    if interrupted.is_none()
                        && let Err(e) = py.check_signals()
                    {
                        cancel.store(true, Ordering::SeqCst);
                        interrupted = Some(e);
                    }
                    if let Some(p) = &progress
                        && callback_error.is_none()
                        && let Err(e) =
                            p.call1(py, (done.load(Ordering::Relaxed).min(total), total))
                    {
                        callback_error = Some(e);
                    }
                });
            }
        })
    });
    // A run that ends between two calls still reports where it ended (a bar reaches its end).
    if let (Some(p), Some((Ok(_), _)), None, None) =
        (&progress, &outcome, &interrupted, &callback_error)
        && let Err(e) = p.call1(py, (done.load(Ordering::Relaxed).min(total), total))
    {
        callback_error = Some(e);
    }
    let (result, seconds) = match outcome {
        Some((r, seconds)) => (r.map_err(model_error)?, seconds),
        None => {
            return Err(usage_error(
                "the simulation thread panicked (a bug in rateforge)",
                "please report it",
            ));
        }
    };
    if let Some(e) = interrupted {
        if e.is_instance_of::<PyKeyboardInterrupt>(py) {
            let err = PyKeyboardInterrupt::new_err(
                "interrupted: the run stopped early; the partial result is this exception's `.result`",
            );
            let value = err.value(py);
            value.setattr("result", Py::new(py, PyRunResult { result, seconds })?)?;
            return Err(err);
        }
        return Err(e);
    }
    if let Some(e) = callback_error {
        return Err(e);
    }
    Ok(PyRunResult { result, seconds })
}

/// The result of a run: arrays by name as the `.npz` file holds them, and the metadata.
#[pyclass(name = "RunResult", module = "rateforge._rateforge")]
struct PyRunResult {
    result: rateforge::RunResult,
    /// Seconds the library's run took (the kernel and the result's assembly).
    seconds: f64,
}

#[pymethods]
impl PyRunResult {
    /// The names of the arrays, in the order a `.npz` file holds them.
    fn names(&self) -> Vec<String> {
        self.result.array_names()
    }

    /// One array by name (a `complex128` one for a complex variable recorded whole), with the
    /// shape numpy sees in the `.npz` file; `None` for an unknown name.
    fn array<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(a) = self.result.npz_array(name) else {
            return Ok(None);
        };
        let shape = IxDyn(&a.shape);
        Ok(Some(match a.imag {
            None => ArrayD::from_shape_vec(shape, a.data)
                .map_err(|e| PyValueError::new_err(e.to_string()))?
                .into_pyarray(py)
                .into_any(),
            Some(imag) => {
                let values: Vec<Complex64> = a
                    .data
                    .iter()
                    .zip(&imag)
                    .map(|(&re, &im)| Complex64::new(re, im))
                    .collect();
                ArrayD::from_shape_vec(shape, values)
                    .map_err(|e| PyValueError::new_err(e.to_string()))?
                    .into_pyarray(py)
                    .into_any()
            }
        }))
    }

    /// The metadata (a JSON text: model, hash, solver, dt, parameters, version, ...).
    fn metadata_json(&self) -> String {
        self.result.metadata.to_string()
    }

    /// The recorded paths.
    #[getter]
    fn recorded(&self) -> Vec<String> {
        self.result.names.clone()
    }

    /// Seconds the run itself took, without Python's part (argument handling, validation,
    /// finding the cached kernel).
    #[getter]
    fn run_seconds(&self) -> f64 {
        self.seconds
    }

    /// Number of instances.
    #[getter]
    fn n_instances(&self) -> usize {
        self.result.n_instances
    }

    /// Number of nodes (1 unless the model is a network).
    #[getter]
    fn n_nodes(&self) -> usize {
        self.result.n_nodes
    }

    /// Whether the model is a network (arrays then have a node axis).
    #[getter]
    fn network(&self) -> bool {
        self.result.network
    }

    /// Whether the run was stopped early (Ctrl-C).
    #[getter]
    fn partial(&self) -> bool {
        self.result.partial
    }

    /// The values varied between instances, by path.
    #[getter]
    fn varied(&self) -> Vec<(String, Vec<f64>)> {
        self.result.varied.clone()
    }

    /// Instances whose values went NaN or infinite: (instance, time of the first such sample or
    /// None).
    fn non_finite(&self) -> Vec<(usize, Option<f64>)> {
        self.result
            .non_finite()
            .iter()
            .map(|n| (n.instance, n.time))
            .collect()
    }

    /// Writes the result as the command line would: `.npz` or `.csv` by extension.
    fn write(&self, path: PathBuf) -> PyResult<()> {
        self.result
            .write(&path)
            .map_err(|e| model_error(Error::Runtime(e)))
    }
}

/// The rateforge version.
/// Merges the shard files of a sweep into one `.npz` (what `rateforge merge` does); returns
/// (instances, shards).
#[pyfunction]
fn merge(py: Python<'_>, shards: Vec<PathBuf>, output: PathBuf) -> PyResult<(u64, usize)> {
    let m = py
        .detach(|| rateforge_rt_merge(&shards, &output))
        .map_err(|e| model_error(Error::from(e)))?;
    Ok((m.instances, m.shards))
}

fn rateforge_rt_merge(
    shards: &[PathBuf],
    output: &std::path::Path,
) -> Result<rateforge::crates::rt::merge::Merged, rateforge::crates::rt::RuntimeError> {
    rateforge::crates::rt::merge::merge(shards, output)
}

#[pyfunction]
fn version() -> &'static str {
    rateforge::VERSION
}

#[pymodule]
fn _rateforge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(from_source, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(merge, m)?)?;
    m.add_class::<PyModel>()?;
    m.add_class::<PyRunResult>()?;
    m.add("ModelError", m.py().get_type::<ModelError>())?;
    Ok(())
}
