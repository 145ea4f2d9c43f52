//! The kernel plan: every decision about a generated kernel that does not depend on the target
//! language, made once from the validated model and the [`EmitOptions`].
//!
//! Both emitters (Rust in [`crate::rust`], CUDA C in [`crate::cuda`]) print the same plan, so the
//! two backends cannot disagree on what they compute:
//! * the evaluation order (derived values in dependency order, one right-hand side per state, the
//!   noise amplitudes in the order of the normal numbers);
//! * which operations fuse or fold: with [`EmitOptions::fast`], `a*b + c` and `c + a*b` become one
//!   fused multiply-add ([`PExpr::Fma`]) and a division by a constant becomes a multiplication by
//!   its reciprocal; without it every IR operation is one IEEE operation in the IR's order;
//! * the parameters compiled in as constants and their values;
//! * the tables of the history (what each buffer holds), the delays and couplings reading it,
//!   the states' bounds, noise slots and initial-value rules, and the network's delay rule;
//! * the statistics layout ([`N_STATS`] values per recorded variable, in the ABI's order).
//!
//! Expressions are lowered into a flat arena ([`PExpr`], children before parents) without
//! recursion, and printed by the `back` module without recursion either, so the depth of an
//! expression is never limited by the stack.

use crate::{EmitOptions, Precision};
use rateforge_ir::{BinOp, Builtin, EdgeDelays, Expr, Handle, History, UnOp, ValidModel, VarRef};
use std::collections::HashMap;

/// The statistics a kernel streams per recorded variable and node (see the ABI's `STATS`).
pub const N_STATS: usize = 6;

/// An expression of the plan: its position in [`KernelPlan::exprs`] (or `host_exprs`).
pub type ExprId = usize;

/// A value an expression reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The time of the stage.
    Time,
    /// A state of this node, by index.
    State(usize),
    /// A parameter, by index.
    Param(usize),
    /// A derived value of this node, by index.
    Derived(usize),
    /// An external series, by index.
    Series(usize),
    /// A delayed value, by delay index.
    Delayed(usize),
    /// A coupling term, by coupling index.
    Coupling(usize),
    /// The delayed source value inside a coupling's `pre`.
    CouplingSource,
    /// The weighted sum inside a coupling's `post`.
    CouplingSum,
    /// The number of nodes.
    NodeCount,
    /// The step size.
    StepSize,
}

/// One node of a planned expression; operands are earlier entries of the same arena.
#[derive(Clone, Debug, PartialEq)]
pub enum PExpr {
    /// A literal (float64; printed at the precision of its expression group, rounded once).
    Lit(f64),
    /// A model value.
    Operand(Operand),
    /// `-a`.
    Neg(ExprId),
    /// `1` if `a == 0`, else `0`.
    Not(ExprId),
    /// One IEEE operation (never fused).
    Binary(BinOp, ExprId, ExprId),
    /// `a*b + c` with one rounding (fast arithmetic only).
    Fma(ExprId, ExprId, ExprId),
    /// `a^n` by left-to-right repeated multiplication ([`rateforge_ir::powi`]).
    Powi(ExprId, i32),
    /// A built-in function.
    Call(Builtin, Vec<ExprId>),
    /// `if c != 0 { a } else { b }`.
    Select(ExprId, ExprId, ExprId),
}

impl PExpr {
    /// The operands, in evaluation order.
    pub fn operands(&self) -> Vec<ExprId> {
        match self {
            PExpr::Lit(_) | PExpr::Operand(_) => Vec::new(),
            PExpr::Neg(a) | PExpr::Not(a) | PExpr::Powi(a, _) => vec![*a],
            PExpr::Binary(_, a, b) => vec![*a, *b],
            PExpr::Fma(a, b, c) | PExpr::Select(a, b, c) => vec![*a, *b, *c],
            PExpr::Call(_, args) => args.clone(),
        }
    }
}

/// What a history buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffered {
    /// A state, by index.
    State(usize),
    /// A derived value that depends on no delay or coupling, by index.
    Derived(usize),
}

/// A derived value, in evaluation order.
#[derive(Clone, Debug)]
pub struct PlannedDerived {
    /// Its index among the model's derived values.
    pub index: usize,
    /// Its path (for comments).
    pub name: String,
    /// Its expression.
    pub expr: ExprId,
    /// It depends on no delayed value and no coupling (so histories and couplings can use it).
    pub coupling_free: bool,
}

/// A state's update rules.
#[derive(Clone, Debug)]
pub struct PlannedState {
    /// Its path (for comments).
    pub name: String,
    /// Its right-hand side.
    pub rhs: ExprId,
    /// `(lo, hi)`: clamped after every stage.
    pub bounds: Option<(f64, f64)>,
    /// Its position among the noisy states (the normal number it takes each step).
    pub noise_slot: Option<usize>,
}

/// A network coupling of the kernel.
#[derive(Clone, Debug)]
pub struct PlannedCoupling {
    /// Its index among the model's couplings (its row in the kernel's couplings).
    pub index: usize,
    /// The history buffer of its source.
    pub slot: usize,
    /// `pre(x_j, node i)`.
    pub pre: ExprId,
    /// `post(gx)`.
    pub post: ExprId,
}

/// A delayed value: the parameter holding the delay time and the buffer it reads.
#[derive(Clone, Copy, Debug)]
pub struct PlannedDelay {
    /// The parameter holding the delay time.
    pub param: usize,
    /// The history buffer read.
    pub slot: usize,
}

/// A state that starts at another value at `t0`.
#[derive(Clone, Copy, Debug)]
pub struct InitFrom {
    /// The state.
    pub state: usize,
    /// The value it starts at.
    pub from: Buffered,
}

/// A state whose initial value is drawn from a range (per instance and node).
#[derive(Clone, Copy, Debug)]
pub struct Ranged {
    /// The state.
    pub state: usize,
    /// The range.
    pub lo: f64,
    /// The range.
    pub hi: f64,
    /// The state's bounds (the draw is clamped to them).
    pub bounds: Option<(f64, f64)>,
}

/// How the delays of a network's edges are computed (in float64, per instance, before a run).
#[derive(Clone, Copy, Debug)]
pub enum EdgeDelayRule {
    /// Not a network, or every delay is zero.
    None,
    /// `round_half_even((distance / speed) / dt)`, the speed a parameter.
    Speed {
        /// The speed parameter.
        param: usize,
        /// Its value when compiled in.
        inlined: Option<f64>,
    },
    /// `round_half_even(distance * scale)`, `scale` an expression of
    /// [`KernelPlan::host_exprs`] (steps per unit of distance).
    Scale {
        /// The scale.
        expr: ExprId,
    },
}

/// Everything a backend needs to print a kernel (see the module docs).
#[derive(Clone, Debug)]
pub struct KernelPlan {
    /// The model's name (raw text: comments go through [`crate::namer::comment`]).
    pub model_name: String,
    /// The model's hash.
    pub model_hash: String,
    /// The arithmetic.
    pub precision: Precision,
    /// What the history stores.
    pub history: Precision,
    /// Fused multiply-adds and reciprocals of constants.
    pub fast: bool,
    /// Parameters compiled in, `(index, value)`, sorted by index.
    pub inline: Vec<(usize, f64)>,
    /// Instances per lane block (CPU kernels).
    pub lanes: usize,
    /// Counts of the model's values.
    pub n_param: usize,
    /// Derived values.
    pub n_derived: usize,
    /// Series.
    pub n_series: usize,
    /// Couplings of the model (the kernel's rows of coupling values; [`KernelPlan::couplings`]
    /// are those computed).
    pub n_coupling: usize,
    /// A network model.
    pub network: bool,
    /// Delayed values read before the start are zero (else the value at the start).
    pub history_zero: bool,
    /// The kernel-precision expressions.
    pub exprs: Vec<PExpr>,
    /// Float64 expressions evaluated once per instance before a run (exact arithmetic).
    pub host_exprs: Vec<PExpr>,
    /// Derived values in evaluation order.
    pub derived: Vec<PlannedDerived>,
    /// The states, in order.
    pub states: Vec<PlannedState>,
    /// The noisy states (state index per noise slot) with their amplitudes.
    pub noise: Vec<(usize, ExprId)>,
    /// The history buffers: the values that a delay or a computed coupling reads.
    pub buffered: Vec<Buffered>,
    /// The delays.
    pub delays: Vec<PlannedDelay>,
    /// The couplings the kernel computes, in the model's order: those that the right-hand
    /// sides, the noise amplitudes or a recordable derived value read (a coupling gated by a
    /// parameter compiled in as zero is read by none; see the IR's "Gated couplings").
    pub couplings: Vec<PlannedCoupling>,
    /// The record ids (`n_state + derived index`) of the derived values that read a coupling
    /// the kernel does not compute: a run recording or observing one is refused.
    pub uncomputed: Vec<usize>,
    /// States starting at another value.
    pub init_from: Vec<InitFrom>,
    /// States with drawn initial values.
    pub ranged: Vec<Ranged>,
    /// The network's delay rule.
    pub edge_delays: EdgeDelayRule,
    /// Every coupling's `pre` reads only the source, parameters and constants (its sums can be
    /// computed several steps ahead).
    pub pre_source_only: bool,
}

impl KernelPlan {
    /// Plans the kernel of a validated model.
    pub fn new(model: &ValidModel, options: &EmitOptions) -> KernelPlan {
        let m = model.model();
        let info = model.info();
        let mut inline: Vec<(usize, f64)> = options
            .inline
            .iter()
            .copied()
            .filter(|(k, _)| *k < m.params.len())
            .collect();
        inline.sort_by_key(|(k, _)| *k);
        inline.dedup_by_key(|(k, _)| *k);
        let mut kernel = Lowering::new(model, options.fast, &inline);
        let derived: Vec<PlannedDerived> = info
            .derived_order
            .iter()
            .map(|&d| PlannedDerived {
                index: d.index(),
                name: m.derived[d].name.clone(),
                expr: kernel.lower(m.derived[d].expr),
                coupling_free: info.coupling_free[d.index()],
            })
            .collect();
        let states: Vec<PlannedState> = m
            .states
            .values()
            .enumerate()
            .map(|(i, s)| PlannedState {
                name: s.name.clone(),
                rhs: kernel.lower(model.ode(i).rhs),
                bounds: s.bounds,
                noise_slot: info.noisy.iter().position(|&n| n == i),
            })
            .collect();
        let noise: Vec<(usize, ExprId)> = info
            .noisy
            .iter()
            .map(|&s| {
                let g = m.states[Handle::from_index(s)]
                    .noise
                    .expect("validated: a noisy state has an amplitude");
                (s, kernel.lower(g))
            })
            .collect();
        let (live, uncomputed) = live_couplings(
            &kernel.out,
            &derived,
            &states,
            &noise,
            m,
            options.records.as_deref(),
        );
        let couplings: Vec<PlannedCoupling> = m
            .couplings
            .values()
            .zip(&info.coupling_slot)
            .enumerate()
            .filter(|(index, _)| live[*index])
            .map(|(index, (c, &slot))| PlannedCoupling {
                index,
                slot,
                pre: kernel.lower(c.pre),
                post: kernel.lower(c.post),
            })
            .collect();
        let buffered: Vec<Buffered> = info.buffered.iter().map(|&v| buffered_value(v)).collect();
        let delays: Vec<PlannedDelay> = m
            .delays
            .values()
            .zip(&info.delay_slot)
            .map(|(d, &slot)| PlannedDelay {
                param: d.time.index(),
                slot,
            })
            .collect();
        let init_from = m
            .states
            .values()
            .enumerate()
            .filter_map(|(state, s)| {
                s.init_from.map(|v| InitFrom {
                    state,
                    from: buffered_value(v),
                })
            })
            .collect();
        let ranged = m
            .states
            .values()
            .enumerate()
            .filter_map(|(state, s)| {
                let (lo, hi) = s.init_range?;
                Some(Ranged {
                    state,
                    lo,
                    hi,
                    bounds: s.bounds,
                })
            })
            .collect();
        // Edge delays are set up in float64 with exact arithmetic, as the evaluator does, whatever
        // the kernel's precision: the same delays on every backend.
        let mut host = Lowering::new(model, false, &[]);
        let edge_delays = match m.network.as_ref().map(|n| n.delays) {
            Some(EdgeDelays::Speed(p)) => EdgeDelayRule::Speed {
                param: p.index(),
                inlined: inline
                    .iter()
                    .find(|(k, _)| *k == p.index())
                    .map(|(_, v)| *v),
            },
            Some(EdgeDelays::StepsPerDistance(e)) => EdgeDelayRule::Scale {
                expr: host.lower(e),
            },
            Some(EdgeDelays::Zero) | None => EdgeDelayRule::None,
        };
        // Only the buffers that a delay or a computed coupling reads are kept.
        let (buffered, delays, couplings) = keep_read_buffers(buffered, delays, couplings);
        let pre_source_only = m
            .couplings
            .values()
            .enumerate()
            .all(|(k, c)| !live[k] || reads_source_only(m, c.pre));
        let exprs = kernel.out;
        KernelPlan {
            model_name: m.name.clone(),
            model_hash: model.hash(),
            precision: options.precision,
            history: options.history,
            fast: options.fast,
            inline,
            lanes: options.lanes.max(1),
            n_param: m.params.len(),
            n_derived: m.derived.len(),
            n_series: m.series.len(),
            n_coupling: m.couplings.len(),
            network: m.network.is_some(),
            history_zero: m.history == History::Zero,
            exprs,
            host_exprs: host.out,
            derived,
            states,
            noise,
            buffered,
            delays,
            couplings,
            uncomputed,
            init_from,
            ranged,
            edge_delays,
            pre_source_only,
        }
    }

    /// The value of parameter `k` when it is compiled in.
    pub fn inlined(&self, k: usize) -> Option<f64> {
        self.inline.iter().find(|(i, _)| *i == k).map(|(_, v)| *v)
    }
}

fn buffered_value(v: VarRef) -> Buffered {
    match v {
        VarRef::State(h) => Buffered::State(h.index()),
        VarRef::Derived(h) => Buffered::Derived(h.index()),
        VarRef::Param(_) | VarRef::Series(_) => {
            unreachable!("validated: buffered values are states or derived values")
        }
    }
}

/// The history buffers that a delay or a computed coupling reads, and the delays and couplings
/// with their buffers renumbered accordingly.
fn keep_read_buffers(
    buffered: Vec<Buffered>,
    mut delays: Vec<PlannedDelay>,
    mut couplings: Vec<PlannedCoupling>,
) -> (Vec<Buffered>, Vec<PlannedDelay>, Vec<PlannedCoupling>) {
    let mut read = vec![false; buffered.len()];
    for slot in delays
        .iter()
        .map(|d| d.slot)
        .chain(couplings.iter().map(|c| c.slot))
    {
        read[slot] = true;
    }
    let mut renumbered = vec![0; buffered.len()];
    let mut kept = Vec::new();
    for (b, value) in buffered.into_iter().enumerate() {
        if read[b] {
            renumbered[b] = kept.len();
            kept.push(value);
        }
    }
    for d in &mut delays {
        d.slot = renumbered[d.slot];
    }
    for c in &mut couplings {
        c.slot = renumbered[c.slot];
    }
    (kept, delays, couplings)
}

/// Which couplings a kernel computes, and the record ids of the derived values it then cannot
/// record (see [`KernelPlan::couplings`] and [`KernelPlan::uncomputed`]).
///
/// A coupling is needed when a right-hand side or a noise amplitude reads it, directly or
/// through derived values, or when a derived value that reads it may be recorded: those in
/// `records` (record ids), or every one without it.
fn live_couplings(
    exprs: &[PExpr],
    derived: &[PlannedDerived],
    states: &[PlannedState],
    noise: &[(usize, ExprId)],
    m: &rateforge_ir::Model,
    records: Option<&[usize]>,
) -> (Vec<bool>, Vec<usize>) {
    let (n_coupling, n_state, n_derived) = (m.couplings.len(), m.states.len(), m.derived.len());
    // The couplings each derived value reads, directly or through other derived values
    // (`derived` is in evaluation order, so those come first).
    let mut of_derived = vec![vec![false; n_coupling]; n_derived];
    let reads = |root: ExprId, of_derived: &[Vec<bool>]| -> Vec<bool> {
        let mut out = vec![false; n_coupling];
        let mut seen = vec![false; exprs.len()];
        let mut stack = vec![root];
        while let Some(e) = stack.pop() {
            if std::mem::replace(&mut seen[e], true) {
                continue;
            }
            match &exprs[e] {
                PExpr::Operand(Operand::Coupling(k)) => out[*k] = true,
                PExpr::Operand(Operand::Derived(j)) => {
                    for (o, &r) in out.iter_mut().zip(&of_derived[*j]) {
                        *o |= r;
                    }
                }
                other => stack.extend(other.operands()),
            }
        }
        out
    };
    for d in derived {
        of_derived[d.index] = reads(d.expr, &of_derived);
    }
    let mut live = vec![false; n_coupling];
    let roots = states
        .iter()
        .map(|s| s.rhs)
        .chain(noise.iter().map(|n| n.1));
    for root in roots {
        for (l, r) in live.iter_mut().zip(reads(root, &of_derived)) {
            *l |= r;
        }
    }
    let recordable: Vec<usize> = match records {
        None => (0..n_derived).collect(),
        Some(ids) => ids
            .iter()
            .filter_map(|&id| id.checked_sub(n_state))
            .filter(|&d| d < n_derived)
            .collect(),
    };
    for d in recordable {
        for (l, &r) in live.iter_mut().zip(&of_derived[d]) {
            *l |= r;
        }
    }
    let uncomputed = (0..n_derived)
        .filter(|&d| of_derived[d].iter().zip(&live).any(|(&r, &l)| r && !l))
        .map(|d| n_state + d)
        .collect();
    (live, uncomputed)
}

/// Whether an expression reads only the coupling source, parameters and constants (not the
/// target node's values or the time).
fn reads_source_only(m: &rateforge_ir::Model, e: Handle<Expr>) -> bool {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match &m.exprs[x] {
            Expr::Lit(_)
            | Expr::Param(_)
            | Expr::CouplingSource
            | Expr::NodeCount
            | Expr::StepSize => {}
            Expr::Unary(..)
            | Expr::Binary(..)
            | Expr::Powi(..)
            | Expr::Call(..)
            | Expr::Select(..) => stack.extend(m.operands(x)),
            _ => return false,
        }
    }
    true
}

/// How a product gating a coupling is lowered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// Not a gate, or gated by a compiled-in value other than zero: the IEEE product.
    None,
    /// Gated by a compiled-in zero: `+0`.
    Zero,
    /// Gated by a parameter read at run time (this operand): `+0` when it is zero.
    Runtime(Handle<Expr>),
}

/// Lowers IR expressions into plan expressions, applying the arithmetic decisions.
struct Lowering<'a> {
    m: &'a rateforge_ir::Model,
    fast: bool,
    inline: &'a [(usize, f64)],
    out: Vec<PExpr>,
    /// IR expression -> plan expression.
    done: HashMap<Handle<Expr>, ExprId>,
    /// The value of IR expressions made of literals and compiled-in parameters (IR semantics).
    constant: HashMap<Handle<Expr>, Option<f64>>,
}

impl<'a> Lowering<'a> {
    fn new(model: &'a ValidModel, fast: bool, inline: &'a [(usize, f64)]) -> Self {
        Lowering {
            m: model.model(),
            fast,
            inline,
            out: Vec::new(),
            done: HashMap::new(),
            constant: HashMap::new(),
        }
    }

    /// How a product that gates a coupling is lowered (see the IR's "Gated couplings").
    fn gate(&self, e: Handle<Expr>) -> Gate {
        let Some(p) = self.m.coupling_gate(e) else {
            return Gate::None;
        };
        match self.inline.iter().find(|(k, _)| *k == p.index()) {
            Some((_, v)) if *v == 0.0 => Gate::Zero,
            // A compiled-in value that is not zero: the IEEE product.
            Some(_) => Gate::None,
            None => Gate::Runtime(
                self.m
                    .operands(e)
                    .find(|&h| matches!(self.m.exprs[h], Expr::Param(q) if q == p))
                    .expect("a gate reads its parameter"),
            ),
        }
    }

    fn push(&mut self, e: PExpr) -> ExprId {
        self.out.push(e);
        self.out.len() - 1
    }

    /// Lowers `root` and everything below it, children first, with an explicit stack.
    fn lower(&mut self, root: Handle<Expr>) -> ExprId {
        let mut stack = vec![(root, false)];
        while let Some((e, children_done)) = stack.pop() {
            if self.done.contains_key(&e) {
                continue;
            }
            if !children_done {
                stack.push((e, true));
                for op in self.m.operands(e) {
                    if !self.done.contains_key(&op) {
                        stack.push((op, false));
                    }
                }
                continue;
            }
            let id = self.node(e);
            self.done.insert(e, id);
        }
        self.done[&root]
    }

    /// One node, its operands already lowered.
    fn node(&mut self, e: Handle<Expr>) -> ExprId {
        let m = self.m;
        let id = |h: Handle<Expr>| -> ExprId { self.done[&h] };
        let c = |h: Handle<Expr>| -> Option<f64> { self.constant.get(&h).copied().flatten() };
        let (node, value) = match &m.exprs[e] {
            Expr::Lit(v) => (PExpr::Lit(*v), Some(*v)),
            Expr::Time => (PExpr::Operand(Operand::Time), None),
            Expr::State(h) => (PExpr::Operand(Operand::State(h.index())), None),
            Expr::Param(h) => (
                PExpr::Operand(Operand::Param(h.index())),
                self.inline
                    .iter()
                    .find(|(k, _)| *k == h.index())
                    .map(|(_, v)| *v),
            ),
            Expr::Derived(h) => (PExpr::Operand(Operand::Derived(h.index())), None),
            Expr::Series(h) => (PExpr::Operand(Operand::Series(h.index())), None),
            Expr::Delayed(h) => (PExpr::Operand(Operand::Delayed(h.index())), None),
            Expr::Coupling(h) => (PExpr::Operand(Operand::Coupling(h.index())), None),
            Expr::CouplingSource => (PExpr::Operand(Operand::CouplingSource), None),
            Expr::CouplingSum => (PExpr::Operand(Operand::CouplingSum), None),
            Expr::NodeCount => (PExpr::Operand(Operand::NodeCount), None),
            Expr::StepSize => (PExpr::Operand(Operand::StepSize), None),
            Expr::Unary(op, a) => (
                match op {
                    UnOp::Neg => PExpr::Neg(id(*a)),
                    UnOp::Not => PExpr::Not(id(*a)),
                },
                c(*a).map(|x| op.apply(x)),
            ),
            Expr::Binary(op, a, b) => {
                match self.gate(e) {
                    // A coupling gated by a compiled-in zero: `+0`, the coupling not read.
                    Gate::Zero => {
                        self.constant.insert(e, Some(0.0));
                        return self.push(PExpr::Lit(0.0));
                    }
                    // `+0` when the parameter is zero, else the product.
                    Gate::Runtime(p) => {
                        let (x, y, p) = (id(*a), id(*b), id(p));
                        let product = self.push(PExpr::Binary(BinOp::Mul, x, y));
                        let zero = self.push(PExpr::Lit(0.0));
                        self.constant.insert(e, None);
                        return self.push(PExpr::Select(p, product, zero));
                    }
                    Gate::None => {}
                }
                let value = match (c(*a), c(*b)) {
                    (Some(x), Some(y)) => Some(op.apply(x, y)),
                    _ => None,
                };
                // A product fuses unless it gates a coupling by a zero or an unknown value.
                let mul = |h: Handle<Expr>| match &m.exprs[h] {
                    Expr::Binary(BinOp::Mul, x, y) if self.gate(h) == Gate::None => Some((*x, *y)),
                    _ => None,
                };
                let node = match op {
                    // Fast: `x*y + z` and `z + x*y` are one fused operation.
                    BinOp::Add if self.fast && mul(*a).is_some() => {
                        let (x, y) = mul(*a).expect("checked");
                        PExpr::Fma(id(x), id(y), id(*b))
                    }
                    BinOp::Add if self.fast && mul(*b).is_some() => {
                        let (x, y) = mul(*b).expect("checked");
                        PExpr::Fma(id(x), id(y), id(*a))
                    }
                    // Fast: a division by a constant is a multiplication by its reciprocal.
                    BinOp::Div
                        if self.fast
                            && c(*b).is_some_and(|d| d != 0.0 && (1.0 / d).is_finite()) =>
                    {
                        let r = 1.0 / c(*b).expect("checked");
                        let (x, lit) = (id(*a), self.push(PExpr::Lit(r)));
                        PExpr::Binary(BinOp::Mul, x, lit)
                    }
                    _ => PExpr::Binary(*op, id(*a), id(*b)),
                };
                (node, value)
            }
            Expr::Powi(a, n) => (
                PExpr::Powi(id(*a), *n),
                c(*a).map(|x| rateforge_ir::powi(x, *n)),
            ),
            Expr::Call(f, args) => (PExpr::Call(*f, args.iter().map(|&x| id(x)).collect()), None),
            Expr::Select(k, a, b) => (PExpr::Select(id(*k), id(*a), id(*b)), None),
        };
        self.constant.insert(e, value);
        self.push(node)
    }
}
