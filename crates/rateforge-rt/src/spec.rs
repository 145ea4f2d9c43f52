//! The decisions every way of running a model makes the same way, written once: the time grid
//! (steps and sampling interval), the initial values (drawn from their ranges with the seed), the
//! transient of the statistics, and the sample times.

use rateforge_kernel::rng::uniform_init;
use rateforge_kernel::runner::clamp_value;

/// A mistake in a run's settings: what is wrong, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  = help: {}", self.message, self.help)
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for crate::RuntimeError {
    fn from(e: SpecError) -> Self {
        crate::RuntimeError::Invalid(e.to_string())
    }
}

fn err(message: String, help: impl Into<String>) -> SpecError {
    SpecError {
        message,
        help: help.into(),
    }
}

/// The most steps a run may have: 2^53, the largest count whose times `k * dt` float64 tells
/// apart.
pub const MAX_STEPS: u64 = 1 << 53;

/// `x / dt` as a whole number of steps, or an error naming `what`.
pub fn whole_steps(what: &str, x: f64, dt: f64) -> Result<u64, SpecError> {
    let ratio = x / dt;
    if ratio > MAX_STEPS as f64 {
        return Err(err(
            format!("{what} {x:?} is {ratio:.3e} steps of {dt:?}, more than a run can take (2^53)"),
            "choose a larger step size or a shorter time",
        ));
    }
    let n = ratio.round();
    if !ratio.is_finite() || n < 0.0 || (ratio - n).abs() > 1e-6 * n.max(1.0) {
        return Err(err(
            format!("{what} {x} is not a whole number of steps of {dt}"),
            format!(
                "choose {what} as a multiple of the step size (nearest: {})",
                n * dt
            ),
        ));
    }
    Ok(n as u64)
}

/// The steps of a run of `time` with step `dt`, and the steps between samples (`every`; `None`:
/// every step).
pub fn time_grid(time: f64, dt: f64, every: Option<f64>) -> Result<(u64, u64), SpecError> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(err(
            format!("the step size must be positive, found {dt}"),
            "give `--dt` as a positive number, e.g. `--dt 1e-3`",
        ));
    }
    if !(time.is_finite() && time >= 0.0) {
        return Err(err(
            format!("the simulated time must be positive, found {time}"),
            "give `--time` as a positive number",
        ));
    }
    if let Some(e) = every
        && !(e.is_finite() && e > 0.0)
    {
        return Err(err(
            format!("the sampling interval must be positive, found {e}"),
            "give `--every` as a positive multiple of `--dt`",
        ));
    }
    let n_steps = whole_steps("the simulated time", time, dt)?;
    let every_steps = match every {
        None => 1,
        Some(e) => whole_steps("the sampling interval", e, dt)?.max(1),
    };
    if every.is_some_and(|e| e < dt * 0.999_999) {
        return Err(err(
            "the sampling interval is shorter than the step size".into(),
            "choose `--every` as a multiple of `--dt`",
        ));
    }
    Ok((n_steps, every_steps))
}

/// The number of samples taken before `transient` (in time units) with `every` steps of `dt`
/// between samples: the statistics leave them out.
pub fn transient_samples(transient: f64, every: u64, dt: f64) -> Result<u64, SpecError> {
    if !(transient.is_finite() && transient >= 0.0) {
        return Err(err(
            format!("the transient must be a positive time, found {transient}"),
            "give `--transient` in the model's time unit, e.g. 100",
        ));
    }
    let interval = every as f64 * dt;
    Ok((transient / interval - 1e-9).ceil().max(0.0) as u64)
}

/// The times of `n_samples` samples taken every `every` steps of `dt` from `t0`.
pub fn sample_times(t0: f64, dt: f64, every: u64, n_samples: usize) -> Vec<f64> {
    (0..n_samples)
        .map(|j| t0 + (j as u64 * every) as f64 * dt)
        .collect()
}

/// A state's initial value: a number, or drawn uniformly from `range` per instance and node (then
/// clamped to `bounds`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitialValue {
    /// The value (when there is no range).
    pub value: f64,
    /// `(lo, hi)`: drawn as `lo + (hi - lo) * u`, `u` from Philox keyed by (seed, instance,
    /// node, state).
    pub range: Option<(f64, f64)>,
    /// `(lo, hi)`: the state's bounds.
    pub bounds: Option<(f64, f64)>,
}

/// The initial values of `n` instances of `nn` nodes, `[(s * nn + node) * n + i]` (the layout of
/// the kernels' `init`), drawn from the ranges with `seed` (rateforge-ir's "Initial values").
pub fn initial_values(states: &[InitialValue], n: usize, nn: usize, seed: u64) -> Vec<f64> {
    initial_values_from(states, n, nn, seed, 0)
}

/// [`initial_values`] of instances `offset .. offset + n` of a larger run (a shard of a sweep):
/// the values those instances have in the whole run.
pub fn initial_values_from(
    states: &[InitialValue],
    n: usize,
    nn: usize,
    seed: u64,
    offset: u64,
) -> Vec<f64> {
    let mut init = Vec::with_capacity(states.len() * nn * n);
    for (k, s) in states.iter().enumerate() {
        match s.range {
            None => init.extend(std::iter::repeat_n(s.value, nn * n)),
            Some((lo, hi)) => {
                for node in 0..nn {
                    for i in 0..n {
                        let u = uniform_init(seed, offset + i as u64, node as u64, k as u32);
                        let v = lo + (hi - lo) * u;
                        init.push(match s.bounds {
                            Some((blo, bhi)) => clamp_value(v, blo, bhi),
                            None => v,
                        });
                    }
                }
            }
        }
    }
    init
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_grid_is_checked() {
        assert_eq!(time_grid(1.0, 1e-3, Some(0.01)), Ok((1000, 10)));
        assert_eq!(time_grid(1.0, 1e-3, None), Ok((1000, 1)));
        assert!(
            time_grid(1.0, 0.3, None)
                .unwrap_err()
                .message
                .contains("whole number")
        );
        assert!(time_grid(1.0, -1.0, None).is_err());
        assert!(time_grid(f64::NAN, 1.0, None).is_err());
        assert!(time_grid(1.0, 0.1, Some(0.05)).is_err());
        assert_eq!(transient_samples(0.5, 10, 0.01), Ok(5));
        assert_eq!(sample_times(1.0, 0.5, 2, 3), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn drawn_initial_values_are_keyed_and_clamped() {
        let states = [
            InitialValue {
                value: 2.0,
                range: None,
                bounds: None,
            },
            InitialValue {
                value: 0.0,
                range: Some((-1.0, 1.0)),
                bounds: Some((0.0, 1.0)),
            },
        ];
        let v = initial_values(&states, 3, 2, 7);
        assert_eq!(&v[..6], &[2.0; 6]);
        for (k, x) in v[6..].iter().enumerate() {
            let (node, i) = (k / 3, k % 3);
            let u = uniform_init(7, i as u64, node as u64, 1);
            assert_eq!(*x, clamp_value(-1.0 + 2.0 * u, 0.0, 1.0));
        }
    }
}
