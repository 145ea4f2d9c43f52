//! The observers a launch asks for (BOLD, FC, FCD; see `rateforge_kernel::observe` for what
//! they compute) and what comes back: sizes checked before anything is allocated, and the
//! arrays every backend fills.

use crate::error::RuntimeError;
use crate::exec::allocate_filled;
use rateforge_kernel::abi::RfObserve;
use rateforge_kernel::observe::{Balloon, BalloonStep, FcStream, Hemodynamics, ObserveShape};

/// BOLD, FC and FCD of a run (see `rateforge_kernel::observe`).
#[derive(Clone, Debug, PartialEq)]
pub struct ObserveRequest {
    /// The value that drives the BOLD model: an id as in `Launch::record`.
    pub driver: u32,
    /// Model steps per BOLD step.
    pub bold_every: u64,
    /// The BOLD step in seconds.
    pub bold_dt: f64,
    /// The Balloon–Windkessel constants.
    pub hemodynamics: Hemodynamics,
    /// BOLD steps per TR sample.
    pub tr_every: u64,
    /// TR samples in the run.
    pub n_tr: u64,
    /// TR samples left out of FC and FCD.
    pub transient: u64,
    /// FCD window in TR samples (0: no FCD).
    pub window: u64,
    /// TR samples between the starts of consecutive windows.
    pub window_step: u64,
    /// Keep the BOLD samples (else only FC and FCD: memory O(instances x nodes^2)).
    pub keep_bold: bool,
}

/// The observers' results, instance fastest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// TR samples per instance.
    pub n_tr: usize,
    /// FCD windows per instance.
    pub n_windows: usize,
    /// BOLD `[(sample * n_nodes + node) * n_instances + i]` (empty unless kept).
    pub bold: Vec<f64>,
    /// FC `[(a * n_nodes + b) * n_instances + i]`.
    pub fc: Vec<f64>,
    /// FCD `[(a * n_windows + b) * n_instances + i]` (empty without FCD).
    pub fcd: Vec<f64>,
}

impl ObserveRequest {
    /// The sizes for `n_nodes` nodes.
    pub fn shape(&self, n_nodes: usize) -> ObserveShape {
        ObserveShape {
            n: n_nodes,
            n_tr: self.n_tr as usize,
            transient: self.transient as usize,
            window: self.window as usize,
            window_step: self.window_step as usize,
        }
    }

    /// Checks the request against a run of `n_steps` steps, `n_values` states and derived
    /// values, `n_nodes` nodes and `n_instances` instances run `block` at a time on `threads`
    /// threads, and allocates the outputs: every size is checked before anything is allocated.
    pub fn allocate(
        &self,
        n_steps: u64,
        n_values: usize,
        n_nodes: usize,
        n_instances: usize,
        block: usize,
        threads: usize,
    ) -> Result<Observed, RuntimeError> {
        let bad = |m: String| Err(RuntimeError::Invalid(m));
        if self.driver as usize >= n_values {
            return bad(format!(
                "the BOLD driver id {} is out of range",
                self.driver
            ));
        }
        if self.bold_every == 0
            || self.tr_every == 0
            || self.bold_dt.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        {
            return bad("the BOLD step and the TR must be positive".into());
        }
        if self.window > 0 && self.window_step == 0 {
            return bad("the FCD window step must be at least one sample".into());
        }
        let bold_steps = n_steps / self.bold_every;
        if self
            .n_tr
            .checked_mul(self.tr_every)
            .is_none_or(|s| s > bold_steps)
        {
            return bad(format!(
                "{} TR samples do not fit in {n_steps} steps",
                self.n_tr
            ));
        }
        let shape = self.shape(n_nodes);
        let too_large = || {
            RuntimeError::OutOfMemory(
                "the FC and FCD of this run are too large to address; use fewer nodes, fewer FCD windows (a larger `--fcd-step`) or fewer instances".into(),
            )
        };
        let nw = shape.n_windows();
        let counts = [
            if self.keep_bold {
                shape
                    .n_tr
                    .checked_mul(n_nodes)
                    .and_then(|x| x.checked_mul(n_instances))
            } else {
                Some(0)
            },
            n_nodes
                .checked_mul(n_nodes)
                .and_then(|x| x.checked_mul(n_instances)),
            nw.checked_mul(nw).and_then(|x| x.checked_mul(n_instances)),
        ];
        let [bold, fc, fcd] = counts.map(|c| c.ok_or_else(too_large));
        let (bold, fc, fcd) = (bold?, fc?, fcd?);
        // What the threads keep while they run: one block's accumulators each.
        let scratch = shape
            .scratch_values()
            .and_then(|v| v.checked_mul(block.max(1)))
            .and_then(|v| v.checked_mul(threads.max(1)))
            .ok_or_else(too_large)?;
        if let Some(mem) = crate::exec::physical_memory()
            && (scratch as u64).saturating_mul(8) > mem
        {
            return Err(RuntimeError::OutOfMemory(format!(
                "the FCD windows of {threads} threads need {:.1} GiB while they run, more than this machine has; use a larger `--fcd-step` or a shorter `--fcd-window`",
                scratch as f64 * 8.0 / (1u64 << 30) as f64
            )));
        }
        Ok(Observed {
            n_tr: shape.n_tr,
            n_windows: nw,
            bold: allocate_filled(bold, f64::NAN, "BOLD samples")?,
            fc: allocate_filled(fc, f64::NAN, "FC matrices")?,
            fcd: allocate_filled(fcd, f64::NAN, "FCD matrices")?,
        })
    }

    /// The kernels' argument block, writing into `out`.
    pub fn abi(&self, out: &mut Observed) -> RfObserve {
        RfObserve {
            driver: self.driver,
            pad: 0,
            bold_every: self.bold_every,
            bold_dt: self.bold_dt,
            hemodynamics: self.hemodynamics.to_array(),
            tr_every: self.tr_every,
            n_tr: self.n_tr,
            transient: self.transient,
            window: self.window,
            window_step: self.window_step,
            bold: if self.keep_bold {
                out.bold.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
            fc: out.fc.as_mut_ptr(),
            fcd: if self.window > 0 {
                out.fcd.as_mut_ptr()
            } else {
                std::ptr::null_mut()
            },
        }
    }

    /// Observes instance `i` of `n_instances` from its driver's values at every BOLD step,
    /// `driver(k, node)` for `k < n_tr * tr_every` (what the reference evaluator does, with the
    /// kernels' own code).
    pub fn observe_instance(
        &self,
        out: &mut Observed,
        i: usize,
        n_instances: usize,
        n_nodes: usize,
        driver: impl Fn(usize, usize) -> f64,
    ) -> Result<(), RuntimeError> {
        let shape = self.shape(n_nodes);
        let mut fc = FcStream::<1>::new(shape).ok_or_else(|| {
            RuntimeError::OutOfMemory("not enough memory for the FCD windows".into())
        })?;
        let step = BalloonStep::new(self.bold_dt, self.hemodynamics);
        let mut balloons = vec![Balloon::<1>::rest(); n_nodes];
        let mut row = vec![[0.0]; n_nodes];
        for k in 0..(self.n_tr * self.tr_every) as usize {
            for (node, b) in balloons.iter_mut().enumerate() {
                b.step(&[driver(k, node)], &step);
            }
            if (k as u64 + 1).is_multiple_of(self.tr_every) {
                let j = (k as u64 + 1) / self.tr_every - 1;
                for (node, b) in balloons.iter().enumerate() {
                    row[node] = b.bold(&step);
                    if self.keep_bold {
                        out.bold[(j as usize * n_nodes + node) * n_instances + i] = row[node][0];
                    }
                }
                if j >= self.transient {
                    fc.add(&row);
                }
            }
        }
        fc.write_fc(0, &mut |k, v| out.fc[k * n_instances + i] = v);
        if self.window > 0 {
            fc.write_fcd(0, &mut |k, v| out.fcd[k * n_instances + i] = v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(window: u64, keep_bold: bool) -> ObserveRequest {
        ObserveRequest {
            driver: 0,
            bold_every: 10,
            bold_dt: 1e-3,
            hemodynamics: Hemodynamics::STEPHAN_2007,
            tr_every: 720,
            n_tr: 1200,
            transient: 40,
            window,
            window_step: 5,
            keep_bold,
        }
    }

    #[test]
    fn outputs_have_the_documented_sizes() {
        // 68 regions, 1200 TRs, 40 in the transient, windows of 44 every 5: 224 windows.
        let steps = 1200 * 720 * 10;
        let out = request(44, true).allocate(steps, 1, 68, 3, 16, 2).unwrap();
        assert_eq!(out.n_windows, (1160 - 44) / 5 + 1);
        assert_eq!(out.fc.len(), 68 * 68 * 3);
        assert_eq!(out.fcd.len(), out.n_windows * out.n_windows * 3);
        assert_eq!(out.bold.len(), 1200 * 68 * 3);
        let out = request(0, false).allocate(steps, 1, 68, 3, 16, 2).unwrap();
        assert!(out.bold.is_empty() && out.fcd.is_empty() && out.fc.len() == 68 * 68 * 3);
        // The per-instance state while running: means, co-moments, the ring, the windows.
        let shape = request(44, false).shape(68);
        let w = shape.n_windows();
        assert_eq!(
            shape.scratch_values().unwrap(),
            68 * 71 / 2 + 44 * 68 + w * (68 * 67 / 2 + 1)
        );
    }

    #[test]
    fn sizes_that_do_not_fit_are_refused_before_allocating() {
        let steps = 1200 * 720 * 10;
        // Too many TRs for the steps, a driver out of range.
        assert!(
            request(0, false)
                .allocate(steps - 1, 1, 4, 1, 1, 1)
                .is_err()
        );
        assert!(request(0, false).allocate(steps, 0, 4, 1, 1, 1).is_err());
        // Nodes or instances whose FC cannot be addressed, or would exceed the machine.
        let huge = request(0, false).allocate(steps, 1, usize::MAX / 2, 1, 1, 1);
        assert!(
            matches!(huge, Err(RuntimeError::OutOfMemory(_))),
            "{huge:?}"
        );
        let many = request(44, false).allocate(steps, 1, 1000, 1 << 20, 64, 1024);
        assert!(
            matches!(many, Err(RuntimeError::OutOfMemory(_))),
            "{many:?}"
        );
    }
}
