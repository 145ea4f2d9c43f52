//! Human-readable printing of models and expressions (`rateforge check`, snapshots, model hashes).
//!
//! Inside an equation, a variable in the same scope as the left-hand side (same path up to the
//! last `/`) is printed by its local name; any other variable by its full path in braces, e.g.
//! `pc/pro/v = {pc/rpo_e_in/v} + {pc/rpo_i/v}`. The output is deterministic.

use crate::arena::Handle;
use crate::expr::{BinOp, Expr, UnOp};
use crate::model::{DerivedKind, EdgeDelays, Model, ParamKind, VarRef};
use crate::valid::ValidModel;
use std::fmt::Write;

/// Formats a number so that it reads back to the same `f64`.
pub fn number(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v:?}")
    }
}

/// Prints an expression, naming variables relative to `scope` (a path prefix ending in `/`, or "").
pub fn expr(model: &Model, e: Handle<Expr>, scope: &str) -> String {
    let mut out = String::new();
    write_expr(model, e, scope, 0, &mut out);
    out
}

fn var_name(model: &Model, var: VarRef, scope: &str) -> String {
    let name = model.var_name(var);
    match name.strip_prefix(scope) {
        Some(local) if !scope.is_empty() && !local.contains('/') => local.to_string(),
        _ if !name.contains('/') => name.to_string(),
        _ => format!("{{{name}}}"),
    }
}

const PREC_UNARY: u8 = 6;
const PREC_ATOM: u8 = 9;

/// How tightly a node binds when printed.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Lit(v) if *v < 0.0 => PREC_UNARY,
        Expr::Unary(..) => PREC_UNARY,
        Expr::Binary(op, ..) => op.precedence(),
        Expr::Powi(..) => BinOp::Pow.precedence(),
        _ => PREC_ATOM,
    }
}

/// Prints `e` into `out`, in parentheses when it binds less tightly than `min_prec`. Children are
/// written straight into `out` (linear time whatever the depth), each level through
/// [`crate::deep`].
fn write_expr(model: &Model, e: Handle<Expr>, scope: &str, min_prec: u8, out: &mut String) {
    crate::deep(|| {
        let node = &model.exprs[e];
        let paren = precedence(node) < min_prec;
        if paren {
            out.push('(');
        }
        write_node(model, node, scope, out);
        if paren {
            out.push(')');
        }
    });
}

fn write_node(model: &Model, node: &Expr, scope: &str, out: &mut String) {
    match node {
        Expr::Lit(v) if *v == std::f64::consts::PI => out.push_str("pi"),
        Expr::Lit(v) => out.push_str(&number(*v)),
        Expr::Time => out.push('t'),
        Expr::State(h) => out.push_str(&var_name(model, VarRef::State(*h), scope)),
        Expr::Param(h) => out.push_str(&var_name(model, VarRef::Param(*h), scope)),
        Expr::Derived(h) => out.push_str(&var_name(model, VarRef::Derived(*h), scope)),
        Expr::Series(h) => out.push_str(&var_name(model, VarRef::Series(*h), scope)),
        Expr::Delayed(h) => {
            let d = &model.delays[*h];
            let src = var_name(model, d.source, scope);
            let time = var_name(model, VarRef::Param(d.time), scope);
            write!(out, "past({src}, {time})").unwrap();
        }
        Expr::Coupling(h) => write!(out, "coupling[{}]", model.couplings[*h].name).unwrap(),
        Expr::CouplingSource => out.push_str("x_j"),
        Expr::CouplingSum => out.push_str("gx"),
        Expr::NodeCount => out.push_str("n_nodes"),
        Expr::StepSize => out.push_str("dt"),
        Expr::Unary(op, a) => {
            out.push_str(match op {
                UnOp::Neg => "-",
                UnOp::Not => "not ",
            });
            write_expr(model, *a, scope, PREC_UNARY, out);
        }
        Expr::Binary(op, a, b) => {
            let p = op.precedence();
            // Left-associative except power, which is right-associative.
            let (lp, rp) = if *op == BinOp::Pow {
                (p + 1, p)
            } else {
                (p, p + 1)
            };
            write_expr(model, *a, scope, lp, out);
            let sym = op.symbol();
            if matches!(op, BinOp::Mul | BinOp::Div | BinOp::Pow) {
                out.push_str(sym);
            } else {
                write!(out, " {sym} ").unwrap();
            }
            write_expr(model, *b, scope, rp, out);
        }
        Expr::Powi(a, n) => {
            write_expr(model, *a, scope, BinOp::Pow.precedence() + 1, out);
            if *n < 0 {
                write!(out, "^({n})").unwrap();
            } else {
                write!(out, "^{n}").unwrap();
            }
        }
        Expr::Call(f, args) => {
            write!(out, "{}(", f.name()).unwrap();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(model, *a, scope, 0, out);
            }
            out.push(')');
        }
        Expr::Select(c, a, b) => {
            out.push_str("where(");
            write_expr(model, *c, scope, 0, out);
            out.push_str(", ");
            write_expr(model, *a, scope, 0, out);
            out.push_str(", ");
            write_expr(model, *b, scope, 0, out);
            out.push(')');
        }
    }
}

fn scope_of(name: &str) -> &str {
    match name.rfind('/') {
        Some(i) => &name[..=i],
        None => "",
    }
}

/// A complete listing of a validated model: states, parameters, inputs, series, algebraic
/// equations in evaluation order and differential equations. Used by `rateforge check` and as the
/// canonical text the model hash is computed from.
pub fn model(valid: &ValidModel) -> String {
    let m = valid.model();
    let mut out = String::new();
    writeln!(out, "model {}", m.name).unwrap();
    let section = |out: &mut String, title: &str, n: usize| {
        writeln!(out, "\n{title} ({n}):").unwrap();
    };
    section(&mut out, "states", m.states.len());
    for s in m.states.values() {
        match s.init_range {
            Some((lo, hi)) => write!(
                out,
                "  {} (initial drawn from [{}, {}])",
                s.name,
                number(lo),
                number(hi)
            ),
            None => write!(out, "  {} (initial {})", s.name, number(s.init)),
        }
        .unwrap();
        if let Some((lo, hi)) = s.bounds {
            write!(out, " in [{}, {}]", number(lo), number(hi)).unwrap();
        }
        if let Some(v) = s.init_from {
            write!(out, " (starts at {} at t0)", m.var_name(v)).unwrap();
        }
        if let Some(g) = s.noise {
            write!(out, " + noise {} dW", expr(m, g, scope_of(&s.name))).unwrap();
        }
        out.push('\n');
    }
    let of_kind = |k: ParamKind| m.params.values().filter(move |p| p.kind == k);
    section(&mut out, "parameters", of_kind(ParamKind::Constant).count());
    for p in of_kind(ParamKind::Constant) {
        writeln!(out, "  {} = {}", p.name, number(p.value)).unwrap();
    }
    let drives: Vec<_> = m
        .derived
        .values()
        .filter(|d| d.kind == DerivedKind::Drive)
        .collect();
    let n_inputs = of_kind(ParamKind::Input).count() + drives.len() + m.series.len();
    section(&mut out, "inputs", n_inputs);
    for p in of_kind(ParamKind::Input) {
        writeln!(out, "  {} = {} (constant)", p.name, number(p.value)).unwrap();
    }
    for d in &drives {
        writeln!(
            out,
            "  {} = {} (function of time)",
            d.name,
            expr(m, d.expr, "")
        )
        .unwrap();
    }
    for s in m.series.values() {
        writeln!(out, "  {} (time series, one value per step)", s.name).unwrap();
    }
    let edge_params: Vec<_> = m
        .params
        .values()
        .filter(|p| matches!(p.kind, ParamKind::Weight | ParamKind::Delay))
        .collect();
    if !edge_params.is_empty() {
        section(&mut out, "edge weights and delays", edge_params.len());
        for p in edge_params {
            writeln!(out, "  {} = {}", p.name, number(p.value)).unwrap();
        }
    }
    let algebraic: Vec<_> = valid
        .info()
        .derived_order
        .iter()
        .map(|h| &m.derived[*h])
        .filter(|d| d.kind != DerivedKind::Drive)
        .collect();
    section(
        &mut out,
        "algebraic equations, in evaluation order",
        algebraic.len(),
    );
    for d in algebraic {
        let scope = scope_of(&d.name);
        writeln!(out, "  {} = {}", d.name, expr(m, d.expr, scope)).unwrap();
    }
    if !m.delays.is_empty() {
        section(&mut out, "delays", m.delays.len());
        for d in m.delays.values() {
            let history = match m.history {
                crate::model::History::Initial => "initial value",
                crate::model::History::Zero => "zero",
            };
            writeln!(
                out,
                "  past({}, {}) (history: {history})",
                m.var_name(d.source),
                m.params[d.time].name
            )
            .unwrap();
        }
    }
    if let Some(net) = &m.network {
        let delays = match net.delays {
            EdgeDelays::Speed(p) => {
                format!("{} = {}", m.params[p].name, number(m.params[p].value))
            }
            EdgeDelays::StepsPerDistance(e) => {
                format!("delays = distance * ({}) steps", expr(m, e, ""))
            }
            EdgeDelays::Zero => "no delays".to_string(),
        };
        writeln!(
            out,
            "\nnetwork: identical nodes, connectivity given at run time, {delays}"
        )
        .unwrap();
        section(&mut out, "couplings", m.couplings.len());
        for c in m.couplings.values() {
            let scope = scope_of(&c.name);
            writeln!(
                out,
                "  {} = post(gx = sum_j w_ij * pre),  x = {},  pre = {},  post = {}",
                c.name,
                m.var_name(c.source),
                expr(m, c.pre, scope),
                expr(m, c.post, scope)
            )
            .unwrap();
        }
    }
    section(&mut out, "differential equations", m.states.len());
    for (i, s) in m.states.values().enumerate() {
        let scope = scope_of(&s.name);
        writeln!(
            out,
            "  d/dt {} = {}",
            s.name,
            expr(m, valid.ode(i).rhs, scope)
        )
        .unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamKind;
    use crate::span::Span;

    #[test]
    fn minimal_parentheses() {
        let mut m = Model::new("m");
        let u = Span::UNDEFINED;
        let a = m.add_param("op/a", 2.0, ParamKind::Constant, u).unwrap();
        let b = m.add_param("other/b", 3.0, ParamKind::Constant, u).unwrap();
        let ea = m.add_expr(Expr::Param(a), u);
        let eb = m.add_expr(Expr::Param(b), u);
        let sum = m.add_expr(Expr::Binary(BinOp::Add, ea, eb), u);
        let prod = m.add_expr(Expr::Binary(BinOp::Mul, sum, ea), u);
        let neg = m.add_expr(Expr::Unary(UnOp::Neg, prod), u);
        let pow = m.add_expr(Expr::Binary(BinOp::Pow, ea, ea), u);
        let pow2 = m.add_expr(Expr::Binary(BinOp::Pow, pow, ea), u);
        assert_eq!(expr(&m, neg, "op/"), "-((a + {other/b})*a)");
        assert_eq!(expr(&m, pow2, "op/"), "(a^a)^a");
        assert_eq!(number(2.0), "2.0");
        assert_eq!(number(0.00325), "0.00325");
        assert_eq!(number(1e-12), "1e-12");
    }
}
