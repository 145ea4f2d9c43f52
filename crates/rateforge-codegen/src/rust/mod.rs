//! The Rust backend: a model-specific kernel with the fixed C ABI, compiled to a cdylib at run time.
//!
//! The skeleton (ABI structs, lane blocks, node loop, histories, couplings, time loop, solver
//! stages, noise) lives in `kernel-templates/rust/kernel.rs.tera`; this module only prints
//! expressions, through an exhaustive match over [`Expr`], and names, through the [`Namer`].
//! Every operation is printed as the same IEEE operation the reference evaluator performs, in
//! the same order, so the kernel's results equal the evaluator's.

use crate::namer::{Names, RUST_RESERVED, comment};
use crate::{EmitError, EmitOptions, Precision, render};
use rateforge_ir::{BinOp, Builtin, EdgeDelays, Expr, Handle, History, UnOp, ValidModel, VarRef};
use serde::Serialize;

/// Version of the C ABI between generated Rust kernels and the runtime.
pub const ABI_VERSION: u32 = 3;

const KERNEL_TEMPLATE: &str = include_str!("../../../../kernel-templates/rust/kernel.rs.tera");
const PRELUDE: &str = include_str!("../../../../kernel-templates/rust/prelude.rs");
const VMATH: &str = include_str!("../../../../kernel-templates/rust/vmath.rs");

#[derive(Serialize)]
struct Buffered {
    state: bool,
    index: usize,
}

#[derive(Serialize)]
struct DelayCtx {
    param: usize,
    slot: usize,
}

#[derive(Serialize)]
struct CouplingCtx {
    slot: usize,
    pre_loads: Vec<String>,
    pre: String,
    post_loads: Vec<String>,
    post: String,
}

#[derive(Serialize)]
struct InitFromCtx {
    state: usize,
    from_state: bool,
    index: usize,
}

/// What a solver stage needs to know to update state `index`.
#[derive(Serialize)]
struct StateCtx {
    index: usize,
    bounded: bool,
    lo: String,
    hi: String,
    noisy: bool,
    q: usize,
}

#[derive(Serialize)]
struct InlinedCtx {
    index: usize,
    value: String,
}

#[derive(Serialize)]
struct Context {
    version: &'static str,
    abi_version: u32,
    model_name: String,
    model_hash: String,
    lanes: usize,
    network: bool,
    history_zero: bool,
    float: &'static str,
    hfloat: &'static str,
    n_state: usize,
    n_param: usize,
    n_derived: usize,
    n_series: usize,
    n_delay: usize,
    n_coupling: usize,
    n_buffered: usize,
    n_noisy: usize,
    load_lines: Vec<String>,
    derived_lines: Vec<String>,
    free_derived_lines: Vec<String>,
    k_lines: Vec<String>,
    store_derived_lines: Vec<String>,
    store_free_lines: Vec<String>,
    derived_loads: Vec<String>,
    states: Vec<StateCtx>,
    buffered: Vec<Buffered>,
    delays: Vec<DelayCtx>,
    couplings: Vec<CouplingCtx>,
    noise_lines: Vec<String>,
    noisy: Vec<usize>,
    init_from: Vec<InitFromCtx>,
    inlined: Vec<InlinedCtx>,
    edge_delay_loads: Vec<String>,
    edge_delay: String,
    prelude: String,
    vmath: String,
    fma: bool,
    prefetch_ahead: usize,
    pre_source_only: bool,
}

/// A Rust `f64` literal that reads back to exactly `v` (infinities allowed for bounds).
pub fn float_literal(v: f64) -> String {
    if v == f64::INFINITY {
        return "f64::INFINITY".to_string();
    }
    if v == f64::NEG_INFINITY {
        return "f64::NEG_INFINITY".to_string();
    }
    let text = format!("{v:?}");
    if v < 0.0 || text.starts_with('-') {
        format!("({text}_f64)")
    } else {
        format!("{text}_f64")
    }
}

/// Emits the kernel source for a validated model.
pub fn emit(model: &ValidModel, options: &EmitOptions) -> Result<String, EmitError> {
    let m = model.model();
    let info = model.info();
    let names = Names::new(model, RUST_RESERVED);
    let lanes = options.lanes.max(1);
    let mut inline: Vec<(usize, f64)> = options
        .inline
        .iter()
        .copied()
        .filter(|(k, _)| *k < m.params.len())
        .collect();
    inline.sort_by_key(|(k, _)| *k);
    inline.dedup_by_key(|(k, _)| *k);
    let printer = Printer {
        model,
        names: &names,
        precision: options.precision,
        fast: options.fast,
        inline: &inline,
    };
    let inlined_value = |k: usize| inline.iter().find(|(i, _)| *i == k).map(|(_, v)| *v);

    let state_loads: Vec<String> = names
        .states
        .iter()
        .enumerate()
        .map(|(i, id)| format!("let {id} = ys[{i}][l];"))
        .collect();
    let param_loads: Vec<String> = names
        .params
        .iter()
        .enumerate()
        .map(|(i, id)| match inlined_value(i) {
            Some(v) => format!("let {id}: F = {};", printer.lit(v)),
            None => format!("let {id} = p[{i}][l];"),
        })
        .collect();
    let derived_loads: Vec<String> = names
        .derived
        .iter()
        .enumerate()
        .map(|(i, id)| format!("let {id} = d[{i}][l];"))
        .collect();
    let mut load_lines = state_loads.clone();
    load_lines.extend(param_loads.iter().cloned());
    load_lines.extend(
        names
            .series
            .iter()
            .enumerate()
            .map(|(i, id)| format!("let {id} = x.u[{i}][l];")),
    );
    load_lines.extend(
        names
            .delays
            .iter()
            .enumerate()
            .map(|(i, id)| format!("let {id} = x.q[{i}][l];")),
    );
    load_lines.extend(
        names
            .couplings
            .iter()
            .enumerate()
            .map(|(i, id)| format!("let {id} = x.c[{i}][l];")),
    );
    load_lines.push("let n_nodes = x.nn;".to_string());
    load_lines.push("let step_dt = x.dt;".to_string());

    let mut derived_lines = Vec::new();
    let mut free_derived_lines = Vec::new();
    for &d in &info.derived_order {
        let derived = &m.derived[d];
        let line = format!(
            "let {} = {};",
            names.derived[d.index()],
            printer.expr(derived.expr)
        );
        derived_lines.push(format!("// {}", comment(&derived.name)));
        derived_lines.push(line.clone());
        if info.coupling_free[d.index()] {
            free_derived_lines.push(line);
        }
    }
    let mut k_lines = Vec::new();
    for (i, state) in m.states.values().enumerate() {
        k_lines.push(format!("// d/dt {}", comment(&state.name)));
        k_lines.push(format!("let k_{i} = {};", printer.expr(model.ode(i).rhs)));
    }
    let store_derived_lines = names
        .derived
        .iter()
        .enumerate()
        .map(|(k, id)| format!("out[{k}][l] = {id};"))
        .collect();
    let store_free_lines = names
        .derived
        .iter()
        .enumerate()
        .filter(|(k, _)| info.coupling_free[*k])
        .map(|(k, id)| format!("out[{k}][l] = {id};"))
        .collect();
    let buffered = info
        .buffered
        .iter()
        .map(|v| match v {
            VarRef::State(h) => Buffered {
                state: true,
                index: h.index(),
            },
            VarRef::Derived(h) => Buffered {
                state: false,
                index: h.index(),
            },
            _ => unreachable!("validated: buffered values are states or derived"),
        })
        .collect();
    let delays = m
        .delays
        .values()
        .zip(&info.delay_slot)
        .map(|(d, &slot)| DelayCtx {
            param: d.time.index(),
            slot,
        })
        .collect();
    let mut pre_loads = state_loads.clone();
    pre_loads.extend(param_loads.iter().cloned());
    pre_loads.extend(derived_loads.iter().cloned());
    let couplings = m
        .couplings
        .values()
        .zip(&info.coupling_slot)
        .map(|(c, &slot)| CouplingCtx {
            slot,
            pre_loads: pre_loads.clone(),
            pre: printer.expr(c.pre),
            post_loads: param_loads.clone(),
            post: printer.expr(c.post),
        })
        .collect();
    let noise_lines = info
        .noisy
        .iter()
        .enumerate()
        .map(|(q, &s)| {
            let g = m.states[Handle::from_index(s)]
                .noise
                .expect("noisy state has an amplitude");
            format!("g[{q}][l] = {};", printer.expr(g))
        })
        .collect();
    let states = m
        .states
        .values()
        .enumerate()
        .map(|(index, s)| {
            let q = info.noisy.iter().position(|&n| n == index);
            let (lo, hi) = s.bounds.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
            StateCtx {
                index,
                bounded: s.bounds.is_some(),
                lo: printer.lit(lo),
                hi: printer.lit(hi),
                noisy: q.is_some(),
                q: q.unwrap_or(0),
            }
        })
        .collect();
    let delays_rule = m.network.as_ref().map(|n| n.delays);
    let context = Context {
        version: env!("CARGO_PKG_VERSION"),
        abi_version: ABI_VERSION,
        model_name: comment(&m.name),
        model_hash: model.hash(),
        lanes,
        network: m.network.is_some(),
        history_zero: m.history == History::Zero,
        float: options.precision.rust(),
        hfloat: options.history.rust(),
        n_state: m.states.len(),
        n_param: m.params.len(),
        n_derived: m.derived.len(),
        n_series: m.series.len(),
        n_delay: m.delays.len(),
        n_coupling: m.couplings.len(),
        n_buffered: info.buffered.len(),
        n_noisy: info.noisy.len(),
        load_lines,
        derived_lines,
        free_derived_lines,
        k_lines,
        store_derived_lines,
        store_free_lines,
        derived_loads,
        states,
        buffered,
        delays,
        couplings,
        noise_lines,
        noisy: info.noisy.clone(),
        init_from: m
            .states
            .values()
            .enumerate()
            .filter_map(|(state, s)| match s.init_from {
                Some(VarRef::State(h)) => Some(InitFromCtx {
                    state,
                    from_state: true,
                    index: h.index(),
                }),
                Some(VarRef::Derived(h)) => Some(InitFromCtx {
                    state,
                    from_state: false,
                    index: h.index(),
                }),
                _ => None,
            })
            .collect(),
        inlined: inline
            .iter()
            .map(|&(index, v)| InlinedCtx {
                index,
                value: float_literal(v),
            })
            .collect(),
        edge_delay_loads: match delays_rule {
            Some(EdgeDelays::StepsPerDistance(_)) => param_loads.clone(),
            _ => Vec::new(),
        },
        edge_delay: match delays_rule {
            Some(EdgeDelays::Speed(speed)) => match inlined_value(speed.index()) {
                Some(v) => format!("delay_steps(dist / {}, dt)", float_literal(v)),
                None => format!("delay_steps(dist / (p[{}][l] as f64), dt)", speed.index()),
            },
            Some(EdgeDelays::StepsPerDistance(scale)) => {
                format!("whole_steps(dist * ({} as f64))", printer.expr(scale))
            }
            Some(EdgeDelays::Zero) | None => "0".to_string(),
        },
        prelude: PRELUDE.to_string(),
        vmath: VMATH.to_string(),
        fma: options.fast,
        pre_source_only: m.couplings.values().all(|c| reads_source_only(m, c.pre)),
        prefetch_ahead: std::env::var("RATEFORGE_PREFETCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2),
    };
    render("rust/kernel.rs.tera", KERNEL_TEMPLATE, &context, options)
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
            | Expr::Select(..) => {
                stack.extend(m.operands(x));
            }
            _ => return false,
        }
    }
    true
}

struct Printer<'a> {
    model: &'a ValidModel,
    names: &'a Names,
    precision: Precision,
    fast: bool,
    /// Parameters compiled in, with their values.
    inline: &'a [(usize, f64)],
}

impl Printer<'_> {
    /// A literal of the kernel's precision that reads back to `v` (rounded once for float32).
    fn lit(&self, v: f64) -> String {
        match self.precision {
            Precision::F64 => float_literal(v),
            Precision::F32 => {
                let x = v as f32;
                if x == f32::INFINITY {
                    "f32::INFINITY".to_string()
                } else if x == f32::NEG_INFINITY {
                    "f32::NEG_INFINITY".to_string()
                } else if x < 0.0 || x.is_sign_negative() {
                    format!("({x:?}_f32)")
                } else {
                    format!("{x:?}_f32")
                }
            }
        }
    }

    /// The value of an expression made of literals and compiled-in parameters (IR semantics).
    fn constant(&self, e: Handle<Expr>) -> Option<f64> {
        let m = self.model.model();
        match &m.exprs[e] {
            Expr::Lit(v) => Some(*v),
            Expr::Param(h) => self
                .inline
                .iter()
                .find(|(k, _)| *k == h.index())
                .map(|(_, v)| *v),
            Expr::Unary(op, a) => Some(op.apply(self.constant(*a)?)),
            Expr::Binary(op, a, b) => Some(op.apply(self.constant(*a)?, self.constant(*b)?)),
            Expr::Powi(a, n) => Some(rateforge_ir::powi(self.constant(*a)?, *n)),
            _ => None,
        }
    }

    /// The name of one of rateforge's own functions at the kernel's precision.
    fn own(&self, name: &str) -> String {
        match self.precision {
            Precision::F64 => name.to_string(),
            Precision::F32 => format!("{name}_f32"),
        }
    }

    fn expr(&self, e: Handle<Expr>) -> String {
        let m = self.model.model();
        match &m.exprs[e] {
            Expr::Lit(v) => self.lit(*v),
            Expr::Time => "t".to_string(),
            Expr::State(h) => self.names.var(VarRef::State(*h)).to_string(),
            Expr::Param(h) => self.names.var(VarRef::Param(*h)).to_string(),
            Expr::Derived(h) => self.names.var(VarRef::Derived(*h)).to_string(),
            Expr::Series(h) => self.names.var(VarRef::Series(*h)).to_string(),
            Expr::Delayed(h) => self.names.delays[h.index()].clone(),
            Expr::Coupling(h) => self.names.couplings[h.index()].clone(),
            Expr::CouplingSource => "cs".to_string(),
            Expr::CouplingSum => "gx".to_string(),
            Expr::NodeCount => "n_nodes".to_string(),
            Expr::StepSize => "step_dt".to_string(),
            Expr::Unary(op, a) => match op {
                UnOp::Neg => format!("(-{})", self.expr(*a)),
                UnOp::Not => format!("rf_b({} == 0.0)", self.expr(*a)),
            },
            Expr::Binary(op, a0, b0) => {
                // With FMA, `x*y + z` and `z + x*y` become one fused operation.
                if self.fast && *op == BinOp::Add {
                    if let Expr::Binary(BinOp::Mul, x, y) = &m.exprs[*a0] {
                        return format!(
                            "rf_fma({}, {}, {})",
                            self.expr(*x),
                            self.expr(*y),
                            self.expr(*b0)
                        );
                    }
                    if let Expr::Binary(BinOp::Mul, x, y) = &m.exprs[*b0] {
                        return format!(
                            "rf_fma({}, {}, {})",
                            self.expr(*x),
                            self.expr(*y),
                            self.expr(*a0)
                        );
                    }
                }
                // Fast: division by a constant becomes multiplication by its reciprocal.
                if self.fast
                    && *op == BinOp::Div
                    && let Some(c) = self.constant(*b0)
                    && c != 0.0
                    && (1.0 / c).is_finite()
                {
                    return format!("({} * {})", self.expr(*a0), self.lit(1.0 / c));
                }
                let (a, b) = (self.expr(*a0), self.expr(*b0));
                match op {
                    BinOp::Add => format!("({a} + {b})"),
                    BinOp::Sub => format!("({a} - {b})"),
                    BinOp::Mul => format!("({a} * {b})"),
                    BinOp::Div => format!("({a} / {b})"),
                    BinOp::Pow => format!("{a}.powf({b})"),
                    BinOp::Lt => format!("rf_b({a} < {b})"),
                    BinOp::Le => format!("rf_b({a} <= {b})"),
                    BinOp::Gt => format!("rf_b({a} > {b})"),
                    BinOp::Ge => format!("rf_b({a} >= {b})"),
                    BinOp::Eq => format!("rf_b({a} == {b})"),
                    BinOp::Ne => format!("rf_b({a} != {b})"),
                    BinOp::And => format!("rf_b(({a} != 0.0) & ({b} != 0.0))"),
                    BinOp::Or => format!("rf_b(({a} != 0.0) | ({b} != 0.0))"),
                }
            }
            Expr::Powi(a, n) => {
                // rateforge_ir::powi: left-to-right repeated multiplication.
                let x = self.expr(*a);
                if *n == 0 {
                    return self.lit(1.0);
                }
                let mut acc = "b".to_string();
                for _ in 1..n.unsigned_abs() {
                    acc = format!("({acc} * b)");
                }
                if *n < 0 {
                    format!("({{ let b = {x}; {} / {acc} }})", self.lit(1.0))
                } else {
                    format!("({{ let b = {x}; {acc} }})")
                }
            }
            Expr::Call(f, args) => {
                let a: Vec<String> = args.iter().map(|x| self.expr(*x)).collect();
                match f {
                    Builtin::Exp => format!("{}({})", self.own("rf_exp"), a[0]),
                    Builtin::Log => format!("{}({})", self.own("rf_log"), a[0]),
                    Builtin::Sqrt => format!("{}.sqrt()", a[0]),
                    Builtin::Sin => format!("{}({})", self.own("rf_sin"), a[0]),
                    Builtin::Cos => format!("{}({})", self.own("rf_cos"), a[0]),
                    Builtin::Tan => format!("{}.tan()", a[0]),
                    Builtin::Sinh => format!("{}.sinh()", a[0]),
                    Builtin::Cosh => format!("{}.cosh()", a[0]),
                    Builtin::Tanh => format!("{}({})", self.own("rf_tanh"), a[0]),
                    Builtin::Asin => format!("{}.asin()", a[0]),
                    Builtin::Acos => format!("{}.acos()", a[0]),
                    Builtin::Atan => format!("{}.atan()", a[0]),
                    Builtin::Abs => format!("{}.abs()", a[0]),
                    Builtin::Sign => format!("rf_sign({})", a[0]),
                    Builtin::Sigmoid => format!("{}({})", self.own("rf_sigmoid"), a[0]),
                    Builtin::Heaviside => format!("rf_heaviside({})", a[0]),
                    Builtin::Floor => format!("{}.floor()", a[0]),
                    Builtin::Ceil => format!("{}.ceil()", a[0]),
                    Builtin::Max => format!("{}.max({})", a[0], a[1]),
                    Builtin::Min => format!("{}.min({})", a[0], a[1]),
                }
            }
            Expr::Select(c, a, b) => {
                format!(
                    "(if {} != 0.0 {{ {} }} else {{ {} }})",
                    self.expr(*c),
                    self.expr(*a),
                    self.expr(*b)
                )
            }
        }
    }
}
