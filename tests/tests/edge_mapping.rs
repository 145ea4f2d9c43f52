//! Edge templates whose operator reads a variable of the circuit besides the edge's source
//! (PyRates' `kmo_2coupled`, examples/models/kuramoto_pair.yaml), against the closed-form
//! solution of Adler's equation.

use rateforge::{Backend, Format, Model, RunSpec, Solver};
use rateforge_tests::*;

const PAIR: &str = "examples/models/kuramoto_pair.yaml/kmo_2coupled";

/// The solution of Adler's equation phi' = a - b sin(phi), phi(0) = 0, |a| < b: with
/// u = tan(phi/2), u' = (a/2)(u - u+)(u - u-), u± = (b ± c)/a, c = sqrt(b^2 - a^2), so
/// (u - u+)/(u - u-) = C e^(c t).
fn adler(a: f64, b: f64, t: f64) -> f64 {
    let c = (b * b - a * a).sqrt();
    let (up, um) = ((b + c) / a, (b - c) / a);
    let k = (0.0 - up) / (0.0 - um) * (c * t).exp();
    let u = (up - k * um) / (1.0 - k);
    2.0 * u.atan()
}

#[test]
fn two_kuramoto_oscillators_lock_as_adlers_equation_says() {
    let model = load(PAIR).validate().unwrap();
    let listing = model.listing();
    // Each edge node reads the target's phase (a connection of weight 1).
    assert!(listing.contains("p1->p2/sin_op/theta_t"), "{listing}");
    let spec = RunSpec {
        time: 10.0,
        dt: 1e-3,
        solver: Solver::Rk4,
        every: Some(0.1),
        record: vec!["p1/phase_op/theta".into(), "p2/phase_op/theta".into()],
        instance_values: vec![("p2/phase_op/omega".into(), vec![12.0])],
        ..Default::default()
    };
    let k = kernel(&model);
    let out = run(&model, Backend::Native(&k), &spec);
    assert_eq!(out.trace, run(&model, Backend::Interp, &spec).trace);
    let (t1, t2) = (
        out.series("p1/phase_op/theta").unwrap(),
        out.series("p2/phase_op/theta").unwrap(),
    );
    // phi' = (omega_1 - omega_2) - 2 K sin(phi) = -2 - 3 sin(phi).
    let err = out
        .time
        .iter()
        .zip(t1.iter().zip(&t2))
        .map(|(&t, (a, b))| ((a - b) - adler(-2.0, 3.0, t)).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-9, "{err:e}");
    // Locked: sin(phi) = -2/3.
    let phi = t1.last().unwrap() - t2.last().unwrap();
    assert!((phi.sin() + 2.0 / 3.0).abs() < 1e-6, "{phi}");
}

fn pair_with(attrs: &str) -> Result<rateforge::Validated, String> {
    let text = std::fs::read_to_string(root().join("examples/models/kuramoto_pair.yaml"))
        .unwrap()
        .replace("sin_edge/sin_op/theta_t: p2/phase_op/theta", attrs);
    Model::from_source("k.yaml/kmo_2coupled", &text, Format::Yaml)
        .and_then(Model::validate)
        .map_err(|e| e.render())
}

#[test]
fn a_mapping_without_the_template_name_works_and_wrong_ones_are_diagnosed() {
    assert!(pair_with("sin_op/theta_t: p2/phase_op/theta").is_ok());
    let cases = [
        ("sin_op/theta_t: p3/phase_op/theta", "edge attribute"),
        (
            "sin_op/s: p2/phase_op/theta",
            "`sin_op/s` is not an input of the edge template",
        ),
        (
            "sin_op/theta_t: [1, 2]",
            "must be a number, `source` or a variable path",
        ),
    ];
    for (attrs, message) in cases {
        let err = pair_with(attrs).expect_err(attrs);
        assert!(err.contains(message), "{attrs}:\n{err}");
        assert!(err.contains("k.yaml:"), "{attrs}: no location\n{err}");
    }
    // A mapping of a variable the edge operator does not have.
    let err = pair_with("sin_op/omega_unused: p2/phase_op/theta").expect_err("unknown");
    assert!(
        err.contains("operator `sin_op` has no variable `omega_unused`"),
        "{err}"
    );
}
