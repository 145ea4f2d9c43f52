//! The `rateforge` binary end to end: exit codes, messages, files written.

mod common;

use common::{npz_array, rateforge, root, text, tmp, user_error};
use std::path::{Path, PathBuf};
use std::process::Command;

const README_RUN: &[&str] = &[
    "run",
    "examples/models/montbrio.yaml/qif",
    "--time",
    "100",
    "--dt",
    "1e-3",
    "--solver",
    "rk4",
    "--input",
    "p/qif_op/I_ext=30*(t>=30)*(t<60)",
    "--record",
    "p/qif_op/r,p/qif_op/v",
    "--every",
    "0.01",
];

#[test]
fn check_prints_states_parameters_inputs_and_equations() {
    let out = rateforge(&["check", "examples/models/montbrio.yaml/qif"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for want in [
        "model qif",
        "states (2):",
        "p/qif_op/r (initial 0.01)",
        "p/qif_op/v (initial -2.0)",
        "p/qif_op/eta = -5.0",
        "inputs (1):",
        "p/qif_op/I_ext = 0.0 (constant)",
        "p/qif_op/r->p/qif_op/r_in/weight = 15.0",
        "d/dt p/qif_op/r = (Delta/(pi*tau) + 2.0*r*v)/tau",
        "hash ",
    ] {
        assert!(s.contains(want), "missing `{want}` in:\n{s}");
    }
    // Dotted form, resolved against --model-path.
    let out = rateforge(&["check", "montbrio.qif", "--model-path", "examples/models"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A file with one circuit needs no template name.
    assert!(
        rateforge(&["check", "examples/models/jansen_rit.yaml"])
            .status
            .success()
    );
}

#[test]
fn every_malformed_model_exits_2_with_a_located_diagnostic() {
    // invalid_data: models whose data files are wrong (checked when the API loads them).
    let mut files: Vec<PathBuf> = [
        "tests/models/invalid",
        "tests/models/invalid_data",
        "tests/models/hostile",
    ]
    .iter()
    .flat_map(|d| {
        std::fs::read_dir(root().join(d))
            .unwrap()
            .map(|e| e.unwrap().path())
    })
    .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "xml"))
    .collect();
    files.sort();
    assert!(files.len() >= 25);
    assert!(
        files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "xml"))
            .count()
            >= 15
    );
    for f in files {
        // Bytes: a model that is not UTF-8 still names its template on its first line.
        let first = String::from_utf8_lossy(&std::fs::read(&f).unwrap())
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let reference = match first.strip_prefix("# model:") {
            Some(t) => format!("{}/{}", f.display(), t.trim()),
            None => f.display().to_string(),
        };
        let out = rateforge(&["check", &reference]);
        let err = text(&out.stderr);
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: exit {:?}\n{err}",
            out.status.code()
        );
        assert!(!err.contains("panicked"), "{name} panicked:\n{err}");
        // `path/name.yaml:line:col`
        let located = err.lines().any(|l| {
            l.split_once(&format!("{name}:")).is_some_and(|(_, rest)| {
                let mut it = rest.split(':');
                it.next().is_some_and(|x| x.trim().parse::<u32>().is_ok())
                    && it.next().is_some_and(|x| x.trim().parse::<u32>().is_ok())
            })
        });
        assert!(located, "{name}: no file:line:col in\n{err}");
        assert!(err.contains("help:"), "{name}: no help line in\n{err}");
    }
}

#[test]
fn run_writes_an_npz_that_numpy_reads() {
    let path = tmp("montbrio.npz");
    let _ = std::fs::remove_file(&path);
    let mut args = README_RUN.to_vec();
    let p = path.display().to_string();
    args.extend(["-o", &p]);
    let out = rateforge(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Read back with ndarray-npy: names, shapes, values.
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut names = npz.names().unwrap();
    names.sort();
    assert_eq!(names, ["metadata", "p/qif_op/r", "p/qif_op/v", "time"]);
    let time: ndarray::Array1<f64> = npz.by_name("time").unwrap();
    let r: ndarray::Array1<f64> = npz.by_name("p/qif_op/r").unwrap();
    assert_eq!(time.len(), 10001);
    assert_eq!(r.len(), 10001);
    assert_eq!(time[100], 1.0);
    assert_eq!(r[0], 0.01);
    assert!(r.iter().all(|x| x.is_finite() && *x > 0.0));
    // With numpy, when there is one (the project's .venv from scripts/setup, or python3).
    let python = [root().join(".venv/bin/python"), PathBuf::from("python3")]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import numpy"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(python) = python else {
        eprintln!(
            "numpy not available: the .npz was checked with ndarray-npy only (run scripts/setup)"
        );
        return;
    };
    let script = r#"
import json, sys, numpy as np
f = np.load(sys.argv[1])
meta = json.loads(str(f["metadata"]))
r, v, t = f["p/qif_op/r"], f["p/qif_op/v"], f["time"]
assert r.shape == (10001,) and v.shape == (10001,) and t.shape == (10001,), (r.shape, v.shape, t.shape)
assert r.dtype == np.float64
print(meta["model_name"], meta["solver"], meta["dt"], meta["parameters"]["p/qif_op/eta"], meta["inputs"]["p/qif_op/I_ext"]["expression"], len(meta["model_hash"]), round(float(r.max()), 6), float(t[-1]))
"#;
    let out = Command::new(&python)
        .args(["-c", script, &p])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "numpy failed to read the npz:\n{}",
        text(&out.stderr)
    );
    let s = text(&out.stdout);
    assert!(
        s.starts_with("qif rk4 0.001 -5.0 30*(t>=30)*(t<60) 64 "),
        "{s}"
    );
    assert!(s.trim_end().ends_with(" 100.0"), "{s}");
}

#[test]
fn run_writes_csv_and_prints_a_summary() {
    let path = tmp("jrc.csv");
    let p = path.display().to_string();
    let out = rateforge(&[
        "run",
        "examples/models/jansen_rit.yaml/JRC",
        "--time",
        "0.1",
        "--dt",
        "1e-4",
        "--record",
        "pc/pro/v",
        "--every",
        "1e-3",
        "-o",
        &p,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,pc/pro/v"));
    assert_eq!(lines.clone().count(), 101);
    assert!(lines.next().unwrap().starts_with("0.0,0.0"));
    // Without -o: a summary table on stdout.
    let out = rateforge(&[
        "run",
        "examples/models/wilson_cowan.yaml/WC",
        "--time",
        "10",
        "--dt",
        "0.01",
        "--solver",
        "heun",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("e/wc_e/r") && s.contains("i/wc_i/r") && s.contains("final"),
        "{s}"
    );
}

#[test]
fn generate_writes_the_committed_kernel_source() {
    let dir = tmp("gen");
    let d = dir.display().to_string();
    let out = rateforge(&[
        "generate",
        "examples/models/montbrio.yaml/qif",
        "--target",
        "rust",
        "-o",
        &d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(dir.join("qif.rs")).unwrap();
    let committed = std::fs::read_to_string(root().join("generated/rust/montbrio_qif.rs")).unwrap();
    assert_eq!(written, committed);
}

#[test]
fn argument_errors_exit_2_with_help() {
    let m = "examples/models/montbrio.yaml/qif";
    let base = ["run", m, "--time", "1", "--dt", "1e-3"];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        rateforge(&a)
    };
    user_error(
        &with(&["--set", "p/qif_op/etaa=1"]),
        &[
            "no parameter or state `p/qif_op/etaa`",
            "did you mean `p/qif_op/eta`?",
        ],
    );
    user_error(
        &with(&["--set", "p/qif_op/eta"]),
        &["not of the form PATH=VALUE"],
    );
    user_error(
        &with(&["--set", "p/qif_op/eta=fast"]),
        &["`fast` in `--set p/qif_op/eta=fast` is not a number"],
    );
    user_error(
        &with(&["--set", "p/qif_op/r_in=1"]),
        &["cannot set `p/qif_op/r_in`: it is an algebraic variable"],
    );
    user_error(
        &with(&["--input", "p/qif_op/I_ext=30*(t>=30"]),
        &["<input p/qif_op/I_ext>:1:10", "expected an operator"],
    );
    user_error(
        &with(&["--input", "p/qif_op/I_ext=30*tt"]),
        &["unknown symbol `tt`", "did you mean `t`?"],
    );
    user_error(
        &with(&["--input", "p/qif_op/r=sin(t)"]),
        &["cannot drive `p/qif_op/r`: it is a state variable"],
    );
    user_error(
        &with(&["--record", "p/qif_op/eta"]),
        &["cannot record `p/qif_op/eta`: it is a parameter"],
    );
    user_error(
        &with(&["--record", "p/qif_op/rr"]),
        &["no variable `p/qif_op/rr`", "did you mean `p/qif_op/r`?"],
    );
    user_error(&with(&["--solver", "rk5"]), &["unknown solver `rk5`"]);
    user_error(
        &with(&["--every", "0.0015"]),
        &["is not a whole number of steps"],
    );
    user_error(
        &rateforge(&["run", m, "--time", "1.00005", "--dt", "1e-3"]),
        &["is not a whole number of steps"],
    );
    user_error(
        &with(&["--input", "p/qif_op/I_ext=missing.npy"]),
        &["missing.npy", "no such file"],
    );
    user_error(
        &with(&["-o", "out.txt"]),
        &["cannot tell the output format"],
    );
    user_error(
        &rateforge(&["check", "examples/models/nothing.yaml/qif"]),
        &["cannot find model file"],
    );
    user_error(
        &rateforge(&["check", "nothing"]),
        &["is not a model file or template reference"],
    );
    // clap's own usage errors also exit with 2.
    assert_eq!(rateforge(&["run", m]).status.code(), Some(2));
}

#[test]
fn input_from_a_data_file_equals_the_same_input_as_an_expression() {
    // One row per step (held within the step): with euler this equals the expression evaluated
    // at t_n, which is PyRates' convention for input arrays.
    let dt = 1e-3;
    let steps = 10_000;
    let csv = tmp("step_input.csv");
    let mut body = String::from("I_ext\n");
    for n in 0..steps {
        let t = n as f64 * dt;
        body.push_str(if (3.0..6.0).contains(&t) {
            "30\n"
        } else {
            "0\n"
        });
    }
    std::fs::write(&csv, body).unwrap();
    let (a, b) = (tmp("from_file.csv"), tmp("from_expr.csv"));
    let common = [
        "run",
        "examples/models/montbrio.yaml/qif",
        "--time",
        "10",
        "--dt",
        "1e-3",
        "--solver",
        "euler",
        "--every",
        "0.01",
    ];
    let mut x = common.to_vec();
    let input = format!("p/qif_op/I_ext={}", csv.display());
    let (pa, pb) = (a.display().to_string(), b.display().to_string());
    x.extend(["--input", &input, "-o", &pa]);
    let mut y = common.to_vec();
    y.extend(["--input", "p/qif_op/I_ext=30*(t>=3)*(t<6)", "-o", &pb]);
    assert!(rateforge(&x).status.success());
    assert!(rateforge(&y).status.success());
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&b).unwrap()
    );
    // Too few rows for the run is an error, not a silent hold.
    let mut z = common.to_vec();
    z[3] = "20";
    z.extend(["--input", &input]);
    user_error(
        &rateforge(&z),
        &["has 10000 rows, but the run has 20000 steps"],
    );
    // A value that is not a number is reported with its line.
    std::fs::write(tmp("bad.csv"), "I\n1\nnan\n").unwrap();
    let bad = format!("p/qif_op/I_ext={}", tmp("bad.csv").display());
    user_error(
        &rateforge(&[
            "run",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "0.002",
            "--dt",
            "1e-3",
            "--input",
            &bad,
        ]),
        &["row 2, column 1 is NaN"],
    );
}

#[test]
fn a_missing_rust_compiler_is_a_clear_error() {
    let cache = tmp("empty-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let out = Command::new(env!("CARGO_BIN_EXE_rateforge"))
        .args([
            "run",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "1",
            "--dt",
            "1e-3",
        ])
        .current_dir(root())
        .env("RATEFORGE_CACHE_DIR", &cache)
        .env("RUSTC", "/nonexistent/rustc")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot run the Rust compiler `/nonexistent/rustc`"),
        "{err}"
    );
    assert!(err.contains("--backend interp"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The interpreter needs no compiler.
    let out = Command::new(env!("CARGO_BIN_EXE_rateforge"))
        .args([
            "run",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "1",
            "--dt",
            "1e-3",
            "--backend",
            "interp",
        ])
        .current_dir(root())
        .env("RATEFORGE_CACHE_DIR", &cache)
        .env("RUSTC", "/nonexistent/rustc")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn networks_and_noise_from_the_command_line() {
    // Montbrio's QIF circuit replicated on the 68-region connectome, coupled from the command line.
    let init = tmp("qif68_init.csv");
    let mut table = String::new();
    for row in 0..2 {
        let values: Vec<String> = (0..68)
            .map(|n| {
                if row == 0 {
                    format!("{}", 0.01 + 0.001 * n as f64)
                } else {
                    "-2".into()
                }
            })
            .collect();
        table.push_str(&values.join(","));
        table.push('\n');
    }
    std::fs::write(&init, table).unwrap();
    let out_a = tmp("qif68_a.npz");
    let out_b = tmp("qif68_b.npz");
    let out_c = tmp("qif68_c.npz");
    let init_s = init.display().to_string();
    let args = |out: &PathBuf, seed: &str| -> Vec<String> {
        [
            "run",
            "examples/models/montbrio.yaml/qif",
            "--connectivity",
            "examples/data/connectivity_68",
            "--speed",
            "2",
            "--coupling",
            "p/qif_op/r->p/qif_op/I_ext:linear:a=0.05",
            "--noise",
            "p/qif_op/v=0.1",
            "--seed",
            seed,
            "--initial-state",
            &init_s,
            "--time",
            "5",
            "--dt",
            "0.01",
            "--solver",
            "heun",
            "--record",
            "p/qif_op/r",
            "--every",
            "0.5",
            "-o",
            &out.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for (out, seed) in [(&out_a, "5"), (&out_b, "5"), (&out_c, "6")] {
        let a: Vec<String> = args(out, seed);
        let o = rateforge(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&out_a).unwrap()).unwrap();
    let r: ndarray::Array2<f64> = npz.by_name("p/qif_op/r").unwrap();
    assert_eq!(r.shape(), [11, 68]);
    for n in 0..68 {
        assert_eq!(
            r[[0, n]],
            0.01 + 0.001 * n as f64,
            "initial state of node {n}"
        );
    }
    let trace = |p: &PathBuf| -> ndarray::Array2<f64> {
        ndarray_npy::NpzReader::new(std::fs::File::open(p).unwrap())
            .unwrap()
            .by_name("p/qif_op/r")
            .unwrap()
    };
    assert_eq!(trace(&out_a), trace(&out_b), "same seed, same result");
    assert_ne!(trace(&out_a), trace(&out_c), "another seed, another result");
    // Usage errors.
    let m = "examples/models/networks/rww4.yaml/rww4";
    user_error(
        &rateforge(&[
            "run",
            m,
            "--time",
            "1",
            "--dt",
            "0.1",
            "--noise",
            "rww_op/S=0.01",
            "--solver",
            "rk4",
        ]),
        &["rk4 has no stochastic form"],
    );
    user_error(
        &rateforge(&[
            "run",
            m,
            "--time",
            "1",
            "--dt",
            "0.1",
            "--tract-lengths",
            "x.npy",
        ]),
        &["go with `--connectivity`"],
    );
    user_error(
        &rateforge(&[
            "run",
            m,
            "--time",
            "1",
            "--dt",
            "0.1",
            "--noise",
            "rww_op/H=0.1",
        ]),
        &["cannot add noise to `rww_op/H`"],
    );
    user_error(
        &rateforge(&[
            "run",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "1",
            "--dt",
            "0.1",
            "--connectivity",
            "examples/data/connectivity_4",
        ]),
        &["not a network model"],
    );
    user_error(
        &rateforge(&[
            "run",
            m,
            "--time",
            "1",
            "--dt",
            "0.1",
            "--initial-state",
            &init_s,
        ]),
        &["has 2 rows, but the model has 1 state"],
    );
}

#[test]
fn rateml_style_sweep_equals_single_runs() {
    // RateML's driver arguments: -s0/-s1 points per swept parameter, -n steps, -dt.
    let out = tmp("g2do4_sweep.npz");
    let common = [
        "--connectivity",
        "examples/data/connectivity_4",
        "--solver",
        "heun",
        "--every",
        "1",
    ];
    let mut args = vec![
        "sweep",
        "examples/models/networks/g2do4.xml",
        "-s0",
        "3",
        "-s1",
        "2",
        "-n",
        "500",
        "-dt",
        "0.1",
        "--traces",
        "-o",
    ];
    let out_s = out.display().to_string();
    args.push(&out_s);
    args.extend(common);
    let o = rateforge(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("6 instances"),
        "{}",
        text(&o.stderr)
    );
    let g = npz_array(&out, "grid/global_coupling");
    let s = npz_array(&out, "grid/global_speed");
    // numpy.linspace(10, 20, 3) x linspace(2, 2, 2), first axis slowest.
    assert_eq!(g.as_slice().unwrap(), &[10.0, 10.0, 15.0, 15.0, 20.0, 20.0]);
    assert_eq!(s.as_slice().unwrap(), &[2.0; 6]);
    let v = npz_array(&out, "V");
    assert_eq!(v.shape(), &[51, 4, 6]);
    // Instance 2 (global_coupling = 15) equals a single run with that value, bit for bit.
    let single = tmp("g2do4_single.npz");
    let single_s = single.display().to_string();
    let mut args = vec![
        "run",
        "examples/models/networks/g2do4.xml",
        "--init",
        "global_coupling=15",
        "--steps",
        "500",
        "--dt",
        "0.1",
        "-o",
        &single_s,
    ];
    args.extend(common);
    let o = rateforge(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let one = npz_array(&single, "V");
    assert_eq!(one.shape(), &[51, 4]);
    for j in 0..51 {
        for n in 0..4 {
            assert_eq!(
                v[[j, n, 2]].to_bits(),
                one[[j, n]].to_bits(),
                "sample {j}, node {n}"
            );
        }
    }
    // The exposures are recorded by default.
    let _ = npz_array(&single, "W");
}

#[test]
fn sweeps_of_any_parameter_and_their_errors() {
    let out = tmp("qif_range.npz");
    let out_s = out.display().to_string();
    let o = rateforge(&[
        "sweep",
        "examples/models/montbrio.yaml/qif",
        "--range",
        "p/qif_op/eta=-6:-4:5",
        "--time",
        "1",
        "--dt",
        "1e-3",
        "--record",
        "p/qif_op/r",
        "--traces",
        "-o",
        &out_s,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eta = npz_array(&out, "grid/p/qif_op/eta");
    assert_eq!(eta.as_slice().unwrap(), &[-6.0, -5.5, -5.0, -4.5, -4.0]);
    assert_eq!(npz_array(&out, "p/qif_op/r").shape(), &[1001, 5]);
    let base = [
        "sweep",
        "examples/models/networks/g2do4.xml",
        "--time",
        "1",
        "--dt",
        "0.1",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(extra).copied().collect()
    };
    user_error(
        &rateforge(&with(&["--points", "global_cupling=4"])),
        &[
            "`global_cupling` is not a swept parameter",
            "global_coupling",
        ],
    );
    user_error(&rateforge(&with(&["-s5", "4"])), &["-s5", "declares 2"]);
    user_error(
        &rateforge(&with(&["--points", "global_coupling=0"])),
        &["positive number of points"],
    );
    user_error(
        &rateforge(&with(&["--range", "global_coupling=1:2"])),
        &["has a range but no number of points", "--sample"],
    );
    user_error(
        &rateforge(&with(&["--range", "a=1:b:3"])),
        &["cannot read the values", "LO:HI:N"],
    );
    user_error(
        &rateforge(&[
            "sweep",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "1",
            "--dt",
            "0.1",
        ]),
        &["nothing to sweep", "--range"],
    );
}

#[test]
fn the_model_library_is_listed_and_written() {
    let o = rateforge(&["models"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    for name in [
        "montbrio_pazo_roxin",
        "kuramoto",
        "generic_2d_oscillator",
        "reduced_wong_wang",
        "wong_wang_exc_inh",
        "epileptor",
        "jansen_rit",
        "wilson_cowan",
        "stuart_landau",
        "fitzhugh_nagumo",
        "larter_breakspear",
    ] {
        assert!(
            s.lines().any(|l| l.starts_with(name)),
            "`{name}` not listed:\n{s}"
        );
    }
    let dir = tmp("library");
    let _ = std::fs::remove_dir_all(&dir);
    let o = rateforge(&["models", "--write", &dir.display().to_string()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let n = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(n, 22);
    let o = rateforge(&["check", &dir.join("kuramoto.xml").display().to_string()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn statistics_only_sweeps_and_interruption() {
    // Statistics without traces: memory proportional to the instances.
    let out = tmp("qif_stats.npz");
    let out_s = out.display().to_string();
    let o = rateforge(&[
        "sweep",
        "examples/models/montbrio.yaml/qif",
        "--range",
        "p/qif_op/eta=-6:-4:3",
        "--range",
        "p/qif_op/Delta=0.5,1",
        "--time",
        "20",
        "--dt",
        "1e-3",
        "--transient",
        "10",
        "--threshold",
        "p/qif_op/r=0.5",
        "--record",
        "p/qif_op/r",
        "-o",
        &out_s,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("6 instances"),
        "{}",
        text(&o.stderr)
    );
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let names = npz.names().unwrap();
    for want in [
        "mean/p/qif_op/r",
        "var/p/qif_op/r",
        "above/p/qif_op/r",
        "grid/p/qif_op/Delta",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "p/qif_op/r"),
        "no trace by default: {names:?}"
    );
    let mean = npz_array(&out, "mean/p/qif_op/r");
    assert_eq!(mean.shape(), &[6]);
    assert!(mean.iter().all(|m| m.is_finite() && *m > 0.0));
    // A random design: a Latin hypercube of 50 instances.
    let o = rateforge(&[
        "sweep",
        "examples/models/montbrio.yaml/qif",
        "--range",
        "p/qif_op/eta=-6:-4",
        "--sample",
        "lhs",
        "--samples",
        "50",
        "--time",
        "1",
        "--dt",
        "1e-3",
        "-q",
        "-o",
        &out_s,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let eta = npz_array(&out, "grid/p/qif_op/eta");
    assert_eq!(eta.len(), 50);
    assert!(eta.iter().all(|e| (-6.0..-4.0).contains(e)));
    // Ctrl-C: the run stops at its next check, writes what it has, marked partial, exit 130.
    let long = tmp("qif_interrupted.npz");
    let long_s = long.display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rateforge"))
        .args([
            "sweep",
            "examples/models/montbrio.yaml/qif",
            "--range",
            "p/qif_op/eta=-6:-4:64",
            "--time",
            "100000",
            "--dt",
            "1e-3",
            "--threads",
            "1",
            "-o",
            &long_s,
        ])
        .current_dir(root())
        .env(
            "RATEFORGE_CACHE_DIR",
            root().join("target/test-kernel-cache"),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the kernel is built and running (the progress counter is not visible here:
    // give it time), then interrupt.
    // One keypress can arrive twice (a wrapper signals the child and its group): two SIGINTs
    // back to back are one interruption, which writes what is done.
    std::thread::sleep(std::time::Duration::from_secs(4));
    for _ in 0..2 {
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let done = npz_array(&long, "steps_done");
    assert_eq!(done.len(), 64);
    assert!(done.iter().all(|d| *d < 1e8), "{done:?}");
    let meta = {
        let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&long).unwrap()).unwrap();
        npz.names().unwrap()
    };
    assert!(meta.iter().any(|n| n == "metadata"));
}

#[test]
fn generate_cuda_writes_the_kernel_driver_and_makefile() {
    let dir = tmp("gen-cuda");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display().to_string();
    let out = rateforge(&[
        "generate",
        "examples/models/montbrio.yaml/qif",
        "--target",
        "cuda",
        "-o",
        &d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kernel = std::fs::read_to_string(dir.join("qif.cu")).unwrap();
    let committed = std::fs::read_to_string(root().join("generated/cuda/montbrio_qif.cu")).unwrap();
    assert_eq!(kernel, committed);
    let driver = std::fs::read_to_string(dir.join("qif_driver.cu")).unwrap();
    assert!(driver.contains("#include \"qif.cu\""));
    let make = std::fs::read_to_string(dir.join("Makefile")).unwrap();
    assert!(
        make.contains("nvcc $(NVCCFLAGS) $(ARCH) -o $@ qif_driver.cu"),
        "{make}"
    );
}

#[test]
fn cuda_backend_without_a_gpu_is_a_clear_error_and_the_emulation_equals_native() {
    let base = [
        "run",
        "examples/models/montbrio.yaml/qif",
        "--time",
        "2",
        "--dt",
        "1e-3",
        "--every",
        "0.01",
    ];
    let gpu = rateforge(&[&base[..], &["--backend", "cuda"]].concat());
    let err = text(&gpu.stderr);
    assert!(!err.contains("panicked"), "panic:\n{err}");
    if !gpu.status.success() {
        // No GPU here (CI has none): an error that says what is missing and what to do.
        assert_eq!(gpu.status.code(), Some(1), "{err}");
        assert!(err.contains("the CUDA backend is not available"), "{err}");
        assert!(err.contains("--backend native"), "{err}");
    }
    let native = tmp("cuda-native.csv");
    let emulated = tmp("cuda-emulated.csv");
    let a = rateforge(&[&base[..], &["-o", native.to_str().unwrap()]].concat());
    assert!(a.status.success(), "{}", text(&a.stderr));
    let b = rateforge(
        &[
            &base[..],
            &[
                "--backend",
                "cuda-emulated",
                "-o",
                emulated.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert!(text(&b.stderr).contains("CUDA device: CPU emulation"));
    let (x, y) = (
        std::fs::read_to_string(&native).unwrap(),
        std::fs::read_to_string(&emulated).unwrap(),
    );
    assert_eq!(x.lines().count(), 202, "a header and 201 samples");
    assert_eq!(
        x, y,
        "the CUDA kernel (emulated) and the CPU kernel wrote different files"
    );
}

#[test]
fn bench_runs_the_cuda_suite_on_the_emulation() {
    let saved = std::env::temp_dir().join(format!("rf-bench-{}.json", std::process::id()));
    let out = rateforge(&[
        "bench",
        "--backend",
        "cuda-emulated",
        "--quick",
        "--save",
        saved.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    // The saved rates are the printed rows', by name, size and threads.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let rates = json["rates"].as_object().unwrap();
    let key = rates
        .keys()
        .find(|k| k.starts_with("Montbrio, 68 regions, delays, heun (cuda) | "))
        .unwrap_or_else(|| panic!("{rates:?}"));
    assert!(rates[key].as_f64().unwrap() > 0.0);
    // A baseline prints its rate and the ratio beside every row it has.
    let mut halved = json.clone();
    for v in halved["rates"].as_object_mut().unwrap().values_mut() {
        *v = serde_json::json!(v.as_f64().unwrap() * 0.5);
    }
    std::fs::write(&saved, halved.to_string()).unwrap();
    let again = rateforge(&[
        "bench",
        "--backend",
        "cuda-emulated",
        "--quick",
        "--baseline",
        saved.to_str().unwrap(),
    ]);
    let again_out = text(&again.stdout);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let rows: Vec<&str> = again_out
        .lines()
        .filter(|l| l.contains(" cuda ") && l.contains("-steps"))
        .collect();
    assert!(!rows.is_empty());
    for row in rows {
        assert!(row.contains("  was ") && row.ends_with("x)"), "{row}");
    }
    std::fs::remove_file(&saved).unwrap();
    let bad = rateforge(&["bench", "--baseline", "/nonexistent/rates.json"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("cannot read the baseline"));
    assert!(
        stdout.contains("device: CPU emulation of the CUDA kernel"),
        "{stdout}"
    );
    for case in [
        "Montbrio single node, euler",
        "Montbrio, 68 regions, delays, heun",
        "Kuramoto, 68 regions, delays, heun",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(case) && l.contains(" cuda "))
            .unwrap_or_else(|| panic!("no CUDA row for {case}:\n{stdout}"));
        let unit = if case.contains("68") {
            "node-steps"
        } else {
            "instance-steps"
        };
        assert!(row.contains(unit), "{row}");
    }
}

/// A run of one instance builds a one-lane kernel (one delay history, not 32 copies of it), and
/// gives the bits of the 32-lane kernel.
#[test]
fn a_single_instance_runs_in_one_lane_with_the_same_bits() {
    let model = root().join("examples/models/networks/mpr68.yaml/mpr68");
    let model = model.to_str().unwrap();
    let (one, wide) = (tmp("mpr68-one-lane.npz"), tmp("mpr68-32-lanes.npz"));
    for (path, lanes) in [(&one, None), (&wide, Some("32"))] {
        let mut args = vec![
            "run", model, "--dt", "0.1", "-n", "300", "--solver", "heun", "--every", "1", "-q",
        ];
        if let Some(l) = lanes {
            args.extend(["--lanes", l]);
        }
        args.extend(["-o", path.to_str().unwrap()]);
        let out = rateforge(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let lanes = |p: &Path| {
        let m = rateforge::crates::rt::output::read_npz_metadata(p).unwrap();
        let m: serde_json::Value = serde_json::from_str(&m).unwrap();
        m["kernel"]["lanes"].as_u64().unwrap()
    };
    assert_eq!((lanes(&one), lanes(&wide)), (1, 32));
    let arrays = |p: &Path| {
        let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(p).unwrap()).unwrap();
        let names: Vec<String> = npz
            .names()
            .unwrap()
            .into_iter()
            .filter(|n| !n.starts_with("metadata"))
            .collect();
        names
            .into_iter()
            .map(|n| {
                let a: ndarray::ArrayD<f64> = npz.by_name(&n).unwrap();
                (n, a.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (arrays(&one), arrays(&wide));
    assert!(
        a.iter()
            .any(|(n, v)| n.contains("mpr_op/r") && v.len() > 68)
    );
    assert_eq!(a, b);
}

#[test]
fn bold_declared_or_given_fit_targets_and_their_errors() {
    let dir = tmp("bold");
    std::fs::create_dir_all(&dir).unwrap();
    let model = "examples/models/networks/rww68_bold.yaml/rww68";
    let short = [
        "--time",
        "12000",
        "--dt",
        "0.5",
        "--solver",
        "euler",
        "--no-trace",
    ];
    // The model declares BOLD (TR 0.72 s, 10 s transient, FCD windows of 20): a 12 s run has
    // 16 samples, 2 after the transient, too few for an FCD window; the error says what to do.
    let out = common::command()
        .args(["run", model])
        .args(short)
        .arg("-o")
        .arg(dir.join("x.npz"))
        .output()
        .unwrap();
    user_error(&out, &["longer than the 2 BOLD samples", "--fcd-window"]);
    // The declared values overridden on the command line, and BOLD switched off.
    let target = dir.join("target.npz");
    let out = common::command()
        .args(["run", model])
        .args(short)
        .args([
            "--bold-transient",
            "2",
            "--fcd-window",
            "4",
            "--tr",
            "0.5",
            "-o",
        ])
        .arg(&target)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("FC (68 x 68) and FCD (9 x 9) of 24 BOLD samples"));
    assert_eq!(npz_array(&target, "fc").shape(), &[68, 68]);
    let meta = rateforge::crates::rt::output::read_npz_metadata(&target).unwrap();
    assert!(
        meta.contains("\"tr\":0.5") && meta.contains("stephan2007"),
        "{meta}"
    );
    let none = dir.join("none.npz");
    let out = common::command()
        .args(["run", model])
        .args(short)
        .args(["--no-bold", "-o"])
        .arg(&none)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !rateforge::crates::rt::output::read_npz_metadata(&none)
            .unwrap()
            .contains("Balloon")
    );
    // A sweep scored against the run's FC and FCD: the instance at the target's coupling fits
    // perfectly (the noise of instance 0 in both: --same-noise); `fit` finds it on a grid.
    let g = "rww_op/S->rww_op/c_0/a";
    let common = [
        "--bold-transient",
        "2",
        "--fcd-window",
        "4",
        "--tr",
        "0.5",
        "--same-noise",
    ];
    let sweep = dir.join("sweep.npz");
    let out = common::command()
        .args(["sweep", model])
        .args(short)
        .args(common)
        .args(["--range", &format!("{g}=4,6,8"), "--target-fc"])
        .arg(&target)
        .arg("--target-fcd")
        .arg(&target)
        .arg("-o")
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("best fit at {g} = 6 (instance 1): cost -1.0000")));
    let cost = npz_array(&sweep, "fit/cost");
    assert!(
        (cost[1] + 1.0).abs() < 1e-12 && cost[0] > -0.99 && cost[2] > -0.99,
        "{cost:?}"
    );
    let fit = dir.join("fit.npz");
    let out = common::command()
        .args(["fit", model])
        .args(short)
        .args(common)
        .args([
            "--free",
            &format!("{g}=0:12"),
            "--method",
            "grid",
            "--points",
            "5",
        ])
        .arg("--target-fc")
        .arg(&target)
        .arg("-o")
        .arg(&fit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("best: {g} = 6 (cost -1.000000")));
    assert_eq!(npz_array(&fit, &format!("best/{g}"))[[0]], 6.0);
    assert_eq!(npz_array(&fit, "fit/cost").shape(), &[5]);
    // Mistakes.
    let bad = |args: &[&str], expected: &[&str]| {
        let out = common::command().args(args).output().unwrap();
        user_error(&out, expected);
    };
    let mpr = "examples/models/networks/mpr68.yaml/mpr68";
    bad(
        &["run", mpr, "--time", "10", "--dt", "0.1", "--tr", "0.5"],
        &["no BOLD is computed", "--bold PATH"],
    );
    bad(
        &[
            "run",
            mpr,
            "--time",
            "10",
            "--dt",
            "0.1",
            "--bold",
            "mpr_op/rr",
        ],
        &["mpr_op/rr"],
    );
    bad(
        &[
            "run", model, "--time", "10000", "--dt", "0.5", "--solver", "euler", "--tr", "0.7005",
        ],
        &["not a whole number of BOLD steps", "--bold-dt"],
    );
    // `fit` of the declared model with these arguments after the short run's.
    let bad_fit = |rest: &[&str], expected: &[&str]| {
        let mut args = vec![
            "fit", model, "--time", "12000", "--dt", "0.5", "--solver", "euler",
        ];
        args.extend_from_slice(rest);
        bad(&args, expected);
    };
    let t = target.to_str().unwrap();
    bad_fit(&["--free", &format!("{g}=3")], &["a fit needs a target"]);
    bad_fit(
        &["--target-fc", t, "--free", &format!("{g}=3")],
        &["is not LO:HI"],
    );
    bad_fit(
        &["--target-fc", t, "--free", &format!("{g}=3:1")],
        &["bounds 3:1"],
    );
    bad(
        &[
            "run",
            model,
            "--time",
            "12000",
            "--dt",
            "0.5",
            "--solver",
            "euler",
            "--target-fc",
            "examples/data/connectivity_4/weights.npy",
            "--fcd-window",
            "4",
            "--bold-transient",
            "2",
        ],
        &["the target FC has 4 nodes, the network 68"],
    );
}

#[test]
fn shards_of_a_sweep_merge_into_the_whole_and_incomplete_sets_are_refused() {
    let dir = tmp("shards");
    std::fs::create_dir_all(&dir).unwrap();
    let sweep = |extra: &[&str], out: &Path| {
        let o = common::command()
            .args([
                "sweep",
                "examples/models/networks/g2do4.yaml/g2do4",
                "--time",
                "20",
                "--dt",
                "0.1",
                "--solver",
                "heun",
                "--noise",
                "g2do_op/V=0.01",
                "--seed",
                "5",
                "--range",
                "g2do_op/V->g2do_op/c_0/a=0:1:5",
                "-q",
                "-o",
            ])
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    let whole = dir.join("whole.npz");
    sweep(&[], &whole);
    let parts: Vec<PathBuf> = (1..=2).map(|k| dir.join(format!("part{k}.npz"))).collect();
    for (k, p) in parts.iter().enumerate() {
        sweep(&["--shard", &format!("{}/2", k + 1)], p);
    }
    let merged = dir.join("merged.npz");
    let o = common::command()
        .arg("merge")
        .args(&parts)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("merged 2 shards (5 instances"));
    for name in [
        "mean/g2do_op/V",
        "last/g2do_op/W",
        "grid/g2do_op/V->g2do_op/c_0/a",
    ] {
        assert_eq!(npz_array(&merged, name), npz_array(&whole, name), "{name}");
    }
    let o = common::command()
        .arg("merge")
        .arg(&parts[1])
        .arg("-o")
        .arg(dir.join("no.npz"))
        .output()
        .unwrap();
    user_error(&o, &["instances 0..2 are missing", "help:"]);
    let o = common::command()
        .args([
            "sweep",
            "examples/models/networks/g2do4.yaml/g2do4",
            "--time",
            "1",
            "--dt",
            "0.1",
        ])
        .args([
            "--range",
            "g2do_op/V->g2do_op/c_0/a=0:1:5",
            "--shard",
            "6/5",
        ])
        .output()
        .unwrap();
    user_error(&o, &["shard 6/5 of a sweep of 5 instances", "--shard K/N"]);
}

#[test]
fn a_shard_killed_by_sigterm_writes_a_partial_result_that_resume_completes() {
    let dir = tmp("resume");
    std::fs::create_dir_all(&dir).unwrap();
    let args = |out: &Path, extra: &[&str]| -> Command {
        let mut c = common::command();
        c.args([
            "sweep",
            "examples/models/networks/g2do4.yaml/g2do4",
            "--time",
            "600000",
            "--dt",
            "0.1",
            "--solver",
            "heun",
            "--noise",
            "g2do_op/V=0.01",
            "--seed",
            "5",
            "--range",
            "g2do_op/V->g2do_op/c_0/a=0:1:4",
            "-q",
            "-o",
        ])
        .arg(out)
        .args(extra);
        c
    };
    let ok = |mut c: Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stderr)
    };
    let whole = dir.join("whole.npz");
    ok(args(&whole, &[]));
    let (one, two) = (dir.join("one.npz"), dir.join("two.npz"));
    ok(args(&two, &["--shard", "2/2"]));
    // Shard 1, terminated as a job at its time limit: it writes what it did, marked partial.
    let _ = std::fs::remove_file(&one);
    let mut child = args(&one, &["--shard", "1/2"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    let meta = rateforge::crates::rt::output::read_npz_metadata(&one).unwrap();
    assert!(meta.contains("\"partial\":true"), "{meta}");
    let refused = common::command()
        .args(["merge"])
        .args([&one, &two])
        .arg("-o")
        .arg(dir.join("merged.npz"))
        .output()
        .unwrap();
    user_error(&refused, &["is partial", "--resume"]);
    // --resume runs it again; a second --resume keeps the complete result as it is.
    ok(args(&one, &["--shard", "1/2", "--resume"]));
    let meta = rateforge::crates::rt::output::read_npz_metadata(&one).unwrap();
    assert!(meta.contains("\"partial\":false"), "{meta}");
    let written = std::fs::metadata(&one).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    ok(args(&one, &["--shard", "1/2", "--resume"]));
    assert_eq!(
        std::fs::metadata(&one).unwrap().modified().unwrap(),
        written
    );
    let merged = dir.join("merged.npz");
    let o = common::command()
        .arg("merge")
        .args([&one, &two])
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    for name in ["mean/g2do_op/V", "var/g2do_op/W", "last/g2do_op/V"] {
        assert_eq!(npz_array(&merged, name), npz_array(&whole, name), "{name}");
    }
    // A file of another sweep is not overwritten.
    let o = common::command()
        .args([
            "sweep",
            "examples/models/networks/g2do4.yaml/g2do4",
            "--time",
            "10",
            "--dt",
            "0.1",
            "--range",
            "g2do_op/V->g2do_op/c_0/a=0:1:4",
            "--shard",
            "1/2",
            "--resume",
            "-o",
        ])
        .arg(&one)
        .output()
        .unwrap();
    user_error(&o, &["holds another sweep's result"]);
}
