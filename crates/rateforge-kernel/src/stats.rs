//! Streaming statistics of recorded values: what kernels compute in their time loop so that huge
//! sweeps need no stored traces.
//!
//! Over the samples from number `transient_samples` on (sample `j` is taken at step
//! `j * record_every`), per instance, node and recorded value: the last sample, the mean and the
//! population variance (Welford's update, in sample order), the minimum and the maximum (NaN
//! samples are skipped by these two), and the time above a threshold (the number of samples
//! strictly above it times the sampling interval). Without samples every statistic is NaN. The
//! values come in the order of [`crate::abi::STATS`].

use crate::abi::N_STATS;

/// The running statistics of `L` series of samples taken together (the lanes of a block), so the
/// update of every lane is one vector loop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneStats<const L: usize> {
    count: f64,
    last: [f64; L],
    mean: [f64; L],
    m2: [f64; L],
    min: [f64; L],
    max: [f64; L],
    above: [f64; L],
}

impl<const L: usize> Default for LaneStats<L> {
    #[inline]
    fn default() -> Self {
        LaneStats {
            count: 0.0,
            last: [f64::NAN; L],
            mean: [0.0; L],
            m2: [0.0; L],
            min: [f64::INFINITY; L],
            max: [f64::NEG_INFINITY; L],
            above: [0.0; L],
        }
    }
}

impl<const L: usize> LaneStats<L> {
    /// Adds one sample to every lane: `values[l]` to lane `l`.
    #[allow(clippy::needless_range_loop)] // one vector loop over the lanes of every field
    #[inline(always)]
    pub fn add(&mut self, values: &[f64; L], threshold: f64) {
        self.count += 1.0;
        let count = self.count;
        for l in 0..L {
            let v = values[l];
            let delta = v - self.mean[l];
            self.mean[l] += delta / count;
            self.m2[l] += delta * (v - self.mean[l]);
            if v < self.min[l] {
                self.min[l] = v;
            }
            if v > self.max[l] {
                self.max[l] = v;
            }
            if v > threshold {
                self.above[l] += 1.0;
            }
            self.last[l] = v;
        }
    }

    /// `[last, mean, var, min, max, above]` of lane `l` (the order of [`crate::abi::STATS`]);
    /// `interval` is the time between samples.
    pub fn finish(&self, l: usize, interval: f64) -> [f64; N_STATS] {
        if self.count == 0.0 {
            return [f64::NAN; N_STATS];
        }
        [
            self.last[l],
            self.mean[l],
            self.m2[l] / self.count,
            self.min[l],
            self.max[l],
            self.above[l] * interval,
        ]
    }
}

/// The running statistics of one series of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Accumulator(LaneStats<1>);

impl Accumulator {
    /// Adds a sample.
    #[inline]
    pub fn add(&mut self, v: f64, threshold: f64) {
        self.0.add(&[v], threshold);
    }

    /// `[last, mean, var, min, max, above]` (the order of [`crate::abi::STATS`]); `interval` is
    /// the time between samples.
    pub fn finish(&self, interval: f64) -> [f64; N_STATS] {
        self.0.finish(0, interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_are_independent_series() {
        let mut lanes = LaneStats::<2>::default();
        let (mut a, mut b) = (Accumulator::default(), Accumulator::default());
        for k in 0..7 {
            let v = [k as f64 * 0.3, (k * k) as f64 - 4.0];
            lanes.add(&v, 1.0);
            a.add(v[0], 1.0);
            b.add(v[1], 1.0);
        }
        assert_eq!(lanes.finish(0, 0.5), a.finish(0.5));
        assert_eq!(lanes.finish(1, 0.5), b.finish(0.5));
    }

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
