//! What the tests of the `rateforge` binary share: the workspace, running the binary, scratch files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The `rateforge` command, to run in the workspace root with a test-only kernel cache.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rateforge"));
    c.current_dir(root()).env(
        "RATEFORGE_CACHE_DIR",
        root().join("target/test-kernel-cache"),
    );
    c
}

/// Runs `rateforge args` (see [`command`]).
pub fn rateforge(args: &[&str]) -> Output {
    command().args(args).output().expect("run rateforge")
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch file in `target/cli-test-out`.
pub fn tmp(name: &str) -> PathBuf {
    let dir = root().join("target/cli-test-out");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Asserts a user error: exit code 2, no panic, an error, and each expected fragment in stderr.
pub fn user_error(out: &Output, expected: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit code 2, stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "panic:\n{err}");
    assert!(err.contains("error"), "{err}");
    for e in expected {
        assert!(err.contains(e), "stderr lacks `{e}`:\n{err}");
    }
}

/// The array `name` of an `.npz` file, as f64.
pub fn npz_array(path: &Path, name: &str) -> ndarray::ArrayD<f64> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    npz.by_name(&format!("{name}.npy"))
        .unwrap_or_else(|e| panic!("{}: no `{name}`: {e}", path.display()))
}
