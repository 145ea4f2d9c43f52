//! Execute-and-compare: the generated kernel against the reference evaluator, for every example
//! model and every solver, with several instances (one partial lane block) whose parameters
//! differ. The kernel prints the evaluator's IEEE operations in the same order, so the two agree
//! to the last bit; the assertion allows 1e-12 relative.

use rateforge::{Backend, RunSpec, Solver};
use rateforge_tests::*;

const INSTANCES: usize = 11;

struct Case {
    model: &'static str,
    /// (input path, expression) drives applied before validation.
    drive: &'static [(&'static str, &'static str)],
    /// A parameter varied across instances, and its base value.
    vary: (&'static str, f64),
    time: f64,
    dt: f64,
}

const CASES: &[Case] = &[
    Case {
        model: "examples/models/montbrio.yaml/qif",
        drive: &[("p/qif_op/I_ext", "30*(t>=3)*(t<6)")],
        vary: ("p/qif_op/eta", -5.0),
        time: 10.0,
        dt: 1e-3,
    },
    Case {
        model: "examples/models/jansen_rit.yaml/JRC",
        drive: &[],
        vary: ("pc/rpo_e_in/u", 220.0),
        time: 0.5,
        dt: 1e-4,
    },
    Case {
        model: "examples/models/wilson_cowan.yaml/WC",
        drive: &[],
        vary: ("e/wc_e/P", 1.25),
        time: 100.0,
        dt: 0.01,
    },
    Case {
        model: "tests/models/valid/features.yaml/main",
        drive: &[],
        vary: ("n1/edited_op/r", 2.0),
        time: 2.0,
        dt: 1e-3,
    },
    Case {
        model: "tests/models/valid/cross_file.yaml/coupled",
        drive: &[],
        vary: ("c1/s/slow_leak/tau", 10.0),
        time: 5.0,
        dt: 1e-2,
    },
    Case {
        model: "tests/models/valid/delayed_edge.yaml/net",
        drive: &[],
        vary: ("p/op/x->p/op/u/delay", 0.5),
        time: 5.0,
        dt: 1e-2,
    },
    Case {
        model: "tests/models/valid/edge_template.yaml/net",
        drive: &[("a/op/u", "sin(t)")],
        vary: ("a/op/x->b/op/u/weight", 1.0),
        time: 5.0,
        dt: 1e-2,
    },
    Case {
        model: "tests/models/valid/gamma_delay.yaml/chain",
        drive: &[],
        vary: ("a/source/level", 1.0),
        time: 8.0,
        dt: 1e-2,
    },
    Case {
        model: "examples/models/networks/rww4.yaml/rww4",
        drive: &[],
        vary: ("rww_op/w", 0.6),
        time: 50.0,
        dt: 0.1,
    },
    Case {
        model: "examples/models/networks/g2do4.yaml/g2do4",
        drive: &[],
        vary: ("network/speed", 2.0),
        time: 50.0,
        dt: 0.1,
    },
];

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1e-300))
        .filter(|r| !r.is_nan())
        .fold(0.0, f64::max)
}

#[test]
fn kernel_equals_reference_evaluator_for_every_model_and_solver() {
    for case in CASES {
        let mut m = load(case.model);
        for (path, expr) in case.drive {
            m.drive(path, expr)
                .unwrap_or_else(|e| panic!("{}", e.render()));
        }
        let model = m.validate().unwrap_or_else(|e| panic!("{}", e.render()));
        let k = kernel(&model);
        // Record every state and every algebraic variable.
        let ir = model.ir().model();
        let record: Vec<String> = ir
            .states
            .values()
            .map(|s| s.name.clone())
            .chain(ir.derived.values().map(|d| d.name.clone()))
            .collect();
        let values: Vec<f64> = (0..INSTANCES)
            .map(|i| case.vary.1 * (1.0 + 0.01 * i as f64))
            .collect();
        for solver in Solver::ALL {
            let spec = RunSpec {
                time: case.time,
                dt: case.dt,
                solver,
                every: Some(case.dt * 10.0),
                record: record.clone(),
                instances: INSTANCES,
                instance_values: vec![(case.vary.0.to_string(), values.clone())],
                ..Default::default()
            };
            let native = run(&model, Backend::Native(&k), &spec);
            let interp = run(&model, Backend::Interp, &spec);
            assert_eq!(native.trace.len(), interp.trace.len());
            let rel = max_rel(&native.trace, &interp.trace)
                .max(max_rel(&native.final_state, &interp.final_state));
            assert!(
                rel <= 1e-12,
                "{} / {solver}: kernel and evaluator differ by {rel:e} (relative)",
                case.model
            );
            assert!(
                native.trace.iter().all(|v| v.is_finite()),
                "{} / {solver}: non-finite values",
                case.model
            );
            // Instances really differ (the varied parameter reaches the kernel).
            let differs =
                (0..record.len()).any(|r| native.column(r, INSTANCES - 1) != native.column(r, 0));
            assert!(differs, "{} / {solver}: instances identical", case.model);
            // The evaluator's own result for one instance equals a run with that instance alone.
            let single = RunSpec {
                instances: 1,
                instance_values: vec![(case.vary.0.to_string(), vec![values[7]])],
                ..spec.clone()
            };
            let alone = run(&model, Backend::Native(&k), &single);
            for r in 0..record.len() {
                assert_eq!(
                    alone.column(r, 0),
                    native.column(r, 7),
                    "{} / {solver}: instance 7 depends on its block",
                    case.model
                );
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let model = load("examples/models/jansen_rit.yaml/JRC")
        .validate()
        .unwrap();
    let k = kernel(&model);
    let values: Vec<f64> = (0..37).map(|i| 120.0 + 5.0 * i as f64).collect();
    let spec = |threads| RunSpec {
        time: 0.2,
        dt: 1e-4,
        solver: Solver::Rk4,
        every: Some(1e-3),
        instances: values.len(),
        instance_values: vec![("pc/rpo_e_in/u".into(), values.clone())],
        threads: Some(threads),
        ..Default::default()
    };
    let one = run(&model, Backend::Native(&k), &spec(1));
    let two = run(&model, Backend::Native(&k), &spec(2));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one.trace), bits(&two.trace));
    assert_eq!(bits(&one.final_state), bits(&two.final_state));
}
