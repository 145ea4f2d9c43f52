//! The example models against high-accuracy solutions and PyRates runs (`tests/data/refs`,
//! copied from `../shared/refs`). Every check runs on the generated kernel and on the reference
//! evaluator: the evaluator is the oracle, and it too is checked against the references.

use rateforge::{Backend, RunSpec, Solver};
use rateforge_tests::*;

fn montbrio(solver: Solver) -> (rateforge::Validated, RunSpec) {
    let mut m = load("examples/models/montbrio.yaml/qif");
    m.drive("p/qif_op/I_ext", "30*(t>=30)*(t<60)").unwrap();
    let spec = RunSpec {
        time: 100.0,
        dt: 1e-3,
        solver,
        every: Some(0.01),
        record: vec!["p/qif_op/r".into(), "p/qif_op/v".into()],
        ..Default::default()
    };
    (m.validate().unwrap(), spec)
}

/// rk4, dt = 1e-3, the input as an expression of t: every sample within 2e-5 (r) and 2e-4 (v)
/// of the DOP853 solution (measured: 6.8e-6 and 4.7e-5).
#[test]
fn montbrio_step_rk4_matches_the_high_accuracy_solution() {
    let (model, spec) = montbrio(Solver::Rk4);
    let (h, truth) = reference("truth/montbrio_step");
    let (r_ref, v_ref, t_ref) = (
        column(&h, &truth, "r"),
        column(&h, &truth, "v"),
        column(&h, &truth, "time"),
    );
    let k = kernel(&model);
    for backend in [Backend::Native(&k), Backend::Interp] {
        let out = run(&model, backend, &spec);
        assert_eq!(
            out.time.len(),
            truth.len(),
            "{}: one sample every 0.01 from 0 to 100",
            backend.name()
        );
        assert!(max_abs_diff(&out.time, &t_ref) < 1e-9);
        let (er, ev) = (
            max_abs_diff(&out.series("p/qif_op/r").unwrap(), &r_ref),
            max_abs_diff(&out.series("p/qif_op/v").unwrap(), &v_ref),
        );
        assert!(er < 2e-5, "{}: max |r - r_truth| = {er:e}", backend.name());
        assert!(ev < 2e-4, "{}: max |v - v_truth| = {ev:e}", backend.name());
        // The stage-time rule matters: evaluating the last stage at t_(n+1) itself is off by 0.22.
        assert!(er > 1e-7, "suspiciously exact: {er:e}");
    }
}

/// Forward Euler, dt = 1e-3, reproduces PyRates 1.2.3 to 1e-9 relative (PyRates reorders the
/// arithmetic through sympy, so agreement is to rounding, not to the bit).
#[test]
fn montbrio_step_euler_reproduces_pyrates() {
    let (model, spec) = montbrio(Solver::Euler);
    let (h, py) = reference("pyrates/b_montbrio_step_euler");
    let k = kernel(&model);
    for backend in [Backend::Native(&k), Backend::Interp] {
        let out = run(&model, backend, &spec);
        // PyRates records the state before each sampled step and never stores y(T).
        assert_eq!(out.time.len(), py.len() + 1);
        for (ours, theirs) in [("p/qif_op/r", "r"), ("p/qif_op/v", "v")] {
            let a = out.series(ours).unwrap();
            let b = column(&h, &py, theirs);
            let rel = max_rel_diff(&a[..b.len()], &b);
            assert!(
                rel < 1e-9,
                "{}: {ours} differs from PyRates by {rel:e} (relative to max |{theirs}|)",
                backend.name()
            );
        }
    }
}

fn jansen_rit() -> rateforge::Validated {
    load("examples/models/jansen_rit.yaml/JRC")
        .validate()
        .unwrap()
}

/// Forward Euler, dt = 1e-4, 2 s: every state reproduces PyRates' JRC run to 1e-9 relative.
#[test]
fn jansen_rit_euler_reproduces_pyrates() {
    let model = jansen_rit();
    let (h, py) = reference("pyrates/a_jansenrit_single");
    let pairs = [
        ("pc/rpo_e_in/v", "pc_ve"),
        ("pc/rpo_e_in/x", "pc_xe"),
        ("pc/rpo_i/v", "pc_vi"),
        ("pc/rpo_i/x", "pc_xi"),
        ("ein/rpo_e/v", "ein_v"),
        ("ein/rpo_e/x", "ein_x"),
        ("iin/rpo_e/v", "iin_v"),
        ("iin/rpo_e/x", "iin_x"),
        ("pc/pro/v", "pc_potential"),
    ];
    let spec = RunSpec {
        time: 2.0,
        dt: 1e-4,
        solver: Solver::Euler,
        every: Some(1e-3),
        record: pairs.iter().map(|(p, _)| p.to_string()).collect(),
        ..Default::default()
    };
    let k = kernel(&model);
    for backend in [Backend::Native(&k), Backend::Interp] {
        let out = run(&model, backend, &spec);
        assert_eq!(out.time.len(), py.len() + 1);
        for (ours, theirs) in pairs {
            let b = column(&h, &py, theirs);
            let rel = max_rel_diff(&out.series(ours).unwrap()[..b.len()], &b);
            assert!(
                rel < 1e-9,
                "{}: {ours} vs PyRates {theirs}: {rel:e}",
                backend.name()
            );
        }
    }
}

/// rk4, dt = 1e-4: the pyramidal potential is within 1e-9 (volts) of the DOP853 solution of the
/// classic 6-state form over the whole 2 s.
#[test]
fn jansen_rit_rk4_matches_the_high_accuracy_solution() {
    let model = jansen_rit();
    let (h, truth) = reference("truth/jansen_rit_alpha");
    let v_pc = column(&h, &truth, "v_pc");
    let spec = RunSpec {
        time: 2.0,
        dt: 1e-4,
        solver: Solver::Rk4,
        every: Some(1e-3),
        record: vec!["pc/pro/v".into()],
        ..Default::default()
    };
    let k = kernel(&model);
    for backend in [Backend::Native(&k), Backend::Interp] {
        let out = run(&model, backend, &spec);
        assert_eq!(out.time.len(), truth.len());
        let err = max_abs_diff(&out.series("pc/pro/v").unwrap(), &v_pc);
        assert!(
            err < 1e-9,
            "{}: max |v_pc - truth| = {err:e}",
            backend.name()
        );
    }
}
