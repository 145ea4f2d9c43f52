//! Streaming statistics of recorded values: what kernels compute in their time loop so that huge
//! sweeps need no stored traces, and the same computation from a stored trace (for the reference
//! evaluator and to check the kernels).
//!
//! Over the samples from number `transient_samples` on (sample `j` is taken at step
//! `j * record_every`), per instance, node and recorded value: the last sample, the mean and the
//! population variance (Welford's update, in sample order), the minimum and the maximum (NaN
//! samples are skipped by these two), and the time above a threshold (the number of samples
//! strictly above it times the sampling interval). Without samples every statistic is NaN.

/// The running statistics of one series of samples (the kernels' `Stat`, lane by lane).
#[derive(Clone, Copy, Debug)]
pub struct Accumulator {
    count: f64,
    last: f64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    above: f64,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            count: 0.0,
            last: f64::NAN,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            above: 0.0,
        }
    }
}

impl Accumulator {
    /// Adds a sample.
    pub fn add(&mut self, v: f64, threshold: f64) {
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (v - self.mean);
        if v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
        if v > threshold {
            self.above += 1.0;
        }
        self.last = v;
    }

    /// `[last, mean, var, min, max, above]` (the order of [`crate::abi::STATS`]); `interval` is
    /// the time between samples.
    pub fn finish(&self, interval: f64) -> [f64; 6] {
        if self.count == 0.0 {
            return [f64::NAN; 6];
        }
        [
            self.last,
            self.mean,
            self.m2 / self.count,
            self.min,
            self.max,
            self.above * interval,
        ]
    }
}

/// Statistics from a full trace (`[((sample * n_record + r) * n_nodes + node) * n_instances + i]`)
/// in the kernels' layout (`[((k * n_record + r) * n_nodes + node) * n_instances + i]`).
#[allow(clippy::too_many_arguments)]
pub fn from_trace(
    trace: &[f64],
    n_samples: usize,
    n_record: usize,
    n_nodes: usize,
    n_instances: usize,
    transient_samples: usize,
    thresholds: &[f64],
    interval: f64,
) -> Vec<f64> {
    let mut out = vec![f64::NAN; 6 * n_record * n_nodes * n_instances];
    for r in 0..n_record {
        let threshold = thresholds.get(r).copied().unwrap_or(f64::NAN);
        for node in 0..n_nodes {
            for i in 0..n_instances {
                let mut acc = Accumulator::default();
                for j in transient_samples..n_samples {
                    acc.add(
                        trace[((j * n_record + r) * n_nodes + node) * n_instances + i],
                        threshold,
                    );
                }
                for (k, v) in acc.finish(interval).iter().enumerate() {
                    out[((k * n_record + r) * n_nodes + node) * n_instances + i] = *v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_known_series() {
        let mut a = Accumulator::default();
        for v in [1.0, 2.0, 3.0, 4.0, f64::NAN.max(5.0)] {
            a.add(v, 2.5);
        }
        let [last, mean, var, min, max, above] = a.finish(0.1);
        assert_eq!((last, mean, min, max), (5.0, 3.0, 1.0, 5.0));
        assert!((var - 2.0).abs() < 1e-15);
        assert!((above - 0.3).abs() < 1e-15);
        assert!(
            Accumulator::default()
                .finish(1.0)
                .iter()
                .all(|v| v.is_nan())
        );
    }
}
