//! Loading connectivities (connectomes): weights and tract lengths (or delays) of `N` nodes.
//!
//! Accepted sources:
//! * a TVB connectivity zip (`weights.txt`, `tract_lengths.txt`, optionally `centres.txt` with the
//!   region labels in its first column), as TVB's `Connectivity.from_file` reads it;
//! * a directory holding `weights.{npy,txt,csv}` and `tract_lengths.{npy,txt,csv}` (or `delays.*`),
//!   and optionally `centres.txt` or `region_labels.txt`;
//! * explicit files for the weights and the tract lengths or delays.
//!
//! `weights[i][j]` is the strength of the connection from node `j` to node `i` (row = target), as
//! in TVB. Self-connections are allowed. Distances are tract lengths (divided by the conduction
//! speed to get delays) or delays in time units.

use crate::data::{Table, read_table};
use crate::error::RuntimeError;
use crate::exec::Connectivity;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What the distances of a loaded connectivity mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distances {
    /// Tract lengths: divided by the conduction speed to give delays.
    TractLengths,
    /// Delays in time units (the speed must be 1).
    Delays,
    /// None given: every delay is zero.
    Zero,
}

/// A loaded connectivity with its region labels.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The connectivity.
    pub connectivity: Connectivity,
    /// What its distances are.
    pub distances: Distances,
    /// Region labels, when the source has them.
    pub labels: Vec<String>,
    /// The files read.
    pub description: String,
    /// The paths of the files read (and, for a directory, the directory).
    pub files: Vec<PathBuf>,
}

fn data_err(path: &Path, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Data {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Loads a connectivity from a zip, a directory or a weights file, with optional explicit
/// tract-length or delay files.
pub fn load(
    weights: &Path,
    tract_lengths: Option<&Path>,
    delays: Option<&Path>,
) -> Result<Loaded, RuntimeError> {
    if tract_lengths.is_some() && delays.is_some() {
        return Err(data_err(weights, "give tract lengths or delays, not both"));
    }
    let is_zip = weights
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let mut files = vec![weights.to_path_buf()];
    let (w, mut dist, mut kind, labels, description) = if is_zip {
        let z = read_zip(weights)?;
        let kind = if z.1.is_some() {
            Distances::TractLengths
        } else {
            Distances::Zero
        };
        (z.0, z.1, kind, z.2, weights.display().to_string())
    } else if weights.is_dir() {
        let find = |stem: &str| -> Option<PathBuf> {
            ["npy", "txt", "csv"]
                .iter()
                .map(|e| weights.join(format!("{stem}.{e}")))
                .find(|p| p.is_file())
        };
        let wpath = find("weights").ok_or_else(|| {
            data_err(
                weights,
                "the directory has no weights.npy, weights.txt or weights.csv",
            )
        })?;
        let w = read_table(&wpath)?;
        files.push(wpath);
        let (dist, kind) = match (find("tract_lengths"), find("delays")) {
            (Some(t), _) => (Some(read_table(&t)?), Distances::TractLengths),
            (None, Some(d)) => (Some(read_table(&d)?), Distances::Delays),
            (None, None) => (None, Distances::Zero),
        };
        files.extend(find("tract_lengths").or_else(|| find("delays")));
        files.extend(
            ["centres.txt", "region_labels.txt"]
                .iter()
                .map(|f| weights.join(f))
                .filter(|p| p.is_file()),
        );
        let labels = read_labels_dir(weights);
        (w, dist, kind, labels, weights.display().to_string())
    } else {
        (
            read_table(weights)?,
            None,
            Distances::Zero,
            Vec::new(),
            weights.display().to_string(),
        )
    };
    if let Some(t) = tract_lengths {
        dist = Some(read_table(t)?);
        kind = Distances::TractLengths;
        files.push(t.to_path_buf());
    }
    if let Some(d) = delays {
        dist = Some(read_table(d)?);
        kind = Distances::Delays;
        files.push(d.to_path_buf());
    }
    let n = w.n_rows;
    if w.n_cols != n {
        return Err(data_err(
            weights,
            format!(
                "the weights must be a square matrix, found {} x {}",
                w.n_rows, w.n_cols
            ),
        ));
    }
    if n == 0 {
        return Err(data_err(weights, "the weights matrix is empty"));
    }
    let distances = match &dist {
        Some(d) => {
            let what = if kind == Distances::Delays {
                "delays"
            } else {
                "tract lengths"
            };
            let path = delays.or(tract_lengths).unwrap_or(weights);
            if d.n_rows != n || d.n_cols != n {
                return Err(data_err(
                    path,
                    format!(
                        "the {what} are {} x {}, but the weights are {n} x {n}",
                        d.n_rows, d.n_cols
                    ),
                ));
            }
            if let Some(i) = d.data.iter().position(|x| *x < 0.0) {
                return Err(data_err(
                    path,
                    format!(
                        "{what} must not be negative, found {} at row {}, column {}",
                        d.data[i],
                        i / n + 1,
                        i % n + 1
                    ),
                ));
            }
            d.data.clone()
        }
        None => vec![0.0; n * n],
    };
    let connectivity = Connectivity::from_dense(n, &w.data, &distances);
    Ok(Loaded {
        connectivity,
        distances: kind,
        labels,
        description,
        files,
    })
}

/// A connectivity from the bytes of `.npy` files: an `n x n` weights matrix and tract lengths of
/// the same shape (row = target, column = source), as [`load`] reads them from files.
pub fn from_npy_bytes(weights: &[u8], tract_lengths: &[u8]) -> Result<Connectivity, RuntimeError> {
    let table = |bytes: &[u8], what: &str| -> Result<ndarray::Array2<f64>, RuntimeError> {
        use ndarray_npy::ReadNpyExt;
        ndarray::Array2::<f64>::read_npy(bytes).map_err(|e| {
            RuntimeError::Invalid(format!("the {what} are not a float64 .npy matrix: {e}"))
        })
    };
    let (w, d) = (
        table(weights, "weights")?,
        table(tract_lengths, "tract lengths")?,
    );
    let n = w.nrows();
    if n == 0 || w.ncols() != n || d.dim() != (n, n) {
        return Err(RuntimeError::Invalid(format!(
            "the weights ({} x {}) and tract lengths ({} x {}) are not one square shape",
            w.nrows(),
            w.ncols(),
            d.nrows(),
            d.ncols()
        )));
    }
    let (w, d): (Vec<f64>, Vec<f64>) = (w.iter().copied().collect(), d.iter().copied().collect());
    Ok(Connectivity::from_dense(n, &w, &d))
}

/// The most bytes one file of a connectivity zip may inflate to: 256 MiB (a 4,000-region
/// weights matrix written as text is about 150 MB; larger ones belong in `.npy` files).
pub const MAX_ZIP_ENTRY: u64 = 256 << 20;

/// Weights, tract lengths and labels from a TVB connectivity zip.
fn read_zip(path: &Path) -> Result<(Table, Option<Table>, Vec<String>), RuntimeError> {
    let file = std::fs::File::open(path).map_err(|e| data_err(path, e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| data_err(path, format!("not a readable zip archive: {e}")))?;
    let mut entry = |stem: &str| -> Result<Option<String>, RuntimeError> {
        let name = (0..zip.len()).find_map(|i| {
            let n = zip.by_index(i).ok()?.name().to_string();
            let base = n.rsplit('/').next().unwrap_or(&n).to_string();
            (base == format!("{stem}.txt") || base == format!("{stem}.csv")).then_some(n)
        });
        let Some(name) = name else { return Ok(None) };
        let too_big = || {
            data_err(
                path,
                format!(
                    "{name} inflates to more than {} MiB, more than a connectivity needs (a zip bomb?)",
                    MAX_ZIP_ENTRY >> 20
                ),
            )
        };
        let entry = zip
            .by_name(&name)
            .map_err(|e| data_err(path, format!("{name}: {e}")))?;
        if entry.size() > MAX_ZIP_ENTRY {
            return Err(too_big());
        }
        // The declared size can lie: read no more than the limit whatever it says.
        let mut text = String::new();
        entry
            .take(MAX_ZIP_ENTRY + 1)
            .read_to_string(&mut text)
            .map_err(|e| data_err(path, format!("{name}: {e}")))?;
        if text.len() as u64 > MAX_ZIP_ENTRY {
            return Err(too_big());
        }
        Ok(Some(text))
    };
    let weights = entry("weights")?.ok_or_else(|| data_err(path, "the zip has no weights.txt"))?;
    let tracts = entry("tract_lengths")?;
    let centres = entry("centres")?;
    let parse = |what: &str, text: &str| {
        parse_matrix(text).map_err(|e| data_err(path, format!("{what}: {e}")))
    };
    let w = parse("weights.txt", &weights)?;
    let t = match tracts {
        Some(t) => Some(parse("tract_lengths.txt", &t)?),
        None => None,
    };
    let labels = centres
        .map(|c| {
            c.lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((w, t, labels))
}

fn read_labels_dir(dir: &Path) -> Vec<String> {
    for name in ["region_labels.txt", "centres.txt"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            return text
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect();
        }
    }
    Vec::new()
}

/// A whitespace- or comma-separated matrix of finite numbers (TVB's `.txt` format, no header).
fn parse_matrix(text: &str) -> Result<Table, String> {
    crate::data::parse_text(text, false, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_parse_and_errors_name_the_line() {
        let t = parse_matrix("1 2\n3 4\n").unwrap();
        assert_eq!(
            (t.n_rows, t.n_cols, t.data),
            (2, 2, vec![1.0, 2.0, 3.0, 4.0])
        );
        assert!(parse_matrix("1 2\n3\n").unwrap_err().contains("line 2"));
        assert!(parse_matrix("1 nan\n").unwrap_err().contains("not finite"));
    }
}
