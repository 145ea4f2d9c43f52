//! Reading numeric tables (`.npy`, `.csv`, whitespace-separated text) for inputs.

use crate::error::RuntimeError;
use ndarray::{Array1, Array2};
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
    if let Ok(a) = ndarray_npy::read_npy::<_, Array2<f64>>(path) {
        let (r, c) = a.dim();
        return Ok(Table {
            data: a.iter().copied().collect(),
            n_rows: r,
            n_cols: c,
        });
    }
    if let Ok(a) = ndarray_npy::read_npy::<_, Array1<f64>>(path) {
        return Ok(Table {
            n_rows: a.len(),
            n_cols: 1,
            data: a.to_vec(),
        });
    }
    if let Ok(a) = ndarray_npy::read_npy::<_, Array2<f32>>(path) {
        let (r, c) = a.dim();
        return Ok(Table {
            data: a.iter().map(|v| f64::from(*v)).collect(),
            n_rows: r,
            n_cols: c,
        });
    }
    if let Ok(a) = ndarray_npy::read_npy::<_, Array1<f32>>(path) {
        return Ok(Table {
            n_rows: a.len(),
            n_cols: 1,
            data: a.iter().map(|v| f64::from(*v)).collect(),
        });
    }
    if let Ok(a) = ndarray_npy::read_npy::<_, Array2<i64>>(path) {
        let (r, c) = a.dim();
        return Ok(Table {
            data: a.iter().map(|v| *v as f64).collect(),
            n_rows: r,
            n_cols: c,
        });
    }
    match ndarray_npy::read_npy::<_, Array1<i64>>(path) {
        Ok(a) => Ok(Table {
            n_rows: a.len(),
            n_cols: 1,
            data: a.iter().map(|v| *v as f64).collect(),
        }),
        Err(e) => Err(data_err(
            path,
            format!("not a 1-D or 2-D array of float64, float32 or int64: {e}"),
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
