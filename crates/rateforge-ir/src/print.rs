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

fn write_expr(model: &Model, e: Handle<Expr>, scope: &str, min_prec: u8, out: &mut String) {
    let (prec, text) = match &model.exprs[e] {
        Expr::Lit(v) if *v == std::f64::consts::PI => (PREC_ATOM, "pi".to_string()),
        Expr::Lit(v) if *v < 0.0 => (PREC_UNARY, number(*v)),
        Expr::Lit(v) => (PREC_ATOM, number(*v)),
        Expr::Time => (PREC_ATOM, "t".to_string()),
        Expr::State(h) => (PREC_ATOM, var_name(model, VarRef::State(*h), scope)),
        Expr::Param(h) => (PREC_ATOM, var_name(model, VarRef::Param(*h), scope)),
        Expr::Derived(h) => (PREC_ATOM, var_name(model, VarRef::Derived(*h), scope)),
        Expr::Series(h) => (PREC_ATOM, var_name(model, VarRef::Series(*h), scope)),
        Expr::Delayed(h) => {
            let d = &model.delays[*h];
            let src = var_name(model, d.source, scope);
            let time = var_name(model, VarRef::Param(d.time), scope);
            (PREC_ATOM, format!("past({src}, {time})"))
        }
        Expr::Coupling(h) => (PREC_ATOM, format!("coupling[{}]", model.couplings[*h].name)),
        Expr::CouplingSource => (PREC_ATOM, "x_j".to_string()),
        Expr::CouplingSum => (PREC_ATOM, "gx".to_string()),
        Expr::NodeCount => (PREC_ATOM, "n_nodes".to_string()),
        Expr::StepSize => (PREC_ATOM, "dt".to_string()),
        Expr::Unary(op, a) => {
            let mut s = String::from(match op {
                UnOp::Neg => "-",
                UnOp::Not => "not ",
            });
            write_expr(model, *a, scope, PREC_UNARY, &mut s);
            (PREC_UNARY, s)
        }
        Expr::Binary(op, a, b) => {
            let p = op.precedence();
            let mut s = String::new();
            // Left-associative except power, which is right-associative.
            let (lp, rp) = if *op == BinOp::Pow {
                (p + 1, p)
            } else {
                (p, p + 1)
            };
            write_expr(model, *a, scope, lp, &mut s);
            let sym = op.symbol();
            if matches!(op, BinOp::Mul | BinOp::Div | BinOp::Pow) {
                s.push_str(sym);
            } else {
                write!(s, " {sym} ").unwrap();
            }
            write_expr(model, *b, scope, rp, &mut s);
            (p, s)
        }
        Expr::Powi(a, n) => {
            let mut s = String::new();
            write_expr(model, *a, scope, BinOp::Pow.precedence() + 1, &mut s);
            if *n < 0 {
                write!(s, "^({n})").unwrap();
            } else {
                write!(s, "^{n}").unwrap();
            }
            (BinOp::Pow.precedence(), s)
        }
        Expr::Call(f, args) => {
            let mut s = format!("{}(", f.name());
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(model, *a, scope, 0, &mut s);
            }
            s.push(')');
            (PREC_ATOM, s)
        }
        Expr::Select(c, a, b) => {
            let mut s = String::from("where(");
            write_expr(model, *c, scope, 0, &mut s);
            s.push_str(", ");
            write_expr(model, *a, scope, 0, &mut s);
            s.push_str(", ");
            write_expr(model, *b, scope, 0, &mut s);
            s.push(')');
            (PREC_ATOM, s)
        }
    };
    if prec < min_prec {
        write!(out, "({text})").unwrap();
    } else {
        out.push_str(&text);
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
