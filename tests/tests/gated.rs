//! Gated couplings (the IR's "Gated couplings"): a product of a parameter and a coupling term is
//! `+0` when the parameter is zero. A kernel with that parameter compiled in as zero computes
//! neither the coupling nor its history, and refuses to record a value that reads it; every
//! backend equals the evaluator bit for bit, with the gate compiled in or read at run time.

use rateforge::crates::codegen::plan::KernelPlan;
use rateforge::{
    Backend, CudaTarget, EmitOptions, EngineOptions, LoadOptions, Model, RunResult, RunSpec,
    Solver, Validated,
};
use rateforge_tests::*;

/// `tests/models/valid/gated_node.yaml`: `x' = -x + g*c + 0.1*x*x`, `y = 1/(g*c)`, coupled
/// `op/x -> op/c` over the 4-node connectivity with delays (speed 2).
fn gated() -> Validated {
    let options = LoadOptions {
        couplings: vec!["op/x->op/c:linear".into()],
        ..Default::default()
    };
    let mut m = Model::load(
        &model_path("tests/models/valid/gated_node.yaml/node"),
        &options,
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    on_connectivity_4(&mut m, 2.0);
    m.validate().unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Every node starts negative, so every coupling sum is negative.
fn spec(g: &[f64], record: &[&str]) -> RunSpec {
    RunSpec {
        time: 5.0,
        dt: 0.1,
        solver: Solver::Heun,
        instances: g.len(),
        instance_values: vec![("op/g".into(), g.to_vec())],
        node_values: vec![("op/x".into(), vec![-1.0, -0.5, -0.8, -0.3])],
        record: record.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

/// The emit options a run of `spec` gets (its constant parameters compiled in, its records known).
fn emit(model: &Validated, spec: &RunSpec) -> EmitOptions {
    model
        .emit_options(spec, &EngineOptions::default())
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// The native kernel of a run of `spec`, run, and checked against the evaluator bit for bit.
fn native_equals_evaluator(model: &Validated, spec: &RunSpec) -> RunResult {
    let k = model
        .build(&emit(model, spec), &build_options())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let native = run(model, Backend::Native(&k), spec);
    let interp = run(model, Backend::Interp, spec);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&native.trace), bits(&interp.trace), "traces differ");
    assert_eq!(
        bits(&native.final_state),
        bits(&interp.final_state),
        "final states differ"
    );
    native
}

fn record_id(model: &Validated, path: &str) -> usize {
    model.record_ids(&[path.to_string()]).unwrap()[0] as usize
}

#[test]
fn a_gate_compiled_in_as_zero_drops_the_coupling_and_its_history() {
    let model = gated();
    let s = spec(&[0.0, 0.0], &["op/x", "op/y"]);
    let plan = KernelPlan::new(model.ir(), &emit(&model, &s));
    assert!(plan.inline.iter().any(|&(_, v)| v == 0.0));
    assert_eq!(
        plan.couplings.len(),
        0,
        "the gated coupling is not computed"
    );
    assert_eq!(
        plan.buffered.len(),
        0,
        "nor is the history of its source kept"
    );
    assert_eq!(plan.uncomputed, vec![record_id(&model, "op/c")]);
    assert_eq!(model.history_values(&s, plan.buffered.len()), 0);

    let r = native_equals_evaluator(&model, &s);
    // y = 1/(g*c) with g = 0 and c < 0: 1/(+0) = +inf, where IEEE's 0 * c = -0 would give -inf.
    for node in 0..4 {
        for i in 0..2 {
            let y = r.node_column(1, node, i);
            assert!(y.iter().all(|v| *v == f64::INFINITY), "y = {y:?}");
        }
    }
    // Without the coupling each node follows x' = -x + 0.1 x^2 on its own: nodes that start
    // alike stay alike, and x decays towards 0 from below.
    let x0 = r.node_column(0, 0, 0);
    assert!(x0[0] == -1.0 && *x0.last().unwrap() > -0.01 && *x0.last().unwrap() < 0.0);
}

#[test]
fn a_gate_read_at_run_time_is_zero_only_where_its_parameter_is() {
    let model = gated();
    let s = spec(&[0.0, 0.5], &["op/x", "op/y"]);
    let plan = KernelPlan::new(model.ir(), &emit(&model, &s));
    assert_eq!(plan.couplings.len(), 1);
    assert_eq!(plan.buffered.len(), 1);
    assert!(plan.uncomputed.is_empty());
    let r = native_equals_evaluator(&model, &s);
    for node in 0..4 {
        let off = r.node_column(1, node, 0);
        assert!(off.iter().all(|v| *v == f64::INFINITY), "g = 0: {off:?}");
        let on = r.node_column(1, node, 1);
        assert!(
            on.iter().all(|v| v.is_finite() && *v < 0.0),
            "g = 0.5: {on:?}"
        );
    }
}

#[test]
fn recording_a_value_that_reads_a_gated_coupling_computes_it() {
    let model = gated();
    let s = spec(&[0.0], &["op/x", "op/c"]);
    let plan = KernelPlan::new(model.ir(), &emit(&model, &s));
    assert_eq!(plan.couplings.len(), 1);
    assert!(plan.uncomputed.is_empty());
    let r = native_equals_evaluator(&model, &s);
    // The coupling of node 0 at t = 0: the weighted sum of the initial values (as read from a
    // history that holds them before t0), not zero.
    let c0 = r.node_column(1, 0, 0)[0];
    assert!(c0 < 0.0, "c at node 0: {c0}");
}

#[test]
fn a_kernel_without_the_coupling_refuses_to_record_what_reads_it() {
    let model = gated();
    let built_for = spec(&[0.0], &["op/x"]);
    let k = model
        .build(&emit(&model, &built_for), &build_options())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let wants = spec(&[0.0], &["op/x", "op/c"]);
    let err = model
        .run(Backend::Native(&k), &wants, Default::default())
        .expect_err("recording c needs the coupling");
    let text = err.render();
    assert!(text.contains("does not compute"), "{text}");
    // What it was built for runs.
    run(&model, Backend::Native(&k), &built_for);
}

#[test]
fn the_cuda_kernel_drops_the_same_coupling_and_equals_the_evaluator() {
    let model = gated();
    for g in [&[0.0, 0.0][..], &[0.0, 0.5][..]] {
        let s = spec(g, &["op/x", "op/y"]);
        let k = model
            .build_cuda(&emit(&model, &s), &build_options(), CudaTarget::Emulated)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let a = run(&model, Backend::Cuda(&k), &s);
        let b = run(&model, Backend::Interp, &s);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.trace), bits(&b.trace), "g = {g:?}: traces");
        assert_eq!(bits(&a.final_state), bits(&b.final_state), "g = {g:?}");
        let refused = spec(&[0.0, 0.0], &["op/c"]);
        if g[1] == 0.0 {
            let err = model
                .run(Backend::Cuda(&k), &refused, Default::default())
                .expect_err("the CUDA kernel does not compute c either");
            assert!(err.render().contains("does not compute"));
        }
    }
}

/// TVB's Montbrió–Pazó–Roxin (cr = 1, cv = 0): the V coupling is gated off, so a run keeps one
/// coupling and one history buffer, half the history of both.
#[test]
fn mpr68_with_cv_zero_keeps_half_the_history() {
    let model = load("examples/models/networks/mpr68.yaml/mpr68")
        .validate()
        .unwrap();
    let s = RunSpec {
        time: 10.0,
        dt: 0.1,
        solver: Solver::Heun,
        instances: 2,
        instance_values: vec![("mpr_op/r->mpr_op/c_r/a".into(), vec![0.5, 1.0])],
        record: vec!["mpr_op/r".into(), "mpr_op/V".into()],
        ..Default::default()
    };
    let plan = KernelPlan::new(model.ir(), &emit(&model, &s));
    assert_eq!(plan.couplings.len(), 1);
    assert_eq!(plan.buffered.len(), 1);
    let half = model.history_values(&s, plan.buffered.len());
    assert_eq!(model.history_values(&s, 2), 2 * half);
    native_equals_evaluator(&model, &s);

    // With cv swept, both couplings are computed, and zero where cv is.
    let s = RunSpec {
        instance_values: vec![("mpr_op/cv".into(), vec![0.0, 0.2])],
        ..s
    };
    let plan = KernelPlan::new(model.ir(), &emit(&model, &s));
    assert_eq!(plan.couplings.len(), 2);
    assert_eq!(plan.buffered.len(), 2);
    native_equals_evaluator(&model, &s);
}
