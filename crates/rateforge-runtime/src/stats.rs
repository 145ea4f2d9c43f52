//! Streaming statistics of recorded values computed from a stored trace (for the reference
//! evaluator and to check the kernels), with the kernels' own [`Accumulator`].
//!
//! Over the samples from number `transient_samples` on (sample `j` is taken at step
//! `j * record_every`), per instance, node and recorded value: the last sample, the mean and the
//! population variance (Welford's update, in sample order), the minimum and the maximum (NaN
//! samples are skipped by these two), and the time above a threshold (the number of samples
//! strictly above it times the sampling interval). Without samples every statistic is NaN.

use rateforge_kernel::abi::N_STATS;
pub use rateforge_kernel::stats::Accumulator;

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
    let mut out = vec![f64::NAN; N_STATS * n_record * n_nodes * n_instances];
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
