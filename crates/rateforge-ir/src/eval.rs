//! The reference evaluator: a direct interpreter of a [`ValidModel`] with the same solvers as the
//! generated kernels. It is the oracle every backend is tested against, so it is written to be
//! obviously right rather than fast: a recursive walk over the expression tree, one instance at a
//! time, following the crate-level specification ("Time stepping") step by step.

use crate::arena::Handle;
use crate::expr::{Expr, powi};
use crate::model::{EdgeDelays, History, VarRef};
use crate::rng;
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
    /// Seed of the noise.
    pub seed: u64,
}

impl RunConfig {
    /// Number of recorded samples: steps 0, k, 2k, ... up to `n_steps`.
    pub fn n_samples(&self) -> usize {
        (self.n_steps / self.record_every.max(1)) as usize + 1
    }
}

/// A network's connectivity, by target node (compressed rows): the edges into node `i` are
/// `row_start[i] .. row_start[i + 1]`, in increasing source order, with nonzero weights.
#[derive(Clone, Debug)]
pub struct Connectivity<'a> {
    /// Number of nodes.
    pub n_nodes: usize,
    /// `n_nodes + 1` offsets into the edge arrays.
    pub row_start: &'a [usize],
    /// Source node of each edge.
    pub source: &'a [usize],
    /// Weight of each edge.
    pub weight: &'a [f64],
    /// Distance of each edge (turned into a delay by the model's [`EdgeDelays`] rule).
    pub distance: &'a [f64],
}

/// One external time series as one instance sees it.
#[derive(Clone, Debug)]
pub struct SeriesInput<'a> {
    /// Row-major table, one row per step.
    pub data: &'a [f64],
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_cols: usize,
    /// The column each node reads.
    pub columns: &'a [usize],
}

impl SeriesInput<'_> {
    /// The value node `node` reads during step `step`.
    pub fn value(&self, step: u64, node: usize) -> f64 {
        if self.n_rows == 0 {
            return f64::NAN;
        }
        let row = (step as usize).min(self.n_rows - 1);
        self.data[row * self.n_cols + self.columns[node]]
    }
}

/// The values of one instance.
#[derive(Clone, Debug)]
pub struct Instance<'a> {
    /// The instance's number (keys its noise).
    pub index: u64,
    /// One value per parameter (the same in every node).
    pub params: &'a [f64],
    /// Initial states, `[state * n_nodes + node]`.
    pub init: &'a [f64],
    /// One per series.
    pub series: &'a [SeriesInput<'a>],
    /// The connectivity of a network (`None`: one node).
    pub network: Option<&'a Connectivity<'a>>,
}

/// The result of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Sample times.
    pub time: Vec<f64>,
    /// `samples[j][r * n_nodes + node]`: recorded value `r` of `node` at sample `j`.
    pub samples: Vec<Vec<f64>>,
    /// The state after the last step, `[state * n_nodes + node]`.
    pub final_state: Vec<f64>,
}

/// Steps between calls of the observer of [`simulate_observed`].
pub const OBSERVE_EVERY: u64 = 4096;

/// Simulates one instance. Panics if the instance's slices have the wrong lengths, a recorded
/// value is a parameter or series, or a network model gets no connectivity (callers check these
/// against the model first).
pub fn simulate(model: &ValidModel, config: &RunConfig, instance: &Instance<'_>) -> Trajectory {
    simulate_observed(model, config, instance, &mut |_| true)
}

/// The delay in steps of every edge of a network (distances `distance`) for an instance with
/// parameters `params` (the model's [`EdgeDelays`] rule).
pub fn edge_delays(
    model: &ValidModel,
    params: &[f64],
    n_nodes: usize,
    dt: f64,
    distance: &[f64],
) -> Vec<usize> {
    let m = model.model();
    match m.network.as_ref().map(|n| n.delays) {
        Some(EdgeDelays::Speed(speed)) => {
            let speed = params[speed.index()];
            distance
                .iter()
                .map(|l| delay_steps(l / speed, dt))
                .collect()
        }
        Some(EdgeDelays::StepsPerDistance(scale)) => {
            let scale = NodeEval::new(model, params, n_nodes, dt).constant(scale);
            distance.iter().map(|l| whole_steps(l * scale)).collect()
        }
        Some(EdgeDelays::Zero) | None => vec![0; distance.len()],
    }
}

/// The steps per unit of distance of a network whose delays follow
/// [`EdgeDelays::StepsPerDistance`] (RateML's `rec_speed_dt`), for an instance with parameters
/// `params`; `None` for other rules.
pub fn steps_per_distance(
    model: &ValidModel,
    params: &[f64],
    n_nodes: usize,
    dt: f64,
) -> Option<f64> {
    match model.model().network.as_ref().map(|n| n.delays) {
        Some(EdgeDelays::StepsPerDistance(scale)) => {
            Some(NodeEval::new(model, params, n_nodes, dt).constant(scale))
        }
        _ => None,
    }
}

pub use rateforge_kernel::runner::{clamp_value, delay_cap, delay_steps, whole_steps};

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
    let info = model.info();
    let single = Connectivity {
        n_nodes: 1,
        row_start: &[0, 0],
        source: &[],
        weight: &[],
        distance: &[],
    };
    let net = instance.network.unwrap_or(&single);
    assert!(
        m.network.is_some() || instance.network.is_none(),
        "connectivity for a model without a network"
    );
    let nn = net.n_nodes;
    let ns = m.states.len();
    assert_eq!(instance.params.len(), m.params.len(), "parameter count");
    assert_eq!(instance.init.len(), ns * nn, "initial state count");
    assert_eq!(instance.series.len(), m.series.len(), "series count");
    assert!(
        !(info.has_noise && config.solver == Solver::Rk4),
        "rk4 has no stochastic form"
    );
    let (t0, dt) = (config.t0, config.dt);
    let params = instance.params;

    // Delays in steps, and the history length.
    let cap = delay_cap(config.n_steps);
    let delay_d: Vec<usize> = m
        .delays
        .values()
        .map(|d| delay_steps(params[d.time.index()], dt).min(cap))
        .collect();
    let edge_d: Vec<usize> = edge_delays(model, params, nn, dt, net.distance)
        .into_iter()
        .map(|d| d.min(cap))
        .collect();
    let horizon = delay_d.iter().chain(&edge_d).copied().max().unwrap_or(0) + 1;
    let nb = info.buffered.len();
    let mut history = vec![0.0; nb * horizon * nn]; // [(b * horizon + slot) * nn + node]

    // y[s * nn + node]
    let mut y = instance.init.to_vec();
    let mut nodes: Vec<NodeEval<'_>> = (0..nn)
        .map(|_| NodeEval::new(model, params, nn, dt))
        .collect();
    let mut series = vec![0.0; m.series.len()];
    let mut time = Vec::with_capacity(config.n_samples());
    let mut samples = Vec::with_capacity(config.n_samples());
    let k = config.record_every.max(1);
    let node_state =
        |y: &[f64], node: usize| -> Vec<f64> { (0..ns).map(|s| y[s * nn + node]).collect() };
    let buffered_value = |ev: &NodeEval<'_>, b: usize, y: &[f64]| match info.buffered[b] {
        VarRef::State(h) => y[h.index()],
        VarRef::Derived(h) => ev.derived[h.index()],
        _ => unreachable!("validated: buffered values are states or derived"),
    };

    // States that start at another variable's value at t0 (stages of distributed delays).
    let init_from: Vec<(usize, VarRef)> = m
        .states
        .values()
        .enumerate()
        .filter_map(|(s, st)| st.init_from.map(|v| (s, v)))
        .collect();
    if !init_from.is_empty() {
        for (node, ev) in nodes.iter_mut().enumerate() {
            for (s, v) in series.iter_mut().enumerate() {
                *v = instance.series[s].value(0, node);
            }
            let yn = node_state(&y, node);
            ev.derived_coupling_free(t0, &yn, &series);
            for &(s, var) in &init_from {
                y[s * nn + node] = match (m.history, var) {
                    (History::Zero, _) => 0.0,
                    (History::Initial, VarRef::State(h)) => yn[h.index()],
                    (History::Initial, VarRef::Derived(h)) => ev.derived[h.index()],
                    _ => unreachable!("validated: init_from is a state or derived"),
                };
            }
        }
    }
    // History before t0.
    if m.history == History::Initial && nb > 0 {
        for (node, ev) in nodes.iter_mut().enumerate() {
            for (s, v) in series.iter_mut().enumerate() {
                *v = instance.series[s].value(0, node);
            }
            let yn = node_state(&y, node);
            ev.derived_coupling_free(t0, &yn, &series);
            for b in 0..nb {
                let v = buffered_value(ev, b, &yn);
                for slot in 0..horizon {
                    history[(b * horizon + slot) * nn + node] = v;
                }
            }
        }
    }

    let mut xi = vec![0.0; info.noisy.len()];
    for step in 0..=config.n_steps {
        let tn = step_time(t0, dt, step);
        let slot_now = (step % horizon as u64) as usize;
        // 2. The history entry of this step.
        for (node, ev) in nodes.iter_mut().enumerate() {
            for (s, v) in series.iter_mut().enumerate() {
                *v = instance.series[s].value(step, node);
            }
            let yn = node_state(&y, node);
            ev.derived_coupling_free(tn, &yn, &series);
            for b in 0..nb {
                history[(b * horizon + slot_now) * nn + node] = buffered_value(ev, b, &yn);
            }
        }
        let read = |b: usize, d: usize, node: usize| {
            let slot = (step as i64 - d as i64).rem_euclid(horizon as i64) as usize;
            history[(b * horizon + slot) * nn + node]
        };
        // 3. Delayed values and couplings of every node.
        for (node, ev) in nodes.iter_mut().enumerate() {
            ev.delayed = (0..m.delays.len())
                .map(|k| read(info.delay_slot[k], delay_d[k], node))
                .collect();
        }
        for (c, coupling) in m.couplings.iter() {
            let mut values = Vec::with_capacity(nn);
            for (i, ev) in nodes.iter().enumerate() {
                let yi = node_state(&y, i);
                let mut gx = 0.0;
                let row = net.row_start[i]..net.row_start[i + 1];
                for ((&d, &j), &w) in edge_d[row.clone()]
                    .iter()
                    .zip(&net.source[row.clone()])
                    .zip(&net.weight[row])
                {
                    let xj = read(info.coupling_slot[c.index()], d, j);
                    let pre = ev.eval(
                        coupling.pre,
                        &Ctx {
                            t: tn,
                            y: &yi,
                            series: &[],
                            source: xj,
                            sum: 0.0,
                        },
                    );
                    gx += w * pre;
                }
                let value = ev.eval(
                    coupling.post,
                    &Ctx {
                        t: tn,
                        y: &yi,
                        series: &[],
                        source: 0.0,
                        sum: gx,
                    },
                );
                values.push(value);
            }
            for (ev, value) in nodes.iter_mut().zip(values) {
                ev.couplings[c.index()] = value;
            }
        }
        // 4. Derived values, samples, noise amplitudes; 5. the solver — node by node.
        let sampling = step % k == 0;
        if sampling {
            time.push(tn);
            samples.push(vec![0.0; config.record.len() * nn]);
        }
        for node in 0..nn {
            for (s, v) in series.iter_mut().enumerate() {
                *v = instance.series[s].value(step, node);
            }
            let mut yn = node_state(&y, node);
            let ev = &mut nodes[node];
            ev.derived(tn, &yn, &series);
            if sampling {
                let row = samples.last_mut().expect("pushed above");
                for (r, var) in config.record.iter().enumerate() {
                    row[r * nn + node] = ev.value(*var, &yn);
                }
            }
            if step == config.n_steps {
                continue;
            }
            // eta = g * (sqrt(h) * xi), g at the step's start.
            for (q, &s) in info.noisy.iter().enumerate() {
                let g = m.states[Handle::from_index(s)].noise.expect("noisy state");
                let amplitude = ev.eval(
                    g,
                    &Ctx {
                        t: tn,
                        y: &yn,
                        series: &series,
                        source: 0.0,
                        sum: 0.0,
                    },
                );
                xi[q] = amplitude
                    * (dt.sqrt()
                        * rng::normal(config.seed, instance.index, node as u64, step, q as u32));
            }
            step_node(
                model,
                ev,
                config.solver,
                step,
                t0,
                dt,
                &series,
                &mut yn,
                &xi,
            );
            for s in 0..ns {
                y[s * nn + node] = yn[s];
            }
        }
        if step == config.n_steps {
            observe(step % OBSERVE_EVERY);
            break;
        }
        if (step + 1) % OBSERVE_EVERY == 0 && !observe(OBSERVE_EVERY) {
            break;
        }
    }
    Trajectory {
        time,
        samples,
        final_state: y,
    }
}

/// Clamps the bounded states of one node.
fn clamp(model: &ValidModel, y: &mut [f64]) {
    for (s, st) in model.model().states.values().enumerate() {
        if let Some((lo, hi)) = st.bounds {
            y[s] = clamp_value(y[s], lo, hi);
        }
    }
}

/// One solver step of one node (delayed values and couplings already set in `ev`).
#[allow(clippy::too_many_arguments)]
fn step_node(
    model: &ValidModel,
    ev: &mut NodeEval<'_>,
    solver: Solver,
    step: u64,
    t0: f64,
    dt: f64,
    series: &[f64],
    y: &mut [f64],
    eta: &[f64],
) {
    let n = y.len();
    let noisy = &model.info().noisy;
    let add_noise = |v: &mut [f64]| {
        for (q, &s) in noisy.iter().enumerate() {
            v[s] += eta[q];
        }
    };
    let tn = step_time(t0, dt, step);
    let (mut k1, mut k2, mut k3, mut k4, mut tmp) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );
    match solver {
        Solver::Euler => {
            ev.rhs(tn, y, series, &mut k1);
            for i in 0..n {
                y[i] += dt * k1[i];
            }
            add_noise(y);
            clamp(model, y);
        }
        Solver::Heun => {
            ev.rhs(tn, y, series, &mut k1);
            for i in 0..n {
                tmp[i] = y[i] + dt * k1[i];
            }
            add_noise(&mut tmp);
            clamp(model, &mut tmp);
            ev.rhs(end_time(t0, dt, step), &tmp, series, &mut k2);
            let h2 = 0.5 * dt;
            for i in 0..n {
                y[i] += h2 * (k1[i] + k2[i]);
            }
            add_noise(y);
            clamp(model, y);
        }
        Solver::Rk4 => {
            let h2 = 0.5 * dt;
            let tm = mid_time(t0, dt, step);
            ev.rhs(tn, y, series, &mut k1);
            for i in 0..n {
                tmp[i] = y[i] + h2 * k1[i];
            }
            clamp(model, &mut tmp);
            ev.rhs(tm, &tmp, series, &mut k2);
            for i in 0..n {
                tmp[i] = y[i] + h2 * k2[i];
            }
            clamp(model, &mut tmp);
            ev.rhs(tm, &tmp, series, &mut k3);
            for i in 0..n {
                tmp[i] = y[i] + dt * k3[i];
            }
            clamp(model, &mut tmp);
            ev.rhs(end_time(t0, dt, step), &tmp, series, &mut k4);
            let h6 = dt / 6.0;
            for i in 0..n {
                y[i] += h6 * (((k1[i] + 2.0 * k2[i]) + 2.0 * k3[i]) + k4[i]);
            }
            clamp(model, y);
        }
    }
}

/// Values an expression reads besides the node's derived, delayed and coupling values.
struct Ctx<'c> {
    t: f64,
    y: &'c [f64],
    series: &'c [f64],
    /// `x_j` inside a coupling's `pre`.
    source: f64,
    /// `gx` inside a coupling's `post`.
    sum: f64,
}

/// Evaluates expressions of one node of one instance.
struct NodeEval<'a> {
    model: &'a ValidModel,
    params: &'a [f64],
    n_nodes: f64,
    dt: f64,
    derived: Vec<f64>,
    delayed: Vec<f64>,
    couplings: Vec<f64>,
}

impl<'a> NodeEval<'a> {
    fn new(model: &'a ValidModel, params: &'a [f64], n_nodes: usize, dt: f64) -> Self {
        let m = model.model();
        NodeEval {
            model,
            params,
            n_nodes: n_nodes as f64,
            dt,
            derived: vec![0.0; m.derived.len()],
            delayed: vec![0.0; m.delays.len()],
            couplings: vec![0.0; m.couplings.len()],
        }
    }

    /// Every derived variable that depends on no delay and no coupling, at `(t, y)`.
    fn derived_coupling_free(&mut self, t: f64, y: &[f64], series: &[f64]) {
        let info = self.model.info();
        for &d in &info.derived_order {
            if info.coupling_free[d.index()] {
                let expr = self.model.model().derived[d].expr;
                self.derived[d.index()] = self.eval(
                    expr,
                    &Ctx {
                        t,
                        y,
                        series,
                        source: 0.0,
                        sum: 0.0,
                    },
                );
            }
        }
    }

    /// Every derived variable at `(t, y)`, in evaluation order.
    fn derived(&mut self, t: f64, y: &[f64], series: &[f64]) {
        for &d in &self.model.info().derived_order {
            let expr = self.model.model().derived[d].expr;
            self.derived[d.index()] = self.eval(
                expr,
                &Ctx {
                    t,
                    y,
                    series,
                    source: 0.0,
                    sum: 0.0,
                },
            );
        }
    }

    /// An expression of parameters, `dt` and `n_nodes` only (validated), such as a delay scale.
    fn constant(&self, expr: Handle<Expr>) -> f64 {
        self.eval(
            expr,
            &Ctx {
                t: 0.0,
                y: &[],
                series: &[],
                source: 0.0,
                sum: 0.0,
            },
        )
    }

    /// The vector field `dy = f(t, y)` of this node.
    fn rhs(&mut self, t: f64, y: &[f64], series: &[f64], dy: &mut [f64]) {
        self.derived(t, y, series);
        for (i, out) in dy.iter_mut().enumerate() {
            let rhs = self.model.ode(i).rhs;
            *out = self.eval(
                rhs,
                &Ctx {
                    t,
                    y,
                    series,
                    source: 0.0,
                    sum: 0.0,
                },
            );
        }
    }

    /// The current value of a state or (already computed) derived variable.
    fn value(&self, var: VarRef, y: &[f64]) -> f64 {
        match var {
            VarRef::State(h) => y[h.index()],
            VarRef::Derived(h) => self.derived[h.index()],
            VarRef::Param(h) => self.params[h.index()],
            VarRef::Series(_) => panic!("series values are not recordable"),
        }
    }

    fn eval(&self, expr: Handle<Expr>, c: &Ctx<'_>) -> f64 {
        crate::deep(|| self.eval_node(expr, c))
    }

    fn eval_node(&self, expr: Handle<Expr>, c: &Ctx<'_>) -> f64 {
        let e = |h: Handle<Expr>| self.eval(h, c);
        match &self.model.model().exprs[expr] {
            Expr::Lit(v) => *v,
            Expr::Time => c.t,
            Expr::State(h) => c.y[h.index()],
            Expr::Param(h) => self.params[h.index()],
            Expr::Derived(h) => self.derived[h.index()],
            Expr::Series(h) => c.series[h.index()],
            Expr::Delayed(h) => self.delayed[h.index()],
            Expr::Coupling(h) => self.couplings[h.index()],
            Expr::CouplingSource => c.source,
            Expr::CouplingSum => c.sum,
            Expr::NodeCount => self.n_nodes,
            Expr::StepSize => self.dt,
            Expr::Unary(op, a) => op.apply(e(*a)),
            Expr::Binary(op, a, b) => {
                // A coupling gated by a parameter that is zero is not read (crate docs).
                if let Some(p) = self.model.model().coupling_gate(expr)
                    && self.params[p.index()] == 0.0
                {
                    return 0.0;
                }
                let a = e(*a);
                op.apply(a, e(*b))
            }
            Expr::Powi(a, n) => powi(e(*a), *n),
            Expr::Call(f, args) => {
                let vals: Vec<f64> = args.iter().map(|a| e(*a)).collect();
                f.apply(&vals)
            }
            Expr::Select(c0, a, b) => {
                if e(*c0) != 0.0 {
                    e(*a)
                } else {
                    e(*b)
                }
            }
        }
    }
}
