//! Validation: the only way to obtain a [`ValidModel`].
//!
//! Checks that every state has exactly one equation, that algebraic variables have no cycle (and
//! orders them), and that the expression graph is well formed. All problems are collected before
//! failing.

use crate::arena::Handle;
use crate::diag::{Diagnostic, Diagnostics};
use crate::expr::{Expr, POWI_MAX};
use crate::model::{Derived, Model, Ode, VarRef};

#[cfg(test)]
mod tests;

/// Facts computed by validation that backends rely on.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// Derived variables in evaluation order: each after everything it reads.
    pub derived_order: Vec<Handle<Derived>>,
    /// For each state (by index), the index of its equation in `Model::odes`.
    pub ode_of_state: Vec<usize>,
    /// Whether any expression reads the time.
    pub reads_time: bool,
}

/// A model that passed [`validate`].
#[derive(Clone, Debug)]
pub struct ValidModel {
    model: Model,
    info: ModelInfo,
}

impl ValidModel {
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// What validation computed.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The equation of state `index` (states in declaration order).
    pub fn ode(&self, state_index: usize) -> &Ode {
        &self.model.odes[self.info.ode_of_state[state_index]]
    }

    /// A stable identity of the model: the SHA-256 (hex) of its canonical listing
    /// ([`crate::print::model`]), so equal models have equal hashes whatever file they came from.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(crate::print::model(self).as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Gives the model back for editing (it must be validated again).
    pub fn into_model(self) -> Model {
        self.model
    }
}

/// Validates a model, returning it with its [`ModelInfo`] or every error found.
pub fn validate(model: Model) -> Result<ValidModel, Diagnostics> {
    let mut diags = Diagnostics::new();
    check_exprs(&model, &mut diags);
    if diags.has_errors() {
        // Handles may be dangling: the graph checks below would index out of range.
        return Err(diags);
    }
    let ode_of_state = check_odes(&model, &mut diags);
    let derived_order = order_derived(&model, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let reads_time = model.exprs.values().any(|e| matches!(e, Expr::Time));
    let info = ModelInfo {
        derived_order,
        ode_of_state,
        reads_time,
    };
    Ok(ValidModel { model, info })
}

fn internal(model: &Model, expr: Handle<Expr>, message: String) -> Diagnostic {
    Diagnostic::error(format!("internal error: {message}"))
        .with_primary(model.expr_span(expr), "in this expression")
        .with_note("this is a bug in the rateforge frontend; please report it")
}

fn check_exprs(model: &Model, diags: &mut Diagnostics) {
    if model.expr_spans.len() != model.exprs.len() {
        diags.push(Diagnostic::error(
            "internal error: expression spans out of step with expressions",
        ));
    }
    for (h, e) in model.exprs.iter() {
        let operand_ok = |o: &Handle<Expr>| o.index() < h.index();
        let bad = |what: &str| internal(model, h, format!("{what} in expression {h:?}"));
        match e {
            Expr::Lit(v) if !v.is_finite() => diags.push(
                Diagnostic::error(format!("literal `{v}` is not a finite number"))
                    .with_primary(model.expr_span(h), "not finite")
                    .with_help("write a finite number"),
            ),
            Expr::Lit(_) | Expr::Time => {}
            Expr::State(s) if !model.states.contains(*s) => diags.push(bad("dangling state")),
            Expr::Param(p) if !model.params.contains(*p) => diags.push(bad("dangling parameter")),
            Expr::Derived(d) if !model.derived.contains(*d) => diags.push(bad("dangling derived")),
            Expr::Series(s) if !model.series.contains(*s) => diags.push(bad("dangling series")),
            Expr::State(_) | Expr::Param(_) | Expr::Derived(_) | Expr::Series(_) => {}
            Expr::Unary(_, a) if !operand_ok(a) => diags.push(bad("forward operand")),
            Expr::Binary(_, a, b) if !operand_ok(a) || !operand_ok(b) => {
                diags.push(bad("forward operand"))
            }
            Expr::Powi(a, n) if !operand_ok(a) || n.unsigned_abs() > POWI_MAX as u32 => {
                diags.push(bad("bad integer power"))
            }
            Expr::Call(f, args) if args.len() != f.arity() || !args.iter().all(operand_ok) => {
                diags.push(bad(&format!("bad call of `{}`", f.name())))
            }
            Expr::Select(c, a, b) if !operand_ok(c) || !operand_ok(a) || !operand_ok(b) => {
                diags.push(bad("forward operand"))
            }
            Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Powi(..)
            | Expr::Call(..)
            | Expr::Select(..) => {}
        }
    }
    let root_ok = |e: Handle<Expr>| model.exprs.contains(e);
    for (_, d) in model.derived.iter() {
        if !root_ok(d.expr) {
            diags.push(Diagnostic::error(format!(
                "internal error: `{}` has a dangling expression",
                d.name
            )));
        }
    }
    for ode in &model.odes {
        if !root_ok(ode.rhs) || !model.states.contains(ode.state) {
            diags.push(Diagnostic::error(
                "internal error: an equation has a dangling handle",
            ));
        }
    }
}

fn check_odes(model: &Model, diags: &mut Diagnostics) -> Vec<usize> {
    let mut ode_of_state: Vec<Option<usize>> = vec![None; model.states.len()];
    for (i, ode) in model.odes.iter().enumerate() {
        let slot = &mut ode_of_state[ode.state.index()];
        match slot {
            None => *slot = Some(i),
            Some(first) => {
                let name = &model.states[ode.state].name;
                diags.push(
                    Diagnostic::error(format!(
                        "state `{name}` has more than one differential equation"
                    ))
                    .with_primary(ode.span, "second equation")
                    .with_secondary(model.odes[*first].span, "first equation")
                    .with_help(
                        "keep one equation per state; combine the terms into one right-hand side",
                    ),
                );
            }
        }
    }
    let mut out = Vec::with_capacity(ode_of_state.len());
    for (h, state) in model.states.iter() {
        match ode_of_state[h.index()] {
            Some(i) => out.push(i),
            None => {
                diags.push(
                    Diagnostic::error(format!(
                        "state `{}` has no differential equation",
                        state.name
                    ))
                    .with_primary(state.span, "declared here")
                    .with_help(format!(
                        "add an equation `d/dt * {0} = ...` or declare `{0}` as a constant",
                        local_name(&state.name)
                    )),
                );
                out.push(usize::MAX);
            }
        }
    }
    out
}

fn local_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Depth-first post-order over derived variables, visiting them and their dependencies in
/// declaration / evaluation order, so the result is deterministic. Cycles are reported by name.
fn order_derived(model: &Model, diags: &mut Diagnostics) -> Vec<Handle<Derived>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = model.derived.len();
    let deps: Vec<Vec<Handle<Derived>>> = model
        .derived
        .values()
        .map(|d| {
            let mut out = Vec::new();
            model.for_each_var(d.expr, &mut |v, _| {
                if let VarRef::Derived(h) = v
                    && !out.contains(&h)
                {
                    out.push(h);
                }
            });
            out
        })
        .collect();
    let mut mark = vec![Mark::New; n];
    let mut order = Vec::with_capacity(n);
    let mut reported = vec![false; n];
    for root in model.derived.handles() {
        if mark[root.index()] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next dependency to visit).
        let mut stack: Vec<(Handle<Derived>, usize)> = vec![(root, 0)];
        mark[root.index()] = Mark::Active;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&dep) = deps[node.index()].get(*next) {
                *next += 1;
                match mark[dep.index()] {
                    Mark::New => {
                        mark[dep.index()] = Mark::Active;
                        stack.push((dep, 0));
                    }
                    Mark::Active => {
                        let start = stack.iter().position(|(h, _)| *h == dep).unwrap_or(0);
                        let cycle: Vec<Handle<Derived>> =
                            stack[start..].iter().map(|(h, _)| *h).collect();
                        if !cycle.iter().any(|h| reported[h.index()]) {
                            for h in &cycle {
                                reported[h.index()] = true;
                            }
                            diags.push(cycle_error(model, &cycle));
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node.index()] = Mark::Done;
                order.push(node);
                stack.pop();
            }
        }
    }
    order
}

fn cycle_error(model: &Model, cycle: &[Handle<Derived>]) -> Diagnostic {
    let names: Vec<String> = cycle
        .iter()
        .map(|h| format!("`{}`", model.derived[*h].name))
        .collect();
    let path = format!("{} -> {}", names.join(" -> "), names[0]);
    let mut d = Diagnostic::error(format!("algebraic cycle: {path}")).with_primary(
        model.derived[cycle[0]].span,
        format!("`{}` depends on itself", model.derived[cycle[0]].name),
    );
    for h in &cycle[1..] {
        d = d.with_secondary(
            model.derived[*h].span,
            format!("`{}` is part of the cycle", model.derived[*h].name),
        );
    }
    d.with_help("algebraic equations are evaluated in dependency order; break the cycle by making one of these variables a state (`d/dt * x = ...`)")
}
