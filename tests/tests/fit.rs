//! Fitting to data: the goodness-of-fit metrics against direct computations, common random
//! numbers on every backend, and grid search and CMA-ES recovering the parameters that made a
//! synthetic target.

use rateforge::fit::{FitOptions, FitTarget, FreeParam, Method, ks_distance, upper_triangle};
use rateforge::{
    Backend, BoldSpec, Controls, CudaTarget, EmitOptions, Parallel, RunResult, RunSpec, Solver,
    Validated,
};
use rateforge_tests::{build_options, connectivity_4, kernel, load, run};

/// Reduced Wong–Wang on 4 regions with noise, 3 instances, BOLD every 0.1 s, FCD windows.
fn rww4_spec(shared_noise: bool) -> RunSpec {
    RunSpec {
        time: 20_000.0,
        dt: 0.5,
        solver: Solver::Heun,
        instances: 3,
        instance_values: vec![("rww_op/S->rww_op/c_0/a".into(), vec![2.0, 2.0, 4.0])],
        connectivity: Some(connectivity_4()),
        parallel: Parallel::Instances,
        trace: false,
        shared_noise,
        bold: Some(BoldSpec {
            driver: "rww_op/S".into(),
            tr: 0.1,
            transient: 2.0,
            fcd_window: 20,
            fcd_step: 10,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn rww4_noisy() -> Validated {
    let mut m = load("examples/models/networks/rww4.yaml/rww4");
    m.set_noise("rww_op/S", 0.01)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    m.validate().unwrap_or_else(|e| panic!("{}", e.render()))
}

fn instance(values: &[f64], n: usize, i: usize) -> Vec<f64> {
    (0..values.len() / n).map(|k| values[k * n + i]).collect()
}

/// The largest difference of the empirical distribution functions, at every sample value.
fn ks_brute_force(a: &[f64], b: &[f64]) -> f64 {
    let cdf = |s: &[f64], x: f64| s.iter().filter(|&&v| v <= x).count() as f64 / s.len() as f64;
    a.iter()
        .chain(b)
        .map(|&x| (cdf(a, x) - cdf(b, x)).abs())
        .fold(0.0, f64::max)
}

#[test]
fn goodness_of_fit_equals_a_direct_computation() {
    let model = rww4_noisy();
    let k = kernel(&model);
    let r = run(&model, Backend::Native(&k), &rww4_spec(false));
    let o = r.observed.as_ref().expect("observed");
    let (n, nn, nw) = (3, 4, o.n_windows);
    assert_eq!(nw, (180 - 20) / 10 + 1);
    // A target: instance 2's FC and FCD, bent (so nothing fits perfectly).
    let fc_t: Vec<f64> = instance(&o.fc, n, 2)
        .iter()
        .map(|v| v * 0.8 + 0.05)
        .collect();
    let fcd_t: Vec<f64> = instance(&o.fcd, n, 2).iter().map(|v| v * v).collect();
    let target = FitTarget::from_matrices(fc_t.clone(), nn, Some((fcd_t.clone(), nw)));
    let metrics = target.per_instance(&r).unwrap();
    let get = |name: &str| &metrics.iter().find(|(m, _)| m == name).unwrap().1;
    for i in 0..n {
        let a = upper_triangle(&instance(&o.fc, n, i), nn);
        let b = upper_triangle(&fc_t, nn);
        let p = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / p, b.iter().sum::<f64>() / p);
        let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
        let corr = cov / (va * vb).sqrt();
        let rmse = (a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / p).sqrt();
        let diff = (ma - mb).abs();
        let ks = ks_brute_force(
            &upper_triangle(&instance(&o.fcd, n, i), nw),
            &upper_triangle(&fcd_t, nw),
        );
        for (name, want) in [
            ("fit/fc_corr", corr),
            ("fit/fc_rmse", rmse),
            ("fit/fc_diff", diff),
            ("fit/fcd_ks", ks),
            ("fit/cost", -corr + diff + ks),
        ] {
            let got = get(name)[i];
            assert!(
                (got - want).abs() < 1e-12,
                "{name} of instance {i}: {got} vs {want}"
            );
        }
        if i < 2 {
            // (Instance 2's FC against a linear transform of itself correlates perfectly.)
            assert!(ks > 0.0 && corr < 1.0);
        }
    }
    // A perfect fit: the FC and FCD of an instance against themselves.
    let fc2 = instance(&o.fc, n, 2);
    let target = FitTarget::from_matrices(fc2, nn, Some((instance(&o.fcd, n, 2), nw)));
    let m = target.per_instance(&r).unwrap();
    assert!((m[0].1[2] + 1.0).abs() < 1e-12, "cost {}", m[0].1[2]);
    assert_eq!(ks_distance(&[0.1, 0.2], &[0.1, 0.2]), 0.0);
}

#[test]
fn shared_noise_is_instance_zeros_on_every_backend() {
    let model = rww4_noisy();
    let k = kernel(&model);
    let fc_of = |r: &RunResult| r.observed.as_ref().unwrap().fc.clone();
    let own = run(&model, Backend::Native(&k), &rww4_spec(false));
    let shared = run(&model, Backend::Native(&k), &rww4_spec(true));
    let (a, b) = (fc_of(&own), fc_of(&shared));
    let (n, nn) = (3, 4);
    // Instances 0 and 1 have the same parameters: with their own noise their FC differ, with
    // shared noise they are the same bits; instance 0 is the same either way.
    assert_ne!(instance(&a, n, 0), instance(&a, n, 1));
    assert_eq!(instance(&b, n, 0), instance(&b, n, 1));
    assert_eq!(instance(&a, n, 0), instance(&b, n, 0));
    assert_ne!(instance(&b, n, 0), instance(&b, n, 2));
    assert_eq!(a.len(), nn * nn * n);
    // The evaluator and the CUDA kernel (emulated): the same bits.
    let interp = run(&model, Backend::Interp, &rww4_spec(true));
    let cuda = model
        .build_cuda(
            &EmitOptions::default(),
            &build_options(),
            CudaTarget::Emulated,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let on_cuda = run(&model, Backend::Cuda(&cuda), &rww4_spec(true));
    for other in [&interp, &on_cuda] {
        assert_eq!(fc_of(other), b);
        assert_eq!(
            other.observed.as_ref().unwrap().fcd,
            shared.observed.as_ref().unwrap().fcd
        );
    }
}

/// Reduced Wong–Wang on the 68-region connectome, with noise shared by every instance, 30 s of
/// BOLD at dt = 1 ms (S relaxes over 100 ms): the coupling `G` it is run at.
const G: &str = "reduced_wong_wang_op/S->reduced_wong_wang_op/c_pop0/a";

fn rww68() -> (Validated, RunSpec) {
    let mut m = load("examples/models/library/reduced_wong_wang.yaml/reduced_wong_wang");
    m.set_noise("reduced_wong_wang_op/S", 0.01)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let model = m.validate().unwrap_or_else(|e| panic!("{}", e.render()));
    let connectivity = rateforge::crates::runtime::connectivity::load(
        &rateforge_tests::root().join("examples/data/connectivity_68/weights.npy"),
        Some(&rateforge_tests::root().join("examples/data/connectivity_68/tract_lengths.npy")),
        None,
    )
    .unwrap()
    .connectivity;
    let spec = RunSpec {
        time: 30_000.0,
        dt: 1.0,
        solver: Solver::Heun,
        connectivity: Some(connectivity),
        trace: false,
        shared_noise: true,
        bold: Some(BoldSpec {
            driver: "reduced_wong_wang_op/S".into(),
            tr: 0.72,
            transient: 5.0,
            fcd_window: 10,
            fcd_step: 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    (model, spec)
}

#[test]
fn grid_and_cmaes_recover_the_coupling_that_made_a_synthetic_target() {
    let (model, base) = rww68();
    // The target: G = 6.
    let target_run = run(
        &model,
        Backend::Native(&kernel(&model)),
        &RunSpec {
            instance_values: vec![(G.into(), vec![6.0])],
            ..base.clone()
        },
    );
    let o = target_run.observed.as_ref().unwrap();
    let target = FitTarget::from_matrices(o.fc.clone(), 68, Some((o.fcd.clone(), o.n_windows)));
    // One kernel for every launch, G varying between instances.
    let probe = RunSpec {
        instances: 2,
        instance_values: vec![(G.into(), vec![0.0, 15.0])],
        ..base.clone()
    };
    let k = model
        .build(
            &model.emit_options(&probe, &Default::default()).unwrap(),
            &build_options(),
        )
        .unwrap();
    let free = vec![FreeParam {
        path: G.into(),
        lo: 0.0,
        hi: 15.0,
    }];
    let fit = |method: Method| {
        let options = FitOptions {
            free: free.clone(),
            method,
            seed: 0,
        };
        rateforge::fit::fit(
            &model,
            Backend::Native(&k),
            &base,
            &target,
            &options,
            Controls::default(),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{}", e.render()))
    };
    // The grid holds G = 6: found exactly, at the cost of a perfect fit (-1), because every
    // instance sees the target's noise.
    let grid = fit(Method::Grid { points: 16 });
    let best = &grid.evaluations[grid.best.unwrap()];
    assert_eq!(best.point, vec![6.0]);
    assert!((best.goodness.cost + 1.0).abs() < 1e-12);
    // CMA-ES from the middle of the range: within 1% of the range after 10 generations of 8.
    // The cost is a continuous function of G (common random numbers), with its only minimum
    // -1 at 6 in [0, 15] (the grid's costs rise on both sides); 1% of the range is where the
    // FC correlation exceeds 0.999 and further generations only sharpen it.
    let cmaes = |generations| {
        fit(Method::Cmaes {
            population: 8,
            generations,
            sigma: 0.3,
        })
    };
    let a = cmaes(10);
    let best = &a.evaluations[a.best.unwrap()];
    assert!(
        (best.point[0] - 6.0).abs() < 0.15,
        "CMA-ES found G = {} (cost {})",
        best.point[0],
        best.goodness.cost
    );
    assert_eq!(a.evaluations.len(), 80);
    // The same seed, the same search.
    assert_eq!(cmaes(2).evaluations, a.evaluations[..16]);
    // Costs rise away from G = 6 on the grid (all the way up on the right; on the left down to
    // G = 2, below which the regions barely interact and the cost wanders near its maximum).
    let costs: Vec<f64> = grid.evaluations.iter().map(|e| e.goodness.cost).collect();
    assert!(costs[2..=6].windows(2).all(|w| w[0] > w[1]), "{costs:?}");
    assert!(costs[6..].windows(2).all(|w| w[0] < w[1]), "{costs:?}");
    assert!(
        costs.iter().filter(|&&c| c < -0.9).count() == 1,
        "{costs:?}"
    );
}

#[test]
fn a_fit_runs_on_the_cuda_kernels_and_stops_when_asked() {
    let model = rww4_noisy();
    let spec = RunSpec {
        instances: 1,
        instance_values: Vec::new(),
        shared_noise: true,
        ..rww4_spec(true)
    };
    let target_run = run(
        &model,
        Backend::Native(&kernel(&model)),
        &RunSpec {
            instance_values: vec![("rww_op/S->rww_op/c_0/a".into(), vec![2.0])],
            ..spec.clone()
        },
    );
    let o = target_run.observed.as_ref().unwrap();
    let target = FitTarget::from_matrices(o.fc.clone(), 4, Some((o.fcd.clone(), o.n_windows)));
    let options = FitOptions {
        free: vec![FreeParam {
            path: "rww_op/S->rww_op/c_0/a".into(),
            lo: 0.0,
            hi: 4.0,
        }],
        method: Method::Cmaes {
            population: 6,
            generations: 3,
            sigma: 0.3,
        },
        seed: 0,
    };
    let probe = rateforge::fit::probe_spec(&spec, &options);
    let emit = model.emit_options(&probe, &Default::default()).unwrap();
    let native = model.build(&emit, &build_options()).unwrap();
    let cuda = model
        .build_cuda(&emit, &build_options(), CudaTarget::Emulated)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let fit_on = |backend: Backend<'_>, cancel: Option<&std::sync::atomic::AtomicBool>| {
        rateforge::fit::fit(
            &model,
            backend,
            &spec,
            &target,
            &options,
            Controls {
                progress: None,
                cancel,
            },
            |g| {
                // Ctrl-C during the first generation.
                if let Some(c) = cancel
                    && g.index == 0
                {
                    c.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            },
        )
        .unwrap_or_else(|e| panic!("{}", e.render()))
    };
    // The CUDA kernels (emulated): the same search, the same bits.
    let on_cpu = fit_on(Backend::Native(&native), None);
    let on_cuda = fit_on(Backend::Cuda(&cuda), None);
    assert_eq!(on_cpu, on_cuda);
    assert_eq!(on_cpu.evaluations.len(), 18);
    assert!(!on_cpu.interrupted);
    // Stopped after the first generation: its points kept, the best among them.
    let flag = std::sync::atomic::AtomicBool::new(false);
    let stopped = fit_on(Backend::Native(&native), Some(&flag));
    assert!(stopped.interrupted);
    assert_eq!(stopped.evaluations, on_cpu.evaluations[..6]);
    let best = stopped.best.unwrap();
    assert!(
        stopped
            .evaluations
            .iter()
            .all(|e| e.goodness.cost >= stopped.evaluations[best].goodness.cost)
    );
}
