//! Reading numeric tables (`.npy`, `.csv`, whitespace-separated text) for inputs.

use crate::error::RuntimeError;
use ndarray::ArrayD;
use std::path::Path;

/// A table of finite numbers, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Values, row-major.
    pub data: Vec<f64>,
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_cols: usize,
}

fn data_err(path: &Path, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Data {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a 1-D (one column) or 2-D table from `.npy` or text (`.csv`, `.txt`, `.dat`).
/// Every value must be finite.
pub fn read_table(path: &Path) -> Result<Table, RuntimeError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let table = match ext.as_str() {
        "npy" => read_npy(path)?,
        _ => read_text(path)?,
    };
    if table.n_rows == 0 || table.n_cols == 0 {
        return Err(data_err(path, "the table is empty"));
    }
    if let Some(i) = table.data.iter().position(|v| !v.is_finite()) {
        return Err(data_err(
            path,
            format!(
                "value at row {}, column {} is {} (every value must be a finite number)",
                i / table.n_cols + 1,
                i % table.n_cols + 1,
                table.data[i]
            ),
        ));
    }
    Ok(table)
}

fn read_npy(path: &Path) -> Result<Table, RuntimeError> {
    if !path.is_file() {
        return Err(data_err(path, "no such file"));
    }
    // Any number of dimensions first, so a wrong shape is named as such.
    let values: Option<(Vec<usize>, Vec<f64>)> = None
        .or_else(|| {
            ndarray_npy::read_npy::<_, ArrayD<f64>>(path)
                .ok()
                .map(|a| (a.shape().to_vec(), a.iter().copied().collect()))
        })
        .or_else(|| {
            ndarray_npy::read_npy::<_, ArrayD<f32>>(path).ok().map(|a| {
                (
                    a.shape().to_vec(),
                    a.iter().map(|v| f64::from(*v)).collect(),
                )
            })
        })
        .or_else(|| {
            ndarray_npy::read_npy::<_, ArrayD<i64>>(path)
                .ok()
                .map(|a| (a.shape().to_vec(), a.iter().map(|v| *v as f64).collect()))
        })
        .or_else(|| {
            ndarray_npy::read_npy::<_, ArrayD<i32>>(path).ok().map(|a| {
                (
                    a.shape().to_vec(),
                    a.iter().map(|v| f64::from(*v)).collect(),
                )
            })
        });
    let Some((shape, data)) = values else {
        let e = ndarray_npy::read_npy::<_, ArrayD<f64>>(path).err();
        return Err(data_err(
            path,
            format!(
                "not an array of float64, float32, int64 or int32 numbers ({})",
                e.map_or_else(String::new, |e| e.to_string())
            ),
        ));
    };
    match shape[..] {
        [n] => Ok(Table {
            n_rows: n,
            n_cols: 1,
            data,
        }),
        [r, c] => Ok(Table {
            n_rows: r,
            n_cols: c,
            data,
        }),
        _ => Err(data_err(
            path,
            format!(
                "the array has {} dimensions, shape {shape:?}; give a 1-D array (one value per step) or a 2-D array (one row per step, one column per node or instance)",
                shape.len()
            ),
        )),
    }
}

fn read_text(path: &Path) -> Result<Table, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(|e| data_err(path, e.to_string()))?;
    parse_text(&text, true, false).map_err(|e| data_err(path, e))
}

/// A table of numbers from text: one row per line, fields separated by commas or white space,
/// `#` comments and blank lines skipped. With `header`, a first line that is not numeric is a
/// header; with `finite`, NaN and infinities are refused. Errors name the line and column.
pub fn parse_text(text: &str, header: bool, finite: bool) -> Result<Table, String> {
    let mut data = Vec::new();
    let mut n_cols = None;
    let mut n_rows = 0;
    let mut seen_data = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains(',') {
            line.split(',').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let parsed: Result<Vec<f64>, usize> = fields
            .iter()
            .enumerate()
            .map(|(j, f)| f.parse::<f64>().map_err(|_| j))
            .collect();
        let values = match parsed {
            Ok(v) => v,
            Err(_) if header && !seen_data => {
                seen_data = true;
                continue;
            }
            Err(j) => {
                return Err(format!(
                    "line {}: `{}` in column {} is not a number",
                    i + 1,
                    fields[j],
                    j + 1
                ));
            }
        };
        seen_data = true;
        if let Some(j) = values.iter().position(|v| finite && !v.is_finite()) {
            return Err(format!(
                "line {}: value {} in column {} is not finite",
                i + 1,
                values[j],
                j + 1
            ));
        }
        match n_cols {
            None => n_cols = Some(values.len()),
            Some(c) if c != values.len() => {
                return Err(format!(
                    "line {}: {} columns, but earlier rows have {c}",
                    i + 1,
                    values.len()
                ));
            }
            Some(_) => {}
        }
        data.extend(values);
        n_rows += 1;
    }
    Ok(Table {
        data,
        n_rows,
        n_cols: n_cols.unwrap_or(0),
    })
}

/// The 2-D float64 array `name` of an `.npz` file (e.g. the `fc` of a run's output), as a table.
pub fn read_npz_table(path: &Path, name: &str) -> Result<Table, RuntimeError> {
    let file = std::fs::File::open(path).map_err(|e| data_err(path, e.to_string()))?;
    let mut npz = ndarray_npy::NpzReader::new(file).map_err(|e| data_err(path, e.to_string()))?;
    let names = npz.names().map_err(|e| data_err(path, e.to_string()))?;
    let key = [name.to_string(), format!("{name}.npy")]
        .into_iter()
        .find(|k| names.contains(k))
        .ok_or_else(|| {
            data_err(
                path,
                format!(
                    "the file has no array `{name}` (it has: {})",
                    names
                        .iter()
                        .map(|n| n.trim_end_matches(".npy"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
    let a: ArrayD<f64> = npz
        .by_name(&key)
        .map_err(|e| data_err(path, e.to_string()))?;
    match a.shape() {
        &[r, c] => Ok(Table {
            n_rows: r,
            n_cols: c,
            data: a.iter().copied().collect(),
        }),
        shape => Err(data_err(
            path,
            format!(
                "`{name}` has shape {shape:?}; a target is one matrix (write it from a run of one instance, or save the instance's matrix with numpy)"
            ),
        )),
    }
}
