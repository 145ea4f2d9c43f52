//! Goodness of fit of simulated FC and FCD to empirical data, per instance, and the cost a fit
//! minimises.
//!
//! With `FC_sim`, `FC_emp` the upper triangles (without the diagonal) of the simulated and the
//! empirical FC matrices, and `FCD_sim`, `FCD_emp` those of the FCD matrices:
//! * `fc_corr`: the Pearson correlation of `FC_sim` and `FC_emp`;
//! * `fc_rmse`: the root mean square of `FC_sim - FC_emp`;
//! * `fc_diff`: `|mean(FC_sim) - mean(FC_emp)|`;
//! * `fcd_ks`: the two-sample Kolmogorov–Smirnov distance between the values of `FCD_sim` and
//!   `FCD_emp` (the largest difference of their empirical distribution functions);
//! * `cost = -fc_corr + fc_diff + fcd_ks` (cuBNM's: each term of the goodness of fit
//!   `+fc_corr -fc_diff -fcd_ks`, negated; `fcd_ks` only with an FCD target). Lower is better;
//!   a perfect fit costs -1. An instance whose FC or FCD is not finite costs `+inf`.

use crate::error::Error;
use crate::run::BoldSpec;
use rateforge_ir::Diagnostic;
use rateforge_rt::kernel::observe::{FcStream, ObserveShape};
use std::path::Path;

/// The metrics, in the order of [`Goodness::values`], as they are named in results
/// (`fit/<name>`).
pub const METRICS: [&str; 5] = ["cost", "fc_corr", "fc_rmse", "fc_diff", "fcd_ks"];

/// Empirical FC (and FCD) to compare runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct FitTarget {
    /// Nodes.
    pub n: usize,
    /// FC, `n x n` row-major.
    pub fc: Vec<f64>,
    /// The FCD's upper triangle without the diagonal, sorted (empty: no FCD target).
    pub fcd: Vec<f64>,
}

/// How well one instance fits a target (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Goodness {
    /// The combined cost.
    pub cost: f64,
    /// Correlation of the FC upper triangles.
    pub fc_corr: f64,
    /// Their root mean square difference.
    pub fc_rmse: f64,
    /// The difference of their means.
    pub fc_diff: f64,
    /// KS distance of the FCD values (NaN without an FCD target).
    pub fcd_ks: f64,
}

impl Goodness {
    /// The values in the order of [`METRICS`].
    pub fn values(&self) -> [f64; 5] {
        [
            self.cost,
            self.fc_corr,
            self.fc_rmse,
            self.fc_diff,
            self.fcd_ks,
        ]
    }
}

/// The upper triangle without the diagonal of an `n x n` row-major matrix.
pub fn upper_triangle(m: &[f64], n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            out.push(m[i * n + j]);
        }
    }
    out
}

/// The Pearson correlation of `a` and `b` (two passes).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / len, b.iter().sum::<f64>() / len);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        ab += dx * dy;
        aa += dx * dx;
        bb += dy * dy;
    }
    ab / (aa * bb).sqrt()
}

/// The two-sample Kolmogorov–Smirnov distance of two sorted samples.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        // Step past every value equal to the smaller one in both samples.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// Sorted values (NaN last).
fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

impl FitTarget {
    /// A target from an FC matrix and, optionally, an FCD matrix.
    pub fn from_matrices(fc: Vec<f64>, n: usize, fcd: Option<(Vec<f64>, usize)>) -> Self {
        FitTarget {
            n,
            fc,
            fcd: fcd.map_or_else(Vec::new, |(m, w)| sorted(upper_triangle(&m, w))),
        }
    }

    /// A target from BOLD time series (`rows` samples of `n` nodes, row-major), FC and FCD
    /// computed as the kernels compute them (FCD with `bold`'s window and step, none without a
    /// window).
    pub fn from_bold(data: &[f64], rows: usize, n: usize, bold: &BoldSpec) -> Self {
        let shape = ObserveShape {
            n,
            n_tr: rows,
            transient: 0,
            window: bold.fcd_window,
            window_step: bold.fcd_step.max(1),
        };
        let mut fc = vec![0.0; n * n];
        let nw = shape.n_windows();
        let mut fcd = vec![0.0; nw * nw];
        if let Some(mut s) = FcStream::<1>::new(shape) {
            for r in 0..rows {
                let row: Vec<[f64; 1]> = (0..n).map(|k| [data[r * n + k]]).collect();
                s.add(&row);
            }
            s.write_fc(0, &mut |k, v| fc[k] = v);
            s.write_fcd(0, &mut |k, v| fcd[k] = v);
        }
        FitTarget::from_matrices(fc, n, (nw > 0).then_some((fcd, nw)))
    }

    /// Reads a target: an FC matrix (`.npy`, `.csv` or `.txt`, or the `fc` of a run's `.npz`
    /// output), an FCD matrix (`fcd` in an `.npz`), or BOLD time series (samples x nodes; `bold`
    /// in an `.npz`) from which both are computed with `bold`'s options.
    pub fn read(
        fc: Option<&Path>,
        fcd: Option<&Path>,
        bold_series: Option<&Path>,
        bold: &BoldSpec,
    ) -> Result<Option<FitTarget>, Error> {
        // A table file, or the array of that name in an `.npz` file (a run's output).
        let table = |path: &Path, name: &str| -> Result<rateforge_runtime::data::Table, Error> {
            let npz = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
            Ok(if npz {
                rateforge_rt::data::read_npz_table(path, name)?
            } else {
                rateforge_runtime::data::read_table(path)?
            })
        };
        let square = |path: &Path, what: &str| -> Result<(Vec<f64>, usize), Error> {
            let t = table(path, &what.to_ascii_lowercase())?;
            if t.n_rows != t.n_cols {
                return Err(Error::usage(
                    Diagnostic::error(format!(
                        "`{}` holds a {} x {} table; an {what} matrix is square",
                        path.display(),
                        t.n_rows,
                        t.n_cols
                    ))
                    .with_help(format!("give the {what} matrix itself, nodes x nodes")),
                ));
            }
            Ok((t.data, t.n_rows))
        };
        match (fc, bold_series) {
            (Some(_), Some(_)) => Err(Error::usage(
                Diagnostic::error("both an FC target and a BOLD target were given")
                    .with_help("give `--target-fc` (and `--target-fcd`) or `--target-bold`"),
            )),
            (None, None) => {
                if fcd.is_some() {
                    return Err(Error::usage(
                        Diagnostic::error("an FCD target needs an FC target")
                            .with_help("give `--target-fc FC.npy` too"),
                    ));
                }
                Ok(None)
            }
            (Some(fc), None) => {
                let (m, n) = square(fc, "FC")?;
                let fcd = fcd.map(|p| square(p, "FCD")).transpose()?;
                Ok(Some(FitTarget::from_matrices(m, n, fcd)))
            }
            (None, Some(b)) => {
                let t = table(b, "bold")?;
                Ok(Some(FitTarget::from_bold(
                    &t.data, t.n_rows, t.n_cols, bold,
                )))
            }
        }
    }

    /// The goodness of fit of a simulated FC (`n x n`) and FCD (`w x w`, when any).
    pub fn goodness(&self, fc: &[f64], fcd: Option<(&[f64], usize)>) -> Goodness {
        let a = upper_triangle(fc, self.n);
        let b = upper_triangle(&self.fc, self.n);
        let len = a.len() as f64;
        let fc_corr = pearson(&a, &b);
        let fc_rmse = (a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            / len)
            .sqrt();
        let fc_diff = (a.iter().sum::<f64>() / len - b.iter().sum::<f64>() / len).abs();
        let fcd_ks = match fcd {
            Some((m, w)) if !self.fcd.is_empty() => {
                ks_distance(&sorted(upper_triangle(m, w)), &self.fcd)
            }
            _ => f64::NAN,
        };
        let mut cost = -fc_corr + fc_diff;
        if !self.fcd.is_empty() {
            cost += fcd_ks;
        }
        if !cost.is_finite() {
            cost = f64::INFINITY;
        }
        Goodness {
            cost,
            fc_corr,
            fc_rmse,
            fc_diff,
            fcd_ks,
        }
    }

    /// Checks that a run of `n_nodes` nodes can be compared with this target.
    pub fn check_nodes(&self, n_nodes: usize) -> Result<(), Error> {
        if self.n == n_nodes {
            return Ok(());
        }
        Err(Error::usage(
            Diagnostic::error(format!(
                "the target FC has {} nodes, the network {n_nodes}",
                self.n
            ))
            .with_help("give the empirical FC of the same regions, in the connectivity's order"),
        ))
    }

    /// The goodness of fit of every instance of a run with BOLD, as `fit/<metric>` arrays (one
    /// value per instance).
    pub fn per_instance(
        &self,
        result: &crate::RunResult,
    ) -> Result<Vec<(String, Vec<f64>)>, Error> {
        let Some(o) = &result.observed else {
            return Err(Error::usage(
                Diagnostic::error("a fit target was given, but the run computes no FC")
                    .with_help("add `--bold PATH` (the variable that drives BOLD)"),
            ));
        };
        self.check_nodes(result.n_nodes)?;
        let (n, nn, nw) = (result.n_instances, result.n_nodes, o.n_windows);
        let mut out: Vec<(String, Vec<f64>)> = METRICS
            .iter()
            .map(|m| (format!("fit/{m}"), Vec::with_capacity(n)))
            .collect();
        for i in 0..n {
            let fc: Vec<f64> = (0..nn * nn).map(|k| o.fc[k * n + i]).collect();
            let fcd: Vec<f64> = (0..nw * nw).map(|k| o.fcd[k * n + i]).collect();
            let g = self.goodness(&fc, (nw > 0).then_some((&fcd[..], nw)));
            for (column, v) in out.iter_mut().zip(g.values()) {
                column.1.push(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_distance_of_known_samples() {
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(ks_distance(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        // F_a jumps to 1/2 at 1 and 1 at 3; F_b to 1/3 at 2, 2/3 at 3, 1 at 4.
        assert!((ks_distance(&[1.0, 3.0], &[2.0, 3.0, 4.0]) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn a_perfect_fit_costs_minus_one() {
        let fc = vec![1.0, 0.3, 0.5, 0.3, 1.0, -0.2, 0.5, -0.2, 1.0];
        let t = FitTarget::from_matrices(fc.clone(), 3, None);
        let g = t.goodness(&fc, None);
        assert!((g.fc_corr - 1.0).abs() < 1e-15 && g.fc_rmse == 0.0 && g.fc_diff == 0.0);
        assert!((g.cost + 1.0).abs() < 1e-15 && g.fcd_ks.is_nan());
    }
}

/// A parameter (or initial state) a fit varies, within bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct FreeParam {
    /// Its path.
    pub path: String,
    /// The lower bound.
    pub lo: f64,
    /// The upper bound.
    pub hi: f64,
}

impl FreeParam {
    /// The value at `u` in `[0, 1]` (`lo + u (hi - lo)`).
    pub fn at(&self, u: f64) -> f64 {
        self.lo + u * (self.hi - self.lo)
    }
}

/// How a fit searches.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Every combination of `points` evenly spaced values per free parameter (ends included),
    /// in one launch.
    Grid {
        /// Values per parameter.
        points: usize,
    },
    /// CMA-ES ([`crate::cmaes`]): one launch of `population` instances per generation.
    Cmaes {
        /// Points per generation (default: `4 + floor(3 ln n)`).
        population: usize,
        /// Generations.
        generations: usize,
        /// The initial step, as a fraction of each parameter's range.
        sigma: f64,
    },
}

/// What a fit does: the parameters it varies, how it searches, its seed.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// The free parameters.
    pub free: Vec<FreeParam>,
    /// The search.
    pub method: Method,
    /// Seed of the search (CMA-ES's samples).
    pub seed: u64,
}

/// One evaluated point.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The generation (launch) it belongs to.
    pub generation: usize,
    /// The free parameters' values.
    pub point: Vec<f64>,
    /// Its goodness of fit.
    pub goodness: Goodness,
}

/// What a fit found.
#[derive(Clone, Debug, PartialEq)]
pub struct FitResult {
    /// The free parameters.
    pub free: Vec<FreeParam>,
    /// Every evaluated point, in order.
    pub evaluations: Vec<Evaluation>,
    /// The index of the best (lowest cost) evaluation.
    pub best: Option<usize>,
    /// Whether the fit was stopped before its last generation.
    pub interrupted: bool,
}

impl FitOptions {
    /// The points of every generation of a grid search (one), in the unit cube.
    fn grid_points(&self, points: usize) -> Vec<Vec<f64>> {
        let k = self.free.len();
        let total = points.pow(k as u32);
        (0..total)
            .map(|mut idx| {
                let mut u = vec![0.0; k];
                for d in (0..k).rev() {
                    let j = idx % points;
                    idx /= points;
                    u[d] = if points == 1 {
                        0.5
                    } else {
                        j as f64 / (points - 1) as f64
                    };
                }
                u
            })
            .collect()
    }

    /// Checks the options; errors say what to change.
    pub fn check(&self) -> Result<(), Error> {
        let usage = |m: String, help: &str| Err(Error::usage(Diagnostic::error(m).with_help(help)));
        if self.free.is_empty() {
            return usage(
                "a fit needs at least one free parameter".into(),
                "give `--free PATH=LO:HI`",
            );
        }
        for f in &self.free {
            if !(f.lo.is_finite() && f.hi.is_finite() && f.lo < f.hi) {
                return usage(
                    format!("`{}` has bounds {}:{}", f.path, f.lo, f.hi),
                    "give finite bounds LO < HI, e.g. `--free rww_op/w=0.2:1.2`",
                );
            }
        }
        match self.method {
            Method::Grid { points } => {
                let total = (points as f64).powi(self.free.len() as i32);
                if points == 0 || total > 1e8 {
                    return usage(
                        format!(
                            "a grid of {points} points per parameter over {} parameters ({total:.0} points)",
                            self.free.len()
                        ),
                        "give 1 to a few hundred points per parameter and at most 10^8 in all, or use `--method cmaes`",
                    );
                }
            }
            Method::Cmaes {
                population,
                generations,
                sigma,
            } => {
                if !(2..=1_000_000).contains(&population) || generations == 0 {
                    return usage(
                        format!(
                            "CMA-ES with {population} points per generation and {generations} generations"
                        ),
                        "give `--population` of at least 2 and `--generations` of at least 1",
                    );
                }
                if !(sigma > 0.0 && sigma <= 1.0) {
                    return usage(
                        format!("an initial step of {sigma}"),
                        "the step is a fraction of each range, in (0, 1]",
                    );
                }
            }
        }
        Ok(())
    }
}

/// CMA-ES's points per generation when none are given: Hansen's `4 + floor(3 ln n)` for `n`
/// free parameters, at least 8 (one launch of a few instances costs little more than one).
pub fn default_population(n_free: usize) -> usize {
    crate::cmaes::Cmaes::default_population(n_free).max(8)
}

impl FitOptions {
    /// Instances per launch: the whole grid, or one CMA-ES generation.
    pub fn points_per_launch(&self) -> usize {
        match self.method {
            Method::Grid { points } => points.saturating_pow(self.free.len() as u32),
            Method::Cmaes { population, .. } => population,
        }
    }
}

/// The run a fit's kernel is built for: `base` with a launch's instances (at least 2) in which
/// every free parameter varies (its bounds), so no free parameter is compiled in and one kernel
/// serves every generation.
pub fn probe_spec(base: &crate::RunSpec, options: &FitOptions) -> crate::RunSpec {
    let mut probe = base.clone();
    probe.instances = options.points_per_launch().max(2);
    probe.instance_values = options
        .free
        .iter()
        .map(|f| {
            let mut v = vec![f.lo; probe.instances];
            v[1] = f.hi;
            (f.path.clone(), v)
        })
        .collect();
    probe
}

/// What [`fit`] reports after each generation: its number and its evaluations, the best so far.
pub struct Generation<'a> {
    /// The generation.
    pub index: usize,
    /// Generations in all (1 for a grid).
    pub of: usize,
    /// Its evaluations.
    pub evaluations: &'a [Evaluation],
    /// The best evaluation so far.
    pub best: &'a Evaluation,
}

/// Fits `valid` to `target`: each generation is one run of `base` (which asks for BOLD and FC,
/// and FCD for an FCD target) over the generation's points, on `backend`. `on_generation` is
/// called after each; the fit stops early, keeping what it found, when `controls.cancel` is set.
pub fn fit(
    valid: &crate::Validated,
    backend: crate::Backend<'_>,
    base: &crate::RunSpec,
    target: &FitTarget,
    options: &FitOptions,
    controls: crate::Controls<'_>,
    mut on_generation: impl FnMut(&Generation<'_>),
) -> Result<FitResult, Error> {
    options.check()?;
    let Some(bold) = &base.bold else {
        return Err(Error::usage(
            Diagnostic::error("a fit compares FC, and the run computes none")
                .with_help("give `--bold PATH` (the variable that drives BOLD)"),
        ));
    };
    if !target.fcd.is_empty() && bold.fcd_window == 0 {
        return Err(Error::usage(
            Diagnostic::error("the target has an FCD, and the run computes none")
                .with_help("give `--fcd-window N` (and `--fcd-step`) as the target's FCD was made"),
        ));
    }
    let mut out = FitResult {
        free: options.free.clone(),
        evaluations: Vec::new(),
        best: None,
        interrupted: false,
    };
    let generations = match options.method {
        Method::Grid { .. } => 1,
        Method::Cmaes { generations, .. } => generations,
    };
    let mut es = match options.method {
        Method::Cmaes {
            population, sigma, ..
        } => Some(crate::cmaes::Cmaes::new(
            vec![0.5; options.free.len()],
            sigma,
            population,
            options.seed,
        )),
        Method::Grid { .. } => None,
    };
    for g in 0..generations {
        let units = match (&es, &options.method) {
            (Some(es), _) => es.ask(),
            (None, Method::Grid { points }) => options.grid_points(*points),
            (None, _) => unreachable!("CMA-ES has a state"),
        };
        let points: Vec<Vec<f64>> = units
            .iter()
            .map(|u| options.free.iter().zip(u).map(|(f, &u)| f.at(u)).collect())
            .collect();
        let mut spec = base.clone();
        spec.instances = points.len();
        spec.instance_values = options
            .free
            .iter()
            .enumerate()
            .map(|(k, f)| (f.path.clone(), points.iter().map(|p| p[k]).collect()))
            .collect();
        spec.trace = false;
        spec.stats = None;
        let result = valid.run(backend, &spec, controls)?;
        if result.partial {
            out.interrupted = true;
            break;
        }
        let metrics = target.per_instance(&result)?;
        let first = out.evaluations.len();
        for (i, point) in points.into_iter().enumerate() {
            let v: Vec<f64> = metrics.iter().map(|(_, m)| m[i]).collect();
            out.evaluations.push(Evaluation {
                generation: g,
                point,
                goodness: Goodness {
                    cost: v[0],
                    fc_corr: v[1],
                    fc_rmse: v[2],
                    fc_diff: v[3],
                    fcd_ks: v[4],
                },
            });
        }
        out.best = (0..out.evaluations.len()).min_by(|&a, &b| {
            let (ca, cb) = (
                out.evaluations[a].goodness.cost,
                out.evaluations[b].goodness.cost,
            );
            ca.total_cmp(&cb).then(a.cmp(&b))
        });
        if let Some(es) = &mut es {
            let costs: Vec<f64> = out.evaluations[first..]
                .iter()
                .map(|e| e.goodness.cost)
                .collect();
            es.tell(&units, &costs);
        }
        if let Some(best) = out.best {
            on_generation(&Generation {
                index: g,
                of: generations,
                evaluations: &out.evaluations[first..],
                best: &out.evaluations[best],
            });
        }
        if controls
            .cancel
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
        {
            out.interrupted = g + 1 < generations;
            break;
        }
    }
    Ok(out)
}

impl FitResult {
    /// The arrays of a fit's `.npz` file: `grid/<path>` (every evaluated point), `fit/<metric>`
    /// (their goodness of fit), `generation`, and `best/<path>`, `best/<metric>` (one value
    /// each).
    pub fn arrays(&self) -> Vec<rateforge_rt::output::NpzArray> {
        use rateforge_rt::output::NpzArray;
        let n = self.evaluations.len();
        let array = |name: String, data: Vec<f64>| NpzArray {
            name,
            shape: vec![data.len()],
            data,
            imag: None,
        };
        let mut out = Vec::new();
        for (k, f) in self.free.iter().enumerate() {
            out.push(array(
                format!("grid/{}", f.path),
                self.evaluations.iter().map(|e| e.point[k]).collect(),
            ));
        }
        for (m, metric) in METRICS.iter().enumerate() {
            out.push(array(
                format!("fit/{metric}"),
                self.evaluations
                    .iter()
                    .map(|e| e.goodness.values()[m])
                    .collect(),
            ));
        }
        out.push(array(
            "generation".into(),
            self.evaluations
                .iter()
                .map(|e| e.generation as f64)
                .collect(),
        ));
        if let Some(b) = self.best.map(|b| &self.evaluations[b]) {
            for (k, f) in self.free.iter().enumerate() {
                out.push(array(format!("best/{}", f.path), vec![b.point[k]]));
            }
            for (m, metric) in METRICS.iter().enumerate() {
                out.push(array(
                    format!("best/{metric}"),
                    vec![b.goodness.values()[m]],
                ));
            }
        }
        debug_assert!(out.iter().take(self.free.len()).all(|a| a.data.len() == n));
        out
    }
}
