//! Delay equations written in the equations: `past(x, d)` and `x(t - d)`
//! (examples/models/delay_equations.yaml), against the method-of-steps solution of the linear
//! delay equation, a hand-written loop of Hutchinson's equation, and the evaluator on every
//! solver and backend.

use rateforge::{Backend, Format, Model, RunSpec, Solver, Validated};
use rateforge_tests::*;

const LINEAR: &str = "examples/models/delay_equations.yaml/linear";
const HUTCHINSON: &str = "examples/models/delay_equations.yaml/hutchinson";

/// The solution of x'(t) = -a x(t - tau) with x = 1 for t <= 0 (method of steps): on
/// [(n-1) tau, n tau], sum_{k=0}^{n} (-a)^k (t - (k-1) tau)^k / k!.
fn linear_exact(a: f64, tau: f64, t: f64) -> f64 {
    let n = (t / tau).floor() as i32 + 1;
    let mut sum = 0.0;
    let mut fact = 1.0;
    for k in 0..=n {
        if k > 0 {
            fact *= k as f64;
        }
        let s = t - (k - 1) as f64 * tau;
        if s > 0.0 || k == 0 {
            sum += (-a).powi(k) * s.powi(k) / fact;
        }
    }
    sum
}

fn linear_error(model: &Validated, dt: f64, solver: Solver) -> f64 {
    let spec = RunSpec {
        time: 4.0,
        dt,
        solver,
        every: Some(0.25),
        record: vec!["p/linear_op/x".into()],
        ..Default::default()
    };
    let out = run(model, Backend::Interp, &spec);
    let x = out.series("p/linear_op/x").unwrap();
    assert_eq!(x.len(), 17);
    out.time
        .iter()
        .zip(&x)
        .map(|(&t, &v)| (v - linear_exact(2.0, 1.0, t)).abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_exact_solution_is_a_polynomial_per_delay_interval() {
    // Checks of the formula itself: x(t) = 1 - a t on [0, tau], 1 - a t + a^2 (t - tau)^2 / 2 on
    // [tau, 2 tau]; continuous at tau.
    assert!((linear_exact(2.0, 1.0, 0.5) - 0.0).abs() < 1e-15);
    assert!((linear_exact(2.0, 1.0, 1.5) - (1.0 - 3.0 + 4.0 * 0.25 / 2.0)).abs() < 1e-15);
    let (l, r) = (
        linear_exact(2.0, 1.0, 1.0 - 1e-12),
        linear_exact(2.0, 1.0, 1.0),
    );
    assert!((l - r).abs() < 1e-10);
}

#[test]
fn the_linear_delay_equation_converges_to_its_exact_solution() {
    let model = load(LINEAR).validate().unwrap();
    for solver in Solver::ALL {
        let coarse = linear_error(&model, 2e-3, solver);
        let fine = linear_error(&model, 1e-3, solver);
        // A delayed value is held within a step: first order, whatever the solver.
        assert!(fine < 2e-2, "{solver}: error {fine:e} at dt 1e-3");
        let order = (coarse / fine).log2();
        assert!(
            (0.8..1.3).contains(&order),
            "{solver}: errors {coarse:e} -> {fine:e}, order {order}"
        );
    }
}

#[test]
fn delay_equations_give_the_evaluators_bits_in_compiled_kernels_with_swept_delays() {
    for reference in [LINEAR, HUTCHINSON] {
        let model = load(reference).validate().unwrap();
        let k = kernel(&model);
        let path = if reference == LINEAR {
            "p/linear_op/tau"
        } else {
            "p/logistic_op/tau"
        };
        for solver in Solver::ALL {
            let spec = RunSpec {
                time: 12.0,
                dt: 1e-2,
                solver,
                every: Some(0.1),
                instances: 4,
                instance_values: vec![(path.into(), vec![0.5, 1.0, 1.25, 0.0])],
                ..Default::default()
            };
            let native = run(&model, Backend::Native(&k), &spec);
            let interp = run(&model, Backend::Interp, &spec);
            assert_eq!(native.trace, interp.trace, "{reference} {solver}");
            assert!(native.trace.iter().all(|v| v.is_finite()));
            // The delay matters: the instances differ.
            assert_ne!(native.column(0, 0), native.column(0, 1));
        }
    }
}

/// Hutchinson's equation by hand: Euler, the delayed value held within the step and equal to the
/// initial value before t = 0, the IR's order of operations.
fn hutchinson_by_hand(r: f64, k: f64, tau: f64, dt: f64, steps: usize) -> Vec<f64> {
    let d = (tau / dt).round() as usize;
    let mut n = vec![0.5];
    for i in 0..steps {
        let delayed = n[i.saturating_sub(d)];
        let now = n[i];
        n.push(now + dt * ((r * now) * (1.0 - delayed / k)));
    }
    n
}

#[test]
fn hutchinsons_equation_matches_a_hand_written_loop_and_oscillates_for_r_tau_above_pi_over_2() {
    let model = load(HUTCHINSON).validate().unwrap();
    let spec = RunSpec {
        time: 60.0,
        dt: 1e-3,
        solver: Solver::Euler,
        every: Some(1e-3),
        record: vec!["p/logistic_op/N".into()],
        ..Default::default()
    };
    let out = run(&model, Backend::Interp, &spec);
    let n = out.series("p/logistic_op/N").unwrap();
    let by_hand = hutchinson_by_hand(1.8, 1.0, 1.0, 1e-3, 60_000);
    assert_eq!(n.len(), by_hand.len());
    let diff = max_abs_diff(&n, &by_hand);
    assert!(diff < 1e-12, "{diff:e}");
    // r tau = 1.8 > pi/2: a limit cycle around K = 1, not the equilibrium.
    let late = &n[40_000..];
    let (lo, hi) = late
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(lo < 0.5 && hi > 1.5, "range {lo}..{hi}");
    // And r tau = 0.8 < pi/2 settles at K.
    let spec = RunSpec {
        instance_values: vec![("p/logistic_op/r".into(), vec![0.8])],
        ..spec
    };
    let n = run(&model, Backend::Interp, &spec)
        .series("p/logistic_op/N")
        .unwrap();
    assert!(
        (n.last().unwrap() - 1.0).abs() < 1e-3,
        "{}",
        n.last().unwrap()
    );
}

/// A one-operator model whose only equation is `equation`.
fn with_equation(equation: &str) -> Result<Validated, String> {
    let text = format!(
        "op:\n  base: OperatorTemplate\n  equations: [\"{equation}\", \"d/dt * v = -v\"]\n  variables:\n    \
         x: output(1.0)\n    v: variable(0.5, 3)\n    tau: 0.5\n    u: input(0.0)\n\
         pop:\n  base: NodeTemplate\n  operators: [op]\n\
         net:\n  base: CircuitTemplate\n  nodes:\n    p: pop\n"
    );
    Model::from_source("d.yaml/net", &text, Format::Yaml)
        .and_then(Model::validate)
        .map_err(|e| e.render())
}

#[test]
fn both_spellings_and_literal_delays_lower_to_the_same_model() {
    let a = with_equation("d/dt * x = -past(x, tau)").unwrap();
    let b = with_equation("d/dt * x = -x(t - tau)").unwrap();
    let spec = RunSpec {
        time: 3.0,
        dt: 1e-2,
        record: vec!["p/op/x".into()],
        ..Default::default()
    };
    let (ra, rb) = (
        run(&a, Backend::Interp, &spec),
        run(&b, Backend::Interp, &spec),
    );
    assert_eq!(ra.trace, rb.trace);
    // A literal delay becomes a parameter named after the variable (settable, sweepable).
    let c = with_equation("d/dt * x = -past(x, 0.5)").unwrap();
    assert!(c.listing().contains("p/op/x/delay"), "{}", c.listing());
    assert_eq!(run(&c, Backend::Interp, &spec).trace, ra.trace);
    // x(t) is x; elements and slices of a vector have a past too.
    assert!(with_equation("d/dt * x = -x(t)").is_ok());
    assert!(with_equation("d/dt * x = -past(v[1], tau) - sum(past(v[0:2], 0.1))").is_ok());
}

#[test]
fn wrong_uses_of_the_past_are_diagnosed_at_their_place() {
    let cases = [
        ("d/dt * x = -past(x)", "`past` takes 2 arguments, found 1"),
        (
            "d/dt * x = -past(2.0, tau)",
            "the first argument of `past` must name a variable",
        ),
        (
            "d/dt * x = -past(tau, 1.0)",
            "the past of `tau` cannot be read",
        ),
        ("d/dt * x = -past(u, 1.0)", "the past of `u` cannot be read"),
        ("d/dt * x = -past(x, -1.0)", "a delay of -1 cannot be read"),
        (
            "d/dt * x = -past(x, 2*tau)",
            "a delay must be a number or a parameter",
        ),
        ("d/dt * x = -past(z, tau)", "unknown symbol `z`"),
        (
            "d/dt * x = -x(t + tau)",
            "`x(...)` reads the past of `x`, at `t - d` only",
        ),
        (
            "d/dt * x = -x(tau, 1)",
            "`x` is a variable; `x(...)` takes one argument",
        ),
        ("d/dt * x = -x(1.0)", "at `t - d` only"),
    ];
    for (equation, message) in cases {
        let err = with_equation(equation).expect_err(equation);
        assert!(err.contains(message), "{equation}:\n{err}");
        assert!(err.contains("d.yaml:"), "{equation}: no location\n{err}");
        assert!(err.contains("help:"), "{equation}: no help\n{err}");
    }
}
