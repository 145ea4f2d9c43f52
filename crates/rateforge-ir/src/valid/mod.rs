//! Validation: the only way to obtain a [`ValidModel`].
//!
//! Checks that every state has exactly one equation, that algebraic variables have no cycle (and
//! orders them), that the expression graph is well formed, that coupling expressions use their
//! special values only where they mean something, and that delayed and coupled variables do not
//! themselves depend on delays or couplings. All problems are collected before failing.

use crate::arena::Handle;
use crate::diag::{Diagnostic, Diagnostics};
use crate::expr::{Expr, POWI_MAX};
use crate::model::{Derived, EdgeDelays, Model, Ode, VarRef};
use crate::span::Span;

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
    /// Variables kept in a history (read by delays or couplings), each once, in first-use order
    /// (delays in declaration order, then couplings).
    pub buffered: Vec<VarRef>,
    /// For each delay (by index), its variable's position in `buffered`.
    pub delay_slot: Vec<usize>,
    /// For each coupling (by index), its source's position in `buffered`.
    pub coupling_slot: Vec<usize>,
    /// Whether any state has noise.
    pub has_noise: bool,
    /// States with noise, in state order (normal number `k` of a step goes to `noisy[k]`).
    pub noisy: Vec<usize>,
    /// For each derived variable (by index): it depends on no delayed value and no coupling, so
    /// it can be computed before them at a step's start (buffered derived variables and the
    /// derived values a coupling's `pre` reads are all of this kind).
    pub coupling_free: Vec<bool>,
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
    check_states(&model, &mut diags);
    check_network(&model, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let reads_time = model.exprs.values().any(|e| matches!(e, Expr::Time));
    let mut buffered: Vec<VarRef> = Vec::new();
    let mut slot = |v: VarRef| match buffered.iter().position(|b| *b == v) {
        Some(i) => i,
        None => {
            buffered.push(v);
            buffered.len() - 1
        }
    };
    let delay_slot = model.delays.values().map(|d| slot(d.source)).collect();
    let coupling_slot = model.couplings.values().map(|c| slot(c.source)).collect();
    let noisy: Vec<usize> = model
        .states
        .values()
        .enumerate()
        .filter(|(_, s)| s.noise.is_some())
        .map(|(i, _)| i)
        .collect();
    let coupling_free = model
        .derived
        .values()
        .map(|d| {
            !depends_on_delay_or_coupling(&model, d.expr, &mut vec![false; model.derived.len()])
        })
        .collect();
    let info = ModelInfo {
        derived_order,
        ode_of_state,
        reads_time,
        buffered,
        delay_slot,
        coupling_slot,
        has_noise: !noisy.is_empty(),
        noisy,
        coupling_free,
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
            Expr::Delayed(d) if !model.delays.contains(*d) => diags.push(bad("dangling delay")),
            Expr::Coupling(c) if !model.couplings.contains(*c) => {
                diags.push(bad("dangling coupling"))
            }
            Expr::State(_)
            | Expr::Param(_)
            | Expr::Derived(_)
            | Expr::Series(_)
            | Expr::Delayed(_)
            | Expr::Coupling(_)
            | Expr::CouplingSource
            | Expr::CouplingSum
            | Expr::NodeCount
            | Expr::StepSize => {}
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
    let var_ok = |v: VarRef| match v {
        VarRef::State(h) => model.states.contains(h),
        VarRef::Param(h) => model.params.contains(h),
        VarRef::Derived(h) => model.derived.contains(h),
        VarRef::Series(h) => model.series.contains(h),
    };
    for d in model.delays.values() {
        if !var_ok(d.source) || !model.params.contains(d.time) {
            diags.push(Diagnostic::error(
                "internal error: a delay has a dangling handle",
            ));
        }
    }
    for c in model.couplings.values() {
        if !var_ok(c.source) || !root_ok(c.pre) || !root_ok(c.post) {
            diags.push(Diagnostic::error(
                "internal error: a coupling has a dangling handle",
            ));
        }
    }
    for st in model.states.values() {
        if st.noise.is_some_and(|n| !root_ok(n)) {
            diags.push(Diagnostic::error(
                "internal error: a noise amplitude has a dangling handle",
            ));
        }
    }
    let delays_ok = match model.network.as_ref().map(|n| n.delays) {
        Some(EdgeDelays::Speed(p)) => model.params.contains(p),
        Some(EdgeDelays::StepsPerDistance(e)) => root_ok(e),
        Some(EdgeDelays::Zero) | None => true,
    };
    if !delays_ok {
        diags.push(Diagnostic::error(
            "internal error: the network's delay rule has a dangling handle",
        ));
    }
}

/// Bounds are ordered; noise amplitudes read only what exists at a step's start.
fn check_states(model: &Model, diags: &mut Diagnostics) {
    for st in model.states.values() {
        if let Some((lo, hi)) = st.bounds
            && (lo.is_nan() || hi.is_nan() || lo > hi)
        {
            diags.push(
                Diagnostic::error(format!(
                    "the bounds of `{}` are empty: [{lo}, {hi}]",
                    st.name
                ))
                .with_primary(st.span, "bounded here")
                .with_help(
                    "write bounds as `[low, high]` with low <= high (use `inf` for no bound)",
                ),
            );
        }
        if let Some((lo, hi)) = st.init_range
            && !(lo.is_finite() && hi.is_finite())
        {
            diags.push(
                Diagnostic::error(format!(
                    "the initial range of `{}` is not finite: [{lo}, {hi}]",
                    st.name
                ))
                .with_primary(st.span, "declared here")
                .with_help("initial values are drawn between two finite numbers"),
            );
        }
        if let Some(n) = st.noise {
            forbid(
                model,
                n,
                diags,
                "a noise amplitude",
                &[Forbidden::CouplingSource, Forbidden::CouplingSum],
            );
        }
        if let Some(v) = st.init_from {
            let ok = match v {
                VarRef::State(h) => model.states.get(h).is_some_and(|s| s.init_from.is_none()),
                VarRef::Derived(h) => {
                    model.derived.contains(h)
                        && !depends_on_delay_or_coupling(
                            model,
                            model.derived[h].expr,
                            &mut vec![false; model.derived.len()],
                        )
                }
                _ => false,
            };
            if !ok {
                diags.push(
                    Diagnostic::error(format!("`{}` cannot start at the value of `{}`", st.name, model.var_name(v)))
                        .with_primary(st.span, "here")
                        .with_help("a state can start at another state's initial value or at a variable computed from states and parameters"),
                );
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Forbidden {
    CouplingSource,
    CouplingSum,
    Coupling,
    Delayed,
    Series,
}

impl Forbidden {
    fn matches(self, e: &Expr) -> bool {
        matches!(
            (self, e),
            (Forbidden::CouplingSource, Expr::CouplingSource)
                | (Forbidden::CouplingSum, Expr::CouplingSum)
                | (Forbidden::Coupling, Expr::Coupling(_))
                | (Forbidden::Delayed, Expr::Delayed(_))
                | (Forbidden::Series, Expr::Series(_))
        )
    }

    fn what(self) -> &'static str {
        match self {
            Forbidden::CouplingSource => "the coupling source value `x_j`",
            Forbidden::CouplingSum => "the coupling sum `gx`",
            Forbidden::Coupling => "a coupling",
            Forbidden::Delayed => "a delayed value",
            Forbidden::Series => "an input series",
        }
    }
}

/// Reports the first forbidden leaf in `root` (not following derived variables).
fn forbid(
    model: &Model,
    root: Handle<Expr>,
    diags: &mut Diagnostics,
    context: &str,
    forbidden: &[Forbidden],
) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        if let Some(f) = forbidden.iter().find(|f| f.matches(&model.exprs[e])) {
            diags.push(
                Diagnostic::error(format!("{context} cannot use {}", f.what()))
                    .with_primary(model.expr_span(e), "not allowed here")
                    .with_help("`x_j` belongs in a coupling's `pre` expression, `gx` in its `post` expression; couplings are computed from states and parameters"),
            );
            return;
        }
        stack.extend(model.operands(e));
    }
}

/// Reports the first leaf of `root` that is not a literal, parameter, `dt`, `n_nodes`, the
/// coupling sum or the time: what per-instance constants (and `post`) may read.
fn only_constants(
    model: &Model,
    root: Handle<Expr>,
    diags: &mut Diagnostics,
    context: &str,
    help: &str,
    in_post: bool,
) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        let bad = match &model.exprs[e] {
            Expr::State(_) => Some("a state variable"),
            Expr::Derived(_) => Some("an algebraic variable"),
            // In `post`, these are reported by `forbid`.
            _ if in_post => None,
            Expr::Series(_) => Some("an input series"),
            Expr::Delayed(_) => Some("a delayed value"),
            Expr::Coupling(_) => Some("a coupling"),
            Expr::CouplingSource => Some("the coupling source value `x_j`"),
            Expr::CouplingSum => Some("the coupling sum `gx`"),
            Expr::Time => Some("the time `t`"),
            _ => None,
        };
        if let Some(what) = bad {
            diags.push(
                Diagnostic::error(format!("{context} cannot use {what}"))
                    .with_primary(model.expr_span(e), "not allowed here")
                    .with_help(help.to_string()),
            );
            return;
        }
        stack.extend(model.operands(e));
    }
}

/// Whether `root` depends on a delayed value or a coupling, directly or through derived values.
fn depends_on_delay_or_coupling(model: &Model, root: Handle<Expr>, seen: &mut [bool]) -> bool {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        match model.exprs[e] {
            Expr::Delayed(_) | Expr::Coupling(_) => return true,
            Expr::Derived(d) => {
                if !seen[d.index()] {
                    seen[d.index()] = true;
                    stack.push(model.derived[d].expr);
                }
            }
            _ => stack.extend(model.operands(e)),
        }
    }
    false
}

fn source_ok(model: &Model, source: VarRef, span: Span, what: &str, diags: &mut Diagnostics) {
    match source {
        VarRef::State(_) => {}
        VarRef::Derived(d) => {
            let mut seen = vec![false; model.derived.len()];
            if depends_on_delay_or_coupling(model, model.derived[d].expr, &mut seen) {
                diags.push(
                    Diagnostic::error(format!(
                        "`{}` is read by {what}, but depends on a delayed value or a coupling itself",
                        model.derived[d].name
                    ))
                    .with_primary(span, "read here")
                    .with_secondary(model.derived[d].span, "defined here")
                    .with_help("delay or couple a state, or a variable computed from states and parameters only"),
                );
            }
        }
        other => diags.push(
            Diagnostic::error(format!("{what} must read a state or an algebraic variable, not {}", other.kind_name()))
                .with_primary(span, "here")
                .with_help("a parameter or input series does not change with time, so there is nothing to delay"),
        ),
    }
}

fn check_network(model: &Model, diags: &mut Diagnostics) {
    for d in model.delays.values() {
        source_ok(model, d.source, d.span, "a delay", diags);
    }
    if !model.couplings.is_empty() && model.network.is_none() {
        diags.push(Diagnostic::error(
            "internal error: couplings in a model without a network",
        ));
    }
    for c in model.couplings.values() {
        source_ok(model, c.source, c.span, "a coupling", diags);
        let pre = format!("the `pre` expression of coupling `{}`", c.name);
        let post = format!("the `post` expression of coupling `{}`", c.name);
        let no_pre = [
            Forbidden::CouplingSum,
            Forbidden::Coupling,
            Forbidden::Delayed,
            Forbidden::Series,
        ];
        let no_post = [
            Forbidden::CouplingSource,
            Forbidden::Coupling,
            Forbidden::Delayed,
            Forbidden::Series,
        ];
        forbid(model, c.pre, diags, &pre, &no_pre);
        let mut stack = vec![c.pre];
        while let Some(e) = stack.pop() {
            if let Expr::Derived(d) = model.exprs[e]
                && depends_on_delay_or_coupling(
                    model,
                    model.derived[d].expr,
                    &mut vec![false; model.derived.len()],
                )
            {
                diags.push(
                    Diagnostic::error(format!("{pre} reads `{}`, which depends on a delay or a coupling", model.derived[d].name))
                        .with_primary(model.expr_span(e), "read here")
                        .with_help("a coupling is computed before the node's delayed values and couplings are known; read states and parameters"),
                );
                break;
            }
            stack.extend(model.operands(e));
        }
        forbid(model, c.post, diags, &post, &no_post);
        only_constants(
            model,
            c.post,
            diags,
            &post,
            "`post` is applied to the sum `gx` once per step; it may use `gx`, parameters, `dt` and `n_nodes`",
            true,
        );
    }
    if let Some(EdgeDelays::StepsPerDistance(e)) = model.network.as_ref().map(|n| n.delays) {
        only_constants(
            model,
            e,
            diags,
            "the delay scale (steps per unit of distance)",
            "delays are fixed before the run: the scale may use parameters, `dt` and `n_nodes`",
            false,
        );
    }
    // Outside couplings, x_j and gx mean nothing.
    let mut inside = vec![false; model.exprs.len()];
    for c in model.couplings.values() {
        for root in [c.pre, c.post] {
            let mut stack = vec![root];
            while let Some(e) = stack.pop() {
                inside[e.index()] = true;
                stack.extend(model.operands(e));
            }
        }
    }
    for (h, e) in model.exprs.iter() {
        if matches!(e, Expr::CouplingSource | Expr::CouplingSum) && !inside[h.index()] {
            let name = if matches!(e, Expr::CouplingSource) {
                "`x_j`"
            } else {
                "`gx`"
            };
            diags.push(
                Diagnostic::error(format!("{name} is only defined inside a coupling"))
                    .with_primary(model.expr_span(h), "outside a coupling")
                    .with_help("use the coupling's name (the input it drives) in node equations"),
            );
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
