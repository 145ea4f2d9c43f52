//! `rateforge bench`: a fixed suite of timed runs that prints, per case, the rate in
//! instance-steps per second, the estimated GFLOP/s from the model's operation count, its share
//! of this core's peak FP64 rate (measured by a fused multiply-add loop in the same run), and the
//! speed-up over the reference evaluator; plus a straightforward scalar loop as a baseline.
//!
//! The models are compiled into the binary, so the suite runs anywhere. Kernels are built for the
//! run: the parameters that do not vary are compiled in as constants, as `run` and `sweep` do.

use rateforge::crates::codegen::plan::KernelPlan;
use rateforge::crates::ir::{Builtin, Expr, Handle, Model as IrModel, UnOp, ValidModel};
use rateforge::{
    Backend, BuildOptions, Controls, EmitOptions, Error, Format, Model, Precision, RunSpec, Solver,
    Validated,
};
use std::collections::BTreeMap;
use std::time::Instant;

/// Two models of the suite compiled into this binary (`build.rs`, rateforge-build): `qif` and
/// `mpr68`, timed through their typed API beside the kernels built at run time.
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/rateforge_models.rs"));
}

/// The best time of 3 runs of one instance per value of `path` in `values`, through the typed API
/// of a compiled-in model (`spec`'s settings).
fn time_static<M, P>(spec: &RunSpec, path: &str, values: &[f64]) -> Result<f64, Error>
where
    M: rateforge_rt::StaticModel,
    P: rateforge_rt::Values,
{
    let mut sim = rateforge_rt::Simulation::<M>::new()
        .time(spec.time)
        .dt(spec.dt)
        .solver(spec.solver)
        .trace(false);
    sim.every = spec.every;
    sim.threads = spec.threads;
    sim.connectivity = spec.connectivity.clone();
    let params: Vec<P> = values
        .iter()
        .map(|v| {
            let mut p = P::from_values(&[]);
            p.set(path, *v).map(|()| p)
        })
        .collect::<Result<_, _>>()
        .map_err(Error::Runtime)?;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let r = sim.sweep(&params).map_err(Error::Runtime)?;
        std::hint::black_box(&r.final_state);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The suite's models and connectome, compiled into the binary and loaded from memory.
const MODELS: &[(&str, &str, Format)] = &[
    (
        "montbrio.yaml",
        include_str!("../../../examples/models/montbrio.yaml"),
        Format::Yaml,
    ),
    (
        "jansen_rit.yaml",
        include_str!("../../../examples/models/jansen_rit.yaml"),
        Format::Yaml,
    ),
    (
        "mpr68.xml",
        include_str!("../../../examples/models/networks/mpr68.xml"),
        Format::Xml,
    ),
    (
        "kuramoto.xml",
        include_str!("../../../examples/models/library/kuramoto.xml"),
        Format::Xml,
    ),
    (
        "mpr68.yaml",
        include_str!("../../../examples/models/networks/mpr68.yaml"),
        Format::Yaml,
    ),
    (
        "reduced_wong_wang.yaml",
        include_str!("../../../examples/models/library/reduced_wong_wang.yaml"),
        Format::Yaml,
    ),
];

/// cuBNM's published CPU rate for the reduced Wong–Wang network with BOLD and FC/FCD: 6.0e6
/// node-steps/s per thread (the CPU baseline of its A100 run, float64, no delays).
const CUBNM_CPU_NODE_STEPS: f64 = 6.0e6;

/// Reduced Wong–Wang on the 68-region connectome without delays (as cuBNM runs it), noise on
/// `S`, Euler–Maruyama at dt 0.1 ms, with and without BOLD + FC + FCD: node-steps/s per thread,
/// the observers' cost, and the ratio to cuBNM's CPU rate.
fn bench_observers(
    options: &BenchOptions,
    rates: &mut Rates,
    threads_all: usize,
    build: &BuildOptions,
) -> Result<(), Error> {
    let mut model = Model::from_source_with(
        "reduced_wong_wang.yaml/reduced_wong_wang",
        MODELS
            .iter()
            .find(|(n, _, _)| *n == "reduced_wong_wang.yaml")
            .expect("in the suite")
            .1,
        Format::Yaml,
        &Default::default(),
    )?;
    model.set_noise("reduced_wong_wang_op/S", 0.01)?;
    model.set("reduced_wong_wang_op/S->reduced_wong_wang_op/c_pop0/a", 6.0)?;
    let valid = model.validate()?;
    let mut conn = connectome()?;
    conn.distance.iter_mut().for_each(|d| *d = 0.0);
    // 10 s of simulated time (1.5 s with --quick), BOLD every TR = 0.72 s, FCD windows of 2.
    let time_ms = if options.quick { 1_500.0 } else { 10_000.0 };
    let dt = 0.1;
    let steps = (time_ms / dt) as u64;
    let bold = rateforge::BoldSpec {
        driver: "reduced_wong_wang_op/S".into(),
        tr: 0.72,
        fcd_window: 2,
        fcd_step: 1,
        ..Default::default()
    };
    let spec_for = |n: usize, threads: usize, observe: bool| RunSpec {
        time: time_ms,
        dt,
        solver: Solver::Euler,
        every: Some(time_ms),
        instances: n,
        instance_values: vec![(
            "reduced_wong_wang_op/w".into(),
            (0..n).map(|i| 0.5 + 0.2 * i as f64 / n as f64).collect(),
        )],
        connectivity: Some(conn.clone()),
        threads: Some(threads),
        trace: false,
        bold: observe.then(|| bold.clone()),
        ..Default::default()
    };
    let emit = options.emit(valid.constant_parameters(&spec_for(2, 1, false)));
    let kernel = valid.build(&emit, build)?;
    let nodes = conn.n_nodes as f64;
    rateforge_rt::outln!(
        "\nreduced Wong-Wang, 68 regions, no delays, noise, euler, dt 0.1 ms, {:.0} s; BOLD (TR 0.72 s) + FC + FCD; cuBNM's CPU: {} node-steps/s per thread",
        time_ms / 1e3,
        human(CUBNM_CPU_NODE_STEPS)
    );
    for (n, threads) in [(32usize, 1usize), (64, threads_all)] {
        let mut per_thread = [0.0f64; 2];
        for (k, observe) in [false, true].into_iter().enumerate() {
            let spec = spec_for(n, threads, observe);
            let t = time_run(&valid, Backend::Native(&kernel), &spec, 3)?;
            let rate = n as f64 * steps as f64 * nodes / t;
            per_thread[k] = rate / threads as f64;
            let what = if observe {
                "rWW 68 + BOLD, FC, FCD"
            } else {
                "rWW 68, no observers"
            };
            let extra = if observe {
                format!(
                    "  observers cost {:.1}%; {:.2}x cuBNM's CPU per thread",
                    100.0 * (per_thread[0] / per_thread[1] - 1.0),
                    per_thread[1] / CUBNM_CPU_NODE_STEPS
                )
            } else {
                String::new()
            };
            rateforge_rt::outln!(
                "{:<38} {:>9} {:>8} {:>7} {:>8.3} {:>18}{extra}{}",
                what,
                n,
                steps,
                threads,
                t,
                format!("{} node-steps", human(rate)),
                rates.row(what, n, steps, threads, rate)
            );
        }
    }
    Ok(())
}

/// The 68-region connectome (weights, tract lengths in mm).
fn connectome() -> Result<rateforge::crates::runtime::Connectivity, Error> {
    rateforge::crates::rt::connectivity::from_npy_bytes(
        include_bytes!("../../../examples/data/connectivity_68/weights.npy"),
        include_bytes!("../../../examples/data/connectivity_68/tract_lengths.npy"),
    )
    .map_err(Error::Input)
}

/// Options of the suite.
pub struct BenchOptions {
    /// Shorter runs (a quick check, figures noisier).
    pub quick: bool,
    /// Fused multiply-adds where the CPU has them.
    pub fast: bool,
    /// The kernels' arithmetic.
    pub precision: Precision,
    /// What the delay history stores.
    pub history: Precision,
    /// Lanes per block (default: the precision's).
    pub lanes: Option<usize>,
    /// Worker threads for the multi-core rows (default: all cores).
    pub threads: Option<usize>,
    /// Where to save this run's rates (JSON).
    pub save: Option<std::path::PathBuf>,
    /// A saved run whose rates are printed beside this run's.
    pub baseline: Option<std::path::PathBuf>,
}

impl BenchOptions {
    /// The kernels' emit options for runs like `spec`: its constant parameters compiled in, its
    /// records known.
    fn emit_for(&self, valid: &Validated, spec: &RunSpec) -> Result<EmitOptions, Error> {
        let records = valid.record_ids(&spec.record)?;
        Ok(EmitOptions {
            records: Some(records.into_iter().map(|id| id as usize).collect()),
            ..self.emit(valid.constant_parameters(spec))
        })
    }

    /// The kernels' emit options, with `inline` compiled in.
    fn emit(&self, inline: Vec<(usize, f64)>) -> EmitOptions {
        EmitOptions {
            lanes: self
                .lanes
                .unwrap_or_else(|| EmitOptions::default_lanes(self.precision)),
            fast: self.fast,
            precision: self.precision,
            history: self.history,
            inline,
            ..Default::default()
        }
    }
}

/// The rates of this run, by row, and those of a saved run to print beside them.
struct Rates {
    now: BTreeMap<String, f64>,
    baseline: Option<BTreeMap<String, f64>>,
}

impl Rates {
    fn new(options: &BenchOptions) -> Result<Rates, Error> {
        let baseline = match &options.baseline {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    crate::usage(
                        format!("cannot read the baseline `{}`: {e}", path.display()),
                        "give a file written by `rateforge bench --save FILE.json`",
                    )
                })?;
                let saved: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    crate::usage(
                        format!("the baseline `{}` is not JSON: {e}", path.display()),
                        "give a file written by `rateforge bench --save FILE.json`",
                    )
                })?;
                let rates = saved
                    .get("rates")
                    .and_then(|r| r.as_object())
                    .ok_or_else(|| {
                        crate::usage(
                            format!("the baseline `{}` has no `rates`", path.display()),
                            "give a file written by `rateforge bench --save FILE.json`",
                        )
                    })?;
                Some(
                    rates
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect(),
                )
            }
        };
        Ok(Rates {
            now: BTreeMap::new(),
            baseline,
        })
    }

    /// Records a row's rate; returns the baseline column (empty without a baseline).
    fn row(&mut self, what: &str, n: usize, steps: u64, threads: usize, rate: f64) -> String {
        let key = format!("{} | {n} | {steps} | {threads}", what.trim());
        self.now.insert(key.clone(), rate);
        match &self.baseline {
            None => String::new(),
            Some(b) => match b.get(&key) {
                Some(&old) if old > 0.0 => format!("  was {} ({:.2}x)", human(old), rate / old),
                _ => "  (not in baseline)".to_string(),
            },
        }
    }

    fn save(&self, options: &BenchOptions, machine: &str) -> Result<(), Error> {
        let Some(path) = &options.save else {
            return Ok(());
        };
        let doc = serde_json::json!({
            "rateforge": env!("CARGO_PKG_VERSION"),
            "machine": machine,
            "quick": options.quick,
            "rates": self.now,
        });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|e| {
            crate::usage(
                format!("cannot write `{}`: {e}", path.display()),
                "give a writable path to `--save`",
            )
        })?;
        rateforge_rt::outln!("rates saved to {}", path.display());
        Ok(())
    }
}

struct Case {
    name: &'static str,
    model: &'static str,
    solver: Solver,
    dt: f64,
    /// (instances, steps, threads): rows of the case; threads 0 = all.
    rows: Vec<(usize, u64, usize)>,
    /// The swept parameter and its range (instances get evenly spaced values).
    sweep: (&'static str, f64, f64),
    /// The evaluator's row: (instances, steps).
    interp: (usize, u64),
    network: bool,
    unit: &'static str,
}

/// Floating-point operations of a model: per evaluation of the right-hand side, per edge of a
/// coupling, per coupling at a node. Convention: `+ - * /`, comparisons and negation count 1, an
/// integer power `n - 1` multiplications, `sqrt` 1, the other functions 20.
struct Flops {
    rhs: f64,
    per_edge: f64,
    per_node_coupling: f64,
    states: f64,
}

fn expr_flops(m: &IrModel, e: Handle<Expr>) -> f64 {
    let sub: f64 = m.operands(e).map(|o| expr_flops(m, o)).sum();
    let own = match &m.exprs[e] {
        Expr::Binary(..) => 1.0,
        Expr::Unary(UnOp::Neg | UnOp::Not, _) => 1.0,
        Expr::Powi(_, n) => (n.unsigned_abs().max(1) - 1) as f64 + if *n < 0 { 1.0 } else { 0.0 },
        Expr::Call(Builtin::Sqrt | Builtin::Abs | Builtin::Max | Builtin::Min, _) => 1.0,
        Expr::Call(..) => 20.0,
        Expr::Select(..) => 1.0,
        _ => 0.0,
    };
    own + sub
}

fn flops(v: &ValidModel, plan: &KernelPlan) -> Flops {
    let m = v.model();
    let computed = |k: usize| plan.couplings.iter().any(|c| c.index == k);
    let rhs = m
        .derived
        .values()
        .map(|d| expr_flops(m, d.expr))
        .sum::<f64>()
        + m.odes.iter().map(|o| expr_flops(m, o.rhs)).sum::<f64>();
    let per_edge = m
        .couplings
        .values()
        .enumerate()
        .filter(|(k, _)| computed(*k))
        .map(|(_, c)| 2.0 + expr_flops(m, c.pre))
        .sum();
    let per_node_coupling = m
        .couplings
        .values()
        .enumerate()
        .filter(|(k, _)| computed(*k))
        .map(|(_, c)| expr_flops(m, c.post))
        .sum();
    Flops {
        rhs,
        per_edge,
        per_node_coupling,
        states: m.states.len() as f64,
    }
}

/// FLOPs per instance-step of one node: stages times the right-hand side plus the updates.
fn step_flops(f: &Flops, solver: Solver) -> f64 {
    match solver {
        Solver::Euler => f.rhs + 2.0 * f.states,
        Solver::Heun => 2.0 * f.rhs + 5.0 * f.states,
        Solver::Rk4 => 4.0 * f.rhs + 13.0 * f.states,
    }
}

fn load(reference: &str) -> Result<Validated, Error> {
    load_with(reference, &[], &[])
}

/// Loads a suite model (`file/Template` or `file`, the file one of [`MODELS`]), its network
/// couplings replaced by `couplings` (`--coupling` syntax), with the values `set`.
fn load_with(reference: &str, couplings: &[&str], set: &[(&str, f64)]) -> Result<Validated, Error> {
    let file = reference.split('/').next().unwrap_or(reference);
    let (_, text, format) = MODELS
        .iter()
        .find(|(name, _, _)| *name == file)
        .expect("a model of the suite");
    let mut model = Model::from_source_with(
        reference,
        text,
        *format,
        &rateforge::LoadOptions {
            couplings: couplings.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    )?;
    for (path, value) in set {
        model.set(path, *value)?;
    }
    model.validate()
}

/// Timed runs of one kernel: the best of `repeats` (the machine is shared and noisy).
fn time_run(
    valid: &Validated,
    backend: Backend<'_>,
    spec: &RunSpec,
    repeats: usize,
) -> Result<f64, Error> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = valid.run(backend, spec, Controls::default())?;
        std::hint::black_box(&r.final_state);
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn human(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}e9", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}e6", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.2}e3", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}

/// Runs the suite and prints its table.
pub fn run(options: &BenchOptions) -> Result<(), Error> {
    let start = Instant::now();
    let build = BuildOptions::default();
    let threads_all = options.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let scale = if options.quick { 0.1 } else { 1.0 };
    let steps = |s: f64| ((s * scale) as u64).max(10);
    let peak =
        rateforge::crates::runtime::peak::fp64_peak(&build, if options.quick { 0.3 } else { 1.0 })
            .map_err(Error::Runtime)?;
    // What one core reads from memory, for the networks' share of it.
    let bandwidth = rateforge::crates::runtime::peak::read_bandwidth(if options.quick {
        256 << 20
    } else {
        1 << 30
    });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    rateforge_rt::outln!("rateforge bench {}", env!("CARGO_PKG_VERSION"));
    rateforge_rt::outln!(
        "machine: {cpu}, {threads_all} core(s); peak FP64 of one core (FMA loop): {:.1} GFLOP/s; memory read by one core: {:.1} GB/s",
        peak / 1e9,
        bandwidth / 1e9
    );
    rateforge_rt::outln!(
        "kernels: {} arithmetic, {} history, {} lanes, FMA {}; parameters that do not vary are compiled in",
        options.precision.rust(),
        options.history.rust(),
        options
            .lanes
            .unwrap_or_else(|| EmitOptions::default_lanes(options.precision)),
        if options.fast { "on" } else { "off" }
    );
    rateforge_rt::outln!(
        "rates are instance-steps per second (for networks, one instance-step advances every node); the best of 3 runs;\n\
         a network's B/step: the history bytes of one instance-step (per coupling, an edge's delayed source read, a node's value written)\n"
    );
    let mut rates = Rates::new(options)?;
    let cases = vec![
        Case {
            name: "Montbrio single node, euler",
            model: "montbrio.yaml/qif",
            solver: Solver::Euler,
            dt: 1e-4,
            rows: vec![
                (100, steps(1e7), 1),
                (10_000, steps(1e5), 1),
                (1_000_000, steps(1e3), 1),
                (10_000, steps(2e5), 0),
            ],
            sweep: ("p/qif_op/eta", -6.0, -4.0),
            interp: (32, steps(2e4)),
            network: false,
            unit: "lane-steps/s",
        },
        Case {
            name: "Montbrio single node, rk4",
            model: "montbrio.yaml/qif",
            solver: Solver::Rk4,
            dt: 1e-3,
            rows: vec![(10_000, steps(3e4), 1), (10_000, steps(6e4), 0)],
            sweep: ("p/qif_op/eta", -6.0, -4.0),
            interp: (32, steps(5e3)),
            network: false,
            unit: "lane-steps/s",
        },
        Case {
            name: "Jansen-Rit circuit, rk4",
            model: "jansen_rit.yaml/JRC",
            solver: Solver::Rk4,
            dt: 1e-4,
            rows: vec![(10_000, steps(1e4), 1), (10_000, steps(2e4), 0)],
            sweep: ("pc/rpo_e_in/u", 120.0, 320.0),
            interp: (32, steps(2e3)),
            network: false,
            unit: "circuit-steps/s",
        },
        Case {
            name: "Montbrio, 68 regions, delays, heun",
            model: "mpr68.xml",
            solver: Solver::Heun,
            dt: 0.1,
            rows: vec![(64, steps(5e3), 1), (128, steps(5e3), 0)],
            sweep: ("global_coupling", 0.0, 1.0),
            interp: (4, steps(500.0)),
            network: true,
            unit: "network-steps/s",
        },
        Case {
            name: "Kuramoto, 68 regions, delays, heun",
            model: "kuramoto.xml",
            solver: Solver::Heun,
            dt: 0.1,
            rows: vec![(64, steps(5e3), 1), (128, steps(5e3), 0)],
            sweep: ("global_coupling", 1.0, 10.0),
            interp: (4, steps(500.0)),
            network: true,
            unit: "network-steps/s",
        },
    ];
    let conn = if cases.iter().any(|c| c.network) {
        Some(connectome()?)
    } else {
        None
    };
    rateforge_rt::outln!(
        "{:<38} {:>9} {:>8} {:>7} {:>8} {:>18} {:>8} {:>6} {:>9}",
        "case",
        "instances",
        "steps",
        "threads",
        "time s",
        "rate",
        "GFLOP/s",
        "%peak",
        "x interp"
    );
    for case in &cases {
        let valid = load(case.model)?;
        let spec_for = |n: usize, steps: u64, threads: usize| -> RunSpec {
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    case.sweep.1 + (case.sweep.2 - case.sweep.1) * i as f64 / (n.max(2) - 1) as f64
                })
                .collect();
            RunSpec {
                time: steps as f64 * case.dt,
                dt: case.dt,
                solver: case.solver,
                every: Some(steps as f64 * case.dt),
                instances: n,
                instance_values: vec![(case.sweep.0.to_string(), values)],
                connectivity: if case.network { conn.clone() } else { None },
                threads: Some(if threads == 0 { threads_all } else { threads }),
                trace: false,
                ..Default::default()
            }
        };
        // The evaluator, once per case.
        let (ni, si) = case.interp;
        let ispec = spec_for(ni, si, 1);
        let interp_time = time_run(&valid, Backend::Interp, &ispec, 1)?;
        let interp_rate = ni as f64 * si as f64 / interp_time;
        let emit = options.emit_for(&valid, &spec_for(2, 1, 1))?;
        let plan = KernelPlan::new(valid.ir(), &emit);
        let f = flops(valid.ir(), &plan);
        let edges = conn.as_ref().map_or(0.0, |c| c.weight.len() as f64);
        let nodes = conn.as_ref().map_or(1.0, |c| c.n_nodes as f64);
        // History traffic of one instance-step: per coupling computed, every edge reads its
        // delayed source and every node writes the value its edges read.
        let h_bytes = (options.history.bits() / 8) as f64;
        let history_bytes = (edges + nodes) * plan.couplings.len() as f64 * h_bytes;
        let per_instance_step = if case.network {
            nodes * (step_flops(&f, case.solver) + f.per_node_coupling) + edges * f.per_edge
        } else {
            step_flops(&f, case.solver)
        };
        let kernel = valid.build(&emit, &build)?;
        let first_row = case.rows.first().copied();
        for &(n, s, threads) in &case.rows {
            let spec = spec_for(n, s, threads);
            let t = time_run(&valid, Backend::Native(&kernel), &spec, 3)?;
            let th = if threads == 0 { threads_all } else { threads };
            let rate = n as f64 * s as f64 / t;
            let gflops = rate * per_instance_step / 1e9;
            let traffic = if case.network {
                let moved = rate * history_bytes;
                format!(
                    "  {:.1} kB/step {:.1} GB/s ({:.0}% of memory)",
                    history_bytes / 1e3,
                    moved / 1e9,
                    100.0 * moved / (bandwidth * th as f64)
                )
            } else {
                String::new()
            };
            rateforge_rt::outln!(
                "{:<38} {:>9} {:>8} {:>7} {:>8.3} {:>18} {:>8.1} {:>5.0}% {:>9.0}{traffic}{}",
                case.name,
                n,
                s,
                th,
                t,
                format!("{} {}", human(rate), case.unit.trim_end_matches("/s")),
                gflops,
                100.0 * gflops * 1e9 / (peak * th as f64),
                rate / th as f64 / interp_rate,
                rates.row(case.name, n, s, th, rate)
            );
        }
        // The same work through the statically linked typed API (f64, exact arithmetic: the
        // kernels compiled into this binary, for any parameter values), against a shared library
        // of the same kernel (built at run time without compiled-in parameters) in this run.
        let default_kernel = !options.fast
            && options.precision == Precision::F64
            && options.history == Precision::F64
            && options.lanes.is_none();
        if let Some((n, s, threads)) = first_row.filter(|_| default_kernel) {
            let spec = spec_for(n, s, threads);
            let values = &spec.instance_values[0].1;
            let t_static = match case.model {
                "montbrio.yaml/qif" => Some(time_static::<
                    compiled::qif::Model,
                    compiled::qif::Params,
                >(&spec, case.sweep.0, values)?),
                "mpr68.xml" => Some(time_static::<
                    compiled::mpr68::Model,
                    compiled::mpr68::Params,
                >(&spec, case.sweep.0, values)?),
                _ => None,
            };
            if let Some(t_static) = t_static {
                let generic = valid.build(&EmitOptions::default(), &build)?;
                let t_lib = time_run(&valid, Backend::Native(&generic), &spec, 3)?;
                let th = if threads == 0 { threads_all } else { threads };
                for (what, t, ratio) in [
                    ("  shared library, any parameters", t_lib, String::new()),
                    (
                        "  statically linked (typed API)",
                        t_static,
                        format!("{:.2}x lib", t_lib / t_static),
                    ),
                ] {
                    let rate = n as f64 * s as f64 / t;
                    let key = format!("{}: {}", case.name, what.trim());
                    rateforge_rt::outln!(
                        "{:<38} {:>9} {:>8} {:>7} {:>8.3} {:>18} {:>8.1} {:>5.0}% {:>9}{}",
                        what,
                        n,
                        s,
                        th,
                        t,
                        format!("{} {}", human(rate), case.unit.trim_end_matches("/s")),
                        rate * per_instance_step / 1e9,
                        100.0 * rate * per_instance_step / (peak * th as f64),
                        ratio,
                        rates.row(&key, n, s, th, rate)
                    );
                }
            }
        }
        rateforge_rt::outln!(
            "{:<38} {:>9} {:>8} {:>7} {:>8.3} {:>18} {:>8.2} {:>5.1}% {:>9}",
            format!("  reference evaluator"),
            ni,
            si,
            1,
            interp_time,
            format!(
                "{} {}",
                human(interp_rate),
                case.unit.trim_end_matches("/s")
            ),
            interp_rate * per_instance_step / 1e9,
            100.0 * interp_rate * per_instance_step / peak,
            "1"
        );
    }
    bench_observers(options, &mut rates, threads_all, &build)?;
    // A straightforward scalar loop: Montbrio, euler, one instance after another.
    let (n, s) = (100usize, steps(1e6));
    let t = Instant::now();
    let mut sink = 0.0;
    for i in 0..n {
        let eta = -6.0 + 2.0 * i as f64 / (n - 1) as f64;
        let (delta, tau, j, dt) = (1.0f64, 1.0f64, 15.0f64, 1e-4f64);
        let (mut r, mut v) = (0.01f64, -2.0f64);
        for _ in 0..s {
            let pi = std::f64::consts::PI;
            let dr = (delta / (pi * tau) + 2.0 * r * v) / tau;
            let dv = (v * v + eta + j * r * tau - (pi * tau * r) * (pi * tau * r)) / tau;
            r += dt * dr;
            v += dt * dv;
        }
        sink += r + v;
    }
    std::hint::black_box(sink);
    let secs = t.elapsed().as_secs_f64();
    let rate = n as f64 * s as f64 / secs;
    rateforge_rt::outln!(
        "{:<38} {:>9} {:>8} {:>7} {:>8.3} {:>18}",
        "scalar loop (Montbrio, euler, Rust)",
        n,
        s,
        1,
        secs,
        format!("{} lane-steps", human(rate)),
    );
    let baseline_column = rates.row("scalar loop (Montbrio, euler, Rust)", n, s, 1, rate);
    if !baseline_column.is_empty() {
        rateforge_rt::outln!("{:<38}{baseline_column}", "");
    }
    rates.save(options, &cpu)?;
    rateforge_rt::outln!("\nsuite time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// One case of the CUDA suite.
struct CudaCase {
    name: &'static str,
    model: &'static str,
    /// Network couplings replacing the model's (`--coupling` syntax); empty: the model's own.
    couplings: &'static [&'static str],
    /// Values set before validation (`--set`).
    set: &'static [(&'static str, f64)],
    solver: Solver,
    dt: f64,
    /// (instances, steps) of the GPU rows.
    rows: Vec<(usize, u64)>,
    /// (instances, steps) of the CPU row (generated CPU kernel, every core) of the same work.
    cpu: (usize, u64),
    /// The swept parameter and its range.
    sweep: (&'static str, f64, f64),
    network: bool,
}

/// `rateforge bench --backend cuda`: the CUDA kernels on a GPU, each case beside the generated
/// CPU kernel on every core of this machine, timed in the same run. Rates count instance-steps
/// (one instance advanced by one step) and, for networks, node-steps (one node of one instance
/// advanced by one step: the unit of the published GPU figures). Times include copying the
/// inputs and results. On the CPU emulation (`cuda-emulated`) every size is cut a thousandfold:
/// it checks that the suite runs, its figures mean nothing.
pub fn run_cuda(options: &BenchOptions, target: rateforge::CudaTarget) -> Result<(), Error> {
    let start = Instant::now();
    let build = BuildOptions::default();
    let emulated = matches!(target, rateforge::CudaTarget::Emulated);
    let mut rates = Rates::new(options)?;
    let threads_all = options.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let instances = |n: usize| if emulated { (n / 1000).max(4) } else { n };
    let steps = |s: u64| {
        let s = if options.quick { s / 10 } else { s };
        (if emulated { s / 10 } else { s }).max(10)
    };
    let conn = connectome()?;
    // Montbrio on the 68-region connectome, coupled through r (TVB's default parameters have
    // cv = 0, so the coupling through V does nothing), delays of tract length / 2 mm/ms: at
    // dt = 0.1 ms the delay buffer holds 1,266 steps. The node template of mpr68.yaml, made a
    // network by the coupling (the connectome is given at run time).
    let mpr_coupling: &[&str] = &["mpr_op/r->mpr_op/c_r:linear:a=20"];
    let cases = vec![
        CudaCase {
            name: "Montbrio single node, euler",
            model: "montbrio.yaml/qif",
            couplings: &[],
            set: &[],
            solver: Solver::Euler,
            dt: 1e-4,
            rows: vec![(1 << 20, steps(10_000))],
            cpu: (instances(16_384), steps(2_000)),
            sweep: ("p/qif_op/eta", -6.0, -4.0),
            network: false,
        },
        CudaCase {
            name: "Jansen-Rit circuit, rk4",
            model: "jansen_rit.yaml/JRC",
            couplings: &[],
            set: &[],
            solver: Solver::Rk4,
            dt: 1e-4,
            rows: vec![(1 << 20, steps(2_000))],
            cpu: (instances(4_096), steps(1_000)),
            sweep: ("pc/rpo_e_in/u", 120.0, 320.0),
            network: false,
        },
        CudaCase {
            name: "Montbrio, 68 regions, delays, heun",
            model: "mpr68.yaml/mpr_node",
            couplings: mpr_coupling,
            // mpr68's conduction speed, 2 mm/ms.
            set: &[("network/speed", 2.0)],
            solver: Solver::Heun,
            dt: 0.1,
            rows: vec![(10_000, steps(2_000)), (100_000, steps(2_000))],
            cpu: (instances(256), steps(500)),
            sweep: ("mpr_op/r->mpr_op/c_r/a", 0.0, 1.0),
            network: true,
        },
        CudaCase {
            name: "Kuramoto, 68 regions, delays, heun",
            model: "kuramoto.xml",
            couplings: &[],
            set: &[],
            solver: Solver::Heun,
            dt: 0.1,
            rows: vec![(10_000, steps(2_000))],
            cpu: (instances(256), steps(500)),
            sweep: ("global_coupling", 1.0, 10.0),
            network: true,
        },
    ];
    let mut header = false;
    let mut cpu_note = false;
    for case in &cases {
        let valid = load_with(case.model, case.couplings, case.set)?;
        let spec_for = |n: usize, steps: u64| -> RunSpec {
            let values: Vec<f64> = (0..n)
                .map(|i| {
                    case.sweep.1 + (case.sweep.2 - case.sweep.1) * i as f64 / (n.max(2) - 1) as f64
                })
                .collect();
            RunSpec {
                time: steps as f64 * case.dt,
                dt: case.dt,
                solver: case.solver,
                every: Some(steps as f64 * case.dt),
                instances: n,
                instance_values: vec![(case.sweep.0.to_string(), values)],
                connectivity: case.network.then(|| conn.clone()),
                threads: Some(threads_all),
                trace: false,
                ..Default::default()
            }
        };
        let emit = EmitOptions {
            fast: options.fast,
            precision: options.precision,
            history: options.history,
            lanes: options
                .lanes
                .unwrap_or_else(|| EmitOptions::default_lanes(options.precision)),
            inline: valid.constant_parameters(&spec_for(2, 1)),
            records: Some(
                valid
                    .record_ids(&spec_for(2, 1).record)?
                    .into_iter()
                    .map(|id| id as usize)
                    .collect(),
            ),
            ..Default::default()
        };
        let f = flops(valid.ir(), &KernelPlan::new(valid.ir(), &emit));
        let nodes = if case.network {
            conn.n_nodes as f64
        } else {
            1.0
        };
        let per_instance_step = if case.network {
            nodes * (step_flops(&f, case.solver) + f.per_node_coupling)
                + conn.weight.len() as f64 * f.per_edge
        } else {
            step_flops(&f, case.solver)
        };
        let kernel = valid.build_cuda(&emit, &build, target)?;
        if !header {
            rateforge_rt::outln!(
                "rateforge bench --backend cuda {}",
                env!("CARGO_PKG_VERSION")
            );
            rateforge_rt::outln!("device: {}", kernel.device_name());
            if emulated {
                rateforge_rt::outln!(
                    "(CPU emulation of the CUDA kernels: sizes cut a thousandfold, the figures mean nothing)"
                );
            }
            rateforge_rt::outln!(
                "kernels: {} arithmetic, {} history, FMA {}; parameters that do not vary are compiled in",
                options.precision.rust(),
                options.history.rust(),
                if options.fast { "on" } else { "off" }
            );
            rateforge_rt::outln!(
                "rates: instance-steps/s; node-steps/s for networks (instances x nodes x steps / s); the best of 3 runs, copies included;\n\"x CPU\": the GPU's rate over the CPU kernel's on {threads_all} core(s) of this machine, same case, same run\n"
            );
            rateforge_rt::outln!(
                "{:<36} {:>8} {:>9} {:>7} {:>6} {:>8} {:>22} {:>9} {:>7}",
                "case",
                "backend",
                "instances",
                "steps",
                "chunks",
                "time s",
                "rate",
                "GFLOP/s",
                "x CPU"
            );
            header = true;
        }
        let unit = if case.network {
            "node-steps"
        } else {
            "instance-steps"
        };
        // The CPU kernel on every core (when this machine can build it: a GPU machine may have
        // no Rust compiler).
        let (cn, cs) = case.cpu;
        let cpu = match valid.build(&emit, &build) {
            Ok(native) => {
                let ct = time_run(&valid, Backend::Native(&native), &spec_for(cn, cs), 3)?;
                Some((ct, cn as f64 * cs as f64 / ct))
            }
            Err(e) => {
                if !cpu_note {
                    eprintln!(
                        "no CPU rows: the CPU kernels cannot be built here ({})",
                        e.render().lines().next().unwrap_or("")
                    );
                    cpu_note = true;
                }
                None
            }
        };
        for &(n, s) in &case.rows {
            let n = instances(n);
            let t = time_run(&valid, Backend::Cuda(&kernel), &spec_for(n, s), 3)?;
            let rate = n as f64 * s as f64 / t;
            rateforge_rt::outln!(
                "{:<36} {:>8} {:>9} {:>7} {:>6} {:>8.3} {:>22} {:>9.1} {:>7}{}",
                case.name,
                "cuda",
                n,
                s,
                kernel.last_run_chunks(),
                t,
                format!("{} {unit}", human(rate * nodes)),
                rate * per_instance_step / 1e9,
                cpu.map_or("-".to_string(), |(_, r)| format!("{:.1}", rate / r)),
                rates.row(&format!("{} (cuda)", case.name), n, s, 0, rate)
            );
        }
        let Some((ct, cpu_rate)) = cpu else { continue };
        rateforge_rt::outln!(
            "{:<36} {:>8} {:>9} {:>7} {:>6} {:>8.3} {:>22} {:>9.1} {:>7}{}",
            "",
            format!("cpu x{threads_all}"),
            cn,
            cs,
            "",
            ct,
            format!("{} {unit}", human(cpu_rate * nodes)),
            cpu_rate * per_instance_step / 1e9,
            "1",
            rates.row(
                &format!("{} (cpu)", case.name),
                cn,
                cs,
                threads_all,
                cpu_rate
            )
        );
    }
    rates.save(options, "cuda")?;
    rateforge_rt::outln!("\nsuite time {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
