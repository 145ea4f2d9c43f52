//! Models compiled into a binary (by `rateforge-build` in a build script, or in a crate
//! `rateforge generate --target rust-crate` wrote): the typed API.
//!
//! Each generated module implements [`StaticModel`] for its `Model` type (what the model is: its
//! parameters, states, recordable values, kernel) and defines `Params` and `State` (one named
//! field per parameter or state, `Default` the model's values, both [`Values`]), `Var` (the
//! recordable values, [`Recordable`]) and `Simulation` = [`Simulation<Model>`]:
//!
//! ```ignore
//! let sim = jrc::Simulation::new().time(2.0).dt(1e-4).solver(Solver::Euler).every(1e-3)
//!     .record([jrc::Var::pc__pro__v]);
//! let one = sim.run(&jrc::Params::default())?;                       // one instance
//! let grid: Vec<jrc::Params> = (0..64).map(|k| jrc::Params { ... }).collect();
//! let sweep = sim.sweep(&grid)?;                                      // 64 instances, all cores
//! let v = sweep.array("pc/pro/v").unwrap();                           // (samples, instances)
//! sweep.write_npz("jrc.npz".as_ref())?;                               // as `rateforge sweep` writes
//! ```
//!
//! A run is what `rateforge run` and `rateforge sweep` do with the same settings: the same time
//! grid, initial values, noise, statistics and output (arrays, names, shapes and metadata), so the
//! results are the command line's bit for bit.

use crate::error::RuntimeError;
use crate::exec::{Connectivity, Controls, Launch, Parallel, RunFn, StatsRequest, run_native};
use crate::result::{Metadata, RunResult, StatsMetadata};
use crate::spec::{InitialValue, initial_values, sample_times, time_grid, transient_samples};
use rateforge_kernel::Solver;
use rateforge_kernel::abi::RfInfo;
use serde_json::json;
use std::marker::PhantomData;

/// A state of a compiled-in model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateInfo {
    /// Its path (`pc/rpo_e_in/v`).
    pub path: &'static str,
    /// Its initial value.
    pub init: f64,
    /// A range its initial value is drawn from (per instance and node, with the run's seed).
    pub range: Option<(f64, f64)>,
    /// Its bounds.
    pub bounds: Option<(f64, f64)>,
}

/// What a generated module says about its model.
pub trait StaticModel: Copy + Send + Sync + 'static {
    /// The model's name.
    const NAME: &'static str;
    /// The reference it was built from (as given to the build).
    const REFERENCE: &'static str;
    /// Its hash (hex SHA-256 of its canonical listing).
    const HASH: &'static str;
    /// The rateforge version that generated the module.
    const VERSION: &'static str;
    /// The files it was read from.
    const FILES: &'static [&'static str];
    /// Every parameter: (path, value).
    const PARAMS: &'static [(&'static str, f64)];
    /// Every state.
    const STATES: &'static [StateInfo];
    /// Every derived (algebraic) value's path.
    const DERIVED: &'static [&'static str];
    /// What a run records when it names nothing.
    const RECORD: &'static [&'static str];
    /// Inputs driven by expressions of time: (path, expression).
    const INPUTS: &'static [(&'static str, &'static str)];
    /// The parameters the model declares as swept (RateML `<Parameter dimension="lo, hi">`):
    /// (path, lo, hi).
    const SWEEP: &'static [(&'static str, f64, f64)];
    /// A network model.
    const NETWORK: bool;
    /// The model has noise.
    const NOISE: bool;
    /// The connectivity the model file names, embedded ([`Connectivity::to_le_bytes`]), and where
    /// it came from.
    const CONNECTIVITY: Option<(&'static [u8], &'static str)>;
    /// The model's CUDA kernel, when the build made one (`rateforge_build::Build::cuda`).
    const CUDA: Option<CudaAssets> = None;
    /// The kernel: its entry point and description.
    fn kernel() -> (RunFn, &'static RfInfo);
    /// The delays in steps of a network's edges for one instance's parameters (the rule the
    /// kernel applies, in float64): what the CUDA host sets up.
    fn edge_delays(params: &[f64], n_nodes: usize, dt: f64, distance: &[f64]) -> Vec<usize>;
}

/// A model's CUDA kernel, compiled into the binary by its build.
#[derive(Clone, Copy, Debug)]
pub struct CudaAssets {
    /// PTX for a virtual architecture (the driver compiles it for the GPU it runs on), when NVRTC
    /// was found at build time.
    pub ptx: Option<&'static str>,
    /// The kernel compiled as C++ with the CPU shim, linked in (runs without a GPU).
    pub emulation: Option<crate::cuda::device::EmulationFns>,
    /// Bits of the arithmetic (64 or 32).
    pub float_bits: u32,
    /// Bits of the delay history.
    pub history_bits: u32,
    /// Parameters compiled in: (index, value).
    pub inline: &'static [(usize, f64)],
    /// History buffers of the kernel.
    pub n_buffered: usize,
    /// The parameter holding each delay's time.
    pub delay_params: &'static [usize],
}

/// Where a [`Simulation`] runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// The model's Rust kernel on every core of this CPU.
    #[default]
    Cpu,
    /// The model's CUDA kernel on GPU number `ordinal` (needs the `cuda` feature of
    /// `rateforge-rt` and a build with PTX).
    Gpu(usize),
    /// The model's CUDA kernel on the CPU, through the shim (for checking without a GPU).
    CudaEmulated,
}

/// Values with names: a model's parameters (`Params`) or initial states (`State`).
pub trait Values: Clone {
    /// The paths, in the model's order.
    const PATHS: &'static [&'static str];
    /// The values, in the order of [`Values::PATHS`].
    fn values(&self) -> Vec<f64>;
    /// From values in the order of [`Values::PATHS`] (missing ones: the model's).
    fn from_values(values: &[f64]) -> Self;
    /// The value of `path`.
    fn get(&self, path: &str) -> Option<f64> {
        let k = Self::PATHS.iter().position(|p| *p == path)?;
        self.values().get(k).copied()
    }
    /// Sets the value of `path`.
    fn set(&mut self, path: &str, value: f64) -> Result<(), RuntimeError> {
        let Some(k) = Self::PATHS.iter().position(|p| *p == path) else {
            return Err(RuntimeError::Invalid(format!(
                "the model has no `{path}`\n  = help: the names are {}",
                Self::PATHS.join(", ")
            )));
        };
        let mut v = self.values();
        v[k] = value;
        *self = Self::from_values(&v);
        Ok(())
    }
}

/// A value a run can record: a state or a derived value, by path.
pub trait Recordable {
    /// Its path.
    fn path(&self) -> &str;
}

impl Recordable for &str {
    fn path(&self) -> &str {
        self
    }
}

impl Recordable for String {
    fn path(&self) -> &str {
        self
    }
}

/// A simulation of a compiled-in model: the settings of `rateforge run` / `rateforge sweep`
/// (defaults: time 1, dt 0.001, rk4, every step recorded, seed 0, all cores).
#[derive(Clone, Debug)]
pub struct Simulation<M: StaticModel> {
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
    /// Recorded paths (states or derived values); empty: the model's default.
    pub record: Vec<String>,
    /// Seed of the noise and of drawn initial values.
    pub seed: u64,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// How the threads share a network's work (default: chosen from the sizes).
    pub parallel: Parallel,
    /// Keep every sample (else only statistics and final states).
    pub trace: bool,
    /// Streaming statistics: the transient (time units) and thresholds by recorded path.
    pub stats: Option<(f64, Vec<(String, f64)>)>,
    /// The connectivity of a network model (default: the one the model file names).
    pub connectivity: Option<Connectivity>,
    /// Where it runs.
    pub target: Target,
    model: PhantomData<M>,
}

impl<M: StaticModel> Default for Simulation<M> {
    fn default() -> Self {
        Simulation {
            time: 1.0,
            dt: 1e-3,
            t0: 0.0,
            solver: Solver::Rk4,
            every: None,
            record: Vec::new(),
            seed: 0,
            threads: None,
            parallel: Parallel::Auto,
            trace: true,
            stats: None,
            connectivity: None,
            target: Target::Cpu,
            model: PhantomData,
        }
    }
}

impl<M: StaticModel> Simulation<M> {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the simulated time.
    pub fn time(mut self, time: f64) -> Self {
        self.time = time;
        self
    }

    /// Sets the step size.
    pub fn dt(mut self, dt: f64) -> Self {
        self.dt = dt;
        self
    }

    /// Sets the start time.
    pub fn t0(mut self, t0: f64) -> Self {
        self.t0 = t0;
        self
    }

    /// Sets the solver.
    pub fn solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }

    /// Records every `every` time units.
    pub fn every(mut self, every: f64) -> Self {
        self.every = Some(every);
        self
    }

    /// Records these values (states or derived values).
    pub fn record<R: Recordable>(mut self, values: impl IntoIterator<Item = R>) -> Self {
        self.record = values.into_iter().map(|v| v.path().to_string()).collect();
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Runs on `threads` worker threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Shares a network's work among the threads by instances or by nodes (the results are the
    /// same bits either way).
    pub fn parallel(mut self, parallel: Parallel) -> Self {
        self.parallel = parallel;
        self
    }

    /// Keeps every sample (`true`, the default) or only statistics and final states.
    pub fn trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }

    /// Streams statistics of the recorded values after `transient` time units.
    pub fn stats(mut self, transient: f64) -> Self {
        self.stats = Some((transient, Vec::new()));
        self
    }

    /// Uses a connectivity (a network model).
    pub fn connectivity(mut self, connectivity: Connectivity) -> Self {
        self.connectivity = Some(connectivity);
        self
    }

    /// Runs where `target` says.
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Runs one instance with parameters `params`.
    pub fn run<P: Values>(&self, params: &P) -> Result<RunResult, RuntimeError> {
        self.sweep(std::slice::from_ref(params))
    }

    /// Runs one instance per element of `params`, in lane blocks spread over all cores. The
    /// parameters that differ between instances are written as `grid/<path>`.
    pub fn sweep<P: Values>(&self, params: &[P]) -> Result<RunResult, RuntimeError> {
        self.sweep_with(params, &[], Controls::default())
    }

    /// [`Simulation::sweep`] from initial states `initial` (one per instance, or one for all).
    pub fn sweep_from<P: Values, S: Values>(
        &self,
        params: &[P],
        initial: &[S],
    ) -> Result<RunResult, RuntimeError> {
        let values: Vec<Vec<f64>> = initial.iter().map(Values::values).collect();
        let n = params.len();
        if values.len() != 1 && values.len() != n {
            return Err(RuntimeError::Invalid(format!(
                "{} initial states for {n} instances; give one, or one per instance",
                values.len()
            )));
        }
        let states: Vec<(String, Vec<f64>)> = S::PATHS
            .iter()
            .enumerate()
            .map(|(k, path)| {
                let per: Vec<f64> = (0..n).map(|i| values[i.min(values.len() - 1)][k]).collect();
                (path.to_string(), per)
            })
            .collect();
        self.sweep_with(params, &states, Controls::default())
    }

    /// [`Simulation::sweep`] with initial values of some states per instance, `(path, one value
    /// per instance)` (the others: the model's, drawn where it gives a range), and progress and
    /// cancellation.
    pub fn sweep_with<P: Values>(
        &self,
        params: &[P],
        initial: &[(String, Vec<f64>)],
        controls: Controls<'_>,
    ) -> Result<RunResult, RuntimeError> {
        if P::PATHS
            != M::PARAMS
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .as_slice()
        {
            return Err(RuntimeError::Invalid(format!(
                "these parameters are not those of `{}`",
                M::NAME
            )));
        }
        let (n_steps, every) = time_grid(self.time, self.dt, self.every)?;
        let n = params.len();
        if n == 0 {
            return Err(RuntimeError::Invalid(
                "a sweep needs at least one instance".into(),
            ));
        }
        let embedded;
        let connectivity = match (&self.connectivity, M::CONNECTIVITY) {
            (Some(_), _) if !M::NETWORK => {
                return Err(RuntimeError::Invalid(format!(
                    "`{}` is not a network model, but a connectivity was given",
                    M::NAME
                )));
            }
            (Some(c), _) => Some((c, "given at run time".to_string())),
            (None, Some((bytes, source))) if M::NETWORK => {
                embedded = Connectivity::from_le_bytes(bytes).ok_or_else(|| {
                    RuntimeError::Invalid("the embedded connectivity is damaged".into())
                })?;
                Some((&embedded, source.to_string()))
            }
            (None, _) if M::NETWORK => {
                embedded = Connectivity::single_node();
                Some((&embedded, "none: one uncoupled node".to_string()))
            }
            (None, _) => None,
        };
        let nn = connectivity.as_ref().map_or(1, |(c, _)| c.n_nodes);
        // Recorded values.
        let names: Vec<String> = if !self.record.is_empty() {
            self.record.clone()
        } else if !M::RECORD.is_empty() {
            M::RECORD.iter().map(|s| s.to_string()).collect()
        } else {
            M::STATES.iter().map(|s| s.path.to_string()).collect()
        };
        let ns = M::STATES.len();
        let record = names
            .iter()
            .map(|name| {
                if let Some(k) = M::STATES.iter().position(|s| s.path == name) {
                    Ok(k as u32)
                } else if let Some(k) = M::DERIVED.iter().position(|d| d == name) {
                    Ok((ns + k) as u32)
                } else {
                    Err(RuntimeError::Invalid(format!(
                        "cannot record `{name}`: `{}` has no such state or derived value",
                        M::NAME
                    )))
                }
            })
            .collect::<Result<Vec<u32>, _>>()?;
        // Parameters, instance fastest.
        let np = M::PARAMS.len();
        let values: Vec<Vec<f64>> = params.iter().map(Values::values).collect();
        let mut p = vec![0.0; np * n];
        for (i, v) in values.iter().enumerate() {
            for k in 0..np {
                p[k * n + i] = v[k];
            }
        }
        if let Some(bad) = p.iter().find(|v| !v.is_finite()) {
            return Err(RuntimeError::Invalid(format!(
                "a parameter value ({bad}) is not finite"
            )));
        }
        let varied: Vec<(String, Vec<f64>)> = M::PARAMS
            .iter()
            .enumerate()
            .filter(|(k, _)| n > 1 && p[k * n..(k + 1) * n].iter().any(|x| *x != p[k * n]))
            .map(|(k, (path, _))| (path.to_string(), p[k * n..(k + 1) * n].to_vec()))
            .collect();
        // Initial states, per node and instance.
        let mut init = initial_values(
            &M::STATES
                .iter()
                .map(|s| InitialValue {
                    value: s.init,
                    range: s.range,
                    bounds: s.bounds,
                })
                .collect::<Vec<_>>(),
            n,
            nn,
            self.seed,
        );
        for (path, values) in initial {
            let k = M::STATES
                .iter()
                .position(|s| s.path == path)
                .ok_or_else(|| {
                    RuntimeError::Invalid(format!("`{}` has no state `{path}`", M::NAME))
                })?;
            if values.len() != n || values.iter().any(|v| !v.is_finite()) {
                return Err(RuntimeError::Invalid(format!(
                    "`{path}` needs one finite initial value per instance ({n})"
                )));
            }
            for (i, x) in values.iter().enumerate() {
                for node in 0..nn {
                    init[(k * nn + node) * n + i] = *x;
                }
            }
        }
        // Statistics.
        let stats = match &self.stats {
            None => None,
            Some((transient, thresholds)) => {
                let mut t = vec![f64::NAN; names.len()];
                for (path, v) in thresholds {
                    let r = names.iter().position(|n| n == path).ok_or_else(|| {
                        RuntimeError::Invalid(format!(
                            "a threshold is given for `{path}`, which is not recorded"
                        ))
                    })?;
                    t[r] = *v;
                }
                Some(StatsRequest {
                    transient_samples: transient_samples(*transient, every, self.dt)?,
                    thresholds: t,
                })
            }
        };
        let launch = Launch {
            n_instances: n,
            n_steps,
            dt: self.dt,
            t0: self.t0,
            solver: self.solver,
            record_every: every,
            record: &record,
            params: &p,
            init: &init,
            series: &[],
            connectivity: connectivity.as_ref().map(|(c, _)| *c),
            seed: self.seed,
            progress: controls.progress,
            cancel: controls.cancel,
            threads: self.threads,
            parallel: self.parallel,
            trace: self.trace,
            stats: stats.clone(),
            observe: None,
            shared_noise: false,
            instance_offset: 0,
        };
        let (run_fn, info) = M::kernel();
        let (outcome, kernel) = match self.target {
            Target::Cpu => {
                // SAFETY: the entry point and its description come from one generated module,
                // compiled against this crate's ABI.
                let outcome = unsafe { run_native(run_fn, info, M::NOISE, &launch) }?;
                let kernel = json!({
                    "lanes": info.lanes,
                    "float_bits": info.float_bits,
                    "history_bits": info.history_bits,
                    "inlined_parameters": info.n_inlined,
                    "linkage": "static",
                });
                (outcome, kernel)
            }
            target => {
                let k = cuda_kernel::<M>(target)?;
                let outcome = k.run(&launch)?;
                let kernel = json!({
                    "device": k.device_name(),
                    "float_bits": k.info().float_bits,
                    "history_bits": k.info().history_bits,
                    "inlined_parameters": k.info().inline.len(),
                    "linkage": "static",
                });
                (outcome, kernel)
            }
        };
        let metadata = Metadata {
            version: M::VERSION.to_string(),
            model: M::REFERENCE.to_string(),
            model_name: M::NAME.to_string(),
            model_hash: M::HASH.to_string(),
            files: M::FILES.iter().map(|f| f.to_string()).collect(),
            backend: if self.target == Target::Cpu {
                "native"
            } else {
                "cuda"
            }
            .to_string(),
            solver: self.solver.name().to_string(),
            dt: self.dt,
            t0: self.t0,
            time: self.time,
            n_steps,
            record_every_steps: every,
            n_instances: n,
            network: connectivity.map(|(c, source)| (c.n_nodes, c.weight.len(), source)),
            noise_seed: M::NOISE.then_some(self.seed),
            // The value every instance had, else (a swept value) the model's, as the command line
            // records them.
            parameters: M::PARAMS
                .iter()
                .enumerate()
                .map(|(k, (path, default))| {
                    let v = &p[k * n..(k + 1) * n];
                    let value = if v.iter().all(|x| *x == v[0]) {
                        v[0]
                    } else {
                        *default
                    };
                    (path.to_string(), value)
                })
                .collect(),
            initial_state: M::STATES
                .iter()
                .map(|s| {
                    let given = initial
                        .iter()
                        .find(|(path, _)| path == s.path)
                        .map(|(_, v)| v)
                        .filter(|v| v.iter().all(|x| *x == v[0]));
                    (s.path.to_string(), given.map_or(s.init, |v| v[0]))
                })
                .collect(),
            inputs: M::INPUTS
                .iter()
                .map(|(p, e)| (p.to_string(), json!({ "expression": e })))
                .collect(),
            varied: varied.iter().map(|(p, _)| p.clone()).collect(),
            varied_per_node: Vec::new(),
            recorded: names.clone(),
            // Compiled-in models carry no units.
            units: Vec::new(),
            trace: self.trace,
            stats: stats.as_ref().map(|s| StatsMetadata {
                transient: self.stats.as_ref().map_or(0.0, |x| x.0),
                transient_samples: s.transient_samples,
                thresholds: names
                    .iter()
                    .zip(&s.thresholds)
                    .filter(|(_, t)| !t.is_nan())
                    .map(|(n, t)| (n.clone(), *t))
                    .collect(),
            }),
            kernel,
            partial: outcome.cancelled,
            observe: None,
            noise_shared: false,
            shard: None,
        }
        .to_json();
        Ok(RunResult {
            time: sample_times(self.t0, self.dt, every, outcome.n_samples),
            names,
            n_instances: n,
            n_nodes: nn,
            network: M::NETWORK,
            trace: outcome.trace,
            stats: outcome.stats,
            steps_done: outcome.steps_done,
            final_state: outcome.final_state,
            metadata,
            varied,
            partial: outcome.cancelled,
            observed: None,
            tr: 0.0,
            per_instance: Vec::new(),
            instance_axis: false,
        }
        .with_non_finite())
    }
}

/// The CUDA kernel of a compiled-in model on `target`'s device.
fn cuda_kernel<M: StaticModel>(target: Target) -> Result<crate::cuda::CudaKernel, RuntimeError> {
    use crate::cuda::device::{Device, Emulated};
    use crate::cuda::{CudaKernel, CudaKernelInfo, CudaModel};
    let Some(assets) = M::CUDA else {
        return Err(RuntimeError::CudaUnavailable(format!(
            "`{}` was built without its CUDA kernel (rateforge_build::Build::cuda)",
            M::NAME
        )));
    };
    let device: Box<dyn Device + Send> = match target {
        Target::CudaEmulated => {
            let fns = assets.emulation.ok_or_else(|| {
                RuntimeError::CudaUnavailable(format!(
                    "`{}` was built without the CPU emulation of its CUDA kernel",
                    M::NAME
                ))
            })?;
            // SAFETY: the entry points of this model's kernel, linked into the binary.
            Box::new(unsafe { Emulated::new(fns, None) })
        }
        #[cfg(feature = "cuda")]
        Target::Gpu(ordinal) => {
            let ptx = assets.ptx.ok_or_else(|| {
                RuntimeError::CudaUnavailable(format!(
                    "`{}` was built without PTX for GPUs (NVRTC was not found at build time)",
                    M::NAME
                ))
            })?;
            Box::new(crate::cuda::gpu::Gpu::open_ptx(ordinal, ptx)?)
        }
        #[cfg(not(feature = "cuda"))]
        Target::Gpu(_) => {
            return Err(RuntimeError::CudaUnavailable(
                "this program was built without GPU support (the `cuda` feature of rateforge-rt)"
                    .into(),
            ));
        }
        Target::Cpu => unreachable!("the CPU runs the Rust kernel"),
    };
    let model = CudaModel {
        shape: crate::exec::Shape {
            n_state: M::STATES.len(),
            n_param: M::PARAMS.len(),
            n_derived: M::DERIVED.len(),
            n_series: 0,
            network: M::NETWORK,
            noise: M::NOISE,
        },
        n_buffered: assets.n_buffered,
        delay_params: assets.delay_params.to_vec(),
        edge_delays: Box::new(M::edge_delays),
    };
    let info = CudaKernelInfo {
        float_bits: assets.float_bits,
        history_bits: assets.history_bits,
        inline: assets.inline.to_vec(),
        // Build scripts generate with every value recordable (no `EmitOptions::records`).
        uncomputed: Vec::new(),
    };
    CudaKernel::new(model, info, device)
}
