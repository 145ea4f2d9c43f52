//! Fixed-step solvers and stage times (see the crate docs, "Time stepping").

pub use rateforge_kernel::solver::Solver;

/// `t_n = t0 + n*dt`.
pub fn step_time(t0: f64, dt: f64, n: u64) -> f64 {
    t0 + n as f64 * dt
}

/// `t_(n+1/2) = t0 + (n + 0.5)*dt`.
pub fn mid_time(t0: f64, dt: f64, n: u64) -> f64 {
    t0 + (n as f64 + 0.5) * dt
}

/// The left limit of the end of step `n`: `next_down(t0 + (n+1)*dt)`.
pub fn end_time(t0: f64, dt: f64, n: u64) -> f64 {
    (t0 + (n + 1) as f64 * dt).next_down()
}
