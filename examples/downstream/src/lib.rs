//! Two rateforge models compiled into this crate by its build script (`build.rs`), run through
//! their typed API: no Rust compiler, no shared library and no model file at run time.

include!(concat!(env!("OUT_DIR"), "/rateforge_models.rs"));

use rateforge_rt::{RunResult, RuntimeError, Solver, Target};

/// Jansen-Rit's cortical column for 2 s (Euler, dt = 0.1 ms), the pyramidal potential and the
/// excitatory and inhibitory postsynaptic potentials every millisecond.
pub fn jansen_rit(target: Target) -> Result<RunResult, RuntimeError> {
    jrc::Simulation::new()
        .target(target)
        .time(2.0)
        .dt(1e-4)
        .solver(Solver::Euler)
        .every(1e-3)
        .record([
            jrc::Var::pc__pro__v,
            jrc::Var::pc__rpo_e_in__v,
            jrc::Var::pc__rpo_i__v,
        ])
        .run(&jrc::Params::default())
}

/// The global couplings of the sweep: 64 values evenly spaced from 20 to 40.
pub fn couplings() -> Vec<f64> {
    (0..64).map(|k| 20.0 + 20.0 * k as f64 / 63.0).collect()
}

/// Montbrio-Pazo-Roxin on the 68-region connectome with delays, one instance per global
/// coupling of [`couplings`]: 40 ms at dt = 0.1 ms (Heun), sampled every millisecond.
pub fn mpr68_sweep(target: Target) -> Result<RunResult, RuntimeError> {
    let grid: Vec<mpr68::Params> = couplings()
        .into_iter()
        .map(|g| mpr68::Params {
            global_coupling: g,
            ..Default::default()
        })
        .collect();
    mpr68::Simulation::new()
        .target(target)
        .time(40.0)
        .dt(0.1)
        .solver(Solver::Heun)
        .every(1.0)
        .sweep(&grid)
}
