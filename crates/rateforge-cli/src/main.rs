//! The `rateforge` command: check, generate and run rate-based neural models.
//!
//! Exit codes: 0 success, 2 a mistake in the input (model file, arguments, data files), 1 a
//! failure of the machinery (no compiler, a kernel that does not build).

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rateforge::{
    Backend, BuildOptions, Controls, EmitOptions, Error, LoadOptions, Model, RunSpec, Solver,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "rateforge",
    version,
    about = "Generate, compile and run fast kernels for rate-based neural models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command that loads a model.
#[derive(clap::Args, Clone)]
struct ModelArgs {
    /// The model: `file.yaml/Template`, `dir/file/Template`, `package.file.Template`, or a file with
    /// a single circuit.
    model: String,
    /// A directory to search for dotted template references (repeatable).
    #[arg(long = "model-path", value_name = "DIR")]
    model_path: Vec<PathBuf>,
    /// Couple copies of the model through a connectivity: `SOURCE->TARGET[:FUNCTION][:NAME=VALUE]...`
    /// (functions: linear, scaling, difference, kuramoto, sigmoidal, tanh, custom with pre=... and
    /// post=...); replaces the couplings of a network model (repeatable).
    #[arg(long, value_name = "SPEC")]
    coupling: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and validate a model; print its states, parameters, inputs and equations.
    Check {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Write the generated kernel source.
    Generate {
        #[command(flatten)]
        model: ModelArgs,
        /// The backend to generate for.
        #[arg(long, value_enum, default_value_t = Target::Rust)]
        target: Target,
        /// Output directory.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Simulate a model and write the recorded variables.
    Run(RunArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    /// A Rust kernel with the rateforge C ABI.
    Rust,
    /// A CUDA C kernel with a sweep driver.
    Cuda,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum HistoryArg {
    /// The value at the start.
    Initial,
    /// Zero.
    Zero,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum BackendArg {
    /// Generated, compiled kernel.
    Native,
    /// The reference evaluator.
    Interp,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Simulated time, in the model's time unit.
    #[arg(long, value_name = "T")]
    time: f64,
    /// Step size.
    #[arg(long, value_name = "DT")]
    dt: f64,
    /// Start time.
    #[arg(long, value_name = "T0", default_value_t = 0.0)]
    t0: f64,
    /// Solver: euler, heun or rk4.
    #[arg(long, default_value = "rk4")]
    solver: String,
    /// Set a parameter or an initial state: `PATH=VALUE` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Drive an input: `PATH=EXPR(t)` (e.g. `p/qif_op/I_ext=30*(t>=30)*(t<60)`) or
    /// `PATH=FILE.npy|.csv` (one row per step) (repeatable).
    #[arg(long = "input", value_name = "PATH=EXPR|FILE")]
    input: Vec<String>,
    /// Paths to record, comma-separated (default: every state).
    #[arg(long, value_name = "PATH[,PATH...]", value_delimiter = ',')]
    record: Vec<String>,
    /// Sampling interval (default: every step).
    #[arg(long, value_name = "DT_OUT")]
    every: Option<f64>,
    /// Output file: `.npz` (numpy) or `.csv`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Which implementation to run.
    #[arg(long, value_enum, default_value_t = BackendArg::Native)]
    backend: BackendArg,
    /// The connectivity of a network: a TVB zip, a directory with weights and tract lengths, or a
    /// weights file (.npy, .csv, .txt; row = target, column = source).
    #[arg(long, value_name = "PATH")]
    connectivity: Option<PathBuf>,
    /// Tract lengths for `--connectivity` (divided by `--speed` to give delays).
    #[arg(long = "tract-lengths", value_name = "FILE")]
    tract_lengths: Option<PathBuf>,
    /// Delays in time units for `--connectivity` (instead of tract lengths).
    #[arg(long, value_name = "FILE")]
    delays: Option<PathBuf>,
    /// Conduction speed of a network (distance per time unit).
    #[arg(long, value_name = "V")]
    speed: Option<f64>,
    /// Initial states per node: a table with one row per state (in the order `check` lists them)
    /// and one column per node (.npy, .csv).
    #[arg(long = "initial-state", value_name = "FILE")]
    initial_state: Option<PathBuf>,
    /// Add noise `SIGMA dW` to a state: `PATH=SIGMA` (repeatable).
    #[arg(long, value_name = "PATH=SIGMA")]
    noise: Vec<String>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Delayed values before the start: the initial value (TVB) or zero (PyRates).
    #[arg(long, value_enum)]
    history: Option<HistoryArg>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Do not print warnings or the summary.
    #[arg(short, long)]
    quiet: bool,
}

fn main() {
    let cli = Cli::parse();
    let colour = std::io::stderr().is_terminal();
    let result = match cli.command {
        Command::Check { model } => check(&model),
        Command::Generate {
            model,
            target,
            output,
        } => generate(&model, target, &output),
        Command::Run(args) => run(&args),
    };
    if let Err(e) = result {
        e.emit(colour);
        std::process::exit(e.exit_code());
    }
}

fn usage(message: impl Into<String>, help: impl Into<String>) -> Error {
    Error::usage(rateforge::crates::ir::Diagnostic::error(message).with_help(help))
}

fn load(args: &ModelArgs) -> Result<Model, Error> {
    Model::load(
        &args.model,
        &LoadOptions {
            model_paths: args.model_path.clone(),
            couplings: args.coupling.clone(),
        },
    )
}

fn check(args: &ModelArgs) -> Result<(), Error> {
    let model = load(args)?;
    let warnings = model.warnings();
    let valid = model.validate()?;
    eprint!("{warnings}");
    print!("{}", valid.listing());
    println!("\nhash {}", valid.hash());
    Ok(())
}

fn generate(args: &ModelArgs, target: Target, out: &std::path::Path) -> Result<(), Error> {
    let valid = load(args)?.validate()?;
    let (source, ext) = match target {
        Target::Rust => (valid.generate_rust(&EmitOptions::default())?, "rs"),
        Target::Cuda => {
            return Err(usage(
                "the CUDA target is not available yet",
                "generate `--target rust`",
            ));
        }
    };
    std::fs::create_dir_all(out).map_err(|e| {
        usage(
            format!("cannot create `{}`: {e}", out.display()),
            "choose a writable directory",
        )
    })?;
    let name: String = valid
        .ir()
        .model()
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = out.join(format!("{name}.{ext}"));
    std::fs::write(&path, source).map_err(|e| {
        usage(
            format!("cannot write `{}`: {e}", path.display()),
            "choose a writable directory",
        )
    })?;
    println!("{}", path.display());
    Ok(())
}

fn split_assignment<'a>(
    arg: &'a str,
    flag: &str,
    example: &str,
) -> Result<(&'a str, &'a str), Error> {
    match arg.split_once('=') {
        Some((path, value)) if !path.trim().is_empty() && !value.trim().is_empty() => {
            Ok((path.trim(), value.trim()))
        }
        _ => Err(usage(
            format!("`{flag} {arg}` is not of the form PATH=VALUE"),
            format!("e.g. `{flag} {example}`"),
        )),
    }
}

fn run(args: &RunArgs) -> Result<(), Error> {
    let solver: Solver = args
        .solver
        .parse()
        .map_err(|e: String| usage(e, "use --solver euler, heun or rk4"))?;
    let mut model = load(&args.model)?;
    if !args.quiet {
        eprint!("{}", model.warnings());
    }
    if let Some(h) = args.history {
        model.set_history(match h {
            HistoryArg::Initial => rateforge::crates::ir::History::Initial,
            HistoryArg::Zero => rateforge::crates::ir::History::Zero,
        });
    }
    if let Some(path) = &args.connectivity {
        let loaded = rateforge::crates::runtime::connectivity::load(
            path,
            args.tract_lengths.as_deref(),
            args.delays.as_deref(),
        )
        .map_err(Error::Input)?;
        model.set_connectivity(loaded)?;
    } else if args.tract_lengths.is_some() || args.delays.is_some() {
        return Err(usage(
            "`--tract-lengths` and `--delays` go with `--connectivity`",
            "give the weights with `--connectivity FILE`",
        ));
    }
    if let Some(v) = args.speed {
        model.set("network/speed", v)?;
    }
    for n in &args.noise {
        let (path, value) = split_assignment(n, "--noise", "p/ou_op/x=0.1")?;
        let sigma: f64 = value.parse().map_err(|_| {
            usage(
                format!("`{value}` in `--noise {n}` is not a number"),
                "the noise amplitude is a number, e.g. 0.01",
            )
        })?;
        model.set_noise(path, sigma)?;
    }
    for s in &args.set {
        let (path, value) = split_assignment(s, "--set", "p/qif_op/eta=-4.6")?;
        let v: f64 = value.parse().map_err(|_| {
            usage(
                format!("`{value}` in `--set {s}` is not a number"),
                "values are numbers such as 0.5 or 3.25e-3",
            )
        })?;
        model.set(path, v)?;
    }
    let mut series = std::collections::BTreeMap::new();
    for i in &args.input {
        let (path, value) = split_assignment(i, "--input", "p/qif_op/I_ext=30*(t>=30)*(t<60)")?;
        let lower = value.to_ascii_lowercase();
        let is_file = [".npy", ".csv", ".txt", ".dat"]
            .iter()
            .any(|e| lower.ends_with(e));
        if is_file {
            let table = rateforge::read_table(std::path::Path::new(value)).map_err(Error::Input)?;
            model.drive_with_series(path, value)?;
            series.insert(path.to_string(), table);
        } else {
            model.drive(path, value)?;
        }
    }
    let valid = model.validate()?;
    let mut node_values = Vec::new();
    if let Some(file) = &args.initial_state {
        let table = rateforge::read_table(file).map_err(Error::Input)?;
        let states: Vec<String> = valid
            .ir()
            .model()
            .states
            .values()
            .map(|s| s.name.clone())
            .collect();
        if table.n_rows != states.len() {
            return Err(usage(
                format!(
                    "`{}` has {} rows, but the model has {} state{}",
                    file.display(),
                    table.n_rows,
                    states.len(),
                    if states.len() == 1 { "" } else { "s" }
                ),
                format!(
                    "give one row per state, in this order: {}",
                    states.join(", ")
                ),
            ));
        }
        for (s, name) in states.iter().enumerate() {
            node_values.push((
                name.clone(),
                table.data[s * table.n_cols..(s + 1) * table.n_cols].to_vec(),
            ));
        }
    }
    let spec = RunSpec {
        time: args.time,
        dt: args.dt,
        t0: args.t0,
        solver,
        every: args.every,
        record: args
            .record
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
        series,
        threads: args.threads,
        seed: args.seed,
        node_values,
        ..Default::default()
    };
    // Check the recorded paths before spending time on compilation.
    valid.record_ids(&spec.record)?;
    let kernel = match args.backend {
        BackendArg::Native => Some(valid.build(&EmitOptions::default(), &BuildOptions::default())?),
        BackendArg::Interp => None,
    };
    let backend = match &kernel {
        Some(k) => Backend::Native(k),
        None => Backend::Interp,
    };
    let total = ((args.time / args.dt).round().max(0.0) as u64).max(1);
    let progress = AtomicU64::new(0);
    let cancel = AtomicBool::new(false);
    let controls = Controls {
        progress: Some(&progress),
        cancel: Some(&cancel),
    };
    let result = std::thread::scope(|scope| {
        let handle = scope.spawn(|| valid.run(backend, &spec, controls));
        let start = Instant::now();
        // The bar exists (and times) from the start, but is drawn only once the run has taken a
        // second, and only on a terminal.
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {percent:>3}% {human_pos}/{human_len} steps, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let mut shown = false;
        while !handle.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            bar.set_position(progress.load(Ordering::Relaxed).min(total));
            if !shown
                && start.elapsed() > Duration::from_secs(1)
                && std::io::stderr().is_terminal()
                && !args.quiet
            {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                shown = true;
            }
        }
        bar.finish_and_clear();
        handle.join().unwrap_or_else(|_| {
            Err(usage(
                "the simulation thread panicked (a bug in rateforge)",
                "please report it",
            ))
        })
    })?;
    if let Some(out) = &args.output {
        result.write(out)?;
        if !args.quiet {
            eprintln!(
                "wrote {} samples of {} variable(s) to {}",
                result.time.len(),
                result.names.len(),
                out.display()
            );
        }
    }
    if !args.quiet && args.output.is_none() {
        let nn = result.n_nodes;
        let title = if result.network {
            format!("variable (over {nn} nodes)")
        } else {
            "variable".to_string()
        };
        let last = if result.network {
            "final (mean)"
        } else {
            "final"
        };
        println!("{title:<40} {last:>14} {:>14} {:>14}", "min", "max");
        for (r, name) in result.names.iter().enumerate() {
            let cols: Vec<Vec<f64>> = (0..nn).map(|n| result.node_column(r, n, 0)).collect();
            let all = cols.iter().flatten().copied();
            let min = all.clone().fold(f64::INFINITY, f64::min);
            let max = all.fold(f64::NEG_INFINITY, f64::max);
            let final_mean = cols
                .iter()
                .map(|c| c.last().copied().unwrap_or(f64::NAN))
                .sum::<f64>()
                / nn as f64;
            println!("{name:<40} {final_mean:>14.6e} {min:>14.6e} {max:>14.6e}");
        }
    }
    Ok(())
}
