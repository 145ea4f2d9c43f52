//! Grammar rules: each case parses to the expected tree (printed fully parenthesised) or fails
//! with the expected message at the expected column.

use super::*;
use rateforge_ir::SourceMap;

fn show(a: &Ast) -> String {
    match &a.kind {
        AstKind::Num(v) => format!("{v:?}"),
        AstKind::Imag(v) => format!("{v:?}j"),
        AstKind::Name(n) => n.clone(),
        AstKind::Index(n, IndexSpec::Single(i)) => format!("{}[{i}]", n.text),
        AstKind::Index(n, IndexSpec::Slice(a, b)) => format!("{}[{a:?}:{b:?}]", n.text),
        AstKind::Call(f, args) => format!(
            "{}({})",
            f.text,
            args.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        AstKind::Unary(_, x) => format!("(-{})", show(x)),
        AstKind::Binary(op, x, y) => format!("({} {} {})", show(x), op.symbol(), show(y)),
        AstKind::Cond(c, x, y) => format!("({} ? {} : {})", show(c), show(x), show(y)),
    }
}

fn expr(text: &str) -> String {
    let mut s = SourceMap::new();
    let f = s.add("e", text);
    match parse_expression(text, &Origin::exact(f, 0)) {
        Ok(a) => show(&a),
        Err(d) => panic!("{text}: {}", d.render(&s)),
    }
}

fn eq(text: &str) -> String {
    let mut s = SourceMap::new();
    let f = s.add("e", text);
    let e =
        parse_equation(text, &Origin::exact(f, 0)).unwrap_or_else(|d| panic!("{}", d.render(&s)));
    let lhs = match e.kind {
        EqKind::Differential => format!("d/dt {}", e.target.text),
        EqKind::Algebraic => e.target.text.clone(),
    };
    format!("{lhs} = {}", show(&e.rhs))
}

/// (message, 1-based column) of a failing parse.
fn fails(text: &str) -> (String, usize) {
    let mut s = SourceMap::new();
    let f = s.add("e", text);
    let d = parse_equation(text, &Origin::exact(f, 0)).expect_err(text);
    let span = d.primary_span().expect("span");
    (d.message, span.start as usize + 1)
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(expr("-x^2"), "(-(x ^ 2.0))");
    assert_eq!(expr("a^b^c"), "(a ^ (b ^ c))");
    assert_eq!(expr("a**b**c"), "(a ^ (b ^ c))");
    assert_eq!(expr("2^-1*3"), "((2.0 ^ (-1.0)) * 3.0)");
    assert_eq!(expr("a - b - c"), "((a - b) - c)");
    assert_eq!(expr("a / b * c"), "((a / b) * c)");
    assert_eq!(expr("a + b*c^2"), "(a + (b * (c ^ 2.0)))");
    assert_eq!(expr("-(a + b)"), "(-(a + b))");
    assert_eq!(expr("+a"), "a");
    assert_eq!(expr("--a"), "(-(-a))");
    assert_eq!(
        expr("30*(t>=30)*(t<60)"),
        "((30.0 * (t >= 30.0)) * (t < 60.0))"
    );
    assert_eq!(expr("a + b < c*d"), "((a + b) < (c * d))");
    assert_eq!(expr("x != 0"), "(x != 0.0)");
    assert_eq!(expr("a == b"), "(a == b)");
}

#[test]
fn numbers() {
    assert_eq!(expr("1"), "1.0");
    assert_eq!(expr("1."), "1.0");
    assert_eq!(expr(".5"), "0.5");
    assert_eq!(expr("3.25e-3"), "0.00325");
    assert_eq!(expr("10E+2"), "1000.0");
    assert_eq!(expr("2.*x"), "(2.0 * x)");
    // Imaginary literals, as in Python.
    assert_eq!(expr("1j"), "1.0j");
    assert_eq!(expr("0.5+2.5J*z"), "(0.5 + (2.5j * z))");
    assert_eq!(expr("1e-3j"), "0.001j");
    assert_eq!(expr("2*j"), "(2.0 * j)");
    assert_eq!(expr("1.eq.x"), "(1.0 == x)");
}

/// The forms RateML/LEMS files write (see `../shared/spec/rateml-xml.md`).
#[test]
fn lems_and_c_forms() {
    assert_eq!(expr("{V^2}"), "(V ^ 2.0)");
    assert_eq!(expr("- 0.1 * {z^7}"), "((-0.1) * (z ^ 7.0))");
    assert_eq!(expr("{pi^2} * {tau^2}"), "((pi ^ 2.0) * (tau ^ 2.0))");
    assert_eq!(expr("{(a + b)^2}"), "((a + b) ^ 2.0)");
    assert_eq!(expr("1.0f / n_node"), "(1.0 / n_node)");
    assert_eq!(expr("2f*x"), "(2.0 * x)");
    assert_eq!(expr("1.e3f"), "1000.0");
    assert_eq!(expr("x .gt. 0"), "(x > 0.0)");
    assert_eq!(expr("x.ge.1.5"), "(x >= 1.5)");
    assert_eq!(expr("x.geq.y"), "(x >= y)");
    assert_eq!(expr("1.lt.x"), "(1.0 < x)");
    assert_eq!(expr("1..le.x"), "(1.0 <= x)");
    assert_eq!(expr("x .leq. 2"), "(x <= 2.0)");
    assert_eq!(expr("x .eq. 2"), "(x == 2.0)");
    assert_eq!(expr("x .neq. 2"), "(x != 2.0)");
    assert_eq!(expr("x .ne. 2"), "(x != 2.0)");
    assert_eq!(
        expr("a < 1 .and. b > 2 .or. c"),
        "(((a < 1.0) and (b > 2.0)) or c)"
    );
    assert_eq!(expr("a || b && c"), "(a or (b and c))");
    assert_eq!(expr("x < 0 ? -x : x"), "((x < 0.0) ? (-x) : x)");
    assert_eq!(expr("a ? 1 : b ? 2 : 3"), "(a ? 1.0 : (b ? 2.0 : 3.0))");
    assert_eq!(expr("(a ? b : c) + 1"), "((a ? b : c) + 1.0)");
    assert_eq!(expr("H(x - 1)"), "H((x - 1.0))");
}

#[test]
fn calls_and_indexing() {
    assert_eq!(expr("f()"), "f()");
    assert_eq!(expr("max(a, b, c)"), "max(a, b, c)");
    assert_eq!(expr("sigmoid(s*(v - v0))"), "sigmoid((s * (v - v0)))");
    assert_eq!(expr("a[3]"), "a[3]");
    assert_eq!(expr("a[-1]"), "a[-1]");
    assert_eq!(expr("a[1:4]"), "a[Some(1):Some(4)]");
    assert_eq!(expr("a[:2] * b[2:]"), "(a[None:Some(2)] * b[Some(2):None])");
}

#[test]
fn left_hand_sides() {
    assert_eq!(eq("d/dt * x = -x/tau"), "d/dt x = ((-x) / tau)");
    assert_eq!(eq("d / dt*x = 1"), "d/dt x = 1.0");
    assert_eq!(eq("x' = 1"), "d/dt x = 1.0");
    assert_eq!(
        eq("m = m_max/(1. + exp(s*(v_thr - v)))"),
        "m = (m_max / (1.0 + exp((s * (v_thr - v)))))"
    );
    assert_eq!(eq("d = a/dt*x"), "d = ((a / dt) * x)");
    assert_eq!(
        eq("d/dt * r = (Delta/(pi*tau) + 2.0*r*v) / tau"),
        "d/dt r = (((Delta / (pi * tau)) + ((2.0 * r) * v)) / tau)"
    );
    assert_eq!(eq("spike = float(V > V_thr)"), "spike = float((V > V_thr))");
    assert_eq!(eq("y = a\n   + b"), "y = (a + b)");
    assert_eq!(eq("b += 2"), "b = 2.0");
}

#[test]
fn syntax_errors_point_at_the_problem() {
    assert_eq!(
        fails("x' = (a + b"),
        (
            "expected an operator, a comparison or `)`, found end of text".into(),
            12
        )
    );
    assert_eq!(
        fails("x' = a + * b"),
        ("expected an expression, found `*`".into(), 10)
    );
    assert_eq!(
        fails("x' = a b"),
        (
            "expected an operator, a comparison or end of text, found `b`".into(),
            8
        )
    );
    assert_eq!(fails("x' = a < b < c").0, "comparisons cannot be chained");
    assert_eq!(fails("x' = f(a,)").0, "expected an expression, found `)`");
    assert_eq!(fails("x' a").0, "expected `=`, found `a`");
    assert_eq!(fails("= 3").0, "expected a variable name, found `=`");
    assert_eq!(fails("x' = 1e999").0, "number `1e999` is too large");
    assert_eq!(fails("x' = a[1.5]").1, 8);
    assert_eq!(fails("x' = {a + b").1, 12);
    assert_eq!(
        fails("x' = a ? b").0,
        "expected an operator, a comparison or `:`, found end of text"
    );
    assert_eq!(
        fails("x' = 1.0ff").0,
        "expected an operator, a comparison or end of text, found `ff`"
    );
}
