//! Parameter sweeps: which values each instance of a run gets. The axes, their combination and
//! random designs are `rateforge_rt::sweep` (shared with compiled-in models and generated crates);
//! this module adds the files that describe sweeps (YAML sweep files, CSV tables).

use crate::error::Error;
use rateforge_ir::Diagnostic;
pub use rateforge_rt::sweep::{Axis, Mode, Sweep, Values, grid};

/// The model's declared swept parameters (RateML's `<Parameter dimension="lo, hi">`) as sweep
/// axes, first in every sweep: `points` values each where given (by name), else 1 where
/// `lo = hi` and 4 otherwise (RateML's default). A name the model does not sweep is an error.
pub fn declared_axes(
    valid: &crate::Validated,
    points: &[(String, usize)],
) -> Result<Vec<(String, Values)>, Error> {
    let declared = valid.sweep_axes();
    for (name, _) in points {
        if !declared.iter().any(|a| &a.name == name) {
            let names: Vec<String> = declared.iter().map(|a| format!("`{}`", a.name)).collect();
            return Err(usage(
                format!("`{name}` is not a swept parameter of the model"),
                &if names.is_empty() {
                    "the model declares no swept parameters; sweep any parameter with `--range PATH=LO:HI:N`".to_string()
                } else {
                    format!(
                        "the model sweeps {}; sweep other parameters with `--range PATH=LO:HI:N`",
                        names.join(", ")
                    )
                },
            ));
        }
    }
    Ok(declared
        .iter()
        .map(|a| {
            let given = points.iter().rev().find(|(n, _)| *n == a.name);
            let n = given.map_or(if a.lo == a.hi { 1 } else { 4 }, |(_, n)| *n);
            (a.name.clone(), Values::Linear(a.lo, a.hi, n))
        })
        .collect())
}

fn usage(message: String, help: &str) -> Error {
    Error::usage(Diagnostic::error(message).with_help(help.to_string()))
}

/// Reads a sweep file (YAML):
///
/// ```yaml
/// mode: product            # product (default), zip, uniform or lhs
/// samples: 1000            # for uniform and lhs
/// seed: 3                  # for uniform and lhs
/// parameters:
///   p/qif_op/eta: -6:-4:16         # as on the command line
///   p/qif_op/J: [10, 15, 20]       # or a list
/// table: rows.csv          # rows of instances, relative to the file
/// ```
///
/// Errors point into the file.
pub fn read_sweep_file(path: &std::path::Path) -> Result<Sweep, Error> {
    use rateforge_front::yaml::{self, Value};
    let mut sources = rateforge_ir::SourceMap::new();
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage(
            format!("cannot read the sweep file `{}`: {e}", path.display()),
            "check that the file exists and is readable",
        )
    })?;
    let file = sources.add(path.display().to_string(), text.clone());
    let located =
        |sources: &rateforge_ir::SourceMap, d: Diagnostic| Error::model(sources, d.into());
    let root = yaml::parse(&text, file).map_err(|d| located(&sources, d))?;
    let Some(map) = root.as_map() else {
        return Err(located(
            &sources,
            Diagnostic::error("a sweep file is a mapping")
                .with_primary(root.span, "not a mapping")
                .with_help(
                    "give `parameters:` (and optionally `mode:`, `samples:`, `seed:`, `table:`)",
                ),
        ));
    };
    let mut sweep = Sweep::default();
    let mut mode = "product".to_string();
    let mut samples: Option<usize> = None;
    let mut errors = rateforge_ir::Diagnostics::new();
    for (k, v) in map {
        let key = k.key_text().unwrap_or_default();
        match key.as_str() {
            "mode" => match v.as_str() {
                Some(m @ ("product" | "zip" | "uniform" | "lhs")) => mode = m.to_string(),
                _ => errors.push(
                    Diagnostic::error("unknown sweep mode")
                        .with_primary(v.span, "expected product, zip, uniform or lhs")
                        .with_help("`product` combines every value of every axis; `zip` goes position by position; `uniform` and `lhs` draw `samples` random instances"),
                ),
            },
            "samples" => match v.value {
                Value::Int(n) if n > 0 => samples = Some(n as usize),
                _ => errors.push(
                    Diagnostic::error("`samples` must be a positive whole number")
                        .with_primary(v.span, "here")
                        .with_help("e.g. `samples: 1000`"),
                ),
            },
            "seed" => match v.value {
                Value::Int(n) if n >= 0 => sweep.seed = n as u64,
                _ => errors.push(
                    Diagnostic::error("`seed` must be a whole number >= 0")
                        .with_primary(v.span, "here")
                        .with_help("e.g. `seed: 3`"),
                ),
            },
            "table" => match v.as_str() {
                Some(t) => {
                    let p = path.parent().unwrap_or(std::path::Path::new(".")).join(t);
                    sweep.table = read_table(&p)?;
                }
                None => errors.push(
                    Diagnostic::error("`table` names a CSV file")
                        .with_primary(v.span, "here")
                        .with_help("e.g. `table: rows.csv` (relative to the sweep file)"),
                ),
            },
            "parameters" => match v.as_map() {
                Some(params) => {
                    for (pk, pv) in params {
                        let name = pk.key_text().unwrap_or_default();
                        let values = match &pv.value {
                            Value::Seq(items) => {
                                let nums: Option<Vec<f64>> = items.iter().map(|i| i.as_f64()).collect();
                                nums.filter(|n| !n.is_empty()).map(Values::List)
                            }
                            Value::Int(_) | Value::Float(_) => pv.as_f64().map(|x| Values::List(vec![x])),
                            Value::Str(s) => Values::parse(&name, s).ok(),
                            _ => None,
                        };
                        match values {
                            Some(vals) => sweep.axes.push((name, vals)),
                            None => errors.push(
                                Diagnostic::error(format!("cannot read the values of `{name}`"))
                                    .with_primary(pv.span, "here")
                                    .with_help("write `LO:HI:N`, `log:LO:HI:N`, `LO:HI` (for sampling) or a list `[V1, V2, ...]`"),
                            ),
                        }
                    }
                }
                None => errors.push(
                    Diagnostic::error("`parameters` maps paths to values")
                        .with_primary(v.span, "not a mapping")
                        .with_help("e.g. `parameters: {p/qif_op/eta: \"-6:-4:16\"}`"),
                ),
            },
            other => errors.push(
                Diagnostic::error(format!("unknown key `{other}` in a sweep file"))
                    .with_primary(k.span, "unknown")
                    .with_help("a sweep file has `mode`, `samples`, `seed`, `parameters` and `table`"),
            ),
        }
    }
    sweep.mode = match mode.as_str() {
        "zip" => Mode::Zip,
        "uniform" | "lhs" => {
            let Some(n) = samples else {
                errors.push(
                    Diagnostic::error(format!("mode `{mode}` needs `samples`"))
                        .with_primary(root.span, "in this sweep")
                        .with_help("e.g. `samples: 1000`"),
                );
                return Err(Error::model(&sources, errors));
            };
            if mode == "uniform" {
                Mode::Uniform(n)
            } else {
                Mode::LatinHypercube(n)
            }
        }
        _ => Mode::Product,
    };
    if errors.has_errors() {
        return Err(Error::model(&sources, errors));
    }
    Ok(sweep)
}

/// Reads a CSV table with a header row of paths: one column per path, one row per instance.
pub fn read_table(path: &std::path::Path) -> Result<Vec<(String, Vec<f64>)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage(
            format!("cannot read the table `{}`: {e}", path.display()),
            "give a CSV file whose first row names the parameters",
        )
    })?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| {
            usage(
                format!("the table `{}` is empty", path.display()),
                "the first row names the parameters, each further row is one instance",
            )
        })?
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); header.len()];
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            return Err(usage(
                format!(
                    "row {} of `{}` has {} values for {} columns",
                    row + 2,
                    path.display(),
                    cells.len(),
                    header.len()
                ),
                "give one value per column in every row",
            ));
        }
        for (c, cell) in cells.iter().enumerate() {
            let v: f64 = cell
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    usage(
                        format!(
                            "`{}` in row {} of `{}` is not a number",
                            cell.trim(),
                            row + 2,
                            path.display()
                        ),
                        "table values are finite numbers",
                    )
                })?;
            columns[c].push(v);
        }
    }
    if columns.first().is_none_or(|c| c.is_empty()) {
        return Err(usage(
            format!("the table `{}` has no rows", path.display()),
            "each row after the header is one instance",
        ));
    }
    Ok(header.into_iter().zip(columns).collect())
}

/// The instances of shard `k` of `n` (numbered from 1) of a sweep of `total` instances:
/// contiguous, the shards' sizes differing by one at most, together every instance once.
pub fn shard_range(total: usize, k: usize, n: usize) -> Result<std::ops::Range<usize>, Error> {
    if n == 0 || k == 0 || k > n || n > total.max(1) {
        return Err(Error::usage(
            Diagnostic::error(format!("shard {k}/{n} of a sweep of {total} instances")).with_help(
                format!(
                    "give `--shard K/N` with 1 <= K <= N <= {} (the instances)",
                    total.max(1)
                ),
            ),
        ));
    }
    Ok(total * (k - 1) / n..total * k / n)
}

/// A hash of a sweep's instances (paths and the bits of every value), hex: shards of one sweep
/// carry the same.
pub fn grid_hash(instances: &[(String, Vec<f64>)]) -> String {
    // FNV-1a, 64 bits, twice with different bases: enough to tell sweeps apart.
    let mut h = [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64];
    let mut eat = |bytes: &[u8]| {
        for hh in h.iter_mut() {
            for b in bytes {
                *hh = (*hh ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    };
    for (path, values) in instances {
        eat(path.as_bytes());
        eat(&[0]);
        for v in values {
            eat(&v.to_bits().to_le_bytes());
        }
    }
    format!("{:016x}{:016x}", h[0], h[1])
}

/// Makes `spec` shard `k` of `n` of the sweep its `instance_values` describe: those values cut to
/// the shard's instances, `instance_offset` set (noise and drawn initial values are those of the
/// whole sweep), and `shard` metadata naming the part and the whole.
pub fn apply_shard(spec: &mut crate::RunSpec, k: usize, n: usize) -> Result<(), Error> {
    let total = spec.instances.max(1);
    let range = shard_range(total, k, n)?;
    let hash = grid_hash(&spec.instance_values);
    for (_, values) in &mut spec.instance_values {
        *values = values[range.clone()].to_vec();
    }
    spec.instances = range.len();
    spec.instance_offset = range.start as u64;
    spec.shard = Some(serde_json::json!({
        "index": k,
        "count": n,
        "first_instance": range.start,
        "end_instance": range.end,
        "instances_in_sweep": total,
        "grid_hash": hash,
    }));
    Ok(())
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
        let l = Axis::logspace("a", 0.01, 100.0, 5).unwrap();
        assert_eq!(l.values[0], 0.01);
        assert_eq!(l.values[4], 100.0);
        assert!((l.values[2] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn values_parse() {
        assert_eq!(
            Values::parse("a", "0:1:5").unwrap(),
            Values::Linear(0.0, 1.0, 5)
        );
        assert_eq!(
            Values::parse("a", "log:1:100:3").unwrap(),
            Values::Log(1.0, 100.0, 3)
        );
        assert_eq!(
            Values::parse("a", "-2:3").unwrap(),
            Values::Range(-2.0, 3.0)
        );
        assert_eq!(
            Values::parse("a", "1, 2.5,4").unwrap(),
            Values::List(vec![1.0, 2.5, 4.0])
        );
        for bad in ["", "a:b:c", "0:1:0", "1:2:3:4", "log:0:1", "1,,2"] {
            assert!(Values::parse("a", bad).is_err(), "{bad}");
        }
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

    #[test]
    fn modes_combine_axes_and_tables() {
        let axes = vec![
            ("a".to_string(), Values::List(vec![1.0, 2.0])),
            ("b".to_string(), Values::List(vec![3.0, 4.0])),
        ];
        let zip = Sweep {
            axes: axes.clone(),
            mode: Mode::Zip,
            ..Default::default()
        };
        assert_eq!(
            zip.instances().unwrap(),
            vec![("a".into(), vec![1.0, 2.0]), ("b".into(), vec![3.0, 4.0])]
        );
        let with_table = Sweep {
            axes: axes[..1].to_vec(),
            table: vec![("t".into(), vec![7.0, 8.0, 9.0])],
            ..Default::default()
        };
        let i = with_table.instances().unwrap();
        assert_eq!(i[0], ("t".into(), vec![7.0, 7.0, 8.0, 8.0, 9.0, 9.0]));
        assert_eq!(i[1], ("a".into(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]));
        let twice = Sweep {
            axes: vec![axes[0].clone(), axes[0].clone()],
            ..Default::default()
        };
        assert!(twice.instances().is_err());
    }

    #[test]
    fn latin_hypercube_uses_every_stratum_once() {
        let n = 64;
        let s = Sweep {
            axes: vec![
                ("a".into(), Values::Range(0.0, 1.0)),
                ("b".into(), Values::Range(-5.0, 5.0)),
            ],
            mode: Mode::LatinHypercube(n),
            seed: 11,
            ..Default::default()
        };
        let i = s.instances().unwrap();
        for (k, (_, v)) in i.iter().enumerate() {
            let (lo, hi) = if k == 0 { (0.0, 1.0) } else { (-5.0, 5.0) };
            let mut strata: Vec<usize> = v
                .iter()
                .map(|x| (((x - lo) / (hi - lo)) * n as f64) as usize)
                .collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..n).collect::<Vec<_>>());
        }
        assert_ne!(i[0].1, i[1].1);
        // Reproducible, and another seed gives another design.
        assert_eq!(s.instances().unwrap(), i);
        let other = Sweep {
            seed: 12,
            ..s.clone()
        };
        assert_ne!(other.instances().unwrap(), i);
        let uni = Sweep {
            mode: Mode::Uniform(1000),
            ..s
        };
        let u = uni.instances().unwrap();
        let mean = u[0].1.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        assert!(u[1].1.iter().all(|x| (-5.0..5.0).contains(x)));
    }
}
