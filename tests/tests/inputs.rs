//! Time-varying inputs: stimulus functions integrate exactly, and input tables give each node or
//! instance its own column.

use rateforge::{Backend, RunSpec, Solver, Table};
use rateforge_tests::*;

/// `x(10)` for `x' = I(t)` with I given by `expr`.
fn integral(expr: &str, solver: Solver) -> f64 {
    let mut m = load("tests/models/valid/integrator.yaml/integrator");
    m.drive("p/int_op/I", expr)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let model = m.validate().unwrap();
    let spec = RunSpec {
        time: 10.0,
        dt: 0.01,
        solver,
        every: Some(10.0),
        record: vec!["p/int_op/x".into()],
        ..Default::default()
    };
    *run(&model, Backend::Native(&kernel(&model)), &spec)
        .series("p/int_op/x")
        .unwrap()
        .last()
        .unwrap()
}

#[test]
fn stimulus_functions_integrate_exactly() {
    for solver in Solver::ALL {
        // Pulses of width 0.5 every 2 from t = 1: at 1, 3, 5, 7, 9.
        let cases = [
            ("train(t, 1, 0.5, 2)", 2.5),
            ("pulse(t, 2, 3)", 3.0),
            ("step(t, 4)", 6.0),
            ("2*train(t, 0, 1, 4) + pulse(t, 9.5, 10)", 2.0 * 3.0 + 0.5),
        ];
        for (expr, expected) in cases {
            let x = integral(expr, solver);
            assert!(
                (x - expected).abs() < 1e-9,
                "{solver}: integral of {expr} = {x}, expected {expected}"
            );
        }
        // A ramp is piecewise linear: exact for heun and rk4, first order for euler.
        let x = integral("ramp(t, 2, 4)", solver);
        let tol = if solver == Solver::Euler { 0.05 } else { 1e-9 };
        assert!(
            (x - 6.0).abs() < tol,
            "{solver}: integral of the ramp = {x}"
        );
    }
}

#[test]
fn input_tables_have_a_column_per_node_or_instance() {
    // A network: one column per node drives each node's own input.
    let mut m = load("examples/models/networks/rww4.yaml/rww4");
    m.drive_with_series("rww_op/I_o", "per-node table").unwrap();
    let model = m.validate().unwrap();
    let steps = 200;
    let mut data = Vec::new();
    for _ in 0..steps {
        data.extend([0.30, 0.33, 0.36, 0.39]);
    }
    let table = Table {
        data,
        n_rows: steps,
        n_cols: 4,
    };
    let spec = RunSpec {
        time: steps as f64 * 0.1,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1.0),
        record: vec!["rww_op/S".into(), "rww_op/x".into()],
        series: [("rww_op/I_o".to_string(), table)].into_iter().collect(),
        ..Default::default()
    };
    let k = kernel(&model);
    let native = run(&model, Backend::Native(&k), &spec);
    let interp = run(&model, Backend::Interp, &spec);
    assert_eq!(native.trace, interp.trace, "kernel and evaluator differ");
    // x = w J_N S + I_o + J_N c: at t = 0, against a run with one shared column of 0.33, every
    // node's x differs by exactly its own I_o - 0.33.
    let shared = RunSpec {
        series: [(
            "rww_op/I_o".to_string(),
            Table {
                data: vec![0.33; steps],
                n_rows: steps,
                n_cols: 1,
            },
        )]
        .into_iter()
        .collect(),
        ..spec.clone()
    };
    let base = run(&model, Backend::Native(&k), &shared);
    for (node, i_o) in [0.30, 0.33, 0.36, 0.39].iter().enumerate() {
        let diff = native.node_column(1, node, 0)[0] - base.node_column(1, node, 0)[0];
        assert!(
            (diff - (i_o - 0.33)).abs() < 1e-15,
            "node {node}: x differs by {diff}, expected {}",
            i_o - 0.33
        );
    }

    // A single node with several instances: one column per instance.
    let mut m = load("tests/models/valid/integrator.yaml/integrator");
    m.drive_with_series("p/int_op/I", "per-instance table")
        .unwrap();
    let model = m.validate().unwrap();
    let rows = 100;
    let data: Vec<f64> = (0..rows).flat_map(|_| [1.0, 2.0, 3.0]).collect();
    let spec = RunSpec {
        time: rows as f64 * 0.01,
        dt: 0.01,
        solver: Solver::Euler,
        every: Some(1.0),
        record: vec!["p/int_op/x".into()],
        instances: 3,
        series: [(
            "p/int_op/I".to_string(),
            Table {
                data,
                n_rows: rows,
                n_cols: 3,
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let out = run(&model, Backend::Native(&kernel(&model)), &spec);
    for i in 0..3 {
        let x = *out.column(0, i).last().unwrap();
        assert!((x - (i + 1) as f64).abs() < 1e-12, "instance {i}: {x}");
    }
}
