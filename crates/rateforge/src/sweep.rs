//! Parameter sweeps: axes of values and their Cartesian grid, one instance per grid point.

use crate::error::Error;
use rateforge_ir::Diagnostic;

/// One swept parameter (or initial state): its path and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The path of the parameter or state.
    pub path: String,
    /// Its values, in order.
    pub values: Vec<f64>,
}

impl Axis {
    /// `n` evenly spaced values from `lo` to `hi`, both included, computed as numpy's
    /// `linspace(lo, hi, n)` does (`lo + i*step`, the last one exactly `hi`), so a grid can be
    /// reproduced in Python bit for bit. `n = 1` gives `[lo]`.
    pub fn linspace(path: impl Into<String>, lo: f64, hi: f64, n: usize) -> Result<Axis, Error> {
        let path = path.into();
        if n == 0 {
            return Err(Error::usage(
                Diagnostic::error(format!("`{path}` is swept over 0 points"))
                    .with_help("give at least one point"),
            ));
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(Error::usage(
                Diagnostic::error(format!("the range of `{path}` is not finite: {lo} to {hi}"))
                    .with_help("give finite numbers"),
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
}

/// The Cartesian product of the axes, the first axis varying slowest (Python's
/// `itertools.product`, as RateML's driver orders its work items): one value list per axis, each
/// with one entry per grid point, ready for [`crate::RunSpec::instance_values`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy() {
        // numpy.linspace(0.1, 0.7, 7): 0.1 + i*0.09999999999999999, last = 0.7
        let a = Axis::linspace("a", 0.1, 0.7, 7).unwrap();
        let step = (0.7f64 - 0.1) / 6.0;
        assert_eq!(a.values[3], 3.0 * step + 0.1);
        assert_eq!(a.values[6], 0.7);
        assert_eq!(Axis::linspace("a", 2.0, 5.0, 1).unwrap().values, vec![2.0]);
        assert!(Axis::linspace("a", 0.0, 1.0, 0).is_err());
    }

    #[test]
    fn grid_is_a_product_with_the_first_axis_slowest() {
        let g = grid(&[
            Axis {
                path: "a".into(),
                values: vec![1.0, 2.0],
            },
            Axis {
                path: "b".into(),
                values: vec![10.0, 20.0, 30.0],
            },
        ]);
        assert_eq!(g[0].1, vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        assert_eq!(g[1].1, vec![10.0, 20.0, 30.0, 10.0, 20.0, 30.0]);
    }
}
