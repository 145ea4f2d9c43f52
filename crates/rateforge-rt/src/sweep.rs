//! Parameter sweeps: which values each instance of a run gets.
//!
//! A [`Sweep`] is a set of axes, one per swept parameter or initial state, combined into
//! instances:
//!
//! * **values of an axis** ([`Values`]): `lo:hi:n` (n evenly spaced values, both ends included,
//!   numpy's `linspace` bit for bit), `log:lo:hi:n` (evenly spaced exponents, numpy's
//!   `geomspace`-like `10^linspace(log10 lo, log10 hi, n)`), an explicit list `v1,v2,...`, or a
//!   range `lo:hi` for random sampling;
//! * **combination** ([`Mode`]): the Cartesian product (the first axis varies slowest, like
//!   `itertools.product` and RateML's driver), zipped axes of equal length (one instance per
//!   position), or `n` random samples of the ranges, independent uniforms or a Latin hypercube,
//!   from a seed;
//! * **tables**: rows of a CSV file whose header names the paths, one instance per row (zipped
//!   with the other axes, or combined as the product's slowest axis).
//!
//! Random numbers come from the same counter-based generator as the noise (Philox4x32-10), so a
//! sample depends only on (seed, sample, axis).

use crate::spec::SpecError;
use rateforge_kernel::rng::philox4x32_10;

/// One swept parameter (or initial state): its path and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The path of the parameter or state.
    pub path: String,
    /// Its values, in order.
    pub values: Vec<f64>,
}

fn usage(message: String, help: &str) -> SpecError {
    SpecError {
        message,
        help: help.to_string(),
    }
}

impl Axis {
    /// `n` evenly spaced values from `lo` to `hi`, both included, computed as numpy's
    /// `linspace(lo, hi, n)` does (`lo + i*step`, the last one exactly `hi`), so a grid can be
    /// reproduced in Python bit for bit. `n = 1` gives `[lo]`.
    pub fn linspace(
        path: impl Into<String>,
        lo: f64,
        hi: f64,
        n: usize,
    ) -> Result<Axis, SpecError> {
        let path = path.into();
        if n == 0 {
            return Err(usage(
                format!("`{path}` is swept over 0 points"),
                "give at least one point",
            ));
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(usage(
                format!("the range of `{path}` is not finite: {lo} to {hi}"),
                "give finite numbers",
            ));
        }
        let values = if n == 1 {
            vec![lo]
        } else {
            let step = (hi - lo) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + lo).collect();
            v[n - 1] = hi;
            v
        };
        Ok(Axis { path, values })
    }

    /// `n` values evenly spaced in logarithm from `lo` to `hi` (both positive), both included:
    /// `10^e` for `e` = `linspace(log10 lo, log10 hi, n)`, with the ends exactly `lo` and `hi`.
    pub fn logspace(
        path: impl Into<String>,
        lo: f64,
        hi: f64,
        n: usize,
    ) -> Result<Axis, SpecError> {
        let path = path.into();
        if !(lo > 0.0 && hi > 0.0) {
            return Err(usage(
                format!("a logarithmic range needs positive ends, found {lo} to {hi} for `{path}`"),
                "e.g. `log:0.01:10:16`",
            ));
        }
        let e = Axis::linspace(path.clone(), lo.log10(), hi.log10(), n)?;
        let mut values: Vec<f64> = e.values.iter().map(|x| 10f64.powf(*x)).collect();
        values[0] = lo;
        if n > 1 {
            values[n - 1] = hi;
        }
        Ok(Axis { path, values })
    }
}

/// The values of one axis as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// `lo:hi:n`.
    Linear(f64, f64, usize),
    /// `log:lo:hi:n`.
    Log(f64, f64, usize),
    /// `v1,v2,...`.
    List(Vec<f64>),
    /// `lo:hi`: a range for random sampling.
    Range(f64, f64),
}

impl Values {
    /// Reads `lo:hi:n`, `log:lo:hi:n`, `lo:hi` or `v1,v2,...` (`path` is for messages).
    pub fn parse(path: &str, text: &str) -> Result<Values, SpecError> {
        let bad = || {
            usage(
                format!("cannot read the values `{text}` of `{path}`"),
                "write `LO:HI:N` (N evenly spaced values), `log:LO:HI:N`, `LO:HI` (a range for --sample) or a list `V1,V2,...`",
            )
        };
        let num = |s: &str| -> Result<f64, SpecError> {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(bad)
        };
        let count = |s: &str| -> Result<usize, SpecError> {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    usage(
                        format!("`{s}` in `{text}` is not a positive number of points"),
                        "e.g. `0:1:8` for 8 values from 0 to 1",
                    )
                })
        };
        let text_t = text.trim();
        if let Some(rest) = text_t.strip_prefix("log:") {
            let p: Vec<&str> = rest.split(':').collect();
            return match p.as_slice() {
                [lo, hi, n] => Ok(Values::Log(num(lo)?, num(hi)?, count(n)?)),
                _ => Err(bad()),
            };
        }
        if text_t.contains(':') {
            let p: Vec<&str> = text_t.split(':').collect();
            return match p.as_slice() {
                [lo, hi, n] => Ok(Values::Linear(num(lo)?, num(hi)?, count(n)?)),
                [lo, hi] => Ok(Values::Range(num(lo)?, num(hi)?)),
                _ => Err(bad()),
            };
        }
        let list = text_t
            .split(',')
            .map(num)
            .collect::<Result<Vec<f64>, SpecError>>()?;
        if list.is_empty() {
            return Err(bad());
        }
        Ok(Values::List(list))
    }

    /// The axis of these values (a range has none until sampled).
    pub fn axis(&self, path: &str) -> Result<Option<Axis>, SpecError> {
        Ok(Some(match self {
            Values::Linear(lo, hi, n) => Axis::linspace(path, *lo, *hi, *n)?,
            Values::Log(lo, hi, n) => Axis::logspace(path, *lo, *hi, *n)?,
            Values::List(v) => Axis {
                path: path.to_string(),
                values: v.clone(),
            },
            Values::Range(..) => return Ok(None),
        }))
    }
}

/// How the axes combine into instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Every combination (the first axis slowest).
    #[default]
    Product,
    /// Position by position (all axes of equal length).
    Zip,
    /// `n` samples, each value independently uniform in its range.
    Uniform(usize),
    /// `n` samples of a Latin hypercube: every range cut into `n` strata, each stratum used
    /// once, a uniform point within it.
    LatinHypercube(usize),
}

/// A sweep: axes (values as written), optional table rows, and how they combine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sweep {
    /// Axes in order.
    pub axes: Vec<(String, Values)>,
    /// Table columns (path, one value per row), all of the same length.
    pub table: Vec<(String, Vec<f64>)>,
    /// How axes combine.
    pub mode: Mode,
    /// Seed of random sampling.
    pub seed: u64,
}

/// A uniform number in `[0, 1)` for (seed, sample, axis, stream) from Philox (53 bits).
fn uniform(seed: u64, sample: u64, axis: u32, stream: u32) -> f64 {
    let r = philox4x32_10(
        [sample as u32, (sample >> 32) as u32, axis, stream],
        [seed as u32, (seed >> 32) as u32 ^ 0x5EED_5EED],
    );
    let b = ((u64::from(r[0]) << 32) | u64::from(r[1])) >> 11;
    b as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// The most instances one sweep may have (their index is 32 bits wide in the random streams).
pub const MAX_INSTANCES: u64 = 1 << 32;

fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

impl Sweep {
    /// The number of instances the sweep makes, computed (and checked) before any value is: at
    /// most [`MAX_INSTANCES`], and their parameter values must fit in this machine's memory.
    pub fn count(&self) -> Result<u64, SpecError> {
        let len = |v: &Values| -> u128 {
            match v {
                Values::Linear(_, _, n) | Values::Log(_, _, n) => *n as u128,
                Values::List(l) => l.len() as u128,
                Values::Range(..) => 1,
            }
        };
        let rows = self.table.first().map(|(_, v)| v.len() as u128);
        let n: u128 = match self.mode {
            Mode::Product => self
                .axes
                .iter()
                .map(|(_, v)| len(v))
                .fold(rows.unwrap_or(1), u128::saturating_mul),
            Mode::Zip => self.axes.first().map(|(_, v)| len(v)).or(rows).unwrap_or(0),
            Mode::Uniform(n) | Mode::LatinHypercube(n) => n as u128,
        };
        if n > u128::from(MAX_INSTANCES) {
            return Err(usage(
                format!("the sweep has {n} instances, more than one sweep can run (2^32)"),
                "sweep fewer points, or split the sweep into several runs",
            ));
        }
        // One value per instance and swept path (and, for a Latin hypercube, its strata).
        let columns = (self.axes.len() + self.table.len()).max(1) as u128
            + u128::from(matches!(self.mode, Mode::LatinHypercube(_)));
        let bytes = n * columns * 8;
        if let Some(memory) = crate::exec::physical_memory()
            && bytes > u128::from(memory) / 2
        {
            return Err(usage(
                format!(
                    "the sweep has {n} instances: their parameter values alone need {}, and this machine has {}",
                    gib(bytes),
                    gib(u128::from(memory))
                ),
                "sweep fewer points, or split the sweep into several runs",
            ));
        }
        Ok(n as u64)
    }

    /// The instances: one value list per path, each with one entry per instance, ready for
    /// the instance values of a run.
    pub fn instances(&self) -> Result<Vec<(String, Vec<f64>)>, SpecError> {
        self.count()?;
        let mut seen = std::collections::HashSet::new();
        let paths = self
            .axes
            .iter()
            .map(|(p, _)| p)
            .chain(self.table.iter().map(|(p, _)| p));
        for p in paths {
            if !seen.insert(p.clone()) {
                return Err(usage(
                    format!("`{p}` is swept twice"),
                    "give each parameter one set of values",
                ));
            }
        }
        match self.mode {
            Mode::Product | Mode::Zip => {
                let mut axes = Vec::new();
                for (p, v) in &self.axes {
                    match v.axis(p)? {
                        Some(a) => axes.push(a),
                        None => {
                            return Err(usage(
                                format!("`{p}` has a range but no number of points"),
                                "write `LO:HI:N`, or sample the ranges with `--sample uniform|lhs --samples N`",
                            ));
                        }
                    }
                }
                let rows = self.table.first().map(|(_, v)| v.len());
                if self.mode == Mode::Zip {
                    let n = axes.first().map(|a| a.values.len()).or(rows).unwrap_or(0);
                    if let Some(a) = axes.iter().find(|a| a.values.len() != n) {
                        return Err(usage(
                            format!(
                                "zipped axes differ in length: `{}` has {} values, not {n}",
                                a.path,
                                a.values.len()
                            ),
                            "give every axis the same number of values, or drop `--zip` for all combinations",
                        ));
                    }
                    if rows.is_some_and(|r| r != n) {
                        return Err(usage(
                            format!(
                                "the table has {} rows, the axes {n} values",
                                rows.unwrap_or(0)
                            ),
                            "zipped axes and table rows must be as many",
                        ));
                    }
                    let mut out: Vec<(String, Vec<f64>)> =
                        axes.into_iter().map(|a| (a.path, a.values)).collect();
                    out.extend(self.table.iter().cloned());
                    return Ok(out);
                }
                // Product: the table's rows are the slowest axis.
                let mut out = Vec::new();
                let n_rows = rows.unwrap_or(1);
                let inner: usize = axes.iter().map(|a| a.values.len()).product();
                for (p, col) in &self.table {
                    out.push((
                        p.clone(),
                        (0..n_rows * inner).map(|k| col[k / inner]).collect(),
                    ));
                }
                for (p, v) in grid(&axes) {
                    out.push((p, (0..n_rows * inner).map(|k| v[k % inner]).collect()));
                }
                Ok(out)
            }
            Mode::Uniform(n) | Mode::LatinHypercube(n) => {
                if n == 0 {
                    return Err(usage(
                        "random sampling with 0 samples".into(),
                        "give `--samples N` with N > 0",
                    ));
                }
                if !self.table.is_empty() {
                    return Err(usage(
                        "a table cannot be combined with random sampling".into(),
                        "sample ranges, or give the rows of a table",
                    ));
                }
                let mut out = Vec::new();
                for (k, (p, v)) in self.axes.iter().enumerate() {
                    let (lo, hi) = match v {
                        Values::Range(lo, hi)
                        | Values::Linear(lo, hi, _)
                        | Values::Log(lo, hi, _) => (*lo, *hi),
                        Values::List(_) => {
                            return Err(usage(
                                format!("`{p}` is a list; random sampling needs a range `LO:HI`"),
                                "e.g. `--range p/op/eta=-6:-4 --sample lhs --samples 1000`",
                            ));
                        }
                    };
                    let axis = k as u32;
                    let values: Vec<f64> = match self.mode {
                        Mode::Uniform(_) => (0..n)
                            .map(|i| lo + (hi - lo) * uniform(self.seed, i as u64, axis, 0))
                            .collect(),
                        _ => {
                            // A random permutation of the strata (Fisher-Yates), then a point in each.
                            let mut strata: Vec<usize> = (0..n).collect();
                            for i in (1..n).rev() {
                                let j = (uniform(self.seed, i as u64, axis, 1) * (i + 1) as f64)
                                    as usize;
                                strata.swap(i, j.min(i));
                            }
                            (0..n)
                                .map(|i| {
                                    let u = uniform(self.seed, i as u64, axis, 2);
                                    lo + (hi - lo) * ((strata[i] as f64 + u) / n as f64)
                                })
                                .collect()
                        }
                    };
                    out.push((p.clone(), values));
                }
                Ok(out)
            }
        }
    }
}

/// The Cartesian product of the axes, the first axis varying slowest (Python's
/// `itertools.product`, as RateML's driver orders its work items): one value list per axis, each
/// with one entry per grid point.
pub fn grid(axes: &[Axis]) -> Vec<(String, Vec<f64>)> {
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    let mut out = Vec::with_capacity(axes.len());
    let mut inner = total;
    for a in axes {
        let n = a.values.len();
        inner /= n.max(1);
        let values = (0..total).map(|i| a.values[(i / inner) % n]).collect();
        out.push((a.path.clone(), values));
    }
    out
}
