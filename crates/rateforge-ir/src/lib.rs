//! # The rateforge intermediate representation
//!
//! This crate's documentation is the specification of the IR. Every frontend (PyRates-style YAML,
//! RateML XML) lowers into it, [`validate`] checks it, and every backend (the reference evaluator in
//! [`eval`], the generated Rust and CUDA kernels) implements exactly the semantics written here.
//!
//! ## What a model is
//!
//! A [`Model`] is one flat system of scalar, first-order ordinary differential equations with
//! algebraic side equations. A PyRates circuit (nodes, operators, edges) is flattened into one model
//! whose variables carry their full path as name (`pc/rpo_e_in/v`, `jrc1/pc/pro/m`). Vector-valued
//! variables are scalarised by the frontend (`a[0]`, `a[1]`, ...), so every value in the IR is one
//! `f64`. There are five kinds of value:
//!
//! * **State** ([`State`]): integrated by the solver. It has an initial value (per instance, so a
//!   sweep can vary it) and exactly one right-hand side ([`Ode`]).
//! * **Parameter** ([`Param`]): a constant for the duration of a run, one value per instance.
//!   Model constants, unconnected PyRates inputs and edge weights are all parameters; whether a
//!   parameter is swept or inlined as a literal is decided by the backend options, never here.
//! * **Derived** ([`Derived`]): an algebraic variable `x = expr`, recomputed from the current
//!   states, parameters, series values and time at every evaluation of the right-hand side.
//!   Derived variables may use each other, but never in a cycle.
//! * **Series** ([`Series`]): an external time series supplied at run time (one value per step,
//!   held constant within the step). It replaces a parameter the user drives from data.
//! * **Time** ([`Expr::Time`]): the time of the solver stage being evaluated (below).
//!
//! Expressions ([`Expr`]) live in one flat arena ([`Model::exprs`]) and refer to each other and to
//! variables through typed [`Handle`]s. Every expression and variable keeps a [`Span`] into the model
//! file it came from, so diagnostics raised at any stage can point at the user's text.
//!
//! ## Evaluation of the vector field
//!
//! `f(t, y)` is evaluated as:
//! 1. every derived variable, in the dependency order computed by [`validate`] (ties broken by
//!    declaration order, so the order is deterministic);
//! 2. every ODE right-hand side, in state order.
//!
//! Within one expression the evaluation is the plain recursive one; operands are evaluated left
//! before right. Floating-point operations are IEEE-754 double precision, one rounding per
//! operation, never contracted into fused multiply-adds unless a backend option says so. The
//! semantics of each operator and built-in function is given on [`BinOp`], [`UnOp`] and
//! [`Builtin`]; `Expr::Powi(x, n)` is `x` multiplied by itself by the fixed algorithm of
//! [`powi`], so every backend rounds identically.
//!
//! ## Time stepping
//!
//! Fixed step `dt`, start time `t0`, step `n` advances from `t_n = t0 + n*dt` to `t_(n+1)`. Time is
//! always computed from the step index, never accumulated. The stage times are
//! `t_n`, `t_(n+1/2) = t0 + (n + 0.5)*dt`, and for the stage at the end of a step the *left limit*
//! `t_(n+1)^- = next_down(t0 + (n+1)*dt)`, so inputs with jumps on the time grid (steps, pulses) are
//! integrated exactly. The solvers ([`Solver`]) are, with `k_i` slopes and `h = dt`:
//!
//! * `euler`: `k1 = f(t_n, y)`, `y' = y + h*k1`.
//! * `heun`: `k1 = f(t_n, y)`, `p = y + h*k1`, `k2 = f(t_(n+1)^-, p)`, `y' = y + (0.5*h)*(k1 + k2)`.
//! * `rk4`: `k1 = f(t_n, y)`, `k2 = f(t_(n+1/2), y + (0.5*h)*k1)`, `k3 = f(t_(n+1/2), y + (0.5*h)*k2)`,
//!   `k4 = f(t_(n+1)^-, y + h*k3)`, `y' = y + (h/6)*(((k1 + 2*k2) + 2*k3) + k4)`.
//!
//! A series value during step `n` is row `min(n, rows - 1)` of its data.
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
pub mod diag;
pub mod eval;
pub mod expr;
pub mod model;
pub mod print;
pub mod solver;
pub mod span;
pub mod valid;

pub use arena::{Arena, Handle};
pub use diag::{Diagnostic, Diagnostics, Label, Severity, did_you_mean};
pub use expr::{BinOp, Builtin, Expr, UnOp, powi};
pub use model::{
    Derived, DerivedKind, Model, Ode, Param, ParamKind, Series, State, VarRef, qualified_name,
};
pub use solver::Solver;
pub use span::{FileId, SourceMap, Span};
pub use valid::{ModelInfo, ValidModel, validate};
