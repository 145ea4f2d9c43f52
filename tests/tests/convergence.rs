//! Measured order of convergence on a smooth problem with a known solution:
//! `x' = -x + I(t)`, `y' = x`, `I = sin(t)` driven as an input expression, x(0) = y(0) = 0:
//!   x(t) = (sin t - cos t + e^-t) / 2,   y(t) = 1 - (cos t + sin t + e^-t) / 2.
//! Halving dt must divide the error at t = 2 by 2^p with p = 1, 2, 4 for euler, heun, rk4, which
//! also checks that time-dependent inputs are evaluated at each stage's own time.

use rateforge::{Backend, RunSpec, Solver};
use rateforge_tests::*;

fn exact(t: f64) -> (f64, f64) {
    (
        (t.sin() - t.cos() + (-t).exp()) / 2.0,
        1.0 - (t.cos() + t.sin() + (-t).exp()) / 2.0,
    )
}

#[test]
fn euler_heun_rk4_converge_at_orders_1_2_4() {
    let mut m = load("tests/models/valid/forced_decay.yaml/forced");
    m.drive("p/decay/I", "sin(t)").unwrap();
    let model = m.validate().unwrap();
    let k = kernel(&model);
    let (xe, ye) = exact(2.0);
    for (solver, dts) in [
        (Solver::Euler, [0.01, 0.005]),
        (Solver::Heun, [0.02, 0.01]),
        (Solver::Rk4, [0.1, 0.05]),
    ] {
        let err = |dt: f64| {
            let spec = RunSpec {
                time: 2.0,
                dt,
                solver,
                every: Some(2.0),
                record: vec!["p/decay/x".into(), "p/decay/y".into()],
                ..Default::default()
            };
            let out = run(&model, Backend::Native(&k), &spec);
            let x = *out.series("p/decay/x").unwrap().last().unwrap();
            let y = *out.series("p/decay/y").unwrap().last().unwrap();
            (x - xe).abs().max((y - ye).abs())
        };
        let order = (err(dts[0]) / err(dts[1])).log2();
        let expected = f64::from(solver.order());
        assert!(
            (order - expected).abs() < 0.15,
            "{solver}: measured order {order:.3}, expected {expected}"
        );
    }
}
