//! Sweeps and streaming statistics:
//! * every instance of a sweep equals a single run with the same parameters, bit for bit (a
//!   kernel built for the sweep against kernels with those values compiled in), for each solver,
//!   with noise, and for a network with delays;
//! * the statistics computed inside the kernel equal the same statistics computed from the full
//!   trace, and the reference evaluator's;
//! * an interrupted run reports how far each instance got;
//! * float32 arithmetic, float32 histories and fast arithmetic stay close to the reference.

use rateforge::crates::ir::History;
use rateforge::crates::runtime::stats::from_trace;
use rateforge::{
    Backend, Controls, EmitOptions, Precision, RunResult, RunSpec, Solver, StatsSpec, Validated,
};
use rateforge_tests::*;
use std::sync::atomic::AtomicBool;

/// A kernel with the parameters of `spec` that do not vary compiled in.
fn specialised(model: &Validated, spec: &RunSpec, extra: EmitOptions) -> rateforge::Kernel {
    model
        .build(
            &EmitOptions {
                inline: model.constant_parameters(spec),
                ..extra
            },
            &build_options(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Runs `spec` in blocks of 2 lanes (one thread: the blocks reuse one history) and of 8.
fn in_2_and_8_lanes(model: &Validated, spec: &RunSpec) -> Vec<RunResult> {
    [2, 8]
        .into_iter()
        .map(|lanes| {
            let options = EmitOptions {
                lanes,
                ..Default::default()
            };
            let k = specialised(model, spec, options);
            run(model, Backend::Native(&k), spec)
        })
        .collect()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn sweep_instances_equal_single_runs() {
    let qif = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let n = 37; // one and a bit lane blocks
    let etas: Vec<f64> = (0..n).map(|i| -6.0 + 0.05 * i as f64).collect();
    let generic = kernel(&qif);
    for solver in [Solver::Euler, Solver::Heun, Solver::Rk4] {
        let sweep = RunSpec {
            time: 2.0,
            dt: 1e-3,
            solver,
            every: Some(0.1),
            instances: n,
            instance_values: vec![("p/qif_op/eta".into(), etas.clone())],
            ..Default::default()
        };
        // The sweep with a generic kernel, and with a kernel for the sweep (eta varies).
        let a = run(&qif, Backend::Native(&generic), &sweep);
        let k = specialised(&qif, &sweep, EmitOptions::default());
        let b = run(&qif, Backend::Native(&k), &sweep);
        assert_eq!(
            bits(&a.trace),
            bits(&b.trace),
            "{solver:?}: generic vs specialised"
        );
        for i in [0, 17, 36] {
            let single = RunSpec {
                instances: 1,
                instance_values: vec![("p/qif_op/eta".into(), vec![etas[i]])],
                ..sweep.clone()
            };
            // Every parameter compiled in.
            let ks = specialised(&qif, &single, EmitOptions::default());
            let s = run(&qif, Backend::Native(&ks), &single);
            for r in 0..a.names.len() {
                assert_eq!(
                    bits(&a.column(r, i)),
                    bits(&s.column(r, 0)),
                    "{solver:?}: instance {i} differs from its single run"
                );
            }
        }
    }
    // With noise: the same normal numbers by instance index, so a single run of instance i needs
    // the sweep's instance numbering; here every instance of a sweep with equal parameters must
    // differ (its own noise), and a sweep of 1 equals instance 0.
    let ou = load("tests/models/valid/ou.yaml")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let ko = kernel(&ou);
    let spec = RunSpec {
        time: 1.0,
        dt: 1e-2,
        solver: Solver::Heun,
        instances: 9,
        seed: 4,
        ..Default::default()
    };
    let many = run(&ou, Backend::Native(&ko), &spec);
    let one = run(
        &ou,
        Backend::Native(&ko),
        &RunSpec {
            instances: 1,
            ..spec.clone()
        },
    );
    assert_eq!(bits(&many.column(0, 0)), bits(&one.column(0, 0)));
    assert_ne!(bits(&many.column(0, 1)), bits(&many.column(0, 2)));
}

#[test]
fn network_sweep_instances_equal_single_runs() {
    let model = load("examples/models/networks/g2do4.xml")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let conn = connectivity_4();
    let n = 5;
    let gs: Vec<f64> = (0..n).map(|i| 10.0 + 5.0 * i as f64).collect();
    let sweep = RunSpec {
        time: 50.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1.0),
        instances: n,
        instance_values: vec![("global_coupling".into(), gs.clone())],
        connectivity: Some(conn),
        ..Default::default()
    };
    let k = specialised(&model, &sweep, EmitOptions::default());
    let a = run(&model, Backend::Native(&k), &sweep);
    let i = 3;
    let single = RunSpec {
        instances: 1,
        instance_values: vec![("global_coupling".into(), vec![gs[i]])],
        ..sweep.clone()
    };
    let ks = specialised(&model, &single, EmitOptions::default());
    let s = run(&model, Backend::Native(&ks), &single);
    for r in 0..a.names.len() {
        for node in 0..4 {
            assert_eq!(
                bits(&a.node_column(r, node, i)),
                bits(&s.node_column(r, node, 0))
            );
        }
    }
    // Sweeping the speed gives every lane its own delays (and the coupling sums of several
    // steps are read lane by lane): the kernel still equals the evaluator.
    let speeds = RunSpec {
        instance_values: vec![
            ("global_speed".into(), vec![1.0, 1.5, 2.0, 3.0, 8.0]),
            ("global_coupling".into(), gs.clone()),
        ],
        ..sweep.clone()
    };
    let k = specialised(&model, &speeds, EmitOptions::default());
    let native = run(&model, Backend::Native(&k), &speeds);
    let interp = run(&model, Backend::Interp, &speeds);
    assert_eq!(bits(&native.trace), bits(&interp.trace), "per-lane delays");
    assert_ne!(
        bits(&native.node_column(0, 0, 0)),
        bits(&native.node_column(0, 0, 4))
    );
}

/// One thread integrates a sweep block after block with one delay history: blocks of two lanes
/// (three of them, the history reused and, for a zero history, cleared) give the same bits as
/// one block of eight, with either history before the start.
#[test]
fn a_reused_history_gives_the_same_bits_as_a_fresh_one() {
    for history in [History::Initial, History::Zero] {
        let mut model = load("examples/models/networks/g2do4.xml");
        model.set_history(history);
        let model = model
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let conn = connectivity_4();
        let n = 6;
        let spec = RunSpec {
            time: 40.0,
            dt: 0.1,
            solver: Solver::Heun,
            every: Some(1.0),
            instances: n,
            instance_values: vec![(
                "global_coupling".into(),
                (0..n).map(|i| 10.0 + 5.0 * i as f64).collect(),
            )],
            threads: Some(1),
            connectivity: Some(conn),
            ..Default::default()
        };
        let runs = in_2_and_8_lanes(&model, &spec);
        assert_eq!(bits(&runs[0].trace), bits(&runs[1].trace), "{history:?}");
        assert_ne!(
            bits(&runs[0].node_column(0, 0, 0)),
            bits(&runs[0].node_column(0, 0, 5))
        );
    }
}

/// mpr68 at dt 0.1 (every delay at least 40 steps, linear couplings): only the multi-step
/// coupling sums read the history, so a block keeps the history before t0 beside its ring
/// instead of filling the ring with it. Blocks of 2 lanes that reuse one ring (whose slots hold
/// the previous block's values until this block writes them) give the bits of one fresh block
/// of 8 lanes, and both give the evaluator's.
#[test]
fn a_reused_ring_that_is_never_filled_gives_the_same_bits_as_a_fresh_one() {
    let model = load("examples/models/networks/mpr68.yaml/mpr68")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let n = 6;
    let spec = RunSpec {
        time: 10.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(0.5),
        instances: n,
        instance_values: vec![(
            "mpr_op/r->mpr_op/c_r/a".into(),
            (0..n).map(|i| 0.5 + 0.5 * i as f64).collect(),
        )],
        record: vec!["mpr_op/r".into(), "mpr_op/V".into()],
        threads: Some(1),
        ..Default::default()
    };
    let runs = in_2_and_8_lanes(&model, &spec);
    assert_eq!(bits(&runs[0].trace), bits(&runs[1].trace));
    let reference = run(&model, Backend::Interp, &spec);
    assert_eq!(bits(&runs[0].trace), bits(&reference.trace));
    assert_ne!(
        bits(&runs[0].node_column(0, 0, 0)),
        bits(&runs[0].node_column(0, 0, 5))
    );
}

#[test]
fn streaming_statistics_equal_statistics_of_the_trace() {
    let conn = connectivity_4();
    type Case<'a> = (&'a str, RunSpec, Vec<(String, f64)>);
    let cases: Vec<Case<'_>> = vec![
        (
            "examples/models/montbrio.yaml/qif",
            RunSpec {
                time: 5.0,
                dt: 1e-3,
                solver: Solver::Rk4,
                every: Some(0.01),
                instances: 11,
                instance_values: vec![(
                    "p/qif_op/eta".into(),
                    (0..11).map(|i| -6.0 + 0.2 * i as f64).collect(),
                )],
                record: vec!["p/qif_op/r".into(), "p/qif_op/v".into()],
                ..Default::default()
            },
            vec![("p/qif_op/r".into(), 0.5)],
        ),
        (
            "examples/models/library/epileptor.xml",
            RunSpec {
                time: 200.0,
                dt: 0.05,
                solver: Solver::Heun,
                every: Some(0.5),
                instances: 3,
                connectivity: Some(conn),
                ..Default::default()
            },
            vec![("x1".into(), 0.0)],
        ),
    ];
    for (reference, base, thresholds) in cases {
        let model = load(reference)
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let spec = RunSpec {
            stats: Some(StatsSpec {
                transient: base.time / 4.0,
                thresholds,
            }),
            ..base
        };
        let k = kernel(&model);
        let with_trace = run(&model, Backend::Native(&k), &spec);
        let no_trace = run(
            &model,
            Backend::Native(&k),
            &RunSpec {
                trace: false,
                ..spec.clone()
            },
        );
        let interp = run(&model, Backend::Interp, &spec);
        assert!(no_trace.trace.is_empty());
        let nr = with_trace.names.len();
        let every = (spec.every.unwrap() / spec.dt).round() as u64;
        let interval = every as f64 * spec.dt;
        let transient = (spec.stats.as_ref().unwrap().transient / interval - 1e-9).ceil() as usize;
        let thresholds: Vec<f64> = with_trace
            .names
            .iter()
            .map(|n| {
                spec.stats
                    .as_ref()
                    .unwrap()
                    .thresholds
                    .iter()
                    .find(|(p, _)| p == n)
                    .map_or(f64::NAN, |(_, v)| *v)
            })
            .collect();
        let expected = from_trace(
            &with_trace.trace,
            with_trace.time.len(),
            nr,
            with_trace.n_nodes,
            with_trace.n_instances,
            transient,
            &thresholds,
            interval,
        );
        assert_eq!(
            bits(&with_trace.stats),
            bits(&expected),
            "{reference}: kernel statistics"
        );
        assert_eq!(
            bits(&no_trace.stats),
            bits(&expected),
            "{reference}: without a trace"
        );
        assert_eq!(
            bits(&interp.stats),
            bits(&expected),
            "{reference}: evaluator"
        );
        // The numbers mean what they say.
        let r0 = with_trace.node_column(0, 0, 0);
        let kept = &r0[transient..];
        let mean = with_trace.stat("mean", 0, 0, 0).unwrap();
        let naive = kept.iter().sum::<f64>() / kept.len() as f64;
        assert!(
            (mean - naive).abs() <= 1e-12 * naive.abs().max(1.0),
            "{mean} vs {naive}"
        );
        assert_eq!(with_trace.stat("last", 0, 0, 0), r0.last().copied());
        assert_eq!(
            with_trace.stat("max", 0, 0, 0).unwrap(),
            kept.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }
}

#[test]
fn an_interrupted_run_reports_what_it_did() {
    let qif = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let k = kernel(&qif);
    let spec = RunSpec {
        time: 100.0,
        dt: 1e-4, // 10^6 steps: stopped at the first check
        solver: Solver::Euler,
        every: Some(1.0),
        instances: 40,
        stats: Some(StatsSpec::default()),
        ..Default::default()
    };
    let cancel = AtomicBool::new(true);
    let r = qif
        .run(
            Backend::Native(&k),
            &spec,
            Controls {
                progress: None,
                cancel: Some(&cancel),
            },
        )
        .unwrap();
    assert!(r.partial);
    assert!(
        r.steps_done.iter().all(|&s| s < 1_000_000),
        "{:?}",
        r.steps_done
    );
    assert!(r.steps_done.iter().any(|&s| s > 0));
    // Samples not reached are NaN; statistics cover the samples taken.
    let col = r.column(0, 0);
    assert!(col[0].is_finite() && col.last().unwrap().is_nan());
    assert!(r.stat("mean", 0, 0, 0).unwrap().is_finite());
}

#[test]
fn float32_and_fast_arithmetic_stay_close_to_the_reference() {
    let qif = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let spec = RunSpec {
        time: 10.0,
        dt: 1e-3,
        solver: Solver::Rk4,
        every: Some(0.1),
        instances: 8,
        instance_values: vec![(
            "p/qif_op/eta".into(),
            (0..8).map(|i| -5.5 + 0.1 * i as f64).collect(),
        )],
        ..Default::default()
    };
    let exact = run(&qif, Backend::Interp, &spec);
    let rel =
        |a: &[f64], b: &[f64]| max_abs_diff(a, b) / b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let fast = specialised(
        &qif,
        &spec,
        EmitOptions {
            fast: true,
            ..Default::default()
        },
    );
    let f = run(&qif, Backend::Native(&fast), &spec);
    let e_fast = rel(&f.trace, &exact.trace);
    assert!(e_fast < 1e-9, "fast arithmetic: {e_fast:e}");
    let single = specialised(
        &qif,
        &spec,
        EmitOptions {
            precision: Precision::F32,
            lanes: EmitOptions::default_lanes(Precision::F32),
            ..Default::default()
        },
    );
    let s = run(&qif, Backend::Native(&single), &spec);
    let e32 = rel(&s.trace, &exact.trace);
    eprintln!("fast arithmetic {e_fast:e}, float32 {e32:e} (relative to the float64 reference)");
    assert!(e32 < 1e-4 && e32 > 1e-12, "float32: {e32:e}");
    // A float32 history in a network with delays: the float64 reference within 1e-5.
    let model = load("examples/models/networks/rww4.xml")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let conn = connectivity_4();
    let net = RunSpec {
        time: 200.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1.0),
        connectivity: Some(conn),
        ..Default::default()
    };
    let reference = run(&model, Backend::Interp, &net);
    let h32 = specialised(
        &model,
        &net,
        EmitOptions {
            history: Precision::F32,
            ..Default::default()
        },
    );
    let h = run(&model, Backend::Native(&h32), &net);
    let e_h = rel(&h.trace, &reference.trace);
    eprintln!("float32 history {e_h:e}");
    assert!(e_h < 1e-5 && e_h > 0.0, "float32 history: {e_h:e}");
}

#[test]
fn the_history_of_an_instance_sizes_the_lanes_of_a_delayed_network() {
    use rateforge::{EmitOptions, Precision};
    let model = load("examples/models/networks/mpr68.yaml/mpr68")
        .validate()
        .unwrap();
    // Both of the model's buffers (r and V; a run with cv = 0 keeps only r's, see gated.rs).
    let buffered = model.ir().info().buffered.len();
    // TVB's delays for this connectome: the longest is 12,645 steps at dt 0.01 ms and 1,265 at
    // dt 0.1 (2,529 at half the speed); the ring holds one slot more.
    let at = |dt: f64, instances: usize, values: Vec<(String, Vec<f64>)>| {
        model.history_values(
            &RunSpec {
                time: 1000.0,
                dt,
                instances,
                instance_values: values,
                ..Default::default()
            },
            buffered,
        )
    };
    assert_eq!(at(0.01, 1, vec![]), buffered * 68 * 12_646);
    assert_eq!(at(0.1, 1, vec![]), buffered * 68 * 1_266);
    // A slower conduction speed in one instance of a sweep lengthens every lane's history.
    let speeds = ("network/speed".to_string(), vec![2.0, 2.0, 1.0]);
    assert_eq!(at(0.1, 3, vec![speeds]), buffered * 68 * 2_530);
    // 64 instances at dt 0.01 on two threads: 8 lanes (2 x 8 histories of 13.8 MB), where 32
    // would keep 0.9 GB; at dt 0.1 (1.4 MB each) 32 lanes are within the budget, and with a
    // 32 MiB last-level cache 16 (2 x 16 x 1.4 MB: 44 MB, the fewest lanes the cache asks for).
    const L3: usize = 32 << 20;
    let bytes = at(0.01, 64, vec![]) * 8;
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 64, bytes, 2, 0),
        8
    );
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 64, bytes, 2, L3),
        8
    );
    let bytes = at(0.1, 64, vec![]) * 8;
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 64, bytes, 2, 0),
        32
    );
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 64, bytes, 2, L3),
        16
    );
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 64, bytes, 1, L3),
        16
    );
    // A history that fits the cache at full width keeps the full width.
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 64, bytes / 4, 1, L3),
        32
    );
    // A run shorter than the longest delay keeps only as much history as it can read.
    let short = RunSpec {
        time: 1.0,
        dt: 0.01,
        ..Default::default()
    };
    assert_eq!(model.history_values(&short, buffered), buffered * 68 * 103);
    // Few instances: no more lanes than instances, whatever the history.
    assert_eq!(
        EmitOptions::lanes_for_run(Precision::F64, 1, bytes, 2, L3),
        1
    );
}
