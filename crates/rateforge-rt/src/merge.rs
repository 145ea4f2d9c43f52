//! Merging the shards of a sweep (`rateforge sweep --shard K/N`) into the sweep's result.
//!
//! The shards must belong to one sweep (the same model hash, grid hash, shard count and every
//! option that affects numbers: their metadata equal but for the shard and its size), cover
//! every instance exactly once, and be complete; otherwise the merge refuses, naming what is
//! missing, doubled, foreign or partial. Arrays are merged one at a time along their last axis
//! (the instance axis, which shards always keep), each written before the next is read, so a
//! merge holds one array of the whole sweep and its shards' parts of it at a time; `time` and
//! `bold_time` are shared.

use crate::error::RuntimeError;
use crate::output::{NpzArray, read_npz_metadata, try_write_npz};
use ndarray::{ArrayD, Axis, IxDyn};
use num_complex::Complex64;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One shard file: its metadata and where it sits in the sweep.
#[derive(Clone, Debug)]
struct Shard {
    path: PathBuf,
    metadata: Value,
    index: u64,
    count: u64,
    first: u64,
    end: u64,
    total: u64,
}

/// What a merge did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// Instances in the merged result.
    pub instances: u64,
    /// Shards merged.
    pub shards: usize,
    /// Arrays written.
    pub arrays: usize,
}

fn invalid(message: String) -> RuntimeError {
    RuntimeError::Invalid(message)
}

/// The metadata as the shards of one sweep share it: without the shard, the instance count,
/// the partial flag, and the kernel's lane width and compiled-in parameters (chosen from each
/// shard's instances; the results are the same bits whatever they are).
fn shared_part(meta: &Value) -> Value {
    let mut m = meta.clone();
    if let Some(o) = m.as_object_mut() {
        for key in ["shard", "n_instances", "partial"] {
            o.remove(key);
        }
        if let Some(k) = o.get_mut("kernel").and_then(Value::as_object_mut) {
            k.remove("lanes");
            k.remove("inlined_parameters");
        }
    }
    m
}

/// The first key (dotted path) at which two metadata values differ.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_difference(p, q, &path),
                    _ => Some(path),
                }
            })
        }
        _ if a != b => Some(if at.is_empty() {
            "(all)".into()
        } else {
            at.into()
        }),
        _ => None,
    }
}

fn read_shard(path: &Path) -> Result<Shard, RuntimeError> {
    let text = read_npz_metadata(path)?;
    let metadata: Value = serde_json::from_str(&text).map_err(|e| {
        invalid(format!(
            "`{}`: its metadata is not JSON: {e}",
            path.display()
        ))
    })?;
    let s = &metadata["shard"];
    let field = |k: &str| s[k].as_u64();
    let (Some(index), Some(count), Some(first), Some(end), Some(total)) = (
        field("index"),
        field("count"),
        field("first_instance"),
        field("end_instance"),
        field("instances_in_sweep"),
    ) else {
        return Err(invalid(format!(
            "`{}` is not a shard of a sweep\n  = help: merge the files `rateforge sweep --shard K/N` writes",
            path.display()
        )));
    };
    if metadata["partial"].as_bool() == Some(true) {
        return Err(invalid(format!(
            "`{}` (shard {index}/{count}) is partial: its run was interrupted\n  = help: finish it (`rateforge sweep ... --shard {index}/{count} --resume`) and merge again",
            path.display()
        )));
    }
    Ok(Shard {
        path: path.to_path_buf(),
        metadata,
        index,
        count,
        first,
        end,
        total,
    })
}

/// Checks that `shards` are the whole of one sweep; sorts them by their first instance.
fn check(shards: &mut [Shard]) -> Result<(), RuntimeError> {
    let Some(first) = shards.first().cloned() else {
        return Err(invalid("no shards to merge".into()));
    };
    for s in shards.iter().skip(1) {
        if let Some(key) =
            first_difference(&shared_part(&first.metadata), &shared_part(&s.metadata), "")
        {
            return Err(invalid(format!(
                "`{}` and `{}` are not shards of one sweep: their `{key}` differs\n  = help: merge the shards of one `rateforge sweep` (same model, grid and options)",
                first.path.display(),
                s.path.display()
            )));
        }
        let (a, b) = (&first.metadata["shard"], &s.metadata["shard"]);
        if a["grid_hash"] != b["grid_hash"] || s.count != first.count || s.total != first.total {
            return Err(invalid(format!(
                "`{}` and `{}` are not shards of one sweep: their grids differ\n  = help: merge the shards of one `rateforge sweep` (same model, grid and options)",
                first.path.display(),
                s.path.display()
            )));
        }
    }
    shards.sort_by_key(|s| (s.first, s.index));
    let mut problems = Vec::new();
    let mut covered = 0u64;
    for s in shards.iter() {
        if s.first > covered {
            problems.push(format!(
                "instances {covered}..{} are missing (no shard covers them)",
                s.first
            ));
        } else if s.first < covered {
            problems.push(format!(
                "`{}` (shard {}/{}, instances {}..{}) overlaps instances the shards before it cover",
                s.path.display(),
                s.index,
                s.count,
                s.first,
                s.end
            ));
        }
        covered = covered.max(s.end);
    }
    if covered < first.total {
        problems.push(format!(
            "instances {covered}..{} are missing (no shard covers them)",
            first.total
        ));
    }
    if !problems.is_empty() {
        let have: Vec<String> = shards
            .iter()
            .map(|s| format!("{}/{}", s.index, s.count))
            .collect();
        return Err(invalid(format!(
            "the shards do not cover the sweep's {} instances exactly once: {}\n  = help: merge every shard 1/{n} .. {n}/{n} once (given: {})",
            first.total,
            problems.join("; "),
            have.join(", "),
            n = first.count
        )));
    }
    Ok(())
}

/// One array of an `.npz` file: float64, or complex128 as (real, imaginary).
fn read_array(path: &Path, name: &str) -> Result<(ArrayD<f64>, Option<ArrayD<f64>>), RuntimeError> {
    let open = || -> Result<ndarray_npy::NpzReader<std::fs::File>, RuntimeError> {
        let f =
            std::fs::File::open(path).map_err(|e| invalid(format!("`{}`: {e}", path.display())))?;
        ndarray_npy::NpzReader::new(f).map_err(|e| invalid(format!("`{}`: {e}", path.display())))
    };
    let key = format!("{name}.npy");
    if let Ok(a) = open()?.by_name::<ndarray::OwnedRepr<f64>, IxDyn>(&key) {
        return Ok((a, None));
    }
    let c: ArrayD<Complex64> = open()?
        .by_name(&key)
        .map_err(|e| invalid(format!("`{}`: array `{name}`: {e}", path.display())))?;
    Ok((c.mapv(|z| z.re), Some(c.mapv(|z| z.im))))
}

/// An array's values in row-major order, without a copy when they are already.
fn into_vec(a: ArrayD<f64>) -> Vec<f64> {
    if a.is_standard_layout() {
        let (values, offset) = a.into_raw_vec_and_offset();
        if offset.unwrap_or(0) == 0 {
            return values;
        }
        // An owned array in standard layout starting inside its buffer: not made here.
        return values[offset.unwrap_or(0)..].to_vec();
    }
    a.iter().copied().collect()
}

/// The names of an `.npz` file's arrays (without `.npy` and `metadata`).
fn names(path: &Path) -> Result<Vec<String>, RuntimeError> {
    let f = std::fs::File::open(path).map_err(|e| invalid(format!("`{}`: {e}", path.display())))?;
    let mut npz = ndarray_npy::NpzReader::new(f)
        .map_err(|e| invalid(format!("`{}`: {e}", path.display())))?;
    Ok(npz
        .names()
        .map_err(|e| invalid(format!("`{}`: {e}", path.display())))?
        .into_iter()
        .map(|n| n.trim_end_matches(".npy").to_string())
        .filter(|n| n != "metadata")
        .collect())
}

/// Merges the shard files `paths` into `out` (see the module docs).
pub fn merge(paths: &[PathBuf], out: &Path) -> Result<Merged, RuntimeError> {
    let mut shards = paths
        .iter()
        .map(|p| read_shard(p))
        .collect::<Result<Vec<_>, _>>()?;
    check(&mut shards)?;
    let all = names(&shards[0].path)?;
    for s in &shards[1..] {
        if names(&s.path)? != all {
            return Err(invalid(format!(
                "`{}` holds other arrays than `{}`",
                s.path.display(),
                shards[0].path.display()
            )));
        }
    }
    // One merged array at a time, written before the next is read.
    let merged = |name: &String| -> Result<NpzArray, RuntimeError> {
        let shared = name == "time" || name == "bold_time";
        let mut parts = Vec::with_capacity(shards.len());
        for s in &shards {
            parts.push(read_array(&s.path, name)?);
            if shared {
                break;
            }
        }
        let (re, im) = if shared {
            parts.swap_remove(0)
        } else {
            let axis = Axis(parts[0].0.ndim().saturating_sub(1));
            let cat = |arrays: Vec<&ArrayD<f64>>| -> Result<ArrayD<f64>, RuntimeError> {
                let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
                ndarray::concatenate(axis, &views).map_err(|e| {
                    invalid(format!(
                        "array `{name}` has other shapes in different shards: {e}"
                    ))
                })
            };
            let re = cat(parts.iter().map(|p| &p.0).collect())?;
            let im = if parts.iter().all(|p| p.1.is_some()) {
                Some(cat(parts.iter().filter_map(|p| p.1.as_ref()).collect())?)
            } else {
                None
            };
            (re, im)
        };
        Ok(NpzArray {
            name: name.clone(),
            shape: re.shape().to_vec(),
            data: into_vec(re),
            imag: im.map(into_vec),
        })
    };
    let mut metadata = shared_part(&shards[0].metadata);
    if let Some(o) = metadata.as_object_mut() {
        o.insert("n_instances".into(), Value::from(shards[0].total));
        o.insert("partial".into(), Value::from(false));
        o.insert(
            "merged_from".into(),
            Value::from(
                shards
                    .iter()
                    .map(|s| s.path.display().to_string())
                    .collect::<Vec<_>>(),
            ),
        );
    }
    try_write_npz(out, all.iter().map(merged), &metadata.to_string())?;
    Ok(Merged {
        instances: shards[0].total,
        shards: shards.len(),
        arrays: all.len(),
    })
}
