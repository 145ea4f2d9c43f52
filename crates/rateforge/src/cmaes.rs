//! CMA-ES (the covariance matrix adaptation evolution strategy, (mu/mu_w, lambda)), written from
//! N. Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772, 2016/2023), with its
//! default parameters, over the unit cube `[0, 1]^n`: a sample outside is reflected into the cube
//! at its faces, and the reflected point is the one evaluated and used in the update (a simple,
//! documented boundary handling; bounds of a fit map onto the cube linearly).
//!
//! The random numbers are Philox4x32-10 normals keyed by (seed, generation, individual,
//! coordinate), the same generator as the kernels' noise: a seed gives the same search on any
//! machine. The `cmaes` crate (0.2.2, MIT/Apache-2.0, last released December 2024) was
//! considered: its objective is a function called per point (a fit evaluates a whole generation
//! in one kernel launch), it brings nalgebra, `rand` and, by default, plotters with FreeType, and
//! its samples come from its own generator; what a fit needs (a handful of free parameters, one
//! eigen decomposition per generation, ask/tell) is about 200 lines here.

use rateforge_rt::kernel::rng::normal_with;

/// The state of a search.
#[derive(Clone, Debug)]
pub struct Cmaes {
    n: usize,
    lambda: usize,
    weights: Vec<f64>,
    mu_eff: f64,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c_1: f64,
    c_mu: f64,
    chi_n: f64,
    seed: u64,
    /// Generations done.
    pub generation: u64,
    /// The mean.
    pub mean: Vec<f64>,
    /// The step size.
    pub sigma: f64,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
    /// Covariance, row-major.
    c: Vec<f64>,
    /// Eigenvectors (columns) and square roots of the eigenvalues of `c`.
    b: Vec<f64>,
    d: Vec<f64>,
}

/// Eigen decomposition of a symmetric `n x n` matrix by cyclic Jacobi rotations: (eigenvectors
/// as columns of a row-major matrix, eigenvalues).
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let values = (0..n).map(|i| a[i * n + i]).collect();
    (v, values)
}

/// Reflects `x` into `[0, 1]` at the faces.
fn reflect(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.5;
    }
    let m = x.rem_euclid(2.0);
    if m > 1.0 { 2.0 - m } else { m }
}

impl Cmaes {
    /// The default population size of Hansen's tutorial for `n` dimensions: `4 + floor(3 ln n)`.
    pub fn default_population(n: usize) -> usize {
        4 + (3.0 * (n.max(1) as f64).ln()).floor() as usize
    }

    /// A search in `n` dimensions from `mean` (in the unit cube) with step size `sigma`,
    /// `lambda` points per generation (at least 2), seeded by `seed`.
    pub fn new(mean: Vec<f64>, sigma: f64, lambda: usize, seed: u64) -> Cmaes {
        let n = mean.len().max(1);
        let lambda = lambda.max(2);
        let mu = lambda / 2;
        let raw: Vec<f64> = (1..=mu)
            .map(|i| (mu as f64 + 0.5).ln() - (i as f64).ln())
            .collect();
        let total: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / total).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let nf = n as f64;
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c_1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let mut identity = vec![0.0; n * n];
        for i in 0..n {
            identity[i * n + i] = 1.0;
        }
        Cmaes {
            n,
            lambda,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu,
            chi_n,
            seed,
            generation: 0,
            mean,
            sigma,
            p_sigma: vec![0.0; n],
            p_c: vec![0.0; n],
            c: identity.clone(),
            b: identity,
            d: vec![1.0; n],
        }
    }

    /// Points per generation.
    pub fn population(&self) -> usize {
        self.lambda
    }

    /// The points of the next generation, in the unit cube: `m + sigma B D z`, reflected.
    pub fn ask(&self) -> Vec<Vec<f64>> {
        let n = self.n;
        (0..self.lambda)
            .map(|k| {
                let z: Vec<f64> = (0..n)
                    .map(|j| {
                        normal_with::<false>(self.seed, self.generation, k as u64, j as u64, 7)
                    })
                    .collect();
                (0..n)
                    .map(|i| {
                        let y: f64 = (0..n).map(|j| self.b[i * n + j] * self.d[j] * z[j]).sum();
                        reflect(self.mean[i] + self.sigma * y)
                    })
                    .collect()
            })
            .collect()
    }

    /// Updates the search with the points [`Cmaes::ask`] gave and their costs (lower is better).
    pub fn tell(&mut self, points: &[Vec<f64>], costs: &[f64]) {
        let n = self.n;
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|&a, &b| costs[a].total_cmp(&costs[b]).then(a.cmp(&b)));
        let old = self.mean.clone();
        let ys: Vec<Vec<f64>> = order
            .iter()
            .take(self.weights.len())
            .map(|&k| {
                (0..n)
                    .map(|i| (points[k][i] - old[i]) / self.sigma)
                    .collect()
            })
            .collect();
        let mut y_w = vec![0.0; n];
        for (w, y) in self.weights.iter().zip(&ys) {
            for i in 0..n {
                y_w[i] += w * y[i];
            }
        }
        for i in 0..n {
            self.mean[i] = old[i] + self.sigma * y_w[i];
        }
        // C^(-1/2) y_w = B D^-1 B^T y_w.
        let bt_y: Vec<f64> = (0..n)
            .map(|j| (0..n).map(|i| self.b[i * n + j] * y_w[i]).sum::<f64>() / self.d[j])
            .collect();
        let c_inv_y: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| self.b[i * n + j] * bt_y[j]).sum())
            .collect();
        let ks = (self.c_sigma * (2.0 - self.c_sigma) * self.mu_eff).sqrt();
        for (p, y) in self.p_sigma.iter_mut().zip(&c_inv_y) {
            *p = (1.0 - self.c_sigma) * *p + ks * y;
        }
        let norm_ps = self.p_sigma.iter().map(|v| v * v).sum::<f64>().sqrt();
        let g = (self.generation + 1) as f64;
        let h_sigma = norm_ps / (1.0 - (1.0 - self.c_sigma).powf(2.0 * g)).sqrt() / self.chi_n
            < 1.4 + 2.0 / (n as f64 + 1.0);
        let h = if h_sigma { 1.0 } else { 0.0 };
        let kc = (self.c_c * (2.0 - self.c_c) * self.mu_eff).sqrt();
        for (p, y) in self.p_c.iter_mut().zip(&y_w) {
            *p = (1.0 - self.c_c) * *p + h * kc * y;
        }
        let decay = 1.0 - self.c_1 - self.c_mu + (1.0 - h) * self.c_1 * self.c_c * (2.0 - self.c_c);
        for i in 0..n {
            for j in 0..n {
                let rank_mu: f64 = self
                    .weights
                    .iter()
                    .zip(&ys)
                    .map(|(w, y)| w * y[i] * y[j])
                    .sum();
                self.c[i * n + j] = decay * self.c[i * n + j]
                    + self.c_1 * self.p_c[i] * self.p_c[j]
                    + self.c_mu * rank_mu;
            }
        }
        self.sigma *= ((self.c_sigma / self.d_sigma) * (norm_ps / self.chi_n - 1.0)).exp();
        // Keep the step within the cube's scale.
        self.sigma = self.sigma.min(1.0);
        let (b, values) = symmetric_eigen(&self.c, n);
        self.b = b;
        self.d = values.iter().map(|v| v.max(1e-20).sqrt()).collect();
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_decomposition_reconstructs_the_matrix() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let (v, d) = symmetric_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3).map(|k| v[i * 3 + k] * d[k] * v[j * 3 + k]).sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn finds_the_minimum_of_a_shifted_ellipsoid_in_the_cube() {
        let target = [0.3, 0.8, 0.55];
        let cost = |x: &[f64]| {
            x.iter()
                .zip(target)
                .enumerate()
                .map(|(i, (a, b))| (1.0 + 9.0 * i as f64) * (a - b) * (a - b))
                .sum::<f64>()
        };
        let mut es = Cmaes::new(vec![0.5; 3], 0.3, Cmaes::default_population(3), 1);
        for _ in 0..120 {
            let xs = es.ask();
            let costs: Vec<f64> = xs.iter().map(|x| cost(x)).collect();
            es.tell(&xs, &costs);
        }
        for (m, t) in es.mean.iter().zip(target) {
            assert!((m - t).abs() < 1e-4, "{:?}", es.mean);
        }
        // The same seed, the same points.
        let a = Cmaes::new(vec![0.5; 3], 0.3, 7, 9).ask();
        assert_eq!(a, Cmaes::new(vec![0.5; 3], 0.3, 7, 9).ask());
        assert_ne!(a, Cmaes::new(vec![0.5; 3], 0.3, 7, 10).ask());
        assert!(a.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    }
}
