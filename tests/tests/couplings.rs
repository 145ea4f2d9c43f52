//! Network couplings: each built-in function against a direct computation, and the ways of giving
//! a connectivity (TVB zip, directory, delay matrix) against each other.

use rateforge::{Backend, LoadOptions, Model, RunSpec, Solver};
use rateforge_tests::*;

fn weights() -> (usize, Vec<f64>) {
    let w: ndarray::Array2<f64> =
        ndarray_npy::read_npy(root().join("examples/data/connectivity_4/weights.npy")).unwrap();
    (w.nrows(), w.iter().copied().collect())
}

/// The test node (`tests/models/valid/coupled_node.yaml`) coupled `op/x -> op/c` by `coupling`.
fn coupled_node(coupling: &str) -> Model {
    let options = LoadOptions {
        couplings: vec![format!("op/x->op/c:{coupling}")],
        ..Default::default()
    };
    Model::load(
        &model_path("tests/models/valid/coupled_node.yaml/node"),
        &options,
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// The coupled input `c` of every node at t = 0, with the given coupling (history = the initial
/// state, so every delayed `x_j` is its initial value).
fn coupled_input(coupling: &str, x0: &[f64]) -> Vec<f64> {
    let mut m = coupled_node(coupling);
    on_connectivity_4(&mut m, 2.0);
    let model = m.validate().unwrap();
    let spec = RunSpec {
        time: 0.1,
        dt: 0.1,
        solver: Solver::Euler,
        record: vec!["op/c".into()],
        node_values: vec![("op/x".into(), x0.to_vec())],
        ..Default::default()
    };
    let k = kernel(&model);
    let native = run(&model, Backend::Native(&k), &spec);
    let interp = run(&model, Backend::Interp, &spec);
    assert_eq!(
        native.trace, interp.trace,
        "{coupling}: kernel and evaluator differ"
    );
    (0..x0.len())
        .map(|n| native.node_column(0, n, 0)[0])
        .collect()
}

#[test]
fn built_in_couplings_compute_their_formulas() {
    let (n, w) = weights();
    let x0 = [0.3, -0.7, 1.1, 0.05];
    let sum = move |pre: &dyn Fn(f64, f64) -> f64, i: usize| {
        (0..n)
            .filter(|&j| w[i * n + j] != 0.0)
            .fold(0.0, |acc, j| acc + w[i * n + j] * pre(x0[j], x0[i]))
    };
    type Case<'a> = (&'static str, Box<dyn Fn(usize) -> f64 + Sync + 'a>);
    let s = &sum;
    let cases: Vec<Case<'_>> = vec![
        (
            "linear:a=0.5:b=0.1",
            Box::new(move |i| 0.5 * s(&|xj, _| xj, i) + 0.1),
        ),
        (
            "linear",
            Box::new(move |i| 0.00390625 * s(&|xj, _| xj, i) + 0.0),
        ),
        ("scaling:a=0.3", Box::new(move |i| 0.3 * s(&|xj, _| xj, i))),
        (
            "difference:a=0.2",
            Box::new(move |i| 0.2 * s(&|xj, xi| xj - xi, i)),
        ),
        (
            "kuramoto:a=2",
            Box::new(move |i| 2.0 / 4.0 * s(&|xj, xi: f64| (xj - xi).sin(), i)),
        ),
        (
            "sigmoidal:cmin=-1:cmax=2:midpoint=0.3:a=1.5:sigma=0.7",
            Box::new(move |i| {
                -1.0 + (2.0 - -1.0) / (1.0 + (-1.5 * ((s(&|xj, _| xj, i) - 0.3) / 0.7)).exp())
            }),
        ),
        (
            "tanh:a=0.8:b=1.2:midpoint=0.1:sigma=0.9",
            Box::new(move |i| s(&|xj, _| 0.8 * (1.0 + ((1.2 * xj - 0.1) / 0.9).tanh()), i)),
        ),
        (
            "custom:pre=x_j*x_i:post=gx^2 + a:a=0.5",
            Box::new(move |i| s(&|xj, xi| xj * xi, i).powi(2) + 0.5),
        ),
    ];
    two_at_a_time(&cases, |(spec, expected)| {
        let got = coupled_input(spec, &x0);
        for (i, g) in got.iter().enumerate() {
            let e = expected(i);
            assert!(
                (g - e).abs() <= 1e-14 * e.abs().max(1.0),
                "{spec}: node {i}: {g} vs {e}"
            );
        }
    });
}

fn g2do_run(
    connectivity: Option<rateforge::crates::runtime::connectivity::Loaded>,
    speed: Option<f64>,
) -> Vec<f64> {
    let mut m = load("examples/models/networks/g2do4.yaml/g2do4");
    if let Some(c) = connectivity {
        if let Some(v) = speed {
            m.set("network/speed", v).unwrap();
        }
        m.set_connectivity(c).unwrap();
    }
    let model = m.validate().unwrap();
    let spec = RunSpec {
        time: 100.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1.0),
        record: vec!["g2do_op/V".into()],
        ..Default::default()
    };
    run(&model, Backend::Native(&kernel(&model)), &spec).trace
}

#[test]
fn zips_directories_and_delay_matrices_give_the_same_network() {
    use rateforge::crates::runtime::connectivity::{Distances, load as load_connectivity};
    let reference = g2do_run(None, None);
    let zip = load_connectivity(
        &root().join("tests/data/connectivity_4_tvb.zip"),
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        zip.labels,
        [
            "r_parsopercularis",
            "r_caudalmiddlefrontal",
            "r_precentral",
            "r_middletemporal"
        ]
    );
    assert_eq!(zip.distances, Distances::TractLengths);
    assert_eq!(g2do_run(Some(zip), None), reference, "TVB zip");
    // Delays in ms (tract lengths / 2 mm/ms) with speed 1.
    let weights = root().join("examples/data/connectivity_4/weights.npy");
    let delays = load_connectivity(
        &weights,
        None,
        Some(&root().join("tests/data/connectivity_4_delays_ms.npy")),
    )
    .unwrap();
    assert_eq!(delays.distances, Distances::Delays);
    assert_eq!(g2do_run(Some(delays), Some(1.0)), reference, "delay matrix");
    // Delays with a speed other than 1 are refused.
    let delays = load_connectivity(
        &weights,
        None,
        Some(&root().join("tests/data/connectivity_4_delays_ms.npy")),
    )
    .unwrap();
    let mut m = load("examples/models/networks/g2do4.yaml/g2do4");
    let err = m.set_connectivity(delays).unwrap_err();
    assert!(err.render().contains("speed is not 1"), "{}", err.render());
}

/// A dense network of `n` nodes (every weight nonzero), with all distances zero or all different.
fn dense_network(n: usize, delayed: bool) -> rateforge::crates::runtime::connectivity::Loaded {
    let dir = std::env::temp_dir().join(format!(
        "rateforge-dense-{}-{n}-{delayed}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let table = |f: &dyn Fn(usize, usize) -> f64| -> String {
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| format!("{}", f(i, j)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let weights = dir.join("weights.txt");
    let lengths = dir.join("tract_lengths.txt");
    std::fs::write(
        &weights,
        table(&|i, j| 0.01 + ((i * 7 + j * 13) % 17) as f64 / 170.0),
    )
    .unwrap();
    std::fs::write(
        &lengths,
        table(&|i, j| {
            if delayed {
                ((i * 5 + j * 3) % 11) as f64 * 0.4
            } else {
                0.0
            }
        }),
    )
    .unwrap();
    let loaded = rateforge::crates::runtime::connectivity::load(&weights, Some(&lengths), None)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(&dir).unwrap();
    loaded
}

#[test]
fn dense_networks_give_the_evaluators_bits_with_threads_on_instances_or_on_nodes() {
    // 21 nodes: two groups of 8 targets summed side by side and 5 summed one by one; 3 instances.
    for (coupling, delayed) in [("linear:a=0.5", false), ("difference:a=0.3", true)] {
        let mut m = coupled_node(coupling);
        m.set_connectivity(dense_network(21, delayed)).unwrap();
        m.set("network/speed", 2.0).unwrap();
        let model = m.validate().unwrap();
        let x0: Vec<f64> = (0..21).map(|i| (i as f64 * 0.37).sin()).collect();
        let spec = |parallel| RunSpec {
            time: 3.0,
            dt: 0.1,
            solver: Solver::Heun,
            record: vec!["op/x".into()],
            instances: 3,
            node_values: vec![("op/x".into(), x0.clone())],
            threads: Some(2),
            parallel,
            ..Default::default()
        };
        let k = kernel(&model);
        let interp = run(&model, Backend::Interp, &spec(rateforge::Parallel::Auto));
        for parallel in [rateforge::Parallel::Instances, rateforge::Parallel::Nodes] {
            let native = run(&model, Backend::Native(&k), &spec(parallel));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&native.trace),
                bits(&interp.trace),
                "{coupling}, threads sharing {parallel:?}: kernel and evaluator differ"
            );
            assert!(interp.trace.iter().all(|v| v.is_finite()));
        }
    }
}
