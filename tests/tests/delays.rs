//! Delayed edges: two Jansen–Rit columns coupled with a 5 ms delay, and distributed (gamma) delays.

use rateforge::{Backend, RunSpec, Solver};
use rateforge_tests::*;

const STATES: [&str; 8] = [
    "pc/rpo_e_in/v",
    "pc/rpo_e_in/x",
    "pc/rpo_i/v",
    "pc/rpo_i/x",
    "ein/rpo_e/v",
    "ein/rpo_e/x",
    "iin/rpo_e/v",
    "iin/rpo_e/x",
];

fn recorded() -> Vec<String> {
    ["jrc1", "jrc2"]
        .iter()
        .flat_map(|c| STATES.iter().map(move |s| format!("{c}/{s}")))
        .collect()
}

#[test]
fn delayed_coupling_kernel_equals_evaluator() {
    let model = load("examples/models/jansen_rit_coupled.yaml/JRC_delay")
        .validate()
        .unwrap();
    let k = kernel(&model);
    for solver in Solver::ALL {
        let spec = RunSpec {
            time: 0.3,
            dt: 1e-4,
            solver,
            every: Some(1e-3),
            record: recorded(),
            instances: 3,
            instance_values: vec![("jrc1/pc/rpo_e_in/u".into(), vec![200.0, 220.0, 240.0])],
            ..Default::default()
        };
        let native = run(&model, Backend::Native(&k), &spec);
        let interp = run(&model, Backend::Interp, &spec);
        let rel = native
            .trace
            .iter()
            .zip(&interp.trace)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1e-300))
            .filter(|r| !r.is_nan())
            .fold(0.0f64, f64::max);
        assert!(
            rel <= 1e-12,
            "{solver}: kernel and evaluator differ by {rel:e}"
        );
        // The delay matters: jrc2 differs from an uncoupled column.
        assert_ne!(
            native.series("jrc2/pc/rpo_e_in/v"),
            native.series("jrc1/pc/rpo_e_in/v")
        );
    }
}

/// An independent Euler loop of the two columns, written from the equations, with PyRates' zero
/// history: the coupling is `20 * m_pc1(t_(n - d))`, `d = round(0.005/dt)`, and 0 before t = 0.
fn hand_written(dt: f64, steps: usize, every: usize) -> Vec<[f64; 16]> {
    let s = |v: f64| 5.0 / (1.0 + (560.0 * (0.006 - v)).exp());
    let (he, te, hi, ti) = (3.25e-3, 0.01, -0.022, 0.02);
    let d = (0.005_f64 / dt).round() as usize;
    let mut y = [0.0f64; 16];
    let mut m_pc1 = Vec::with_capacity(steps + 1);
    let mut out = Vec::new();
    for n in 0..=steps {
        if n % every == 0 {
            out.push(y);
        }
        m_pc1.push(s(y[0] + y[2]));
        if n == steps {
            break;
        }
        let delayed = if n >= d { m_pc1[n - d] } else { 0.0 };
        let mut dy = [0.0f64; 16];
        for c in 0..2 {
            let o = 8 * c;
            let (ve, xe, vi, xi, v1, x1, v2, x2) = (
                y[o],
                y[o + 1],
                y[o + 2],
                y[o + 3],
                y[o + 4],
                y[o + 5],
                y[o + 6],
                y[o + 7],
            );
            let m_pc = s(ve + vi);
            let m_in_pc = 108.0 * s(v1) + if c == 1 { 20.0 * delayed } else { 0.0 };
            dy[o] = xe;
            dy[o + 1] = he * (m_in_pc + 220.0) / te - 2.0 * xe / te - ve / (te * te);
            dy[o + 2] = xi;
            dy[o + 3] = hi * (33.75 * s(v2)) / ti - 2.0 * xi / ti - vi / (ti * ti);
            dy[o + 4] = x1;
            dy[o + 5] = he * (135.0 * m_pc) / te - 2.0 * x1 / te - v1 / (te * te);
            dy[o + 6] = x2;
            dy[o + 7] = he * (33.75 * m_pc) / te - 2.0 * x2 / te - v2 / (te * te);
        }
        for i in 0..16 {
            y[i] += dt * dy[i];
        }
    }
    out
}

#[test]
fn zero_history_matches_a_hand_written_euler_loop() {
    let model = load("examples/models/jansen_rit_coupled.yaml/JRC_delay_zero_history")
        .validate()
        .unwrap();
    let (dt, steps, every) = (1e-4, 5000, 10);
    let spec = RunSpec {
        time: steps as f64 * dt,
        dt,
        solver: Solver::Euler,
        every: Some(every as f64 * dt),
        record: recorded(),
        ..Default::default()
    };
    let reference = hand_written(dt, steps, every);
    let k = kernel(&model);
    for backend in [Backend::Native(&k), Backend::Interp] {
        let out = run(&model, backend, &spec);
        assert_eq!(out.time.len(), reference.len());
        for (r, name) in recorded().iter().enumerate() {
            let ours = out.series(name).unwrap();
            let theirs: Vec<f64> = reference.iter().map(|row| row[r]).collect();
            let rel = max_rel_diff(&ours, &theirs);
            assert!(
                rel < 1e-9,
                "{} {name}: {rel:e} from the hand-written loop",
                backend.name()
            );
        }
    }
    // With the default (initial-value) history the early coupling differs.
    let initial = load("examples/models/jansen_rit_coupled.yaml/JRC_delay")
        .validate()
        .unwrap();
    let a = run(&initial, Backend::Interp, &spec)
        .series("jrc2/pc/rpo_e_in/x")
        .unwrap();
    let b = run(&model, Backend::Interp, &spec)
        .series("jrc2/pc/rpo_e_in/x")
        .unwrap();
    assert_ne!(a, b);
}

/// Mean and variance of the delay distribution from the step response `y`: the impulse response
/// is `y'`, so `E[T] = int (1 - y) dt` and `E[T^2] = int 2 t (1 - y) dt` (trapezoid rule).
fn moments(time: &[f64], y: &[f64]) -> (f64, f64) {
    let (mut m1, mut m2) = (0.0, 0.0);
    for k in 1..time.len() {
        let h = time[k] - time[k - 1];
        let f = |i: usize| 1.0 - y[i];
        m1 += 0.5 * h * (f(k - 1) + f(k));
        m2 += 0.5 * h * (2.0 * time[k - 1] * f(k - 1) + 2.0 * time[k] * f(k));
    }
    (m1, m2 - m1 * m1)
}

/// The chain model with another delay and spread (the fixture has delay 4, spread 1).
fn chain_model(delay: f64, spread: f64) -> rateforge::Validated {
    let text = std::fs::read_to_string(root().join("tests/models/valid/gamma_delay.yaml")).unwrap();
    let text = text.replace(
        "delay: 4.0, spread: 1.0",
        &format!("delay: {delay}, spread: {spread}"),
    );
    let dir = std::env::temp_dir().join(format!(
        "rateforge-gamma-{}-{delay}-{spread}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("g.yaml"), text).unwrap();
    let m = rateforge::Model::load(
        &format!("{}/g.yaml/chain", dir.display()),
        &Default::default(),
    );
    m.and_then(rateforge::Model::validate)
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

#[test]
fn gamma_chain_has_the_specified_order_and_rate() {
    // n = round((delay/spread)^2) stages of rate n/delay: mean `delay`, variance `delay^2 / n`.
    for (delay, spread, n) in [(4.0, 1.0, 16usize), (5.0, 2.0, 6)] {
        let model = chain_model(delay, spread);
        let stages = model
            .ir()
            .model()
            .states
            .values()
            .filter(|s| s.name.contains("/gamma["))
            .count();
        assert_eq!(stages, n, "chain order for delay {delay}, spread {spread}");
        let spec = RunSpec {
            time: 40.0 * delay,
            dt: 1e-3,
            solver: Solver::Rk4,
            record: vec!["b/sink/out".into()],
            ..Default::default()
        };
        let out = run(&model, Backend::Native(&kernel(&model)), &spec);
        let (mean, var) = moments(&out.time, &out.series("b/sink/out").unwrap());
        let rate = n as f64 / delay;
        assert!(
            (mean - n as f64 / rate).abs() < 1e-6,
            "mean {mean}, expected {delay}"
        );
        assert!(
            (var - n as f64 / (rate * rate)).abs() < 1e-5,
            "variance {var}, expected {}",
            delay * delay / n as f64
        );
    }
}

/// Delays longer than the run (a conduction speed of 1e-6 or 1e-300 mm/ms) read only the
/// history before t0: every backend caps them at the run's length, so the ring stays small
/// (it would be 10^9 slots per node at 1e-6) and the results are exactly those of any other
/// delay longer than the run, on the kernel and the evaluator alike.
#[test]
fn delays_longer_than_the_run_read_the_initial_history_with_bounded_memory() {
    let model = load("examples/models/networks/mpr68.yaml/mpr68")
        .validate()
        .unwrap();
    let spec = |speed: f64| RunSpec {
        time: 2.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(0.1),
        instances: 2,
        instance_values: vec![("network/speed".to_string(), vec![speed, speed])],
        ..Default::default()
    };
    assert_eq!(
        model.history_values(&spec(1e-300), model.ir().info().buffered.len()),
        model.ir().info().buffered.len() * 68 * 23
    );
    let k = kernel(&model);
    let slow = run(&model, Backend::Native(&k), &spec(1e-6));
    let slowest = run(&model, Backend::Native(&k), &spec(1e-300));
    let reference = run(&model, Backend::Interp, &spec(1e-300));
    assert_eq!(slow.trace, slowest.trace);
    assert_eq!(slowest.trace, reference.trace);
    assert_eq!(slowest.final_state, reference.final_state);
    let cuda = model
        .build_cuda(
            &rateforge::EmitOptions::default(),
            &build_options(),
            rateforge::CudaTarget::Emulated,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let emulated = run(&model, Backend::Cuda(&cuda), &spec(1e-300));
    assert_eq!(emulated.trace, reference.trace);
    // With the delays, not without them: a speed of 0 is refused rather than read as no delay.
    let none = model
        .run(Backend::Interp, &spec(0.0), Default::default())
        .unwrap_err()
        .render();
    assert!(
        none.contains(
            "the conduction speed `network/speed` is 0 (instance 0); it must be a positive number"
        ),
        "{none}"
    );
}
