//! # The rateforge intermediate representation
//!
//! This crate's documentation is the specification of the IR. Every frontend (PyRates-style YAML,
//! RateML XML) lowers into it, [`validate`] checks it, and every backend (the reference evaluator in
//! [`eval`], the generated Rust and CUDA kernels) implements exactly the semantics written here.
//!
//! ## What a model is
//!
//! A [`Model`] describes one **node**: a flat system of scalar, first-order ordinary (or
//! stochastic) differential equations with algebraic side equations. A PyRates circuit (nodes,
//! operators, edges) is flattened into one node whose variables carry their full path as name
//! (`pc/rpo_e_in/v`, `jrc1/pc/pro/m`). Vector-valued variables are scalarised by the frontend
//! (`a[0]`, `a[1]`, ...), so every value in the IR is one `f64`.
//!
//! A model may also declare a **network** ([`Model::network`]): then a run simulates `N` identical
//! copies of the node, `N` and the connectivity (weights and distances, row = target, column =
//! source) being given at run time, coupled through [`Coupling`] terms. Without a network, `N = 1`.
//!
//! There are these kinds of value, each one per node (and per instance of a sweep):
//!
//! * **State** ([`State`]): integrated by the solver. It has an initial value, exactly one
//!   right-hand side ([`Ode`]), optionally bounds (clamped after every stage) and optionally a
//!   noise amplitude.
//! * **Parameter** ([`Param`]): a constant for the duration of a run, one value per instance (the
//!   same in every node). Model constants, unconnected PyRates inputs, edge weights and delays and
//!   the conduction speed are all parameters; whether a parameter is swept or inlined is decided by
//!   backend options, never here.
//! * **Derived** ([`Derived`]): an algebraic variable `x = expr`, recomputed at every evaluation of
//!   the right-hand side. Derived variables may use each other, but never in a cycle.
//! * **Series** ([`Series`]): an external time series supplied at run time (one value per step,
//!   held constant within the step; one column shared, or one per node or per instance).
//! * **Time** ([`Expr::Time`]): the time of the solver stage being evaluated.
//! * **Delayed value** ([`Expr::Delayed`] of a [`Delay`]): the value a state or derived variable of
//!   the same node had `d = round_half_even(delay / dt)` steps before the current step's start.
//! * **Coupling** ([`Expr::Coupling`]): the value of a network coupling term at this node.
//! * **Node count** ([`Expr::NodeCount`]): `N` (TVB's Kuramoto coupling divides by it).
//! * **Step size** ([`Expr::StepSize`]): the run's `dt` (RateML writes it in derived parameters).
//!
//! Values may carry a **unit** ([`Model::units`], by path, as the model file documents it:
//! `{default: 0.01, unit: Hz}`). Units are documentation for outputs (metadata, plot axes): they
//! change no computation and no check.
//!
//! Expressions ([`Expr`]) live in one flat arena ([`Model::exprs`]) and refer to each other and to
//! variables through typed [`Handle`]s. Every expression and variable keeps a [`Span`] into the model
//! file it came from, so diagnostics raised at any stage can point at the user's text.
//!
//! ## Evaluation of the vector field
//!
//! `f(t, y)` of one node is evaluated as:
//! 1. every derived variable, in the dependency order computed by [`validate`] (ties broken by
//!    declaration order, so the order is deterministic);
//! 2. every ODE right-hand side, in state order.
//!
//! Delayed values, couplings and series values are constant within a step (below). Within one
//! expression the evaluation is the plain recursive one; operands are evaluated left before
//! right. Floating-point operations are IEEE-754 double precision, one rounding per operation,
//! never contracted into fused multiply-adds unless a backend option says so. The semantics of
//! each operator and built-in function is given on [`BinOp`], [`UnOp`] and [`Builtin`];
//! `Expr::Powi(x, n)` is `x` multiplied by itself by the fixed algorithm of [`powi`], so every
//! backend rounds identically.
//!
//! ## Networks and couplings
//!
//! The connectivity is a list of edges `(i <- j, w_ij, l_ij)` per target node `i`, in increasing
//! source order `j`; edges with `w_ij = 0` are absent. A coupling ([`Coupling`]) has a source
//! variable `x` (TVB's `cvar`), a `pre` expression and a `post` expression; at node `i` its value
//! is
//!
//! ```text
//! gx_i = sum over edges (i <- j) of  w_ij * pre(x_j(t_n - d_ij), node i at t_n)
//! c_i  = post(gx_i)
//! ```
//!
//! summed left to right in increasing `j`, with `d_ij` steps given by [`Network::delays`]:
//! `round_half_even((l_ij / speed) / dt)` with a speed parameter (connectivities given as delays
//! in time units have `l_ij` = the delay and speed 1), `round_half_even(l_ij * scale)` with a
//! per-instance scale in steps per distance unit (RateML's `rec_speed_dt`), or zero. Inside `pre`, [`Expr::CouplingSource`] is the delayed
//! `x_j`, and states, parameters and derived values (which must not depend on delays or
//! couplings) are those of the target node `i` at the step's start; inside `post`,
//! [`Expr::CouplingSum`] is `gx_i`. A coupling is computed once per
//! step, at the step's start, and is the same in every stage of the step (as in TVB).
//!
//! ### Gated couplings
//!
//! A product of a parameter `p` and a coupling term, `p * c` or `c * p`, is `+0` when `p` is zero,
//! whatever `c` (where IEEE arithmetic would give `-0` for a negative `c`, and NaN for an infinite
//! one); otherwise it is the IEEE product. The same holds when `c` is a derived value defined as
//! exactly a coupling term (PyRates' input variables), see [`Model::coupling_gate`]. This is how
//! a model turns a coupling off (TVB's Montbrió–Pazó–Roxin has `cr * c_r + cv * c_V` with
//! `cv = 0`): a coupling whose every use is gated by a zero is then never needed, so a kernel
//! with that parameter compiled in as zero does not compute it. Such a kernel does not compute
//! the derived values that read the coupling either, and refuses a run that records them.
//!
//! ## Delays and history
//!
//! Every variable that a delay or a coupling reads is kept in a history with one entry per step:
//! at the start of step `n` its value at `t_n` (states, or derived values computed from the states
//! at `t_n`) is stored, then delayed values are read as the value stored `d` steps earlier (`d = 0`
//! reads the value just stored). Entries before `t0` are the value at `t0` ([`History::Initial`],
//! the default) or zero ([`History::Zero`]). A variable that is read delayed must not itself
//! depend on a delayed value or a coupling.
//!
//! ## Time stepping
//!
//! Fixed step `dt`, start time `t0`, step `n` advances from `t_n = t0 + n*dt` to `t_(n+1)`. Time is
//! always computed from the step index, never accumulated. The stage times are
//! `t_n`, `t_(n+1/2) = t0 + (n + 0.5)*dt`, and for the stage at the end of a step the *left limit*
//! `t_(n+1)^- = next_down(t0 + (n+1)*dt)`, so inputs with jumps on the time grid (steps, pulses) are
//! integrated exactly. One step is:
//!
//! 0. before step 0, states with [`State::init_from`] take that variable's value at `t0`
//!    (computed from the other initial states; zero with [`History::Zero`]), then the history
//!    before `t0` is filled;
//! 1. series values for step `n` (row `min(n, rows - 1)`);
//! 2. the history entry of step `n` (the buffered variables at `(t_n, y_n)`);
//! 3. delayed values and couplings of step `n`, for every node;
//! 4. derived values at `(t_n, y_n)`; samples, if `n` is a sampling step; noise amplitudes;
//! 5. the solver, where `clamp` sets each bounded state to its bounds, and `k_i` are slopes:
//!
//! * `euler`: `k1 = f(t_n, y)`, `y' = clamp(y + h*k1)`.
//! * `heun`: `k1 = f(t_n, y)`, `p = clamp(y + h*k1)`, `k2 = f(t_(n+1)^-, p)`,
//!   `y' = clamp(y + (0.5*h)*(k1 + k2))`.
//! * `rk4`: `k1 = f(t_n, y)`, `k2 = f(t_(n+1/2), clamp(y + (0.5*h)*k1))`,
//!   `k3 = f(t_(n+1/2), clamp(y + (0.5*h)*k2))`, `k4 = f(t_(n+1)^-, clamp(y + h*k3))`,
//!   `y' = clamp(y + (h/6)*(((k1 + 2*k2) + 2*k3) + k4))`.
//!
//! ## Noise
//!
//! A state with a noise amplitude `g` (an expression, evaluated at the step's start) follows
//! `dx = f dt + g dW` with `W` a standard Wiener process. With `eta = g * (sqrt(h) * xi)`, `xi`
//! standard normal:
//!
//! * `euler` is Euler–Maruyama: `y' = clamp((y + h*k1) + eta)`;
//! * `heun` is TVB's stochastic Heun: `p = clamp((y + h*k1) + eta)`, `k2 = f(t_(n+1)^-, p)`,
//!   `y' = clamp((y + (0.5*h)*(k1 + k2)) + eta)`;
//! * `rk4` has no stochastic form (a model with noise is rejected).
//!
//! States without noise follow the deterministic formulas. TVB's additive noise `nsig` is
//! `g = sqrt(2*nsig)`; RateML's `nsig` is the per-step standard deviation, `g = nsig / sqrt(dt)`.
//! The normal numbers come from the counter-based generator in [`rng`] (Philox4x32-10 keyed by the
//! seed, counter = (step, pair, node, instance)), so a run is identical whatever the threads,
//! lane width or backend.
//!
//! ## Initial values
//!
//! A state starts at [`State::init`] (a run may give other values per instance and node), or, with
//! [`State::init_range`] `(lo, hi)`, at `lo + (hi - lo) * u` with `u` in `[0, 1)` from
//! [`rng::uniform_init`] (seed, instance, node, state), clamped to the state's bounds. The draw is
//! made once on the host, so every backend starts from the same numbers.
//!
//! ## Outputs
//!
//! A run records chosen states and derived variables every `k` steps: sample `j` is taken at
//! step `n = j*k` (sample 0 is the initial state at `t0`), derived variables being evaluated at
//! `(t_n, y_n)`. The last sample is at the largest multiple of `k` not beyond the final step.
//!
//! ## Stages as types
//!
//! A [`Model`] can be built and edited freely (frontends do that). Only [`validate`] turns it into
//! a [`ValidModel`], which is what backends accept. [`Diagnostics`] collects every error with its
//! span before a stage fails.

#![warn(missing_docs)]

pub mod arena;
pub mod clip;
pub mod deep;
pub mod diag;
pub mod eval;
pub mod expr;
pub mod math;
pub mod model;
pub mod print;
/// Counter-based random numbers (Philox4x32-10), shared with every kernel.
pub mod rng {
    pub use rateforge_kernel::rng::*;
}
pub mod solver;
pub mod span;
pub mod valid;

pub use arena::{Arena, Handle};
pub use deep::deep;
pub use diag::{Diagnostic, Diagnostics, Label, Severity, did_you_mean};
pub use expr::{BinOp, Builtin, Expr, UnOp, powi};
pub use model::{
    Coupling, Delay, Derived, DerivedKind, EdgeDelays, History, Model, Network, Ode, Param,
    ParamKind, Series, State, VarRef, qualified_name,
};
pub use solver::Solver;
pub use span::{FileId, SourceMap, Span};
pub use valid::{ModelInfo, ValidModel, validate};
