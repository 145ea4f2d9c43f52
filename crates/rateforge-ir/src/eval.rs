//! The reference evaluator: a direct interpreter of a [`ValidModel`] with the same solvers as the
//! generated kernels. It is the oracle every backend is tested against, so it is written to be
//! obviously right rather than fast: a recursive walk over the expression tree, one instance at a
//! time, following the crate-level specification step by step.

use crate::arena::Handle;
use crate::expr::{Expr, powi};
use crate::model::VarRef;
use crate::solver::{Solver, end_time, mid_time, step_time};
use crate::valid::ValidModel;

/// What to simulate (shared by all instances).
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// The solver.
    pub solver: Solver,
    /// Step size.
    pub dt: f64,
    /// Start time.
    pub t0: f64,
    /// Number of steps.
    pub n_steps: u64,
    /// Record every `record_every` steps (≥ 1).
    pub record_every: u64,
    /// Recorded values: states or derived variables.
    pub record: Vec<VarRef>,
}

impl RunConfig {
    /// Number of recorded samples: steps 0, k, 2k, ... up to `n_steps`.
    pub fn n_samples(&self) -> usize {
        (self.n_steps / self.record_every.max(1)) as usize + 1
    }
}

/// The values of one instance.
#[derive(Clone, Debug)]
pub struct Instance<'a> {
    /// One value per parameter.
    pub params: &'a [f64],
    /// One initial value per state.
    pub init: &'a [f64],
    /// For each series, its rows (one value per step).
    pub series: &'a [&'a [f64]],
}

/// The result of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Sample times.
    pub time: Vec<f64>,
    /// `samples[j][r]`: value of recorded variable `r` at sample `j`.
    pub samples: Vec<Vec<f64>>,
    /// The state after the last step.
    pub final_state: Vec<f64>,
}

/// Steps between calls of the observer of [`simulate_observed`].
pub const OBSERVE_EVERY: u64 = 4096;

/// Simulates one instance. Panics if the instance's slices have the wrong lengths or a recorded
/// value is a parameter or series (callers check these against the model first).
pub fn simulate(model: &ValidModel, config: &RunConfig, instance: &Instance<'_>) -> Trajectory {
    simulate_observed(model, config, instance, &mut |_| true)
}

/// [`simulate`], calling `observe(steps_done_since_last_call)` every [`OBSERVE_EVERY`] steps and
/// at the end; when it returns `false` the simulation stops early (the trajectory is then
/// shorter than requested).
pub fn simulate_observed(
    model: &ValidModel,
    config: &RunConfig,
    instance: &Instance<'_>,
    observe: &mut dyn FnMut(u64) -> bool,
) -> Trajectory {
    let m = model.model();
    assert_eq!(instance.params.len(), m.params.len(), "parameter count");
    assert_eq!(instance.init.len(), m.states.len(), "state count");
    assert_eq!(instance.series.len(), m.series.len(), "series count");
    let mut eval = Evaluator::new(model, instance.params);
    let (t0, dt) = (config.t0, config.dt);
    let n = m.states.len();
    let mut y = instance.init.to_vec();
    let mut series = vec![0.0; m.series.len()];
    let mut time = Vec::with_capacity(config.n_samples());
    let mut samples = Vec::with_capacity(config.n_samples());
    let k = config.record_every.max(1);
    let (mut k1, mut k2, mut k3, mut k4, mut tmp) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );

    for step in 0..=config.n_steps {
        for (s, rows) in series.iter_mut().zip(instance.series) {
            *s = series_value(rows, step);
        }
        if step % k == 0 {
            let t = step_time(t0, dt, step);
            eval.derived(t, &y, &series);
            time.push(t);
            samples.push(config.record.iter().map(|v| eval.value(*v, &y)).collect());
        }
        if step == config.n_steps {
            observe(step % OBSERVE_EVERY);
            break;
        }
        if step > 0 && step % OBSERVE_EVERY == 0 && !observe(OBSERVE_EVERY) {
            break;
        }
        let tn = step_time(t0, dt, step);
        match config.solver {
            Solver::Euler => {
                eval.rhs(tn, &y, &series, &mut k1);
                for i in 0..n {
                    y[i] += dt * k1[i];
                }
            }
            Solver::Heun => {
                eval.rhs(tn, &y, &series, &mut k1);
                for i in 0..n {
                    tmp[i] = y[i] + dt * k1[i];
                }
                eval.rhs(end_time(t0, dt, step), &tmp, &series, &mut k2);
                let h2 = 0.5 * dt;
                for i in 0..n {
                    y[i] += h2 * (k1[i] + k2[i]);
                }
            }
            Solver::Rk4 => {
                let h2 = 0.5 * dt;
                let tm = mid_time(t0, dt, step);
                eval.rhs(tn, &y, &series, &mut k1);
                for i in 0..n {
                    tmp[i] = y[i] + h2 * k1[i];
                }
                eval.rhs(tm, &tmp, &series, &mut k2);
                for i in 0..n {
                    tmp[i] = y[i] + h2 * k2[i];
                }
                eval.rhs(tm, &tmp, &series, &mut k3);
                for i in 0..n {
                    tmp[i] = y[i] + dt * k3[i];
                }
                eval.rhs(end_time(t0, dt, step), &tmp, &series, &mut k4);
                let h6 = dt / 6.0;
                for i in 0..n {
                    y[i] += h6 * (((k1[i] + 2.0 * k2[i]) + 2.0 * k3[i]) + k4[i]);
                }
            }
        }
    }
    Trajectory {
        time,
        samples,
        final_state: y,
    }
}

/// The value of a series during step `step`: row `min(step, rows - 1)` (NaN if it has no rows).
pub fn series_value(rows: &[f64], step: u64) -> f64 {
    match rows.len() {
        0 => f64::NAN,
        len => rows[(step as usize).min(len - 1)],
    }
}

/// Evaluates expressions of one model for one instance.
pub struct Evaluator<'a> {
    model: &'a ValidModel,
    params: &'a [f64],
    derived: Vec<f64>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator for the instance with parameter values `params`.
    pub fn new(model: &'a ValidModel, params: &'a [f64]) -> Self {
        Evaluator {
            model,
            params,
            derived: vec![0.0; model.model().derived.len()],
        }
    }

    /// Computes every derived variable at `(t, y)` in evaluation order.
    pub fn derived(&mut self, t: f64, y: &[f64], series: &[f64]) {
        for &d in &self.model.info().derived_order {
            let expr = self.model.model().derived[d].expr;
            self.derived[d.index()] = self.eval(expr, t, y, series);
        }
    }

    /// Computes the vector field `dy = f(t, y)`.
    pub fn rhs(&mut self, t: f64, y: &[f64], series: &[f64], dy: &mut [f64]) {
        self.derived(t, y, series);
        for (i, out) in dy.iter_mut().enumerate() {
            let rhs = self.model.ode(i).rhs;
            *out = self.eval(rhs, t, y, series);
        }
    }

    /// The current value of a state or (already computed) derived variable.
    pub fn value(&self, var: VarRef, y: &[f64]) -> f64 {
        match var {
            VarRef::State(h) => y[h.index()],
            VarRef::Derived(h) => self.derived[h.index()],
            VarRef::Param(h) => self.params[h.index()],
            VarRef::Series(_) => panic!("series values are not recordable"),
        }
    }

    /// Evaluates one expression; derived variables must have been computed.
    pub fn eval(&self, expr: Handle<Expr>, t: f64, y: &[f64], series: &[f64]) -> f64 {
        let e = |h: Handle<Expr>| self.eval(h, t, y, series);
        match &self.model.model().exprs[expr] {
            Expr::Lit(v) => *v,
            Expr::Time => t,
            Expr::State(h) => y[h.index()],
            Expr::Param(h) => self.params[h.index()],
            Expr::Derived(h) => self.derived[h.index()],
            Expr::Series(h) => series[h.index()],
            Expr::Unary(op, a) => op.apply(e(*a)),
            Expr::Binary(op, a, b) => {
                let a = e(*a);
                op.apply(a, e(*b))
            }
            Expr::Powi(a, n) => powi(e(*a), *n),
            Expr::Call(f, args) => {
                let vals: Vec<f64> = args.iter().map(|a| e(*a)).collect();
                f.apply(&vals)
            }
            Expr::Select(c, a, b) => {
                if e(*c) != 0.0 {
                    e(*a)
                } else {
                    e(*b)
                }
            }
        }
    }
}
