//! # rateforge-rt
//!
//! What every generated rateforge model shares at run time, with none of the front end (no
//! parser, no templates, no compiler): a crate that builds its models with `rateforge-build`
//! depends on this crate alone.
//!
//! * [`exec`]: what to run ([`Launch`]), what comes back ([`Outcome`]), and [`run_native`],
//!   which spreads a kernel's lane blocks over all cores;
//! * [`model`]: the typed API of models compiled into the binary ([`Simulation`]);
//! * [`result`]: a run's results ([`RunResult`]) as arrays, with their metadata, written to
//!   `.npz` (numpy) or `.csv` exactly as the `rateforge` command line writes them;
//! * [`connectivity`], [`data`]: connectivities (TVB zips, directories, `.npy`/`.txt` matrices)
//!   and tables of numbers;
//! * [`kernel`]: `rateforge-kernel`, the runner and ABI the generated modules implement.

pub mod cli;
pub mod connectivity;
pub mod cuda;
pub mod data;
pub mod error;
pub mod exec;
pub mod merge;
pub mod model;
pub mod observe;
pub mod output;
pub mod result;
pub mod spec;
pub mod stdout;
pub mod sweep;

/// `rateforge-kernel`: the lane-block runner, the ABI and the elementary functions the generated
/// modules use.
pub use rateforge_kernel as kernel;

pub use error::RuntimeError;
pub use exec::{
    Connectivity, Controls, Launch, Outcome, Parallel, SeriesColumns, SeriesData, StatsRequest,
    run_native,
};
pub use model::{Recordable, Simulation, StaticModel, Target, Values};
pub use observe::{ObserveRequest, Observed};
pub use rateforge_kernel::Solver;
pub use result::{Metadata, RunResult};

/// The crate's source files `(name, text)`, so that a generated crate can carry a copy of this
/// crate (`rateforge generate --target rust-crate`).
pub const SOURCES: &[(&str, &str)] = &[
    ("lib.rs", include_str!("lib.rs")),
    ("cli.rs", include_str!("cli.rs")),
    ("connectivity.rs", include_str!("connectivity.rs")),
    ("cuda/mod.rs", include_str!("cuda/mod.rs")),
    ("cuda/device.rs", include_str!("cuda/device.rs")),
    ("cuda/gpu.rs", include_str!("cuda/gpu.rs")),
    ("data.rs", include_str!("data.rs")),
    ("error.rs", include_str!("error.rs")),
    ("exec.rs", include_str!("exec.rs")),
    ("merge.rs", include_str!("merge.rs")),
    ("model.rs", include_str!("model.rs")),
    ("observe.rs", include_str!("observe.rs")),
    ("output.rs", include_str!("output.rs")),
    ("result.rs", include_str!("result.rs")),
    ("spec.rs", include_str!("spec.rs")),
    ("stdout.rs", include_str!("stdout.rs")),
    ("sweep.rs", include_str!("sweep.rs")),
];

/// This crate's dependencies from crates.io and its features, as the end of the `[dependencies]`
/// table of a copy of it (the versions of the workspace; a test checks that they agree).
pub const DEPENDENCIES: &str = r#"rayon = "1.10"
ndarray = "0.17"
ndarray-npy = { version = "0.10", default-features = false, features = ["npz", "num-complex-0_4"] }
num-complex = { version = "0.4", default-features = false, features = ["std"] }
zip = { version = "6", default-features = false, features = ["deflate"] }
serde_json = "1"
cudarc = { version = "0.19.10", default-features = false, features = ["std", "driver", "nvrtc", "dynamic-loading", "cuda-12090"], optional = true }

[features]
# Running CUDA kernels on NVIDIA GPUs.
cuda = ["dep:cudarc"]
"#;

#[cfg(test)]
mod tests {
    /// Every source file of the crate is vendored into generated crates.
    #[test]
    fn sources_list_every_file_of_the_crate() {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path.strip_prefix(base).unwrap();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &src, &mut files);
        files.sort();
        let mut listed: Vec<String> = super::SOURCES.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed);
    }
}
