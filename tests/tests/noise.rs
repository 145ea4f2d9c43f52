//! Stochastic integration: statistics of an Ornstein–Uhlenbeck process and reproducibility of the
//! counter-based noise.
//!
//! `dx = -x/tau dt + sigma dW` has the stationary distribution N(0, sigma^2 tau / 2). Over
//! N = 100 000 independent instances the sample mean has standard error sqrt(v/N) and the sample
//! variance sqrt(2/N) v (v = 0.5); both are asserted within 5 standard errors. Euler–Maruyama's
//! stationary variance is biased by the step: v / (1 - h/(2 tau)) (+0.25% at h = 0.005), which is
//! added to the bound; stochastic Heun's bias is O(h^2).

use rateforge::{Backend, EmitOptions, RunSpec, Solver};
use rateforge_tests::*;

const N: usize = 100_000;

fn ou() -> rateforge::Validated {
    load("tests/models/valid/ou.yaml/ou").validate().unwrap()
}

fn final_values(out: &rateforge::RunResult, r: usize) -> Vec<f64> {
    (0..out.n_instances)
        .map(|i| *out.column(r, i).last().unwrap())
        .collect()
}

#[test]
fn ornstein_uhlenbeck_has_the_stationary_mean_and_variance() {
    let model = ou();
    let k = kernel(&model);
    let (h, tau, sigma) = (0.005, 1.0, 1.0);
    let v = sigma * sigma * tau / 2.0;
    for solver in [Solver::Euler, Solver::Heun] {
        let spec = RunSpec {
            time: 6.0,
            dt: h,
            solver,
            every: Some(6.0),
            record: vec!["p/ou_op/x".into()],
            instances: N,
            seed: 2024,
            ..Default::default()
        };
        let out = run(&model, Backend::Native(&k), &spec);
        let x = final_values(&out, 0);
        let mean = x.iter().sum::<f64>() / N as f64;
        let var = x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (N - 1) as f64;
        let se_mean = (v / N as f64).sqrt();
        let se_var = v * (2.0 / N as f64).sqrt();
        let bias = if solver == Solver::Euler {
            v / (1.0 - h / (2.0 * tau)) - v
        } else {
            0.0
        };
        eprintln!(
            "{solver}: mean {mean:.5} (bound {:.5}), variance {var:.5} (expected {v}, bound {:.5})",
            5.0 * se_mean,
            5.0 * se_var + bias
        );
        assert!(mean.abs() < 5.0 * se_mean, "{solver}: mean {mean}");
        assert!(
            (var - v).abs() < 5.0 * se_var + bias,
            "{solver}: variance {var}, expected {v}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_bits_everywhere() {
    let model = ou();
    let spec = |threads, seed| RunSpec {
        time: 1.0,
        dt: 0.01,
        solver: Solver::Heun,
        every: Some(0.1),
        record: vec!["p/ou_op/x".into(), "p/ou_op/y".into()],
        instances: 37,
        seed,
        threads: Some(threads),
        ..Default::default()
    };
    let bits = |r: &rateforge::RunResult| r.trace.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let k8 = kernel(&model);
    let k4 = model
        .build(
            &EmitOptions {
                lanes: 4,
                ..Default::default()
            },
            &build_options(),
        )
        .unwrap();
    for solver in [Solver::Euler, Solver::Heun] {
        let base = run(
            &model,
            Backend::Native(&k8),
            &RunSpec {
                solver,
                ..spec(1, 7)
            },
        );
        let two_threads = run(
            &model,
            Backend::Native(&k8),
            &RunSpec {
                solver,
                ..spec(2, 7)
            },
        );
        let four_lanes = run(
            &model,
            Backend::Native(&k4),
            &RunSpec {
                solver,
                ..spec(2, 7)
            },
        );
        let evaluator = run(
            &model,
            Backend::Interp,
            &RunSpec {
                solver,
                ..spec(2, 7)
            },
        );
        assert_eq!(bits(&base), bits(&two_threads), "{solver}: 1 vs 2 threads");
        assert_eq!(bits(&base), bits(&four_lanes), "{solver}: 8 vs 4 lanes");
        assert_eq!(
            bits(&base),
            bits(&evaluator),
            "{solver}: kernel vs evaluator"
        );
        let other_seed = run(
            &model,
            Backend::Native(&k8),
            &RunSpec {
                solver,
                ..spec(1, 8)
            },
        );
        assert_ne!(
            bits(&base),
            bits(&other_seed),
            "{solver}: different seeds must differ"
        );
        // Instances get different numbers.
        assert_ne!(base.column(0, 0), base.column(0, 1));
    }
    // rk4 has no stochastic form.
    let err = model
        .run(
            Backend::Native(&k8),
            &RunSpec {
                solver: Solver::Rk4,
                ..spec(1, 7)
            },
            Default::default(),
        )
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.render().contains("rk4 has no stochastic form"),
        "{}",
        err.render()
    );
}
