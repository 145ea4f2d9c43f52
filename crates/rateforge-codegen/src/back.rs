//! What the emitters share (after naga's `back/`): printing plan expressions and the template
//! context every kernel skeleton reads. A language is a [`Syntax`]: how it writes a literal, a
//! call of a platform function, a power, a choice, a binding and an array element. Everything else
//! (what is computed, in which order, which operations fuse) comes from the [`KernelPlan`].

use crate::Precision;
use crate::namer::{Names, comment};
use crate::plan::{Buffered, EdgeDelayRule, ExprId, KernelPlan, N_STATS, Operand, PExpr};
use rateforge_ir::{BinOp, Builtin};
use serde::Serialize;

/// The arrays a kernel's model functions read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Array {
    /// This node's states (`ys`).
    States,
    /// The instance's parameters (`p`).
    Params,
    /// This node's derived values (`d`), as read by noise amplitudes and coupling `pre`s.
    Derived,
    /// The derived values written out (`out`).
    Out,
    /// The noise amplitudes written out (`g`).
    Noise,
}

impl Array {
    fn name(self) -> &'static str {
        match self {
            Array::States => "ys",
            Array::Params => "p",
            Array::Derived => "d",
            Array::Out => "out",
            Array::Noise => "g",
        }
    }
}

/// The inputs of a node that are constant within a step (fields of the `x` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// Series values (`u`).
    Series,
    /// Delayed values (`q`).
    Delayed,
    /// Coupling terms (`c`).
    Coupling,
}

impl Input {
    fn name(self) -> &'static str {
        match self {
            Input::Series => "u",
            Input::Delayed => "q",
            Input::Coupling => "c",
        }
    }
}

/// How a target language writes what the plan computes.
pub(crate) trait Syntax {
    /// A literal of precision `p` that reads back to `v` rounded once to `p`.
    fn lit(&self, v: f64, p: Precision) -> String;
    /// The zero of the kernel's arithmetic type, for truth tests.
    fn zero(&self) -> &'static str;
    /// The non-short-circuiting (or short-circuiting: both operands are pure) logical operator.
    fn logic(&self, op: BinOp) -> &'static str;
    /// `a` to the power `b` (the platform's `pow`).
    fn pow(&self, a: &str, b: &str, p: Precision) -> String;
    /// `a` to the small integer power `n` by left-to-right multiplication.
    fn powi(&self, a: &str, n: i32, p: Precision) -> String;
    /// A call of a platform function ([`platform`]: `sqrt`, `tan`, `sinh`, ..., `max`, `min`).
    fn platform_call(&self, f: Platform, args: &[String], p: Precision) -> String;
    /// `if c != 0 { a } else { b }`.
    fn select(&self, c: &str, a: &str, b: &str) -> String;
    /// A local bound to a value.
    fn bind(&self, name: &str, value: &str) -> String;
    /// Binds an intermediate value of an expression to `name` (a statement).
    fn temporary(&self, name: &str, value: &str, p: Precision) -> String;
    /// An expression that runs the statements `lines`, then gives `value`.
    fn block(&self, lines: &[String], value: &str, p: Precision) -> String;
    /// A local bound to a compiled-in constant of the kernel's type.
    fn bind_const(&self, name: &str, value: &str) -> String;
    /// Element `index` of a model array, for the current lane or thread.
    fn element(&self, array: &str, index: usize) -> String;
    /// Element `index` of an input of the step.
    fn input(&self, input: &str, index: usize) -> String;
    /// A scalar field of the step's inputs (`nn`, `dt`).
    fn input_field(&self, field: &str) -> String;
    /// A one-line comment.
    fn comment(&self, text: &str) -> String;
    /// The statement that stores the right-hand side of state `index`.
    fn rhs(&self, index: usize, value: &str) -> String;
    /// The name of the arithmetic type of precision `p`.
    fn float_type(&self, p: Precision) -> &'static str;
}

/// A platform function: its name as a Rust method and in C (whose float32 variant, where it has
/// one, takes the suffix `f`).
pub(crate) struct Platform {
    pub method: &'static str,
    pub c: &'static str,
    pub c_float_suffix: bool,
}

/// The platform function of a built-in that is not one of rateforge's own.
pub(crate) fn platform(f: Builtin) -> Platform {
    let (method, c, c_float_suffix) = match f {
        Builtin::Sqrt => ("sqrt", "RF_SQRT", false),
        Builtin::Tan => ("tan", "tan", true),
        Builtin::Sinh => ("sinh", "sinh", true),
        Builtin::Cosh => ("cosh", "cosh", true),
        Builtin::Asin => ("asin", "asin", true),
        Builtin::Acos => ("acos", "acos", true),
        Builtin::Atan => ("atan", "atan", true),
        Builtin::Abs => ("abs", "fabs", true),
        Builtin::Floor => ("floor", "floor", true),
        Builtin::Ceil => ("ceil", "ceil", true),
        Builtin::Max => ("max", "fmax", true),
        Builtin::Min => ("min", "fmin", true),
        Builtin::Exp
        | Builtin::Log
        | Builtin::Sin
        | Builtin::Cos
        | Builtin::Tanh
        | Builtin::Sigmoid
        | Builtin::Sign
        | Builtin::Heaviside => unreachable!("rateforge's own function {f:?}"),
    };
    Platform {
        method,
        c,
        c_float_suffix,
    }
}

/// rateforge's own functions (vmath and the helpers of every kernel), the same name in every
/// language: `rf_exp` in float64, `rf_exp_f32` in float32.
fn own_function(f: Builtin) -> Option<(&'static str, bool)> {
    // (name, has a float32 variant)
    match f {
        Builtin::Exp => Some(("rf_exp", true)),
        Builtin::Log => Some(("rf_log", true)),
        Builtin::Sin => Some(("rf_sin", true)),
        Builtin::Cos => Some(("rf_cos", true)),
        Builtin::Tanh => Some(("rf_tanh", true)),
        Builtin::Sigmoid => Some(("rf_sigmoid", true)),
        Builtin::Sign => Some(("rf_sign", false)),
        Builtin::Heaviside => Some(("rf_heaviside", false)),
        Builtin::Sqrt
        | Builtin::Tan
        | Builtin::Sinh
        | Builtin::Cosh
        | Builtin::Asin
        | Builtin::Acos
        | Builtin::Atan
        | Builtin::Abs
        | Builtin::Floor
        | Builtin::Ceil
        | Builtin::Max
        | Builtin::Min => None,
    }
}

/// The deepest nesting of operations in one printed expression; deeper ones are cut into
/// temporaries (see [`Printer::expr`]).
pub(crate) const MAX_NESTING: usize = 32;

/// The printer of one expression group: the arena, its precision, and the names of values.
pub(crate) struct Printer<'a> {
    pub syntax: &'a dyn Syntax,
    pub names: &'a Names,
    pub exprs: &'a [PExpr],
    pub precision: Precision,
}

impl Printer<'_> {
    fn operand(&self, o: Operand) -> String {
        let n = self.names;
        match o {
            Operand::Time => "t".to_string(),
            Operand::State(i) => n.states[i].clone(),
            Operand::Param(i) => n.params[i].clone(),
            Operand::Derived(i) => n.derived[i].clone(),
            Operand::Series(i) => n.series[i].clone(),
            Operand::Delayed(i) => n.delays[i].clone(),
            Operand::Coupling(i) => n.couplings[i].clone(),
            Operand::CouplingSource => "cs".to_string(),
            Operand::CouplingSum => "gx".to_string(),
            Operand::NodeCount => "n_nodes".to_string(),
            Operand::StepSize => "step_dt".to_string(),
        }
    }

    /// One node, its operands printed (in evaluation order) in `a`.
    fn node(&self, e: &PExpr, a: &[String]) -> String {
        let s = self.syntax;
        let p = self.precision;
        match e {
            PExpr::Lit(v) => s.lit(*v, p),
            PExpr::Operand(o) => self.operand(*o),
            PExpr::Neg(_) => format!("(-{})", a[0]),
            PExpr::Not(_) => format!("rf_b({} == {})", a[0], s.zero()),
            PExpr::Binary(op, ..) => {
                let (x, y) = (&a[0], &a[1]);
                match op {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                        format!("({x} {} {y})", op.symbol())
                    }
                    BinOp::Pow => s.pow(x, y, p),
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                        format!("rf_b({x} {} {y})", op.symbol())
                    }
                    BinOp::And | BinOp::Or => {
                        let z = s.zero();
                        format!("rf_b(({x} != {z}) {} ({y} != {z}))", s.logic(*op))
                    }
                }
            }
            PExpr::Fma(..) => format!("rf_fma({}, {}, {})", a[0], a[1], a[2]),
            PExpr::Powi(_, n) => s.powi(&a[0], *n, p),
            PExpr::Call(f, _) => match own_function(*f) {
                Some((name, true)) if p == Precision::F32 => format!("{name}_f32({})", a[0]),
                Some((name, _)) => format!("{name}({})", a[0]),
                None => s.platform_call(platform(*f), a, p),
            },
            PExpr::Select(..) => s.select(&a[0], &a[1], &a[2]),
        }
    }

    /// The text of expression `root`, printed children first with an explicit stack (no
    /// recursion, whatever the depth).
    ///
    /// Compilers parse nested expressions recursively and give up (rustc overflows its stack) on a
    /// sum of a few thousand terms, so no printed expression nests deeper than [`MAX_NESTING`]:
    /// a subexpression that reaches it is bound to a temporary (`rf_t0`, `rf_t1`, ... in the
    /// order they are computed) and the whole becomes a block that binds them and then gives the
    /// value. The operations and their order are the same, so are the results.
    pub fn expr(&self, root: ExprId) -> String {
        // Each printed node: its text and how deeply it nests.
        let mut text: Vec<Option<(String, usize)>> = vec![None; root + 1];
        let mut temps: Vec<String> = Vec::new();
        let mut stack = vec![(root, false)];
        while let Some((e, children_done)) = stack.pop() {
            if text[e].is_some() {
                continue;
            }
            let node = &self.exprs[e];
            if !children_done {
                stack.push((e, true));
                stack.extend(
                    node.operands()
                        .into_iter()
                        .filter(|&op| text[op].is_none())
                        .map(|op| (op, false)),
                );
                continue;
            }
            let mut depth = 0;
            let args: Vec<String> = node
                .operands()
                .iter()
                .map(|&op| {
                    let (t, d) = text[op].as_ref().expect("operands are printed first");
                    depth = depth.max(d + 1);
                    t.clone()
                })
                .collect();
            let printed = self.node(node, &args);
            text[e] = Some(if depth >= MAX_NESTING && e != root {
                let name = format!("rf_t{}", temps.len());
                temps.push(self.syntax.temporary(&name, &printed, self.precision));
                (name, 0)
            } else {
                (printed, depth)
            });
        }
        let (value, _) = text[root].take().expect("the root is printed");
        if temps.is_empty() {
            value
        } else {
            self.syntax.block(&temps, &value, self.precision)
        }
    }
}

/// A state's update rules as the skeletons use them.
#[derive(Serialize)]
pub(crate) struct StateCtx {
    pub index: usize,
    pub bounded: bool,
    pub lo: String,
    pub hi: String,
    pub noisy: bool,
    pub q: usize,
}

#[derive(Serialize)]
pub(crate) struct BufferedCtx {
    pub state: bool,
    pub index: usize,
}

#[derive(Serialize)]
pub(crate) struct DelayCtx {
    pub param: usize,
    pub slot: usize,
}

#[derive(Serialize)]
pub(crate) struct CouplingCtx {
    pub index: usize,
    pub slot: usize,
    pub pre_loads: Vec<String>,
    pub pre: String,
    pub post_loads: Vec<String>,
    pub post: String,
}

#[derive(Serialize)]
pub(crate) struct InitFromCtx {
    pub state: usize,
    pub from_state: bool,
    pub index: usize,
}

#[derive(Serialize)]
pub(crate) struct InlinedCtx {
    pub index: usize,
    pub value: String,
}

/// The template context both skeletons read: the model's functions as lines of the target
/// language, and the plan's tables.
#[derive(Serialize)]
pub(crate) struct Common {
    pub version: &'static str,
    pub model_name: String,
    pub model_hash: String,
    pub network: bool,
    pub history_zero: bool,
    pub float: &'static str,
    pub hfloat: &'static str,
    pub fma: bool,
    pub n_state: usize,
    pub n_param: usize,
    pub n_derived: usize,
    pub n_series: usize,
    pub n_delay: usize,
    pub n_coupling: usize,
    pub n_buffered: usize,
    pub n_noisy: usize,
    pub n_stats: usize,
    /// Binds, for one lane or thread, this node's states, the parameters, series, delayed
    /// values, couplings, `n_nodes` and `step_dt`.
    pub load_lines: Vec<String>,
    /// Every derived value, in evaluation order.
    pub derived_lines: Vec<String>,
    /// The derived values that depend on no delay or coupling.
    pub free_derived_lines: Vec<String>,
    /// The right-hand side of every state.
    pub k_lines: Vec<String>,
    /// Stores every derived value into `out`.
    pub store_derived_lines: Vec<String>,
    /// Stores the coupling-free derived values into `out`.
    pub store_free_lines: Vec<String>,
    /// Binds this node's derived values from `d`.
    pub derived_loads: Vec<String>,
    /// Stores the noise amplitudes into `g`.
    pub noise_lines: Vec<String>,
    pub states: Vec<StateCtx>,
    pub buffered: Vec<BufferedCtx>,
    pub delays: Vec<DelayCtx>,
    /// The couplings the kernel computes (by model index; the others stay zero).
    pub couplings: Vec<CouplingCtx>,
    /// Record ids of the derived values the kernel does not compute (they read a coupling
    /// gated off by a compiled-in zero).
    pub uncomputed: Vec<usize>,
    pub noisy: Vec<usize>,
    pub init_from: Vec<InitFromCtx>,
    /// Parameters compiled in, their values as float64 literals.
    pub inlined: Vec<InlinedCtx>,
    /// Binds every parameter from the float64 parameter array `p64` (edge delays are set up in
    /// float64 whatever the kernel's precision).
    pub host_param_loads: Vec<String>,
    /// The network's delay rule: "none", "speed" or "scale".
    pub edge_rule: &'static str,
    /// The speed parameter of rule "speed".
    pub edge_speed: usize,
    /// Its value when compiled in, as a float64 literal (empty otherwise).
    pub edge_speed_inlined: String,
    /// Steps per unit of distance of rule "scale" (a float64 expression).
    pub edge_scale: String,
    pub pre_source_only: bool,
}

impl Common {
    /// The shared context of a plan written in `syntax`, its values named by `names`.
    pub fn new(plan: &KernelPlan, names: &Names, syntax: &dyn Syntax) -> Common {
        let kernel = Printer {
            syntax,
            names,
            exprs: &plan.exprs,
            precision: plan.precision,
        };
        let host = Printer {
            syntax,
            names,
            exprs: &plan.host_exprs,
            precision: Precision::F64,
        };
        let s = syntax;
        let state_loads: Vec<String> = names
            .states
            .iter()
            .enumerate()
            .map(|(i, id)| s.bind(id, &s.element(Array::States.name(), i)))
            .collect();
        let param_loads: Vec<String> = names
            .params
            .iter()
            .enumerate()
            .map(|(i, id)| match plan.inlined(i) {
                Some(v) => s.bind_const(id, &s.lit(v, plan.precision)),
                None => s.bind(id, &s.element(Array::Params.name(), i)),
            })
            .collect();
        let derived_loads: Vec<String> = names
            .derived
            .iter()
            .enumerate()
            .map(|(i, id)| s.bind(id, &s.element(Array::Derived.name(), i)))
            .collect();
        let inputs = |ids: &[String], input: Input| -> Vec<String> {
            ids.iter()
                .enumerate()
                .map(|(i, id)| s.bind(id, &s.input(input.name(), i)))
                .collect()
        };
        let mut load_lines = state_loads.clone();
        load_lines.extend(param_loads.iter().cloned());
        load_lines.extend(inputs(&names.series, Input::Series));
        load_lines.extend(inputs(&names.delays, Input::Delayed));
        load_lines.extend(inputs(&names.couplings, Input::Coupling));
        load_lines.push(s.bind("n_nodes", &s.input_field("nn")));
        load_lines.push(s.bind("step_dt", &s.input_field("dt")));

        let mut derived_lines = Vec::new();
        let mut free_derived_lines = Vec::new();
        for d in &plan.derived {
            let line = s.bind(&names.derived[d.index], &kernel.expr(d.expr));
            derived_lines.push(s.comment(&comment(&d.name)));
            derived_lines.push(line.clone());
            if d.coupling_free {
                free_derived_lines.push(line);
            }
        }
        let mut k_lines = Vec::new();
        for (i, st) in plan.states.iter().enumerate() {
            k_lines.push(s.comment(&format!("d/dt {}", comment(&st.name))));
            k_lines.push(s.rhs(i, &kernel.expr(st.rhs)));
        }
        let store = |array: Array, k: usize, value: &str| {
            format!("{} = {value};", s.element(array.name(), k))
        };
        let store_derived_lines = names
            .derived
            .iter()
            .enumerate()
            .map(|(k, id)| store(Array::Out, k, id))
            .collect();
        let free: Vec<bool> = {
            let mut f = vec![false; plan.n_derived];
            for d in &plan.derived {
                f[d.index] = d.coupling_free;
            }
            f
        };
        let store_free_lines = names
            .derived
            .iter()
            .enumerate()
            .filter(|(k, _)| free[*k])
            .map(|(k, id)| store(Array::Out, k, id))
            .collect();
        let noise_lines = plan
            .noise
            .iter()
            .enumerate()
            .map(|(q, &(_, g))| store(Array::Noise, q, &kernel.expr(g)))
            .collect();
        let mut pre_loads = state_loads;
        pre_loads.extend(param_loads.iter().cloned());
        pre_loads.extend(derived_loads.iter().cloned());
        let couplings = plan
            .couplings
            .iter()
            .map(|c| CouplingCtx {
                index: c.index,
                slot: c.slot,
                pre_loads: pre_loads.clone(),
                pre: kernel.expr(c.pre),
                post_loads: param_loads.clone(),
                post: kernel.expr(c.post),
            })
            .collect();
        let lit = |v: f64| s.lit(v, plan.precision);
        let states = plan
            .states
            .iter()
            .enumerate()
            .map(|(index, st)| {
                let (lo, hi) = st.bounds.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
                StateCtx {
                    index,
                    bounded: st.bounds.is_some(),
                    lo: lit(lo),
                    hi: lit(hi),
                    noisy: st.noise_slot.is_some(),
                    q: st.noise_slot.unwrap_or(0),
                }
            })
            .collect();
        let buffered_ctx = |b: Buffered| match b {
            Buffered::State(index) => BufferedCtx { state: true, index },
            Buffered::Derived(index) => BufferedCtx {
                state: false,
                index,
            },
        };
        let (edge_rule, edge_speed, edge_speed_inlined, edge_scale) = match plan.edge_delays {
            EdgeDelayRule::None => ("none", 0, String::new(), String::new()),
            EdgeDelayRule::Speed { param, inlined } => (
                "speed",
                param,
                inlined.map_or_else(String::new, |v| s.lit(v, Precision::F64)),
                String::new(),
            ),
            EdgeDelayRule::Scale { expr } => ("scale", 0, String::new(), host.expr(expr)),
        };
        Common {
            version: env!("CARGO_PKG_VERSION"),
            model_name: comment(&plan.model_name),
            model_hash: plan.model_hash.clone(),
            network: plan.network,
            history_zero: plan.history_zero,
            float: s.float_type(plan.precision),
            hfloat: s.float_type(plan.history),
            fma: plan.fast,
            n_state: plan.states.len(),
            n_param: plan.n_param,
            n_derived: plan.n_derived,
            n_series: plan.n_series,
            n_delay: plan.delays.len(),
            n_coupling: plan.n_coupling,
            n_buffered: plan.buffered.len(),
            n_noisy: plan.noise.len(),
            n_stats: N_STATS,
            load_lines,
            derived_lines,
            free_derived_lines,
            k_lines,
            store_derived_lines,
            store_free_lines,
            derived_loads,
            noise_lines,
            states,
            buffered: plan.buffered.iter().map(|&b| buffered_ctx(b)).collect(),
            delays: plan
                .delays
                .iter()
                .map(|d| DelayCtx {
                    param: d.param,
                    slot: d.slot,
                })
                .collect(),
            couplings,
            uncomputed: plan.uncomputed.clone(),
            noisy: plan.noise.iter().map(|&(s, _)| s).collect(),
            init_from: plan
                .init_from
                .iter()
                .map(|i| {
                    let b = buffered_ctx(i.from);
                    InitFromCtx {
                        state: i.state,
                        from_state: b.state,
                        index: b.index,
                    }
                })
                .collect(),
            inlined: plan
                .inline
                .iter()
                .map(|&(index, v)| InlinedCtx {
                    index,
                    value: s.lit(v, Precision::F64),
                })
                .collect(),
            host_param_loads: names
                .params
                .iter()
                .enumerate()
                .map(|(i, id)| s.bind(id, &s.element("p64", i)))
                .collect(),
            edge_rule,
            edge_speed,
            edge_speed_inlined,
            edge_scale,
            pre_source_only: plan.pre_source_only,
        }
    }
}
