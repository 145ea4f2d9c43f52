//! The command line of a generated crate's driver (`rateforge generate --target rust-crate`): the
//! options of `rateforge run` and `rateforge sweep` for its one model, with the same meaning and
//! the same `.npz` output.
//!
//! ```text
//! DRIVER [run|sweep] (--time T | --steps N) --dt DT [--t0 T0] [--solver euler|heun|rk4]
//!        [--set PATH=VALUE]... [--range PATH=VALUES]... [--points NAME=N]... [--zip]
//!        [--record PATH[,PATH...]] [--every DT_OUT] [--seed S] [--threads N]
//!        [--parallel auto|instances|nodes]
//!        [--stats] [--transient T] [--threshold PATH=VALUE]... [--no-trace] [--traces]
//!        [--connectivity PATH] [-o FILE.npz|FILE.csv] [-q]
//! ```
//!
//! `run` is one instance (a `--range` makes it several); `sweep` is one instance per grid point of
//! the `--range` axes and the model's declared ranges (`--points`), keeps statistics and, with
//! `--traces`, the traces. Exit status: 0, 2 for a mistake in the arguments, 1 for a failure.

use crate::connectivity;
use crate::error::RuntimeError;
use crate::exec::Parallel;
use crate::model::{Simulation, StaticModel, Values};
use crate::sweep::{Mode, Sweep, Values as AxisValues};
use rateforge_kernel::Solver;
use std::path::PathBuf;

/// A mistake in the arguments (exit status 2) or a failure (1).
#[derive(Debug)]
enum Failure {
    Usage(String, String),
    Runtime(RuntimeError),
}

impl From<RuntimeError> for Failure {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::Invalid(_) | RuntimeError::Data { .. } | RuntimeError::Write { .. } => {
                Failure::Usage(e.to_string(), String::new())
            }
            e => Failure::Runtime(e),
        }
    }
}

impl From<crate::spec::SpecError> for Failure {
    fn from(e: crate::spec::SpecError) -> Self {
        Failure::Usage(e.message, e.help)
    }
}

fn usage(message: impl Into<String>, help: impl Into<String>) -> Failure {
    Failure::Usage(message.into(), help.into())
}

/// The parsed command line.
#[derive(Debug, Default)]
struct Args {
    sweep: bool,
    time: Option<f64>,
    steps: Option<u64>,
    dt: Option<f64>,
    t0: f64,
    solver: Option<Solver>,
    set: Vec<(String, f64)>,
    range: Vec<(String, String)>,
    points: Vec<(String, usize)>,
    zip: bool,
    record: Vec<String>,
    every: Option<f64>,
    seed: u64,
    threads: Option<usize>,
    parallel: Parallel,
    stats: bool,
    transient: Option<f64>,
    thresholds: Vec<(String, f64)>,
    no_trace: bool,
    traces: bool,
    connectivity: Option<PathBuf>,
    output: Option<PathBuf>,
    quiet: bool,
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, Failure> {
    text.trim().parse::<T>().map_err(|_| {
        usage(
            format!("`{text}` is not a valid value for `{flag}`"),
            format!("give `{flag}` a number"),
        )
    })
}

fn assignment(flag: &str, text: &str) -> Result<(String, String), Failure> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(usage(
            format!("`{flag} {text}` is not `PATH=VALUE`"),
            format!("e.g. `{flag} p/qif_op/eta=-5`"),
        )),
    }
}

fn parse(argv: &[String]) -> Result<Args, Failure> {
    let mut a = Args::default();
    let mut it = argv.iter().skip(1).peekable();
    if let Some(first) = it.peek() {
        match first.as_str() {
            "run" => {
                it.next();
            }
            "sweep" => {
                a.sweep = true;
                it.next();
            }
            _ => {}
        }
    }
    while let Some(flag) = it.next() {
        let flag = flag.as_str();
        let mut value = || -> Result<String, Failure> {
            it.next().cloned().ok_or_else(|| {
                usage(
                    format!("`{flag}` needs a value"),
                    "see the options at the top of the driver's source (src/main.rs)",
                )
            })
        };
        match flag {
            "--time" => a.time = Some(number(flag, &value()?)?),
            "--steps" | "-n" => a.steps = Some(number(flag, &value()?)?),
            "--dt" | "-dt" => a.dt = Some(number(flag, &value()?)?),
            "--t0" => a.t0 = number(flag, &value()?)?,
            "--solver" => {
                let v = value()?;
                a.solver = Some(
                    v.parse()
                        .map_err(|e: String| usage(e, "use euler, heun or rk4"))?,
                );
            }
            "--set" | "--init" => {
                let (p, v) = assignment(flag, &value()?)?;
                a.set.push((p, number(flag, &v)?));
            }
            "--range" => a.range.push(assignment(flag, &value()?)?),
            "--points" => {
                let (p, v) = assignment(flag, &value()?)?;
                a.points.push((p, number(flag, &v)?));
            }
            "--zip" => a.zip = true,
            "--record" => a
                .record
                .extend(value()?.split(',').map(|s| s.trim().to_string())),
            "--every" => a.every = Some(number(flag, &value()?)?),
            "--seed" => a.seed = number(flag, &value()?)?,
            "--threads" => a.threads = Some(number(flag, &value()?)?),
            "--parallel" => {
                let v = value()?;
                a.parallel = Parallel::from_name(&v).ok_or_else(|| {
                    usage(
                        format!("`--parallel {v}` is not a choice"),
                        "the choices are `auto`, `instances` and `nodes`",
                    )
                })?;
            }
            "--stats" => a.stats = true,
            "--transient" => a.transient = Some(number(flag, &value()?)?),
            "--threshold" => {
                let (p, v) = assignment(flag, &value()?)?;
                a.thresholds.push((p, number(flag, &v)?));
            }
            "--no-trace" => a.no_trace = true,
            "--traces" => a.traces = true,
            "--connectivity" => a.connectivity = Some(PathBuf::from(value()?)),
            "-o" | "--output" => a.output = Some(PathBuf::from(value()?)),
            "-q" | "--quiet" => a.quiet = true,
            other => {
                return Err(usage(
                    format!("unknown option `{other}`"),
                    "the options are those of `rateforge run` and `rateforge sweep`: --time, --steps, --dt, --t0, --solver, --set, --range, --points, --zip, --record, --every, --seed, --threads, --parallel, --stats, --transient, --threshold, --no-trace, --traces, --connectivity, -o",
                ));
            }
        }
    }
    Ok(a)
}

fn execute<M: StaticModel, P: Values, S: Values>(argv: &[String]) -> Result<(), Failure> {
    let a = parse(argv)?;
    let dt =
        a.dt.ok_or_else(|| usage("give the step size `--dt`", "e.g. `--dt 1e-3`"))?;
    let time = match (a.time, a.steps) {
        (Some(t), None) => t,
        (None, Some(n)) => n as f64 * dt,
        (Some(_), Some(_)) => return Err(usage("give `--time` or `--steps`, not both", "")),
        (None, None) => {
            return Err(usage(
                "give the simulated time `--time T` or the number of steps `--steps N`",
                "e.g. `--time 100 --dt 0.01`",
            ));
        }
    };
    let mut sim = Simulation::<M>::new()
        .time(time)
        .dt(dt)
        .t0(a.t0)
        .solver(a.solver.unwrap_or(Solver::Rk4))
        .seed(a.seed);
    sim.every = a.every;
    sim.record = a.record.clone();
    sim.threads = a.threads;
    sim.parallel = a.parallel;
    if let Some(path) = &a.connectivity {
        sim.connectivity = Some(connectivity::load(path, None, None)?.connectivity);
    }
    // Defaults, with `--set` (a state set to a value is no longer drawn from a range).
    let mut params = P::from_values(&[]);
    let mut states: Vec<(String, f64)> = Vec::new();
    for (path, v) in &a.set {
        if !v.is_finite() {
            return Err(usage(
                format!("the value for `{path}` must be a finite number, found {v}"),
                "values are numbers such as 0.5 or 3.25e-3",
            ));
        }
        if P::PATHS.contains(&path.as_str()) {
            params.set(path, *v)?;
        } else if S::PATHS.contains(&path.as_str()) {
            states.retain(|(p, _)| p != path);
            states.push((path.clone(), *v));
        } else {
            return Err(unknown::<P, S>(path));
        }
    }
    // The instances: `--range` axes, and for `sweep` the model's declared ranges.
    let mut sweep = Sweep::default();
    if a.sweep {
        for &(name, lo, hi) in M::SWEEP {
            let n = a
                .points
                .iter()
                .find(|(p, _)| p == name)
                .map_or(if lo == hi { 1 } else { 4 }, |(_, n)| *n);
            sweep
                .axes
                .push((name.to_string(), AxisValues::Linear(lo, hi, n)));
        }
    }
    for (path, text) in &a.range {
        if !P::PATHS.contains(&path.as_str()) && !S::PATHS.contains(&path.as_str()) {
            return Err(unknown::<P, S>(path));
        }
        let v = AxisValues::parse(path, text)?;
        match sweep.axes.iter_mut().find(|(p, _)| p == path) {
            Some(axis) => axis.1 = v,
            None => sweep.axes.push((path.clone(), v)),
        }
    }
    if a.zip {
        sweep.mode = Mode::Zip;
    }
    if a.sweep && sweep.axes.is_empty() {
        return Err(usage("nothing to sweep", "give `--range PATH=LO:HI:N`"));
    }
    let instances = if sweep.axes.is_empty() {
        Vec::new()
    } else {
        sweep.instances()?
    };
    let n = instances.first().map_or(1, |(_, v)| v.len());
    let mut all_params = vec![params.clone(); n];
    let mut initial: Vec<(String, Vec<f64>)> =
        states.into_iter().map(|(p, v)| (p, vec![v; n])).collect();
    for (path, values) in &instances {
        if P::PATHS.contains(&path.as_str()) {
            for (i, v) in values.iter().enumerate() {
                all_params[i].set(path, *v)?;
            }
        } else {
            initial.retain(|(p, _)| p != path);
            initial.push((path.clone(), values.clone()));
        }
    }
    // Outputs: a sweep keeps statistics (and traces with `--traces`); a run keeps its trace.
    sim.trace = if a.sweep { a.traces } else { !a.no_trace };
    if a.sweep || a.stats || a.transient.is_some() || !a.thresholds.is_empty() {
        sim.stats = Some((a.transient.unwrap_or(0.0), a.thresholds.clone()));
    }
    let mut result = sim.sweep_with(&all_params, &initial, Default::default())?;
    // The swept values, as `rateforge sweep` names them (including initial states).
    result.varied = instances;
    if let Some(m) = result.metadata.as_object_mut() {
        m.insert(
            "varied".into(),
            result.varied.iter().map(|(p, _)| p.clone()).collect(),
        );
    }
    match &a.output {
        Some(path) => {
            result.write(path)?;
            if !a.quiet {
                eprintln!(
                    "wrote {} ({} instance{}, {} samples)",
                    path.display(),
                    result.n_instances,
                    if result.n_instances == 1 { "" } else { "s" },
                    result.time.len()
                );
            }
        }
        None => {
            for (r, name) in result.names.iter().enumerate() {
                if result.trace.is_empty() {
                    break;
                }
                let v = result.column(r, 0);
                let last = v.last().copied().unwrap_or(f64::NAN);
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                crate::outln!("{name}: final {last:.6e}, min {min:.6e}, max {max:.6e}");
            }
        }
    }
    Ok(())
}

fn unknown<P: Values, S: Values>(path: &str) -> Failure {
    usage(
        format!("the model has no parameter or state `{path}`"),
        format!(
            "the parameters are {}; the states {}",
            P::PATHS.join(", "),
            S::PATHS.join(", ")
        ),
    )
}

/// Runs the driver with the command line `argv` (program name first) and returns the exit status.
pub fn main<M: StaticModel, P: Values, S: Values>(argv: &[String]) -> i32 {
    match execute::<M, P, S>(argv) {
        Ok(()) => 0,
        Err(Failure::Usage(message, help)) => {
            eprintln!("error: {message}");
            if !help.is_empty() {
                eprintln!("  = help: {help}");
            }
            2
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("error: {e}");
            1
        }
    }
}
