//! Validator rules: a table of small models and the errors they must produce.

use crate::eval::{Instance, RunConfig, simulate};
use crate::{BinOp, DerivedKind, Expr, Model, ParamKind, Solver, Span, VarRef, validate};

const U: Span = Span::UNDEFINED;

/// Builds `x' = -x / tau` plus whatever `extra` adds.
fn decay(extra: impl FnOnce(&mut Model)) -> Model {
    let mut m = Model::new("decay");
    let x = m.add_state("x", 1.0, U).unwrap();
    let tau = m.add_param("tau", 2.0, ParamKind::Constant, U).unwrap();
    let ex = m.add_expr(Expr::State(x), U);
    let neg = m.add_expr(Expr::Unary(crate::UnOp::Neg, ex), U);
    let et = m.add_expr(Expr::Param(tau), U);
    let rhs = m.add_expr(Expr::Binary(BinOp::Div, neg, et), U);
    m.add_ode(x, rhs, U);
    extra(&mut m);
    m
}

fn errors_of(m: Model) -> Vec<String> {
    match validate(m) {
        Ok(_) => Vec::new(),
        Err(d) => d.errors().map(|e| e.message.clone()).collect(),
    }
}

#[test]
fn validator_rules() {
    let cases: Vec<(&str, Model, &[&str])> = vec![
        ("valid decay", decay(|_| {}), &[]),
        (
            "state without equation",
            decay(|m| {
                m.add_state("y", 0.0, U).unwrap();
            }),
            &["state `y` has no differential equation"],
        ),
        (
            "two equations for one state",
            decay(|m| {
                let x = m.states.handles().next().unwrap();
                let one = m.add_expr(Expr::Lit(1.0), U);
                m.add_ode(x, one, U);
            }),
            &["state `x` has more than one differential equation"],
        ),
        (
            "algebraic cycle",
            decay(|m| {
                // a = b + 1, b = 2*a  (b is declared after a, so its handle is known in advance)
                let b_handle = crate::Handle::from_index(1);
                let eb = m.add_expr(Expr::Derived(b_handle), U);
                let one = m.add_expr(Expr::Lit(1.0), U);
                let a_rhs = m.add_expr(Expr::Binary(BinOp::Add, eb, one), U);
                let a = m.add_derived("a", a_rhs, DerivedKind::Equation, U).unwrap();
                let ea = m.add_expr(Expr::Derived(a), U);
                let two = m.add_expr(Expr::Lit(2.0), U);
                let b_rhs = m.add_expr(Expr::Binary(BinOp::Mul, two, ea), U);
                assert_eq!(
                    m.add_derived("b", b_rhs, DerivedKind::Equation, U).unwrap(),
                    b_handle
                );
            }),
            &["algebraic cycle: `a` -> `b` -> `a`"],
        ),
        (
            "self reference",
            decay(|m| {
                let me = crate::Handle::from_index(0);
                let e = m.add_expr(Expr::Derived(me), U);
                m.add_derived("s", e, DerivedKind::Equation, U).unwrap();
            }),
            &["algebraic cycle: `s` -> `s`"],
        ),
        (
            "non-finite literal",
            decay(|m| {
                let e = m.add_expr(Expr::Lit(f64::INFINITY), U);
                m.add_derived("inf", e, DerivedKind::Equation, U).unwrap();
            }),
            &["literal `inf` is not a finite number"],
        ),
        (
            "wrong arity",
            decay(|m| {
                let one = m.add_expr(Expr::Lit(1.0), U);
                let e = m.add_expr(Expr::Call(crate::Builtin::Max, vec![one]), U);
                m.add_derived("bad", e, DerivedKind::Equation, U).unwrap();
            }),
            &["internal error: bad call of `max` in expression Expr#5"],
        ),
    ];
    for (name, model, expected) in cases {
        let got = errors_of(model);
        assert_eq!(
            got,
            expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "case `{name}`"
        );
    }
}

#[test]
fn derived_are_ordered_by_dependency_then_declaration() {
    let m = decay(|m| {
        // c = b*2 declared first, then a = x, then b = a + 1
        let b_handle = crate::Handle::from_index(2);
        let eb = m.add_expr(Expr::Derived(b_handle), U);
        let two = m.add_expr(Expr::Lit(2.0), U);
        let c_rhs = m.add_expr(Expr::Binary(BinOp::Mul, eb, two), U);
        m.add_derived("c", c_rhs, DerivedKind::Equation, U).unwrap();
        let x = m.states.handles().next().unwrap();
        let ex = m.add_expr(Expr::State(x), U);
        let a = m.add_derived("a", ex, DerivedKind::Equation, U).unwrap();
        let ea = m.add_expr(Expr::Derived(a), U);
        let one = m.add_expr(Expr::Lit(1.0), U);
        let b_rhs = m.add_expr(Expr::Binary(BinOp::Add, ea, one), U);
        m.add_derived("b", b_rhs, DerivedKind::Equation, U).unwrap();
    });
    let v = validate(m).unwrap();
    let names: Vec<&str> = v
        .info()
        .derived_order
        .iter()
        .map(|h| v.model().derived[*h].name.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

/// Each solver's global error on x' = -x/tau shrinks at its order when dt halves.
#[test]
fn solver_orders_on_exponential_decay() {
    let v = validate(decay(|_| {})).unwrap();
    let x = match v.model().lookup("x") {
        Some(VarRef::State(h)) => VarRef::State(h),
        other => panic!("{other:?}"),
    };
    for solver in Solver::ALL {
        let err = |dt: f64| {
            let n = (1.0 / dt).round() as u64;
            let cfg = RunConfig {
                solver,
                dt,
                t0: 0.0,
                n_steps: n,
                record_every: n,
                record: vec![x],
                seed: 0,
            };
            let inst = Instance {
                index: 0,
                params: &[2.0],
                init: &[1.0],
                series: &[],
                network: None,
            };
            let tr = simulate(&v, &cfg, &inst);
            assert_eq!(tr.time, vec![0.0, n as f64 * dt]);
            (tr.samples[1][0] - (-0.5_f64).exp()).abs()
        };
        let order = (err(0.02) / err(0.01)).log2();
        assert!(
            (order - f64::from(solver.order())).abs() < 0.1,
            "{solver}: measured order {order}"
        );
    }
}
