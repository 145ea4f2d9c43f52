//! Shared helpers for the end-to-end tests: paths, CSV reference data, building models.

use rateforge::{
    Backend, BuildOptions, Controls, EmitOptions, Kernel, Model, RunResult, RunSpec, Validated,
};
use std::path::{Path, PathBuf};

/// The workspace root: `RATEFORGE_TEST_ROOT` when set (a test binary built on one machine and
/// run in a copy of the repository on another, e.g. a GPU machine without Rust), else the
/// directory the tests were built in.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("RATEFORGE_TEST_ROOT") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// A model reference relative to the workspace root, e.g. `examples/models/montbrio.yaml/qif`.
pub fn model_path(reference: &str) -> String {
    root().join(reference).display().to_string()
}

/// Loads a model (panicking with the rendered diagnostics on failure).
pub fn load(reference: &str) -> Model {
    Model::load(&model_path(reference), &Default::default())
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Puts `model` on the 4-node test connectome (`examples/data/connectivity_4`) with conduction
/// speed `speed`.
pub fn on_connectivity_4(model: &mut Model, speed: f64) {
    let conn = rateforge::crates::runtime::connectivity::load(
        &root().join("examples/data/connectivity_4"),
        None,
        None,
    )
    .unwrap();
    model.set_connectivity(conn).unwrap();
    model.set("network/speed", speed).unwrap();
}

/// Build options with a cache inside `target/`, so tests never touch the user's cache.
pub fn build_options() -> BuildOptions {
    BuildOptions {
        cache_dir: Some(root().join("target").join("test-kernel-cache")),
        ..Default::default()
    }
}

/// Generates, compiles and loads the native kernel.
pub fn kernel(model: &Validated) -> Kernel {
    model
        .build(&EmitOptions::default(), &build_options())
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Runs and panics with the rendered error on failure.
pub fn run(model: &Validated, backend: Backend<'_>, spec: &RunSpec) -> RunResult {
    model
        .run(backend, spec, Controls::default())
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// A CSV file of numbers with a header row: (column names, rows).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse::<f64>().expect("number"))
                .collect()
        })
        .collect();
    (header, rows)
}

/// A column of a CSV table by name.
pub fn column(header: &[String], rows: &[Vec<f64>], name: &str) -> Vec<f64> {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[i]).collect()
}

/// Reference data under `tests/data/refs/`.
pub fn reference(case: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    read_csv(&root().join("tests/data/refs").join(case).join("data.csv"))
}

/// Largest absolute difference over the common length.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Largest absolute difference divided by the largest magnitude of the reference: the error
/// relative to the signal's scale, robust where the signal crosses zero.
pub fn max_rel_diff(a: &[f64], reference: &[f64]) -> f64 {
    let scale = reference.iter().map(|x| x.abs()).fold(0.0, f64::max);
    max_abs_diff(a, reference) / scale.max(f64::MIN_POSITIVE)
}

/// The 4-region connectivity with its tract lengths.
pub fn connectivity_4() -> rateforge::crates::runtime::Connectivity {
    rateforge::crates::runtime::connectivity::load(
        &root().join("examples/data/connectivity_4/weights.npy"),
        Some(&root().join("examples/data/connectivity_4/tract_lengths.npy")),
        None,
    )
    .unwrap()
    .connectivity
}

/// Calls `check` on every item, two at a time: a check that builds kernels keeps one core busy
/// with rustc, so two of them use this 2-core machine fully. A panic in a check fails the test.
pub fn two_at_a_time<T: Sync>(items: &[T], check: impl Fn(&T) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(item) =
                    items.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                {
                    check(item);
                }
            });
        }
    });
}
