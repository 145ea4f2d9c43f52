//! Complex-valued models (PyRates' `kmo_mf`, `theta_pop` forms), lowered to pairs of real
//! values: the Ott-Antonsen order parameter against its closed-form solution, the theta-neuron
//! mean field against the Montbrió-Pazó-Roxin equations it maps to, and the diagnostics of what
//! complex values do not support.

use rateforge::{Backend, Format, Model, RunSpec, Solver};
use rateforge_tests::*;
use std::f64::consts::PI;

/// Samples of recorded path `name` for instance `i`.
fn instance_series(out: &rateforge::RunResult, i: usize, name: &str) -> Vec<f64> {
    let r = out
        .names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name}"));
    out.column(r, i)
}

const KMO: &str = "examples/models/kuramoto_mean_field.yaml/kmo_mf";

/// The Ott-Antonsen solution for z(0) = r0 e^(i phi0): R' = a R - b R^3 with a = K/2 - Delta,
/// b = K/2 (a Bernoulli equation: R^-2 relaxes exponentially), and psi = phi0 + omega t.
fn ott_antonsen(k: f64, delta: f64, omega: f64, z0: (f64, f64), t: f64) -> (f64, f64) {
    let (a, b) = (k / 2.0 - delta, k / 2.0);
    let r0 = z0.0.hypot(z0.1);
    let r = (a / (b + (a / (r0 * r0) - b) * (-2.0 * a * t).exp())).sqrt();
    let psi = z0.1.atan2(z0.0) + omega * t;
    (r * psi.cos(), r * psi.sin())
}

#[test]
fn the_kuramoto_order_parameter_follows_the_ott_antonsen_solution() {
    let model = load(KMO)
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let listing = model.listing();
    for name in [
        "p/kmo_op/z.re (initial 0.5)",
        "p/kmo_op/z.im (initial 0.1)",
        "p/kmo_op/i.im = 1.0",
    ] {
        assert!(listing.contains(name), "{name}:\n{listing}");
    }
    let spec = RunSpec {
        time: 5.0,
        dt: 5e-4,
        solver: Solver::Rk4,
        every: Some(0.05),
        record: ["z.re", "z.im", "R", "psi"]
            .iter()
            .map(|v| format!("p/kmo_op/{v}"))
            .collect(),
        instances: 3,
        // Coupling strengths 4 and 3 synchronise; 1 (below 2 Delta) does not.
        instance_values: vec![(
            "p/kmo_op/z->p/kmo_op/s_in/weight".into(),
            vec![4.0, 3.0, 1.0],
        )],
        ..Default::default()
    };
    let k = kernel(&model);
    let out = run(&model, Backend::Native(&k), &spec);
    assert_eq!(out.trace, run(&model, Backend::Interp, &spec).trace);
    for (i, coupling) in [4.0, 3.0, 1.0].into_iter().enumerate() {
        let series = |v: &str| instance_series(&out, i, &format!("p/kmo_op/{v}"));
        let (re, im, r, psi) = (series("z.re"), series("z.im"), series("R"), series("psi"));
        let mut worst = 0.0f64;
        for (s, &t) in out.time.iter().enumerate() {
            let (x, y) = ott_antonsen(coupling, 1.0, 10.0, (0.5, 0.1), t);
            worst = worst
                .max((re[s] - x).abs())
                .max((im[s] - y).abs())
                .max((r[s] - x.hypot(y)).abs())
                // angle in (-pi, pi], compared on the circle
                .max((psi[s] - y.atan2(x)).sin().abs());
            assert!(psi[s] > -PI && psi[s] <= PI, "{}", psi[s]);
        }
        assert!(worst < 1e-9, "K = {coupling}: {worst:e}");
        // Towards synchrony R = sqrt(1 - 2 Delta / K), or incoherence R = 0.
        let last = *r.last().unwrap();
        let expected = if coupling > 2.0 {
            (1.0 - 2.0 / coupling).sqrt()
        } else {
            0.0
        };
        assert!((last - expected).abs() < 0.05, "K = {coupling}: R = {last}");
    }
}

#[test]
fn theta_neurons_and_the_montbrio_equations_give_the_same_rate() {
    let theta = load("examples/models/theta_neurons.yaml/theta")
        .validate()
        .unwrap();
    let qif = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap();
    let spec = |record: &str, init: Vec<(String, Vec<f64>)>| RunSpec {
        time: 40.0,
        dt: 1e-3,
        solver: Solver::Rk4,
        every: Some(0.1),
        record: vec![record.into()],
        instances: 2,
        instance_values: init,
        ..Default::default()
    };
    // The theta model's default is the image of (r, v) = (0.01, -2) under w = pi r + i v,
    // z = conj((1 - w) / (1 + w)); the second instance starts at (r, v) = (1.5, -0.5).
    let z = |r: f64, v: f64| {
        let (a, b) = (PI * r, v);
        let (nr, ni, dr, di) = (1.0 - a, -b, 1.0 + a, b);
        let d = dr * dr + di * di;
        ((nr * dr + ni * di) / d, -(ni * dr - nr * di) / d)
    };
    let (z0, z1) = (z(0.01, -2.0), z(1.5, -0.5));
    let a = run(
        &theta,
        Backend::Interp,
        &spec(
            "p/theta_op/r",
            vec![
                ("p/theta_op/z.re".into(), vec![z0.0, z1.0]),
                ("p/theta_op/z.im".into(), vec![z0.1, z1.1]),
            ],
        ),
    );
    let b = run(
        &qif,
        Backend::Interp,
        &spec(
            "p/qif_op/r",
            vec![
                ("p/qif_op/r".into(), vec![0.01, 1.5]),
                ("p/qif_op/v".into(), vec![-2.0, -0.5]),
            ],
        ),
    );
    for i in 0..2 {
        let (ra, rb) = (
            instance_series(&a, i, "p/theta_op/r"),
            instance_series(&b, i, "p/qif_op/r"),
        );
        assert!((ra[0] - rb[0]).abs() < 1e-14, "{} {}", ra[0], rb[0]);
        let d = max_abs_diff(&ra, &rb);
        assert!(d < 1e-8, "instance {i}: {d:e}");
        // Not a trivial agreement: the rate moves.
        let spread = rb.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            - rb.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(spread > 0.05, "{spread}");
    }
}

#[test]
fn a_complex_variable_is_recorded_whole_and_written_as_a_complex_numpy_array() {
    let model = load(KMO).validate().unwrap();
    let spec = RunSpec {
        time: 0.5,
        dt: 1e-3,
        every: Some(0.1),
        record: vec!["p/kmo_op/z".into(), "p/kmo_op/R".into()],
        instances: 2,
        instance_values: vec![("p/kmo_op/i.im".into(), vec![1.0, 2.0])],
        ..Default::default()
    };
    let out = run(&model, Backend::Interp, &spec);
    assert_eq!(out.names, ["p/kmo_op/z.re", "p/kmo_op/z.im", "p/kmo_op/R"]);
    let names = out.array_names();
    assert!(names.contains(&"p/kmo_op/z".to_string()), "{names:?}");
    let path = std::env::temp_dir().join(format!("rf-complex-{}.npz", std::process::id()));
    out.write_npz(&path).unwrap();
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let z: ndarray::Array2<num_complex::Complex64> = npz.by_name("p/kmo_op/z").unwrap();
    let re: ndarray::Array2<f64> = npz.by_name("p/kmo_op/z.re").unwrap();
    let im: ndarray::Array2<f64> = npz.by_name("p/kmo_op/z.im").unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(z.shape(), [6, 2]);
    assert_eq!(z.mapv(|c| c.re), re);
    assert_eq!(z.mapv(|c| c.im), im);
    assert_eq!(z[[0, 1]], num_complex::Complex64::new(0.5, 0.1));
    // i.im = 2 rotates twice as fast: the two instances differ.
    assert_ne!(z[[5, 0]], z[[5, 1]]);
    // A whole complex name where one value is meant says which parts exist.
    let mut m = load(KMO);
    let err = m.set("p/kmo_op/i", 2.0).unwrap_err().render();
    assert!(
        err.contains("`p/kmo_op/i` is complex: its parts are `p/kmo_op/i.re` and `p/kmo_op/i.im`"),
        "{err}"
    );
}

/// PyRates 1.2.3 itself, with complex128 state vectors and its Euler solver, on its `kmo_mf`
/// and `kmo_theta` templates (scripts/pyrates-complex-refs); our examples are the same
/// equations (kmo_mf with K = 1, theta started at PyRates' z = -0.6-0.8j).
#[test]
fn pyrates_complex_templates_are_reproduced() {
    let cases = [
        (
            KMO,
            "pyrates/c_kmo_mf_complex_euler",
            "p/kmo_op/z",
            vec![("p/kmo_op/z->p/kmo_op/s_in/weight".to_string(), vec![1.0])],
        ),
        (
            "examples/models/theta_neurons.yaml/theta",
            "pyrates/d_kmo_theta_complex_euler",
            "p/theta_op/z",
            vec![
                ("p/theta_op/z.re".to_string(), vec![-0.6]),
                ("p/theta_op/z.im".to_string(), vec![-0.8]),
            ],
        ),
    ];
    for (reference_model, case, z, instance_values) in cases {
        let model = load(reference_model).validate().unwrap();
        let spec = RunSpec {
            time: 10.0,
            dt: 1e-4,
            solver: Solver::Euler,
            every: Some(0.01),
            record: vec![z.into()],
            instance_values,
            ..Default::default()
        };
        let out = run(&model, Backend::Interp, &spec);
        let (h, py) = reference(case);
        // PyRates stores y(k dts) for k < n and never y(T).
        assert_eq!(out.time.len(), py.len() + 1);
        for part in ["re", "im"] {
            let ours = out.series(&format!("{z}.{part}")).unwrap();
            let theirs = column(&h, &py, &format!("z.{part}"));
            let d = max_abs_diff(&ours[..theirs.len()], &theirs);
            assert!(d < 1e-12, "{case} z.{part}: {d:e}");
        }
    }
}

fn check_text(yaml: &str) -> Result<rateforge::Validated, String> {
    Model::from_source("c.yaml/net", yaml, Format::Yaml)
        .and_then(Model::validate)
        .map_err(|e| e.render())
}

const OPERATOR: &str = "
op:
  base: OperatorTemplate
  equations:
    - \"d/dt * z = EQ\"
  variables:
    z: output(0.5+0.1j)
    x: 2.0
pop:
  base: NodeTemplate
  operators: [op]
net:
  base: CircuitTemplate
  nodes: {p: pop}
";

fn with_equation(eq: &str) -> Result<rateforge::Validated, String> {
    check_text(&OPERATOR.replace("EQ", eq))
}

#[test]
fn complex_arithmetic_matches_numpy() {
    // z' = f(z) evaluated once at z = 0.5 + 0.1j, x = 2, against numpy's complex128.
    let cases: &[(&str, (f64, f64))] = &[
        ("z*z - x/z + 1j", (-3.6061538461538456, 1.8692307692307693)),
        ("(z + 2)^3 / (1 - z)^-2", (3.9194, -1.10524)),
        (
            "exp(1j*z) + conj(z)*abs(z)",
            (1.0490205150939067, 0.38281197135519845),
        ),
        (
            "real(z)*imag(z) + angle(-z) + 0*1e3j",
            (-2.894197093739913, 0.0),
        ),
        ("sum(z) + mean(z)^2 + pow(z, 2) + float(z)", (1.48, 0.4)),
        ("x > 1 ? z : 2j", (0.5, 0.1)),
    ];
    for (eq, expected) in cases {
        let model = with_equation(eq).unwrap_or_else(|e| panic!("{eq}: {e}"));
        assert_derivative(&model, eq, (0.5, 0.1), *expected);
    }
}

/// Checks `z'` at the start, `z = z0`, against numpy's value (one Euler step of 1e-3).
fn assert_derivative(model: &rateforge::Validated, eq: &str, z0: (f64, f64), (re, im): (f64, f64)) {
    let spec = RunSpec {
        time: 1e-3,
        dt: 1e-3,
        solver: Solver::Euler,
        ..Default::default()
    };
    let out = run(model, Backend::Interp, &spec);
    let got = (
        (out.series("p/op/z.re").unwrap()[1] - z0.0) / 1e-3,
        (out.series("p/op/z.im").unwrap()[1] - z0.1) / 1e-3,
    );
    assert!(
        (got.0 - re).abs() < 1e-9 && (got.1 - im).abs() < 1e-9,
        "{eq}: {got:?}, numpy {re} {im}"
    );
}

/// Complex products read each part twice; long chains stay linear in size (parts beyond a few
/// nodes become algebraic variables) and exact.
#[test]
fn long_complex_products_stay_small_and_exact() {
    let cases: &[(&str, (f64, f64))] = &[
        (
            &vec!["z"; 40].join("*"),
            (-0.5189219653954373, -0.6343500605659502),
        ),
        ("((z^4)^4)^4", (0.7180827514572095, 0.11559532356938668)),
    ];
    for (eq, expected) in cases {
        let model = check_text(
            &OPERATOR
                .replace("EQ", eq)
                .replace("output(0.5+0.1j)", "output(0.99+0.1j)"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let listing = model.listing();
        assert!(listing.len() < 20_000, "{} bytes", listing.len());
        assert_derivative(&model, eq, (0.99, 0.1), *expected);
    }
}

#[test]
fn what_complex_values_do_not_support_is_diagnosed() {
    let cases = [
        ("sin(z)", "`sin` cannot take a complex value"),
        (
            "z > 1 ? z : 0",
            "the operator `>` cannot take a complex value",
        ),
        (
            "z^0.5",
            "a complex value can only be raised to a whole-number power",
        ),
        (
            "z^x",
            "a complex value can only be raised to a whole-number power",
        ),
        ("past(z, 1j)", "expected a real value, found a complex one"),
        ("(1j ? z : 0)", "a condition cannot take a complex value"),
    ];
    for (eq, message) in cases {
        let err = with_equation(eq).expect_err(eq);
        assert!(err.contains(message), "{eq}:\n{err}");
        assert!(err.contains("c.yaml:"), "{eq}: no location\n{err}");
    }
    let declarations = [
        (
            "z: output(0.5+0.1j, 3)",
            "complex vectors are not supported",
        ),
        ("z: output(1+2+3j)", "cannot read the value of `z`"),
        (
            "z: {default: output(0.5+0.1j), noise: 0.1}",
            "the complex state `z` has noise",
        ),
    ];
    for (decl, message) in declarations {
        let text = OPERATOR
            .replace("EQ", "-z")
            .replace("z: output(0.5+0.1j)", decl);
        let err = check_text(&text).expect_err(decl);
        assert!(err.contains(message), "{decl}:\n{err}");
    }
}

#[test]
fn network_couplings_of_complex_variables_are_refused() {
    let path = root().join("examples/models/networks/g2do4.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("V: output(0.0)", "V: output(0.0+0.5j)")
        .replace("V^3", "real(V)^3")
        .replace("V^2", "real(V)^2")
        .replace("b*V", "b*real(V)");
    let err = Model::from_source(&format!("{}/g2do4", path.display()), &text, Format::Yaml)
        .and_then(Model::validate)
        .map(|_| ())
        .expect_err("complex coupling");
    let err = err.render();
    assert!(
        err.contains("network couplings carry real values, and `g2do_op/V` is complex"),
        "{err}"
    );
}

#[test]
fn pyrates_complex_declarations_are_read() {
    // `complex`, `-1j` and `(0.5-1e-3j)`, and a complex variable given a real value stays complex.
    let text = "
op:
  base: OperatorTemplate
  equations:
    - \"d/dt * z = a*z + b + c\"
  variables:
    z: output(complex)
    a: -1j
    b: (0.5-1e-3j)
    c: input(2.5e+1J)
pop:
  base: NodeTemplate
  operators:
    op: {z: output(0.25)}
net:
  base: CircuitTemplate
  nodes: {p: pop}
";
    let model = check_text(text).unwrap_or_else(|e| panic!("{e}"));
    let listing = model.listing();
    for line in [
        "p/op/z.re (initial 0.25)",
        "p/op/z.im (initial 0.0)",
        "p/op/a.re = 0.0",
        "p/op/a.im = -1.0",
        "p/op/b.re = 0.5",
        "p/op/b.im = -0.001",
        "p/op/c.im = 25.0",
    ] {
        assert!(listing.contains(line), "{line}:\n{listing}");
    }
}
