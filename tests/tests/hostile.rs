//! Inputs at the extremes: expressions as deep or as long as a user (or a generator script) can
//! write them load, validate, print, compile and run, on a thread with the 2 MiB stack a test or
//! a Python thread has, and give the evaluator's bits on every backend.

use rateforge::{Backend, CudaTarget, EmitOptions, Format, Model, RunSpec, Solver, Validated};
use rateforge_tests::*;

/// A one-operator model whose only equation is `equation`, with `a` and `b` as parameters.
fn one_equation(equation: &str) -> String {
    format!(
        "op:\n  base: OperatorTemplate\n  equations: \"{equation}\"\n  variables:\n    x: output(0.1)\n    a: -1.0e-4\n    b: 0.5\n\
         pop:\n  base: NodeTemplate\n  operators: [op]\n\
         net:\n  base: CircuitTemplate\n  nodes:\n    p: pop\n"
    )
}

/// Loads and validates on a thread with a 2 MiB stack; the rendered diagnostics on failure.
fn validate_on_small_stack(text: String) -> Result<(Validated, String), String> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let model =
                Model::from_source("deep.yaml/net", &text, Format::Yaml).map_err(|e| e.render())?;
            let valid = model.validate().map_err(|e| e.render())?;
            let listing = valid.listing();
            Ok((valid, listing))
        })
        .expect("thread")
        .join()
        .expect("no panic")
}

fn chain(item: &str, op: &str, n: usize) -> String {
    vec![item; n].join(op)
}

#[test]
fn deep_and_long_expressions_load_validate_and_list() {
    let cases = [
        (
            "a sum of 10^5 terms",
            format!("d/dt * x = {}", chain("a", "+", 100_000)),
        ),
        (
            "10^5 unary minus signs",
            format!("d/dt * x = {}x", "-".repeat(100_000)),
        ),
        (
            "10^5 spaced unary signs",
            format!("d/dt * x = {}x", "- ".repeat(100_000)),
        ),
        (
            "a chain of 10^4 powers",
            format!("d/dt * x = {}", chain("b", "^", 10_000)),
        ),
        (
            "10^4 nested conditionals",
            format!("d/dt * x = {}x", "x>0?a:".repeat(10_000)),
        ),
        (
            "a product of 10^5 factors",
            format!("d/dt * x = {}", chain("b", "*", 100_000)),
        ),
        (
            "10^4 nested calls in a sum",
            format!("d/dt * x = {}", chain("exp(a)", "+", 10_000)),
        ),
    ];
    for (what, equation) in cases {
        let (valid, listing) = validate_on_small_stack(one_equation(&equation))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(valid.ir().model().states.len(), 1, "{what}");
        assert!(
            listing.contains("d/dt p/op/x = "),
            "{what}: {}",
            &listing[..200]
        );
        assert!(
            listing.len() > 10_000,
            "{what}: the whole expression is listed"
        );
    }
}

#[test]
fn an_equation_over_half_a_megabyte_is_refused_with_a_diagnostic() {
    let equation = format!("d/dt * x = {}", chain("a", "+", 300_000));
    let err = validate_on_small_stack(one_equation(&equation)).expect_err("too long");
    assert!(
        err.contains("equation too long (600010 bytes; at most 524288)"),
        "{err}"
    );
    // The 600 kB line is quoted cut down to the text around the label.
    assert!(err.len() < 2000, "{} bytes: {}", err.len(), &err[..2000]);
    assert!(err.contains("│   equations: \"d/dt * x = a+a+a+"), "{err}");
    assert!(err.contains("a+a+a…"), "{err}");
    assert!(err.contains("deep.yaml:3:"), "{err}");
    assert!(
        err.contains("help: split it into algebraic variables"),
        "{err}"
    );
}

/// `dx/dt = a*x + a*x + ...` (10^4 terms, a = -1e-4: the sum is -x up to rounding).
#[test]
fn a_sum_of_ten_thousand_terms_compiles_and_gives_the_evaluators_bits() {
    let equation = format!("d/dt * x = {}", chain("a*x", " + ", 10_000));
    let (model, _) = validate_on_small_stack(one_equation(&equation)).expect("valid");
    let spec = RunSpec {
        time: 1.0,
        dt: 1e-3,
        solver: Solver::Heun,
        every: Some(0.1),
        instances: 2,
        instance_values: vec![("p/op/a".to_string(), vec![-1e-4, -2e-4])],
        ..Default::default()
    };
    let native = model
        .build(&EmitOptions::default(), &build_options())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let cuda = model
        .build_cuda(
            &EmitOptions::default(),
            &build_options(),
            CudaTarget::Emulated,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let reference = run(&model, Backend::Interp, &spec);
    for (name, backend) in [
        ("native", Backend::Native(&native)),
        ("cuda (emulated)", Backend::Cuda(&cuda)),
    ] {
        let got = run(&model, backend, &spec);
        let same = got
            .final_state
            .iter()
            .zip(&reference.final_state)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "{name}: {:?} vs {:?}",
            got.final_state, reference.final_state
        );
        assert_eq!(got.trace.len(), reference.trace.len(), "{name}");
        assert!(
            got.trace
                .iter()
                .zip(&reference.trace)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name}: traces differ"
        );
    }
    // x(1) = 0.1 exp(-1) and 0.1 exp(-2) up to Heun's error at dt 1e-3 (about 1e-6 relative).
    for (i, rate) in [1.0f64, 2.0].iter().enumerate() {
        let exact = 0.1 * (-rate).exp();
        let x = reference.final_state[i];
        assert!(
            (x - exact).abs() < 1e-5 * exact,
            "instance {i}: {x} vs {exact}"
        );
    }
}

#[test]
fn deep_expressions_in_rateml_xml_load_and_validate() {
    let sum = chain("a", "+", 100_000);
    let minus = "-".repeat(100_000);
    let text = format!(
        "<Lems>\n<ComponentType name=\"derivatives\">\n<Constant name=\"a\" dimension=\"\" value=\"-1e-4\"/>\n<Dynamics>\n\
         <StateVariable name=\"x\" dimension=\"0, 1\" exposure=\"0, 1\"/>\n\
         <DerivedVariable name=\"s\" value=\"{sum}\"/>\n<DerivedVariable name=\"u\" value=\"{minus}x\"/>\n\
         <TimeDerivative variable=\"dx\" value=\"s*x + u\"/>\n</Dynamics>\n</ComponentType>\n</Lems>\n"
    );
    let listing = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let model = Model::from_source("deep.xml", &text, Format::Xml)
                .unwrap_or_else(|e| panic!("{}", e.render()));
            let valid = model
                .validate()
                .unwrap_or_else(|e| panic!("{}", e.render()));
            valid.listing()
        })
        .expect("thread")
        .join()
        .expect("no panic");
    assert!(listing.contains("s = a + a + a"), "{}", &listing[..300]);
    assert!(listing.len() > 400_000, "every term is listed");
}
