//! `rateforge generate --target rust-crate` writes a Cargo project that builds with Cargo alone,
//! and its driver writes the `.npz` that `rateforge run` / `rateforge sweep` write for the same
//! options: the same arrays bit for bit and the same metadata (except how the kernel was linked).
//!
//! The crates are written under `target/nested/` and built with `--offline` into
//! `target/nested/target` (shared with rateforge-build's build-script tests).

mod common;

use common::{rateforge, root, tmp};
use rateforge::crates::rt::output::read_npz_metadata;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Generates the crate of `model` into `target/nested/<name>` and builds it; returns the driver.
fn generate_and_build(model: &str, name: &str) -> PathBuf {
    let dir = root().join("target/nested").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    ok(&rateforge(&[
        "generate",
        model,
        "--target",
        "rust-crate",
        "-o",
        dir.to_str().unwrap(),
    ]));
    assert!(dir.join("Cargo.toml").is_file() && dir.join("src/main.rs").is_file());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&dir)
        .args(["build", "--offline"])
        .env("CARGO_TARGET_DIR", root().join("target/nested/target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    ok(&out);
    let package = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let bin = package
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string();
    root().join("target/nested/target/debug").join(bin)
}

fn run_driver(driver: &Path, args: &[&str]) {
    ok(&Command::new(driver)
        .args(args)
        .current_dir(root())
        .output()
        .expect("run the driver"));
}

fn npz(path: &Path) -> Vec<(String, ndarray::ArrayD<f64>)> {
    let mut r = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names = r.names().unwrap();
    names.sort();
    names
        .into_iter()
        .filter(|n| n != "metadata" && n != "metadata.npy")
        .map(|n| {
            let a = r.by_name(&n).unwrap();
            (n, a)
        })
        .collect()
}

/// The two files hold the same arrays (names, shapes, bits) and metadata. `rateforge run --set`
/// edits the model before it is hashed, the driver sets a parameter of the compiled model:
/// `set` says whether the model hashes may differ for that reason. (The `rateforge` side is
/// given `--lanes 32`, the crate's lane count, which it would lower for a run of few instances:
/// the same bits, but other metadata.)
fn same_npz(ours: &Path, theirs: &Path, set: bool) {
    let (a, b) = (npz(ours), npz(theirs));
    assert_eq!(
        a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        b.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "array names"
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x.shape(), y.shape(), "{name}");
        for (i, (p, q)) in x.iter().zip(y.iter()).enumerate() {
            assert!(
                p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                "{name}[{i}]: {p} vs {q}"
            );
        }
    }
    let ma: serde_json::Value = serde_json::from_str(&read_npz_metadata(ours).unwrap()).unwrap();
    let mb: serde_json::Value = serde_json::from_str(&read_npz_metadata(theirs).unwrap()).unwrap();
    let (ma, mb) = (ma.as_object().unwrap(), mb.as_object().unwrap());
    assert_eq!(
        ma.keys().collect::<Vec<_>>(),
        mb.keys().collect::<Vec<_>>(),
        "metadata fields"
    );
    for (k, v) in ma {
        match k.as_str() {
            "kernel" => {
                assert_eq!(v["linkage"], "static");
                assert_eq!(mb[k]["linkage"], "dynamic");
                assert_eq!(v["lanes"], mb[k]["lanes"]);
            }
            "model_hash" if set => {}
            "network" if v.is_object() => {
                assert_eq!(v["nodes"], mb[k]["nodes"]);
                assert_eq!(v["edges"], mb[k]["edges"]);
            }
            _ => assert_eq!(v, &mb[k], "metadata `{k}`"),
        }
    }
}

fn out(name: &str) -> PathBuf {
    tmp(name)
}

#[test]
fn a_yaml_model_as_a_crate_runs_as_rateforge_run() {
    let driver = generate_and_build("examples/models/montbrio.yaml/qif", "rf-crate-qif");
    let options = [
        "--time",
        "20",
        "--dt",
        "1e-3",
        "--solver",
        "rk4",
        "--set",
        "p/qif_op/eta=-4.5",
        "--record",
        "p/qif_op/r,p/qif_op/v",
        "--every",
        "0.01",
    ];
    let (a, b) = (out("crate_qif_a.npz"), out("crate_qif_b.npz"));
    let mut args = vec!["run"];
    args.extend(options);
    args.extend(["-o", a.to_str().unwrap()]);
    run_driver(&driver, &args);
    let mut args = vec![
        "run",
        "examples/models/montbrio.yaml/qif",
        "-q",
        "--lanes",
        "32",
    ];
    args.extend(options);
    args.extend(["-o", b.to_str().unwrap()]);
    ok(&rateforge(&args));
    same_npz(&a, &b, true);
    // A sweep over a range of the driver equals `rateforge sweep`.
    let sweep = [
        "--range",
        "p/qif_op/eta=-6:-4:5",
        "--range",
        "p/qif_op/r=0.01,0.5",
        "--time",
        "5",
        "--dt",
        "1e-3",
        "--solver",
        "heun",
        "--every",
        "0.1",
        "--transient",
        "1",
        "--traces",
    ];
    let (a, b) = (out("crate_qif_sa.npz"), out("crate_qif_sb.npz"));
    let mut args = vec!["sweep"];
    args.extend(sweep);
    args.extend(["-o", a.to_str().unwrap()]);
    run_driver(&driver, &args);
    let mut args = vec![
        "sweep",
        "examples/models/montbrio.yaml/qif",
        "-q",
        "--lanes",
        "32",
    ];
    args.extend(sweep);
    args.extend(["-o", b.to_str().unwrap()]);
    ok(&rateforge(&args));
    same_npz(&a, &b, false);
    // A mistake in the arguments is exit status 2 with a help line.
    let bad = Command::new(&driver)
        .args([
            "run",
            "--time",
            "1",
            "--dt",
            "0.1",
            "--set",
            "p/qif_op/etta=1",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("no parameter or state `p/qif_op/etta`") && err.contains("help:"),
        "{err}"
    );
}

#[test]
fn a_library_xml_network_model_as_a_crate_sweeps_as_rateforge_sweep() {
    let driver = generate_and_build("examples/models/library/kuramoto.xml", "rf-crate-kuramoto");
    let options = [
        "--points",
        "global_coupling=3",
        "--connectivity",
        "examples/data/connectivity_4",
        "--time",
        "20",
        "--dt",
        "0.1",
        "--solver",
        "heun",
        "--every",
        "1",
        "--traces",
    ];
    let (a, b) = (out("crate_kuramoto_a.npz"), out("crate_kuramoto_b.npz"));
    let mut args = vec!["sweep"];
    args.extend(options);
    args.extend(["-o", a.to_str().unwrap()]);
    run_driver(&driver, &args);
    let mut args = vec![
        "sweep",
        "examples/models/library/kuramoto.xml",
        "-q",
        "--lanes",
        "32",
    ];
    args.extend(options);
    args.extend(["-o", b.to_str().unwrap()]);
    ok(&rateforge(&args));
    same_npz(&a, &b, false);
}
