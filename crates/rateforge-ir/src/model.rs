//! The model: variables, equations and the expression arena (see the crate docs for semantics).

use crate::arena::{Arena, Handle};
use crate::expr::Expr;
use crate::span::Span;
use indexmap::IndexMap;

/// A state variable, integrated by the solver.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Full path, e.g. `pc/rpo_e_in/v`.
    pub name: String,
    /// Initial value (default; a run may override it per instance and node).
    pub init: f64,
    /// Where the variable is declared.
    pub span: Span,
    /// `(lo, hi)`: the state is clamped to this range after every stage (either may be infinite).
    pub bounds: Option<(f64, f64)>,
    /// Noise amplitude `g` in `dx = f dt + g dW`, evaluated at the start of each step.
    pub noise: Option<Handle<Expr>>,
    /// Start at the value this variable has at `t0` instead of `init` (computed from the initial
    /// states; with [`History::Zero`] the state starts at 0). Used for the stages of distributed
    /// delays, whose history is the source's initial value.
    pub init_from: Option<VarRef>,
    /// `(lo, hi)`: instead of `init`, each instance and node starts at `lo + (hi - lo) * u`, with
    /// `u` uniform in `[0, 1)` drawn by [`crate::rng::uniform_init`] from the run's seed, then
    /// clamped to `bounds` (RateML's `StateVariable dimension="lo, hi"`). Setting an initial
    /// value replaces the range.
    pub init_range: Option<(f64, f64)>,
}

/// Where a parameter comes from (for display and for choosing what a user may drive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A model constant.
    Constant,
    /// An input variable that nothing drives: a constant with its declared default.
    Input,
    /// The weight of an edge.
    Weight,
    /// The delay of an edge, in time units.
    Delay,
    /// The conduction speed of a network (distance units per time unit).
    Speed,
}

/// A per-instance constant.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Full path, e.g. `p/qif_op/eta`.
    pub name: String,
    /// Default value (a run may override it per instance).
    pub value: f64,
    /// What the parameter stands for.
    pub kind: ParamKind,
    /// Where it is declared.
    pub span: Span,
}

/// What a derived variable stands for (for display only; semantics do not depend on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DerivedKind {
    /// An algebraic equation written in the model.
    Equation,
    /// An input fed by edges or by other operators' outputs (a weighted sum).
    Connection,
    /// An input driven by an expression of time given at run time.
    Drive,
}

/// An algebraic variable `name = expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct Derived {
    /// Full path.
    pub name: String,
    /// Its defining expression.
    pub expr: Handle<Expr>,
    /// What it stands for.
    pub kind: DerivedKind,
    /// Where it is declared (or the equation that defines it).
    pub span: Span,
}

/// An external time series, one value per step, supplied at run time.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Full path of the variable it drives.
    pub name: String,
    /// Where the driven variable is declared.
    pub span: Span,
}

/// A delayed read of one of the node's own variables (see the crate docs, "Delays and history").
#[derive(Clone, Debug, PartialEq)]
pub struct Delay {
    /// The variable read: a state or derived variable.
    pub source: VarRef,
    /// The delay in time units; `round_half_even(delay / dt)` steps at run time.
    pub time: Handle<Param>,
    /// The edge or expression that introduced it.
    pub span: Span,
}

/// A network coupling term (see the crate docs, "Networks and couplings").
#[derive(Clone, Debug, PartialEq)]
pub struct Coupling {
    /// A name for messages and listings (e.g. the input it drives).
    pub name: String,
    /// The coupled variable read at source nodes (TVB's `cvar`): a state or derived variable.
    pub source: VarRef,
    /// `pre(x_j, node i)`, using [`Expr::CouplingSource`] for `x_j`.
    pub pre: Handle<Expr>,
    /// `post(gx)`, using [`Expr::CouplingSum`] for `gx`.
    pub post: Handle<Expr>,
    /// Where it is declared.
    pub span: Span,
}

/// How the distances `l_ij` of a connectivity become delays `d_ij` in steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EdgeDelays {
    /// `d_ij = round_half_even((l_ij / speed) / dt)` with the parameter `speed` (TVB's rule;
    /// distances that are already delays in time units use speed 1).
    Speed(Handle<Param>),
    /// `d_ij = round_half_even(l_ij * scale)`, with `scale` (steps per unit of distance) evaluated
    /// once per instance before the run; it reads only literals, parameters, [`Expr::StepSize`]
    /// and [`Expr::NodeCount`] (RateML's `rec_speed_dt`).
    StepsPerDistance(Handle<Expr>),
    /// Every `d_ij = 0` (RateML without `rec_speed_dt`).
    Zero,
}

/// The model is a network of identical nodes coupled through a connectivity given at run time.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// How distances become delays.
    pub delays: EdgeDelays,
    /// Where the network is declared.
    pub span: Span,
}

/// The value of delayed variables before the start of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum History {
    /// The value at the start time (TVB's and rateforge's default).
    #[default]
    Initial,
    /// Zero (PyRates' behaviour).
    Zero,
}

/// `d/dt state = rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ode {
    /// The state it integrates.
    pub state: Handle<State>,
    /// The right-hand side.
    pub rhs: Handle<Expr>,
    /// The equation in the source.
    pub span: Span,
}

/// A reference to any named value of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarRef {
    /// A state.
    State(Handle<State>),
    /// A parameter.
    Param(Handle<Param>),
    /// A derived variable.
    Derived(Handle<Derived>),
    /// A time series.
    Series(Handle<Series>),
}

impl VarRef {
    /// The kind of value with its article ("a parameter"), used in messages.
    pub fn kind_name(self) -> &'static str {
        match self {
            VarRef::State(_) => "a state variable",
            VarRef::Param(_) => "a parameter",
            VarRef::Derived(_) => "an algebraic variable",
            VarRef::Series(_) => "a time series",
        }
    }
}

/// A flat system of ODEs with algebraic side equations.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// The model's name (the template name).
    pub name: String,
    /// Free-text description from the model file.
    pub description: Option<String>,
    /// State variables.
    pub states: Arena<State>,
    /// Parameters.
    pub params: Arena<Param>,
    /// Algebraic variables.
    pub derived: Arena<Derived>,
    /// External time series.
    pub series: Arena<Series>,
    /// Delayed reads.
    pub delays: Arena<Delay>,
    /// Network coupling terms (only in a network).
    pub couplings: Arena<Coupling>,
    /// Whether this is a network of identical nodes.
    pub network: Option<Network>,
    /// What delayed values read before the start.
    pub history: History,
    /// Differential equations (one per state once validated).
    pub odes: Vec<Ode>,
    /// All expressions.
    pub exprs: Arena<Expr>,
    /// The span of each expression, parallel to `exprs`.
    pub expr_spans: Vec<Span>,
    /// Units of values, by path, where the model file gives them (documentation only).
    pub units: IndexMap<String, String>,
    names: IndexMap<String, VarRef>,
}

impl Model {
    /// An empty model named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Model {
            name: name.into(),
            ..Model::default()
        }
    }

    /// Stores an expression and its span.
    pub fn add_expr(&mut self, expr: Expr, span: Span) -> Handle<Expr> {
        self.expr_spans.push(span);
        self.exprs.append(expr)
    }

    /// The span of an expression.
    pub fn expr_span(&self, expr: Handle<Expr>) -> Span {
        self.expr_spans
            .get(expr.index())
            .copied()
            .unwrap_or(Span::UNDEFINED)
    }

    fn register(&mut self, name: &str, var: VarRef) -> Result<(), VarRef> {
        if let Some(existing) = self.names.get(name) {
            return Err(*existing);
        }
        self.names.insert(name.to_string(), var);
        Ok(())
    }

    /// Adds a state; fails with the existing value if the name is taken.
    pub fn add_state(
        &mut self,
        name: &str,
        init: f64,
        span: Span,
    ) -> Result<Handle<State>, VarRef> {
        let h = Handle::from_index(self.states.len());
        self.register(name, VarRef::State(h))?;
        Ok(self.states.append(State {
            name: name.to_string(),
            init,
            span,
            bounds: None,
            noise: None,
            init_from: None,
            init_range: None,
        }))
    }

    /// Adds a parameter; fails with the existing value if the name is taken.
    pub fn add_param(
        &mut self,
        name: &str,
        value: f64,
        kind: ParamKind,
        span: Span,
    ) -> Result<Handle<Param>, VarRef> {
        let h = Handle::from_index(self.params.len());
        self.register(name, VarRef::Param(h))?;
        Ok(self.params.append(Param {
            name: name.to_string(),
            value,
            kind,
            span,
        }))
    }

    /// Adds a derived variable; fails with the existing value if the name is taken.
    pub fn add_derived(
        &mut self,
        name: &str,
        expr: Handle<Expr>,
        kind: DerivedKind,
        span: Span,
    ) -> Result<Handle<Derived>, VarRef> {
        let h = Handle::from_index(self.derived.len());
        self.register(name, VarRef::Derived(h))?;
        Ok(self.derived.append(Derived {
            name: name.to_string(),
            expr,
            kind,
            span,
        }))
    }

    /// Adds a time series; fails with the existing value if the name is taken.
    pub fn add_series(&mut self, name: &str, span: Span) -> Result<Handle<Series>, VarRef> {
        let h = Handle::from_index(self.series.len());
        self.register(name, VarRef::Series(h))?;
        Ok(self.series.append(Series {
            name: name.to_string(),
            span,
        }))
    }

    /// Adds `d/dt state = rhs`.
    pub fn add_ode(&mut self, state: Handle<State>, rhs: Handle<Expr>, span: Span) {
        self.odes.push(Ode { state, rhs, span });
    }

    /// The value with full path `name`.
    pub fn lookup(&self, name: &str) -> Option<VarRef> {
        self.names.get(name).copied()
    }

    /// All names in declaration order.
    pub fn names(&self) -> impl Iterator<Item = (&str, VarRef)> {
        self.names.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The name of a value.
    pub fn var_name(&self, var: VarRef) -> &str {
        match var {
            VarRef::State(h) => &self.states[h].name,
            VarRef::Param(h) => &self.params[h].name,
            VarRef::Derived(h) => &self.derived[h].name,
            VarRef::Series(h) => &self.series[h].name,
        }
    }

    /// The declaration span of a value.
    pub fn var_span(&self, var: VarRef) -> Span {
        match var {
            VarRef::State(h) => self.states[h].span,
            VarRef::Param(h) => self.params[h].span,
            VarRef::Derived(h) => self.derived[h].span,
            VarRef::Series(h) => self.series[h].span,
        }
    }

    /// Replaces parameter `param` by a derived variable computed by `expr` (a time-dependent
    /// drive): every use of the parameter now reads the derived variable, and the parameter is
    /// removed (later parameters move down by one). Delay and speed parameters cannot be driven
    /// (callers check [`Param::kind`]).
    pub fn drive_param_with_expr(
        &mut self,
        param: Handle<Param>,
        expr: Handle<Expr>,
    ) -> Handle<Derived> {
        let p = self.params[param].clone();
        let derived = Handle::from_index(self.derived.len());
        self.derived.append(Derived {
            name: p.name.clone(),
            expr,
            kind: DerivedKind::Drive,
            span: p.span,
        });
        self.remove_param(param, Expr::Derived(derived), VarRef::Derived(derived));
        derived
    }

    /// Replaces parameter `param` by a new time series of the same name.
    pub fn drive_param_with_series(&mut self, param: Handle<Param>) -> Handle<Series> {
        let p = self.params[param].clone();
        let series = self.series.append(Series {
            name: p.name.clone(),
            span: p.span,
        });
        self.remove_param(param, Expr::Series(series), VarRef::Series(series));
        series
    }

    fn remove_param(&mut self, param: Handle<Param>, replacement: Expr, new_ref: VarRef) {
        let remap = |h: Handle<Param>| {
            if h.index() > param.index() {
                Handle::from_index(h.index() - 1)
            } else {
                h
            }
        };
        let mut exprs = Arena::new();
        for (_, e) in self.exprs.iter() {
            let e = match e {
                Expr::Param(h) if *h == param => replacement.clone(),
                Expr::Param(h) => Expr::Param(remap(*h)),
                other => other.clone(),
            };
            exprs.append(e);
        }
        self.exprs = exprs;
        let mut params = Arena::new();
        for (h, p) in self.params.iter() {
            if h != param {
                params.append(p.clone());
            }
        }
        let name = self.params[param].name.clone();
        self.params = params;
        for d in self.delays.iter_mut_values() {
            d.time = remap(d.time);
        }
        if let Some(Network {
            delays: EdgeDelays::Speed(speed),
            ..
        }) = &mut self.network
        {
            *speed = remap(*speed);
        }
        for v in self.names.values_mut() {
            if let VarRef::Param(h) = v {
                *v = VarRef::Param(remap(*h));
            }
        }
        self.names.insert(name, new_ref);
    }

    /// The parameter that gates a coupling in `expr` (see "Gated couplings" in the crate
    /// documentation): `expr` is a product `p * c` or `c * p` of a parameter `p` and a coupling
    /// term `c`, or a derived value defined as exactly a coupling term (as a PyRates input
    /// variable is), possibly through further such derived values.
    pub fn coupling_gate(&self, expr: Handle<Expr>) -> Option<Handle<Param>> {
        let Expr::Binary(crate::BinOp::Mul, a, b) = &self.exprs[expr] else {
            return None;
        };
        match (&self.exprs[*a], &self.exprs[*b]) {
            (Expr::Param(p), _) if self.is_coupling_value(*b) => Some(*p),
            (_, Expr::Param(p)) if self.is_coupling_value(*a) => Some(*p),
            _ => None,
        }
    }

    /// Whether `expr` is a coupling term, or a derived value defined as exactly one (through any
    /// number of such derived values).
    fn is_coupling_value(&self, mut expr: Handle<Expr>) -> bool {
        // A chain of aliases is at most as long as there are derived values (no cycles once
        // validated; the bound keeps an unvalidated model from looping).
        for _ in 0..=self.derived.len() {
            match &self.exprs[expr] {
                Expr::Coupling(_) => return true,
                Expr::Derived(d) => expr = self.derived[*d].expr,
                _ => return false,
            }
        }
        false
    }

    /// Visits the direct operands of an expression.
    pub fn operands(&self, expr: Handle<Expr>) -> impl Iterator<Item = Handle<Expr>> + '_ {
        let ops: Vec<Handle<Expr>> = match &self.exprs[expr] {
            Expr::Lit(_)
            | Expr::Time
            | Expr::State(_)
            | Expr::Param(_)
            | Expr::Derived(_)
            | Expr::Series(_)
            | Expr::Delayed(_)
            | Expr::Coupling(_)
            | Expr::CouplingSource
            | Expr::CouplingSum
            | Expr::NodeCount
            | Expr::StepSize => Vec::new(),
            Expr::Unary(_, a) | Expr::Powi(a, _) => vec![*a],
            Expr::Binary(_, a, b) => vec![*a, *b],
            Expr::Call(_, args) => args.clone(),
            Expr::Select(c, a, b) => vec![*c, *a, *b],
        };
        ops.into_iter()
    }

    /// Calls `visit` for every variable an expression reads (directly, not through derived
    /// variables), in evaluation order.
    pub fn for_each_var(&self, expr: Handle<Expr>, visit: &mut impl FnMut(VarRef, Handle<Expr>)) {
        let mut stack = vec![expr];
        let mut order = Vec::new();
        while let Some(e) = stack.pop() {
            order.push(e);
            let ops: Vec<_> = self.operands(e).collect();
            stack.extend(ops.into_iter().rev());
        }
        for e in order {
            match self.exprs[e] {
                Expr::State(h) => visit(VarRef::State(h), e),
                Expr::Param(h) => visit(VarRef::Param(h), e),
                Expr::Derived(h) => visit(VarRef::Derived(h), e),
                Expr::Series(h) => visit(VarRef::Series(h), e),
                _ => {}
            }
        }
    }

    /// Whether an expression reads the time (directly).
    pub fn reads_time(&self, expr: Handle<Expr>) -> bool {
        let mut stack = vec![expr];
        while let Some(e) = stack.pop() {
            if matches!(self.exprs[e], Expr::Time) {
                return true;
            }
            stack.extend(self.operands(e));
        }
        false
    }
}

/// Joins path components with `/`, skipping empty ones.
pub fn qualified_name(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_param_rewrites_uses_and_handles() {
        let mut m = Model::new("m");
        let a = m
            .add_param("a", 1.0, ParamKind::Constant, Span::UNDEFINED)
            .unwrap();
        let b = m
            .add_param("b", 2.0, ParamKind::Input, Span::UNDEFINED)
            .unwrap();
        let c = m
            .add_param("c", 3.0, ParamKind::Constant, Span::UNDEFINED)
            .unwrap();
        let x = m.add_state("x", 0.0, Span::UNDEFINED).unwrap();
        let ea = m.add_expr(Expr::Param(a), Span::UNDEFINED);
        let eb = m.add_expr(Expr::Param(b), Span::UNDEFINED);
        let ec = m.add_expr(Expr::Param(c), Span::UNDEFINED);
        let s1 = m.add_expr(Expr::Binary(crate::BinOp::Add, ea, eb), Span::UNDEFINED);
        let s2 = m.add_expr(Expr::Binary(crate::BinOp::Add, s1, ec), Span::UNDEFINED);
        m.add_ode(x, s2, Span::UNDEFINED);
        let t = m.add_expr(Expr::Time, Span::UNDEFINED);
        let d = m.drive_param_with_expr(b, t);
        assert_eq!(m.params.len(), 2);
        assert_eq!(m.exprs[eb], Expr::Derived(d));
        assert_eq!(m.exprs[ec], Expr::Param(Handle::from_index(1)));
        assert_eq!(m.lookup("c"), Some(VarRef::Param(Handle::from_index(1))));
        assert_eq!(m.lookup("b"), Some(VarRef::Derived(d)));
        assert_eq!(m.params[Handle::from_index(1)].name, "c");
    }
}
