//! The CUDA backend: a model-specific CUDA C kernel (one thread per instance), compiled with
//! NVRTC at run time or by `nvcc` with the stand-alone driver, and as plain C++ with the CPU shim
//! for testing without a GPU.
//!
//! The skeleton lives in `kernel-templates/cuda/kernel.cu.tera`; this module prints C
//! expressions through an exhaustive match over [`Expr`] and names through the [`Namer`]. Every
//! operation is the reference evaluator's IEEE operation in the same order (no contraction into
//! FMA unless [`EmitOptions::fast`]), and `exp`, `log`, `sin`, `cos`, `tanh`, `sigmoid` are
//! rateforge's own functions (`kernel-templates/cuda/vmath.cuh`, the port of the Rust kernels'
//! `vmath.rs`), so CUDA results equal the CPU's.
//!
//! [`emit_driver`] prints the stand-alone sweep driver (`kernel-templates/cuda/driver.cu.tera`):
//! a CUDA C++ host program that includes the kernel and runs RateML-style sweeps. Model names
//! reach it only as [`c_name`] string literals and [`file_stem`] identifiers.

use crate::namer::{CUDA_RESERVED, Names, comment};
use crate::{EmitError, EmitOptions, Precision, render};
use rateforge_ir::{
    BinOp, Builtin, EdgeDelays, Expr, Handle, History, UnOp, ValidModel, VarRef, powi,
};
use serde::Serialize;

/// Version of the argument block between generated CUDA kernels and their drivers.
pub const CUDA_ABI_VERSION: u32 = 1;

const KERNEL_TEMPLATE: &str = include_str!("../../../../kernel-templates/cuda/kernel.cu.tera");
/// rateforge's elementary functions in C (pasted into every kernel).
pub const VMATH: &str = include_str!("../../../../kernel-templates/cuda/vmath.cuh");
/// Philox4x32-10 and the normal numbers in C (pasted into every kernel).
pub const RANDOM: &str = include_str!("../../../../kernel-templates/cuda/random.cuh");
/// The header that compiles a kernel (and the stand-alone driver) as C++ on the CPU.
pub const SHIM: &str = include_str!("../../../../kernel-templates/cuda/shim.h");
/// The launcher that follows the kernel in a CPU build (`rf_emulate`).
pub const SHIM_LAUNCH: &str = include_str!("../../../../kernel-templates/cuda/shim_launch.h");
const DRIVER_TEMPLATE: &str = include_str!("../../../../kernel-templates/cuda/driver.cu.tera");

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
    network: bool,
    history_zero: bool,
    float: &'static str,
    hfloat: &'static str,
    fma: u32,
    fma_fn: &'static str,
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
    noise_lines: Vec<String>,
    states: Vec<StateCtx>,
    buffered: Vec<Buffered>,
    delays: Vec<DelayCtx>,
    couplings: Vec<CouplingCtx>,
    init_from: Vec<InitFromCtx>,
    inlined: Vec<InlinedCtx>,
    /// States whose initial values are drawn from a range.
    ranged: Vec<RangedCtx>,
    /// The network's delay rule: "none", "speed" or "scale".
    edge_rule: &'static str,
    edge_speed: usize,
    edge_scale: String,
    scale_loads: Vec<String>,
    vmath: &'static str,
    random: &'static str,
}

#[derive(Serialize)]
struct RangedCtx {
    index: usize,
    lo: String,
    hi: String,
    bounded: bool,
    blo: String,
    bhi: String,
}

/// A C `double` literal that reads back to exactly `v`.
pub fn double_literal(v: f64) -> String {
    if v == f64::INFINITY {
        return "RF_FROM_U64(0x7ff0000000000000ULL)".to_string();
    }
    if v == f64::NEG_INFINITY {
        return "(-RF_FROM_U64(0x7ff0000000000000ULL))".to_string();
    }
    let text = format!("{v:?}");
    // Rust's shortest round-trip form is valid C (`1e-5`, `0.1`, `3.0`); C reads it correctly
    // rounded.
    if text.starts_with('-') {
        format!("({text})")
    } else {
        text
    }
}

/// A C `float` literal that reads back to `v` rounded to float32.
pub fn float_literal(v: f64) -> String {
    let x = v as f32;
    if x == f32::INFINITY {
        return "RF_FROM_U32(0x7f800000U)".to_string();
    }
    if x == f32::NEG_INFINITY {
        return "(-RF_FROM_U32(0x7f800000U))".to_string();
    }
    let mut text = format!("{x:?}");
    if !text.contains(['.', 'e', 'E']) {
        text.push_str(".0");
    }
    if text.starts_with('-') {
        format!("({text}f)")
    } else {
        format!("{text}f")
    }
}

/// Emits the CUDA C source of a validated model.
pub fn emit(model: &ValidModel, options: &EmitOptions) -> Result<String, EmitError> {
    let m = model.model();
    let info = model.info();
    let names = Names::new(model, CUDA_RESERVED);
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
        .map(|(i, id)| format!("F {id} = ys[{i}];"))
        .collect();
    let param_loads: Vec<String> = names
        .params
        .iter()
        .enumerate()
        .map(|(i, id)| match inlined_value(i) {
            Some(v) => format!("const F {id} = {};", printer.lit(v)),
            None => format!("F {id} = p[{i}];"),
        })
        .collect();
    let derived_loads: Vec<String> = names
        .derived
        .iter()
        .enumerate()
        .map(|(i, id)| format!("F {id} = d[{i}];"))
        .collect();
    let mut load_lines = state_loads.clone();
    load_lines.extend(param_loads.iter().cloned());
    load_lines.extend(
        names
            .series
            .iter()
            .enumerate()
            .map(|(i, id)| format!("F {id} = x->u[{i}];")),
    );
    load_lines.extend(
        names
            .delays
            .iter()
            .enumerate()
            .map(|(i, id)| format!("F {id} = x->q[{i}];")),
    );
    load_lines.extend(
        names
            .couplings
            .iter()
            .enumerate()
            .map(|(i, id)| format!("F {id} = x->c[{i}];")),
    );
    load_lines.push("F n_nodes = x->nn;".to_string());
    load_lines.push("F step_dt = x->dt;".to_string());
    // Silence unused-variable warnings of the loads without relying on compiler extensions.
    let mut touch = Vec::new();
    touch.extend(names.states.iter().cloned());
    touch.extend(names.params.iter().cloned());
    touch.extend(names.series.iter().cloned());
    touch.extend(names.delays.iter().cloned());
    touch.extend(names.couplings.iter().cloned());
    touch.push("n_nodes".into());
    touch.push("step_dt".into());
    touch.push("t".into());
    load_lines.push(
        touch
            .iter()
            .map(|id| format!("(void){id};"))
            .collect::<Vec<_>>()
            .join(" "),
    );

    let mut derived_lines = Vec::new();
    let mut free_derived_lines = Vec::new();
    for &d in &info.derived_order {
        let derived = &m.derived[d];
        let line = format!(
            "F {} = {}; (void){};",
            names.derived[d.index()],
            printer.expr(derived.expr),
            names.derived[d.index()]
        );
        derived_lines.push(format!("/* {} */", comment(&derived.name)));
        derived_lines.push(line.clone());
        if info.coupling_free[d.index()] {
            free_derived_lines.push(line);
        }
    }
    let mut k_lines = Vec::new();
    for (i, state) in m.states.values().enumerate() {
        k_lines.push(format!("/* d/dt {} */", comment(&state.name)));
        k_lines.push(format!("k[{i}] = {};", printer.expr(model.ode(i).rhs)));
    }
    let store_derived_lines = names
        .derived
        .iter()
        .enumerate()
        .map(|(k, id)| format!("out[{k}] = {id};"))
        .collect();
    let store_free_lines = names
        .derived
        .iter()
        .enumerate()
        .filter(|(k, _)| info.coupling_free[*k])
        .map(|(k, id)| format!("out[{k}] = {id};"))
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
    let mut pre_touch: Vec<String> = names.states.clone();
    pre_touch.extend(names.params.iter().cloned());
    pre_touch.extend(names.derived.iter().cloned());
    pre_touch.extend(["t", "n_nodes", "step_dt", "cs"].map(String::from));
    pre_loads.push(
        pre_touch
            .iter()
            .map(|id| format!("(void){id};"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let mut post_loads = param_loads.clone();
    let mut post_touch: Vec<String> = names.params.clone();
    post_touch.extend(["t", "n_nodes", "step_dt", "gx"].map(String::from));
    post_loads.push(
        post_touch
            .iter()
            .map(|id| format!("(void){id};"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let couplings = m
        .couplings
        .values()
        .zip(&info.coupling_slot)
        .map(|(c, &slot)| CouplingCtx {
            slot,
            pre_loads: pre_loads.clone(),
            pre: printer.expr(c.pre),
            post_loads: post_loads.clone(),
            post: printer.expr(c.post),
        })
        .collect();
    let mut noise_lines: Vec<String> = derived_loads
        .iter()
        .zip(&names.derived)
        .map(|(_, id)| format!("(void){id};"))
        .collect();
    noise_lines.extend(info.noisy.iter().enumerate().map(|(q, &s)| {
        let g = m.states[Handle::from_index(s)]
            .noise
            .expect("noisy state has an amplitude");
        format!("g[{q}] = {};", printer.expr(g))
    }));
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

    let context = Context {
        version: env!("CARGO_PKG_VERSION"),
        abi_version: CUDA_ABI_VERSION,
        model_name: comment(&m.name),
        model_hash: model.hash(),
        network: m.network.is_some(),
        history_zero: m.history == History::Zero,
        float: match options.precision {
            Precision::F64 => "double",
            Precision::F32 => "float",
        },
        hfloat: match options.history {
            Precision::F64 => "double",
            Precision::F32 => "float",
        },
        fma: u32::from(options.fast),
        fma_fn: match options.precision {
            Precision::F64 => "__fma_rn",
            Precision::F32 => "__fmaf_rn",
        },
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
        noise_lines,
        states,
        buffered,
        delays,
        couplings,
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
                value: double_literal(v),
            })
            .collect(),
        ranged: m
            .states
            .values()
            .enumerate()
            .filter_map(|(index, s)| {
                let (lo, hi) = s.init_range?;
                let (blo, bhi) = s.bounds.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
                Some(RangedCtx {
                    index,
                    lo: double_literal(lo),
                    hi: double_literal(hi),
                    bounded: s.bounds.is_some(),
                    blo: double_literal(blo),
                    bhi: double_literal(bhi),
                })
            })
            .collect(),
        edge_rule: match m.network.as_ref().map(|n| n.delays) {
            Some(EdgeDelays::Speed(_)) => "speed",
            Some(EdgeDelays::StepsPerDistance(_)) => "scale",
            Some(EdgeDelays::Zero) | None => "none",
        },
        edge_speed: match m.network.as_ref().map(|n| n.delays) {
            Some(EdgeDelays::Speed(p)) => p.index(),
            _ => 0,
        },
        edge_scale: match m.network.as_ref().map(|n| n.delays) {
            // Evaluated in double precision whatever the kernel's, as the evaluator does.
            Some(EdgeDelays::StepsPerDistance(e)) => Printer {
                model,
                names: &names,
                precision: Precision::F64,
                fast: false,
                inline: &[],
            }
            .expr(e),
            _ => String::new(),
        },
        scale_loads: names
            .params
            .iter()
            .enumerate()
            .map(|(k, id)| format!("F {id} = P[{k}ULL * st + i]; (void){id};"))
            .collect(),
        vmath: VMATH,
        random: RANDOM,
    };
    render("cuda/kernel.cu.tera", KERNEL_TEMPLATE, &context, options)
}

struct Printer<'a> {
    model: &'a ValidModel,
    names: &'a Names,
    precision: Precision,
    fast: bool,
    inline: &'a [(usize, f64)],
}

impl Printer<'_> {
    fn lit(&self, v: f64) -> String {
        match self.precision {
            Precision::F64 => double_literal(v),
            Precision::F32 => float_literal(v),
        }
    }

    /// One of rateforge's own functions at the kernel's precision.
    fn own(&self, name: &str) -> String {
        match self.precision {
            Precision::F64 => name.to_string(),
            Precision::F32 => format!("{name}_f32"),
        }
    }

    /// A device math function of the platform at the kernel's precision (`sinh`, `sinhf`).
    fn libm(&self, name: &str) -> String {
        match self.precision {
            Precision::F64 => name.to_string(),
            Precision::F32 => format!("{name}f"),
        }
    }

    /// The value of an expression of literals and compiled-in parameters (IR semantics).
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
            Expr::Powi(a, n) => Some(powi(self.constant(*a)?, *n)),
            _ => None,
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
                UnOp::Not => format!("rf_b({} == (F)0)", self.expr(*a)),
            },
            Expr::Binary(op, a0, b0) => {
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
                    BinOp::Pow => format!("{}({a}, {b})", self.libm("pow")),
                    BinOp::Lt => format!("rf_b({a} < {b})"),
                    BinOp::Le => format!("rf_b({a} <= {b})"),
                    BinOp::Gt => format!("rf_b({a} > {b})"),
                    BinOp::Ge => format!("rf_b({a} >= {b})"),
                    BinOp::Eq => format!("rf_b({a} == {b})"),
                    BinOp::Ne => format!("rf_b({a} != {b})"),
                    BinOp::And => format!("rf_b(({a} != (F)0) && ({b} != (F)0))"),
                    BinOp::Or => format!("rf_b(({a} != (F)0) || ({b} != (F)0))"),
                }
            }
            Expr::Powi(a, n) => format!("rf_powi({}, {n})", self.expr(*a)),
            Expr::Call(f, args) => {
                let a: Vec<String> = args.iter().map(|x| self.expr(*x)).collect();
                match f {
                    Builtin::Exp => format!("{}({})", self.own("rf_exp"), a[0]),
                    Builtin::Log => format!("{}({})", self.own("rf_log"), a[0]),
                    Builtin::Sqrt => format!("RF_SQRT({})", a[0]),
                    Builtin::Sin => format!("{}({})", self.own("rf_sin"), a[0]),
                    Builtin::Cos => format!("{}({})", self.own("rf_cos"), a[0]),
                    Builtin::Tan => format!("{}({})", self.libm("tan"), a[0]),
                    Builtin::Sinh => format!("{}({})", self.libm("sinh"), a[0]),
                    Builtin::Cosh => format!("{}({})", self.libm("cosh"), a[0]),
                    Builtin::Tanh => format!("{}({})", self.own("rf_tanh"), a[0]),
                    Builtin::Asin => format!("{}({})", self.libm("asin"), a[0]),
                    Builtin::Acos => format!("{}({})", self.libm("acos"), a[0]),
                    Builtin::Atan => format!("{}({})", self.libm("atan"), a[0]),
                    Builtin::Abs => format!("{}({})", self.libm("fabs"), a[0]),
                    Builtin::Sign => format!("rf_sign({})", a[0]),
                    Builtin::Sigmoid => format!("{}({})", self.own("rf_sigmoid"), a[0]),
                    Builtin::Heaviside => format!("rf_heaviside({})", a[0]),
                    Builtin::Floor => format!("{}({})", self.libm("floor"), a[0]),
                    Builtin::Ceil => format!("{}({})", self.libm("ceil"), a[0]),
                    Builtin::Max => format!("{}({}, {})", self.libm("fmax"), a[0], a[1]),
                    Builtin::Min => format!("{}({}, {})", self.libm("fmin"), a[0], a[1]),
                }
            }
            Expr::Select(c, a, b) => format!(
                "({} != (F)0 ? {} : {})",
                self.expr(*c),
                self.expr(*a),
                self.expr(*b)
            ),
        }
    }
}

/// What the stand-alone driver needs beyond the model.
#[derive(Clone, Debug)]
pub struct DriverSpec {
    /// The program's name (a C identifier: letters, digits, `_`), also the stem of its files.
    pub name: String,
    /// The kernel's file name, included by the driver.
    pub kernel_file: String,
    /// The parameters the model declares as swept: (parameter index, lo, hi).
    pub axes: Vec<(usize, f64, f64)>,
    /// What is recorded: ids below the number of states are states, the others derived values.
    pub record: Vec<u32>,
}

#[derive(Serialize)]
struct NamedValue {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct DriverAxis {
    name: String,
    param: usize,
    lo: String,
    hi: String,
}

#[derive(Serialize)]
struct DriverRecord {
    id: u32,
    name: String,
}

#[derive(Serialize)]
struct DriverContext {
    version: &'static str,
    model_name: String,
    model_name_c: String,
    model_hash: String,
    name: String,
    kernel_file: String,
    params: Vec<NamedValue>,
    states: Vec<NamedValue>,
    axes: Vec<DriverAxis>,
    record: Vec<DriverRecord>,
    delay_params: Vec<usize>,
    solver: u32,
    dt: String,
    n_steps: u64,
}

/// A model name as a C string literal that is also valid JSON text: characters outside a
/// conservative set become `_`, so no user text can end the string or form an escape.
pub fn c_name(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _./->:+,()=[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("\"{safe}\"")
}

/// A file or program name: letters, digits and `_` only.
pub fn file_stem(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "model".to_string() } else { s }
}

/// Emits the stand-alone sweep driver: a CUDA C++ host program (runtime API) that includes the
/// kernel file, takes RateML-style arguments and writes `.npy` files (see the template's header).
pub fn emit_driver(
    model: &ValidModel,
    options: &EmitOptions,
    spec: &DriverSpec,
) -> Result<String, EmitError> {
    let m = model.model();
    let ns = m.states.len();
    let var_name = |id: u32| -> String {
        let id = id as usize;
        if id < ns {
            m.states[Handle::from_index(id)].name.clone()
        } else {
            m.derived[Handle::from_index(id - ns)].name.clone()
        }
    };
    let context = DriverContext {
        version: env!("CARGO_PKG_VERSION"),
        model_name: comment(&m.name),
        model_name_c: c_name(&m.name),
        model_hash: model.hash(),
        name: file_stem(&spec.name),
        kernel_file: file_stem(spec.kernel_file.trim_end_matches(".cu")) + ".cu",
        params: m
            .params
            .values()
            .map(|p| NamedValue {
                name: c_name(&p.name),
                value: double_literal(p.value),
            })
            .collect(),
        states: m
            .states
            .values()
            .map(|s| NamedValue {
                name: c_name(&s.name),
                value: double_literal(s.init),
            })
            .collect(),
        axes: spec
            .axes
            .iter()
            .filter(|(k, _, _)| *k < m.params.len())
            .map(|&(k, lo, hi)| DriverAxis {
                name: c_name(&m.params[Handle::from_index(k)].name),
                param: k,
                lo: double_literal(lo),
                hi: double_literal(hi),
            })
            .collect(),
        record: spec
            .record
            .iter()
            .filter(|&&id| (id as usize) < ns + m.derived.len())
            .map(|&id| DriverRecord {
                id,
                name: c_name(&var_name(id)),
            })
            .collect(),
        delay_params: m.delays.values().map(|d| d.time.index()).collect(),
        solver: 1,
        dt: double_literal(0.1),
        n_steps: 1000,
    };
    render("cuda/driver.cu.tera", DRIVER_TEMPLATE, &context, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_their_string_or_identifier() {
        assert_eq!(c_name("p/qif_op/eta"), "\"p/qif_op/eta\"");
        assert_eq!(
            c_name("mpr_op/r->mpr_op/c_r/a"),
            "\"mpr_op/r->mpr_op/c_r/a\""
        );
        // Quotes, backslashes, newlines, `%` and non-ASCII become `_`.
        assert_eq!(
            c_name("x\"); system(\"rm -rf /\\\n%n\u{e9}"),
            "\"x_)_ system(_rm -rf /___n_\""
        );
        assert_eq!(file_stem("JRC delay.v2"), "JRC_delay_v2");
        assert_eq!(file_stem(""), "model");
        assert_eq!(file_stem("a;b`c"), "a_b_c");
    }
}
