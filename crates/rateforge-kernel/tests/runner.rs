//! The lane-block runner on hand-written models, checked against straightforward loops: a
//! decaying network with delayed linear coupling (Euler, Heun, RK4), series, noise, statistics,
//! cancellation, compiled-in parameters and invalid arguments.

#![allow(clippy::needless_range_loop)]

use rateforge_kernel::abi::{RfArgs, RfSeries};
use rateforge_kernel::runner::{EULER, HEUN, RK4};
use rateforge_kernel::{Buffered, Model, StepInputs};
use std::sync::atomic::{AtomicBool, AtomicU64};

const L: usize = 4;
type Lane = [f64; L];

mod helpers {
    rateforge_kernel::model_prelude!(f64, false);
    pub(crate) fn fma(a: f64, b: f64, c: f64) -> f64 {
        rf_fma(a, b, c)
    }
}
use helpers::fma;

/// `x' = -k x + c + u`, a network coupled through `c = a * sum_j w_ij x_j(t - d_ij)` with
/// `d_ij = round(distance / speed / dt)`; `u` a series; `k`, `a`, `speed` parameters.
struct Decay;

impl Decay {
    fn rhs(x: f64, k: f64, c: f64, u: f64) -> f64 {
        -k * x + c + u
    }
}

impl Model<L> for Decay {
    type F = f64;
    type H = f64;
    type States = [Lane; 1];
    type Params = [Lane; 3];
    type Derived = [Lane; 0];
    type Series = [Lane; 1];
    type Delayed = [Lane; 0];
    type Couplings = [Lane; 1];
    type Noise = [Lane; 0];
    const NETWORK: bool = true;
    const FUSED: bool = false;
    const HISTORY_ZERO: bool = false;
    const PRE_SOURCE_ONLY: bool = true;
    const MODEL_HASH: [u8; 64] = [b'0'; 64];
    const BUFFERED: &'static [Buffered] = &[Buffered::State(0)];
    const DELAYS: &'static [(usize, usize)] = &[];
    const COUPLINGS: &'static [(usize, usize)] = &[(0, 0)];
    const UNCOMPUTED: &'static [usize] = &[];
    const INIT_FROM: &'static [(usize, Buffered)] = &[];
    const INLINED: &'static [(usize, f64)] = &[];

    fn derived(
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::Derived,
    ) {
    }
    fn derived_free(
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::Derived,
    ) {
    }
    fn noise(
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &Self::Derived,
        _: &mut Self::Noise,
    ) {
    }
    fn euler(
        _: f64,
        dt: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &mut Self::States,
        _: &Self::Noise,
    ) {
        for l in 0..L {
            let k = Decay::rhs(ys[0][l], p[0][l], x.c[0][l], x.u[0][l]);
            ys[0][l] = fma(dt, k, ys[0][l]);
        }
    }
    fn heun1(
        _: f64,
        dt: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        tmp: &mut Self::States,
        k1: &mut Self::States,
        _: &Self::Noise,
    ) {
        for l in 0..L {
            let k = Decay::rhs(ys[0][l], p[0][l], x.c[0][l], x.u[0][l]);
            k1[0][l] = k;
            tmp[0][l] = fma(dt, k, ys[0][l]);
        }
    }
    fn heun2(
        _: f64,
        h2: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        y: &mut Self::States,
        k1: &Self::States,
        _: &Self::Noise,
    ) {
        for l in 0..L {
            let k = Decay::rhs(ys[0][l], p[0][l], x.c[0][l], x.u[0][l]);
            y[0][l] = fma(h2, k1[0][l] + k, y[0][l]);
        }
    }
    fn rk4_1(
        _: f64,
        h2: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        tmp: &mut Self::States,
        acc: &mut Self::States,
    ) {
        for l in 0..L {
            let k = Decay::rhs(ys[0][l], p[0][l], x.c[0][l], x.u[0][l]);
            acc[0][l] = k;
            tmp[0][l] = fma(h2, k, ys[0][l]);
        }
    }
    fn rk4_mid(
        _: f64,
        h: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &mut Self::States,
        y: &Self::States,
        acc: &mut Self::States,
    ) {
        for l in 0..L {
            let k = Decay::rhs(ys[0][l], p[0][l], x.c[0][l], x.u[0][l]);
            acc[0][l] = fma(2.0, k, acc[0][l]);
            ys[0][l] = fma(h, k, y[0][l]);
        }
    }
    fn rk4_4(
        _: f64,
        h6: f64,
        p: &Self::Params,
        x: &StepInputs<Self, L>,
        ys: &Self::States,
        y: &mut Self::States,
        acc: &Self::States,
    ) {
        for l in 0..L {
            let k = Decay::rhs(ys[0][l], p[0][l], x.c[0][l], x.u[0][l]);
            y[0][l] = fma(h6, acc[0][l] + k, y[0][l]);
        }
    }
    fn coupling_pre(
        _: usize,
        w: f64,
        cs: &[f64; L],
        _: f64,
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &Self::States,
        _: &Self::Derived,
        gx: &mut Lane,
    ) {
        for l in 0..L {
            gx[l] = fma(w, cs[l], gx[l]);
        }
    }
    fn coupling_post(
        _: usize,
        _: f64,
        _: f64,
        _: f64,
        gx: &Lane,
        p: &Self::Params,
        out: &mut Lane,
    ) {
        for l in 0..L {
            out[l] = p[1][l] * gx[l];
        }
    }
    fn edge_delay(l: usize, dist: f64, dt: f64, _: f64, p64: &[[f64; L]]) -> usize {
        rateforge_kernel::runner::delay_steps(dist / p64[2][l], dt)
    }
}

/// A network of 3 nodes: 0 <- 1 (w 0.5, distance 3), 0 <- 2 (w -0.25, distance 1),
/// 1 <- 0 (w 1, distance 2), 2 <- 2 (w 0.1, distance 0.4).
struct Net {
    row_start: Vec<u64>,
    source: Vec<u32>,
    weight: Vec<f64>,
    distance: Vec<f64>,
}

fn net() -> Net {
    Net {
        row_start: vec![0, 2, 3, 4],
        source: vec![1, 2, 0, 2],
        weight: vec![0.5, -0.25, 1.0, 0.1],
        distance: vec![3.0, 1.0, 2.0, 0.4],
    }
}

/// The same run by a plain loop over instances: Euler, Heun or RK4 with the coupling held over
/// the step, the history before t0 the initial value.
#[allow(clippy::too_many_arguments)]
fn reference(
    solver: u32,
    params: &[[f64; 3]],
    init: &[[f64; 3]],
    series: &[f64],
    dt: f64,
    steps: usize,
) -> Vec<[f64; 3]> {
    let n = net();
    params
        .iter()
        .zip(init)
        .map(|(p, x0)| {
            let (k, a, speed) = (p[0], p[1], p[2]);
            let delay: Vec<usize> = n
                .distance
                .iter()
                .map(|&d| ((d / speed) / dt).round_ties_even() as usize)
                .collect();
            let mut hist: Vec<[f64; 3]> = vec![*x0];
            let mut x = *x0;
            for step in 0..steps {
                let u = series[step.min(series.len() - 1)];
                let mut c = [0.0; 3];
                for i in 0..3 {
                    let mut g = 0.0;
                    for e in n.row_start[i] as usize..n.row_start[i + 1] as usize {
                        let back = step.saturating_sub(delay[e]);
                        let xj = if delay[e] > step {
                            x0[n.source[e] as usize]
                        } else {
                            hist[back][n.source[e] as usize]
                        };
                        g = fma(n.weight[e], xj, g);
                    }
                    c[i] = a * g;
                }
                for i in 0..3 {
                    let f = |y: f64| Decay::rhs(y, k, c[i], u);
                    x[i] = match solver {
                        EULER => fma(dt, f(x[i]), x[i]),
                        HEUN => {
                            let k1 = f(x[i]);
                            let tmp = fma(dt, k1, x[i]);
                            fma(0.5 * dt, k1 + f(tmp), x[i])
                        }
                        _ => {
                            let k1 = f(x[i]);
                            let mut acc = k1;
                            let k2 = f(fma(0.5 * dt, k1, x[i]));
                            acc = fma(2.0, k2, acc);
                            let k3 = f(fma(0.5 * dt, k2, x[i]));
                            acc = fma(2.0, k3, acc);
                            let k4 = f(fma(dt, k3, x[i]));
                            fma(dt / 6.0, acc + k4, x[i])
                        }
                    };
                }
                hist.push(x);
            }
            x
        })
        .collect()
}

struct Run {
    final_state: Vec<f64>,
    trace: Vec<f64>,
    stats: Vec<f64>,
    steps_done: Vec<u64>,
    status: i32,
}

#[allow(clippy::too_many_arguments)]
fn run(
    solver: u32,
    params: &[[f64; 3]],
    init: &[[f64; 3]],
    series: &[f64],
    dt: f64,
    steps: u64,
    every: u64,
    cancel: Option<&AtomicBool>,
    node_threads: u32,
) -> Run {
    let n = params.len();
    let net = net();
    let mut p = vec![0.0; 3 * n];
    let mut y0 = vec![0.0; 3 * n];
    for i in 0..n {
        for k in 0..3 {
            p[k * n + i] = params[i][k];
            y0[k * n + i] = init[i][k];
        }
    }
    let samples = (steps / every) as usize + 1;
    let mut final_state = vec![f64::NAN; 3 * n];
    let mut trace = vec![f64::NAN; samples * 3 * n];
    let mut stats = vec![f64::NAN; 6 * 3 * n];
    let mut steps_done = vec![0u64; n];
    let record = [0u32];
    let thresholds = [0.5];
    let progress = AtomicU64::new(0);
    let s = RfSeries {
        data: series.as_ptr(),
        n_rows: series.len() as u64,
        n_cols: 1,
        mode: 0,
    };
    let args = RfArgs {
        n_instances: n as u64,
        begin: 0,
        end: n as u64,
        n_nodes: 3,
        n_steps: steps,
        record_every: every,
        dt,
        t0: 0.0,
        seed: 0,
        solver,
        n_record: 1,
        record: record.as_ptr(),
        params: p.as_ptr(),
        init: y0.as_ptr(),
        final_state: final_state.as_mut_ptr(),
        trace: trace.as_mut_ptr(),
        stats: stats.as_mut_ptr(),
        thresholds: thresholds.as_ptr(),
        transient_samples: 1,
        steps_done: steps_done.as_mut_ptr(),
        series: &s,
        dense: 0,
        row_start: net.row_start.as_ptr(),
        source: net.source.as_ptr(),
        weight: net.weight.as_ptr(),
        distance: net.distance.as_ptr(),
        progress: &progress,
        cancel: cancel.map_or(std::ptr::null(), |c| c as *const AtomicBool),
        node_threads,
        shared_noise: 0,
        instance_offset: 0,
        observe: std::ptr::null(),
    };
    // SAFETY: every array has the size the ABI asks for.
    let status = unsafe { rateforge_kernel::run::<Decay, L>(&args) };
    Run {
        final_state,
        trace,
        stats,
        steps_done,
        status,
    }
}

fn instances(n: usize) -> (Vec<[f64; 3]>, Vec<[f64; 3]>) {
    let params = (0..n)
        .map(|i| {
            [
                0.5 + 0.1 * i as f64,
                0.3 - 0.05 * i as f64,
                1.0 + 0.25 * (i % 3) as f64,
            ]
        })
        .collect();
    let init = (0..n).map(|i| [1.0, -0.5 + 0.1 * i as f64, 0.25]).collect();
    (params, init)
}

#[test]
fn every_solver_equals_a_plain_loop_with_delays_and_series() {
    // 6 instances: one full block of 4 lanes and a partial one.
    let (params, init) = instances(6);
    let series: Vec<f64> = (0..50).map(|s| 0.1 * (s as f64 * 0.3).sin()).collect();
    let (dt, steps) = (0.1, 40usize);
    // One thread, and the nodes shared by 2, 3 and (capped at the 3 nodes) 8 threads.
    for (solver, threads) in [EULER, HEUN, RK4]
        .into_iter()
        .flat_map(|s| [(s, 1), (s, 2), (s, 3), (s, 8)])
    {
        let r = run(
            solver,
            &params,
            &init,
            &series,
            dt,
            steps as u64,
            1,
            None,
            threads,
        );
        assert_eq!(r.status, 0);
        let expected = reference(solver, &params, &init, &series, dt, steps);
        for (i, x) in expected.iter().enumerate() {
            for node in 0..3 {
                assert_eq!(
                    r.final_state[node * 6 + i].to_bits(),
                    x[node].to_bits(),
                    "solver {solver}, {threads} threads, instance {i}, node {node}"
                );
            }
        }
        assert!(r.steps_done.iter().all(|&s| s == steps as u64));
    }
}

#[test]
fn statistics_equal_those_of_the_trace_and_samples_are_where_they_belong() {
    let (params, init) = instances(5);
    let series = [0.0];
    let r = run(HEUN, &params, &init, &series, 0.05, 60, 3, None, 1);
    assert_eq!(r.status, 0);
    // Nodes shared by two threads: the same trace and statistics, bit for bit.
    let shared = run(HEUN, &params, &init, &series, 0.05, 60, 3, None, 2);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&shared.trace), bits(&r.trace));
    assert_eq!(bits(&shared.stats), bits(&r.stats));
    let n = 5;
    let samples = 21;
    for i in 0..n {
        for node in 0..3 {
            let mut acc = rateforge_kernel::stats::Accumulator::default();
            for j in 1..samples {
                acc.add(r.trace[(j * 3 + node) * n + i], 0.5);
            }
            let expected = acc.finish(3.0 * 0.05);
            for k in 0..6 {
                let got = r.stats[(k * 3 + node) * n + i];
                assert_eq!(
                    got.to_bits(),
                    expected[k].to_bits(),
                    "stat {k} instance {i} node {node}"
                );
            }
            // The last sample is the final state.
            assert_eq!(
                r.trace[((samples - 1) * 3 + node) * n + i],
                r.final_state[node * n + i]
            );
        }
    }
}

#[test]
fn a_cancelled_run_stops_and_says_how_far_it_got() {
    let (params, init) = instances(3);
    let cancel = AtomicBool::new(true);
    // Alone, and with the nodes shared (every thread stops at the same step).
    for threads in [1, 3] {
        let r = run(
            EULER,
            &params,
            &init,
            &[0.0],
            1e-3,
            20_000,
            1,
            Some(&cancel),
            threads,
        );
        assert_eq!(r.status, 2);
        // Stopped at the first check (every 4096 steps), with what was done written.
        assert!(
            r.steps_done
                .iter()
                .all(|&s| s == rateforge_kernel::runner::CHECK_EVERY)
        );
        assert!(r.final_state.iter().all(|v| v.is_finite()));
        assert!(r.trace[..4096 * 3 * 3].iter().all(|v| v.is_finite()));
        assert!(r.trace[4097 * 3 * 3..].iter().all(|v| v.is_nan()));
    }
}

#[test]
fn invalid_arguments_are_refused() {
    // SAFETY: a null pointer is checked.
    assert_eq!(
        unsafe { rateforge_kernel::run::<Decay, L>(std::ptr::null()) },
        1
    );
    let (params, init) = instances(2);
    // rk4 with noise is refused only for noisy models; an unknown solver always.
    let r = run(7, &params, &init, &[0.0], 0.1, 3, 1, None, 1);
    assert_eq!(r.status, 1);
}

/// Decay with parameter `k` compiled in as 0.5.
struct Inlined;

impl Model<L> for Inlined {
    type F = f64;
    type H = f64;
    type States = [Lane; 1];
    type Params = [Lane; 3];
    type Derived = [Lane; 0];
    type Series = [Lane; 1];
    type Delayed = [Lane; 0];
    type Couplings = [Lane; 1];
    type Noise = [Lane; 0];
    const NETWORK: bool = true;
    const FUSED: bool = false;
    const HISTORY_ZERO: bool = false;
    const PRE_SOURCE_ONLY: bool = true;
    const MODEL_HASH: [u8; 64] = [b'1'; 64];
    const BUFFERED: &'static [Buffered] = &[Buffered::State(0)];
    const DELAYS: &'static [(usize, usize)] = &[];
    const COUPLINGS: &'static [(usize, usize)] = &[(0, 0)];
    const UNCOMPUTED: &'static [usize] = &[];
    const INIT_FROM: &'static [(usize, Buffered)] = &[];
    const INLINED: &'static [(usize, f64)] = &[(0, 0.5)];

    fn derived(
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::Derived,
    ) {
    }
    fn derived_free(
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::Derived,
    ) {
    }
    fn noise(
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &Self::Derived,
        _: &mut Self::Noise,
    ) {
    }
    fn euler(
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &mut Self::States,
        _: &Self::Noise,
    ) {
    }
    fn heun1(
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::States,
        _: &mut Self::States,
        _: &Self::Noise,
    ) {
    }
    fn heun2(
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::States,
        _: &Self::States,
        _: &Self::Noise,
    ) {
    }
    fn rk4_1(
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::States,
        _: &mut Self::States,
    ) {
    }
    fn rk4_mid(
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &mut Self::States,
        _: &Self::States,
        _: &mut Self::States,
    ) {
    }
    fn rk4_4(
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &StepInputs<Self, L>,
        _: &Self::States,
        _: &mut Self::States,
        _: &Self::States,
    ) {
    }
    fn coupling_pre(
        _: usize,
        _: f64,
        _: &[f64; L],
        _: f64,
        _: f64,
        _: f64,
        _: &Self::Params,
        _: &Self::States,
        _: &Self::Derived,
        _: &mut Lane,
    ) {
    }
    fn coupling_post(_: usize, _: f64, _: f64, _: f64, _: &Lane, _: &Self::Params, _: &mut Lane) {}
    fn edge_delay(l: usize, dist: f64, dt: f64, n: f64, p64: &[[f64; L]]) -> usize {
        <Decay as Model<L>>::edge_delay(l, dist, dt, n, p64)
    }
}

#[test]
fn compiled_in_parameters_refuse_other_values() {
    let net = net();
    let run_with = |k: f64| -> i32 {
        let p = [k, k, 0.1, 0.1, 1.0, 1.0];
        let init = [0.0; 6];
        let mut fin = [0.0; 6];
        let s = RfSeries {
            data: [0.0].as_ptr(),
            n_rows: 1,
            n_cols: 1,
            mode: 0,
        };
        let args = RfArgs {
            n_instances: 2,
            begin: 0,
            end: 2,
            n_nodes: 3,
            n_steps: 2,
            record_every: 1,
            dt: 0.1,
            t0: 0.0,
            seed: 0,
            solver: EULER,
            n_record: 0,
            record: std::ptr::null(),
            params: p.as_ptr(),
            init: init.as_ptr(),
            final_state: fin.as_mut_ptr(),
            trace: std::ptr::null_mut(),
            stats: std::ptr::null_mut(),
            thresholds: std::ptr::null(),
            transient_samples: 0,
            steps_done: std::ptr::null_mut(),
            series: &s,
            dense: 0,
            row_start: net.row_start.as_ptr(),
            source: net.source.as_ptr(),
            weight: net.weight.as_ptr(),
            distance: net.distance.as_ptr(),
            progress: std::ptr::null(),
            cancel: std::ptr::null(),
            node_threads: 1,
            shared_noise: 0,
            instance_offset: 0,
            observe: std::ptr::null(),
        };
        // SAFETY: every array has the size the ABI asks for.
        unsafe { rateforge_kernel::run::<Inlined, L>(&args) }
    };
    assert_eq!(run_with(0.5), 0);
    assert_eq!(run_with(0.6), 3);
    let info = rateforge_kernel::info::<Inlined, L>();
    assert_eq!(
        (info.n_state, info.n_param, info.n_inlined, info.lanes),
        (1, 3, 1, 4)
    );
    assert_eq!(info.layout_hash, rateforge_kernel::abi::LAYOUT_HASH);
}

#[test]
fn the_history_of_an_instance_is_nodes_times_horizon_times_buffers() {
    use rateforge_kernel::runner::history_len;
    // The 68-region Montbrió network at dt 0.01 ms: the longest delay is 12,645 steps, so 12,646
    // slots, of the one coupled variable (r), per node: 6.9 MB per instance in f64, with no lane
    // padding for a block of one instance.
    let one = history_len(1, 68, 12_646, 1).unwrap();
    assert_eq!(one * 8, 6_879_424);
    assert_eq!(history_len(1, 68, 12_646, 32).unwrap(), 32 * one);
    assert_eq!(history_len(2, 68, 12_646, 1).unwrap(), 2 * one);
    // Sizes that overflow are refused, not wrapped.
    assert_eq!(history_len(2, usize::MAX / 2, 2, 1), None);
}
