//! Inputs at the extremes, through the command line: each ends in a clear answer (exit status,
//! message), never a panic, an abort, a hang or an allocation the machine cannot make.

mod common;

use common::{rateforge, text, tmp};

/// Runs `rateforge args` and checks the exit status and that stderr holds every fragment.
fn expect(args: &[&str], code: i32, fragments: &[&str]) {
    let out = rateforge(args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}:\n{err}");
    assert!(!err.contains("panicked"), "{args:?}: panic\n{err}");
    for f in fragments {
        assert!(err.contains(f), "{args:?}: stderr lacks `{f}`:\n{err}");
    }
}

const QIF: &str = "examples/models/montbrio.yaml/qif";
const MPR68: &str = "examples/models/networks/mpr68.yaml/mpr68";

#[test]
fn sizes_from_the_input_are_checked_before_anything_is_allocated() {
    let too_many = "more than one sweep can run (2^32)";
    for args in [
        &[
            "sweep",
            QIF,
            "--range",
            "p/qif_op/eta=0:1:1000000",
            "--range",
            "p/qif_op/Delta=0:1:1000000",
        ][..],
        &["sweep", QIF, "--range", "p/qif_op/eta=0:1:1000000000000"][..],
        &[
            "sweep",
            QIF,
            "--range",
            "p/qif_op/eta=0:1",
            "--sample",
            "lhs",
            "--samples",
            "100000000000000",
        ][..],
    ] {
        let mut a = args.to_vec();
        a.extend([
            "--time",
            "1",
            "--dt",
            "1e-3",
            "-o",
            "target/cli-test-out/never.npz",
        ]);
        expect(
            &a,
            2,
            &[too_many, "help: sweep fewer points, or split the sweep"],
        );
    }
    // RateML's driver options.
    expect(
        &[
            "sweep",
            "examples/models/networks/mpr68.xml",
            "--connectivity",
            "examples/data/connectivity_68",
            "-s0",
            "4294967297",
            "-s1",
            "1",
            "-n",
            "10",
            "-dt",
            "0.1",
            "-o",
            "target/cli-test-out/never.npz",
        ],
        2,
        &["the sweep has 4294967297 instances", too_many],
    );
    // Step counts beyond what float64 time tells apart.
    expect(
        &["run", QIF, "--time", "1", "--dt", "1e-20"],
        2,
        &["the simulated time 1.0 is 1.000e20 steps of 1e-20, more than a run can take (2^53)"],
    );
    expect(
        &[
            "run", QIF, "--time", "1", "--dt", "1e-300", "--every", "0.1",
        ],
        2,
        &[
            "more than a run can take (2^53)",
            "help: choose a larger step size or a shorter time",
        ],
    );
    // Threads.
    expect(
        &[
            "run",
            QIF,
            "--time",
            "1",
            "--dt",
            "1e-3",
            "--threads",
            "100000",
        ],
        2,
        &[
            "100000 threads is too many for this machine (at most",
            "help: leave out `--threads`",
        ],
    );
}

#[test]
fn conduction_speeds_of_zero_are_refused_and_tiny_ones_run_in_bounded_memory() {
    expect(
        &["run", MPR68, "--steps", "10", "--dt", "0.1", "--speed", "0"],
        2,
        &["the conduction speed `network/speed` is 0; it must be a positive number"],
    );
    expect(
        &[
            "sweep",
            MPR68,
            "--steps",
            "10",
            "--dt",
            "0.1",
            "--range",
            "network/speed=0:2:3",
            "-o",
            "target/cli-test-out/never.npz",
        ],
        2,
        &["is 0 (instance 0); it must be a positive number"],
    );
    // RateML: rec_speed_dt = 1/global_speed/dt is infinite at speed 0.
    expect(
        &[
            "run",
            "examples/models/networks/mpr68.xml",
            "--connectivity",
            "examples/data/connectivity_68",
            "--steps",
            "10",
            "--dt",
            "0.1",
            "--set",
            "global_speed=0",
        ],
        2,
        &[
            "the delays' steps per unit of length (`rec_speed_dt`) are inf; the conduction speed must be a positive number",
        ],
    );
    // 1e-300 mm/ms: delays of 10^300 steps, capped at the run's 10 steps.
    for speed in ["1e-300", "1e-4"] {
        let out = rateforge(&[
            "run", MPR68, "--steps", "10", "--dt", "0.1", "--speed", speed,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
}

#[test]
fn deep_and_long_equations_are_checked_or_refused_clearly() {
    let model = |name: &str, equation: &str| {
        let path = tmp(name);
        std::fs::write(
            &path,
            format!(
                "op:\n  base: OperatorTemplate\n  equations: \"{equation}\"\n  variables:\n    x: output(0.1)\n    a: 1.0\n\
                 pop:\n  base: NodeTemplate\n  operators: [op]\n\
                 net:\n  base: CircuitTemplate\n  nodes:\n    p: pop\n"
            ),
        )
        .unwrap();
        format!("{}/net", path.display())
    };
    let sum = model(
        "sum1e5.yaml",
        &format!("d/dt * x = {}", vec!["a"; 100_000].join("+")),
    );
    let neg = model(
        "neg1e5.yaml",
        &format!("d/dt * x = {}x", "-".repeat(100_000)),
    );
    let pow = model(
        "pow1e4.yaml",
        &format!("d/dt * x = {}", vec!["a"; 10_000].join("^")),
    );
    let tern = model(
        "tern1e4.yaml",
        &format!("d/dt * x = {}x", "x>0?a:".repeat(10_000)),
    );
    for m in [&sum, &neg, &pow, &tern] {
        expect(&["check", m], 0, &[]);
    }
    let long = model(
        "long.yaml",
        &format!("d/dt * x = {}", vec!["a"; 300_000].join("+")),
    );
    let out = rateforge(&["check", &long]);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        err.contains("error: equation too long (600010 bytes; at most 524288)"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        err.len() < 2000,
        "the 600 kB line is cut: {} bytes",
        err.len()
    );
}

#[test]
fn non_finite_results_are_reported_and_listed_in_the_metadata() {
    let path = tmp("blow.yaml");
    std::fs::write(
        &path,
        "op:\n  base: OperatorTemplate\n  equations: \"d/dt * x = a*x^2 + log(b)\"\n  variables:\n    x: output(1.0)\n    a: 1.0\n    b: 1.0\n\
         pop:\n  base: NodeTemplate\n  operators: [op]\n\
         net:\n  base: CircuitTemplate\n  nodes:\n    p: pop\n",
    )
    .unwrap();
    let model = format!("{}/net", path.display());
    // One run: x' = x^2 from 1 blows up at t = 1 (Euler a little later); the summary shows inf.
    let out = rateforge(&[
        "run", &model, "--time", "2", "--dt", "1e-3", "--solver", "euler",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: the run went non-finite (NaN or infinite):\n  from t = 1.017\n"),
        "{err}"
    );
    assert!(text(&out.stdout).contains("inf"), "{}", text(&out.stdout));
    // log(-1) is NaN from the first step: the summary's min and max say NaN, not a number.
    let out = rateforge(&[
        "run",
        &model,
        "--time",
        "1",
        "--dt",
        "1e-3",
        "--set",
        "p/op/b=-1",
    ]);
    let summary = text(&out.stdout);
    assert!(
        summary
            .lines()
            .nth(1)
            .is_some_and(|l| l.matches("NaN").count() == 3),
        "{summary}"
    );
    // A sweep: the instances that blow up, with their values, on stderr and in the metadata.
    let npz = tmp("blow.npz");
    let out = rateforge(&[
        "sweep",
        &model,
        "--range",
        "p/op/a=-1:1:5",
        "--time",
        "2",
        "--dt",
        "1e-3",
        "--solver",
        "euler",
        "--traces",
        "--every",
        "0.01",
        "-o",
        npz.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: 1 of 5 instances went non-finite (NaN or infinite):\n  instance 4 from t = 1.02 (p/op/a = 1)\n"), "{err}");
    let meta: serde_json::Value =
        serde_json::from_str(&rateforge_rt::output::read_npz_metadata(&npz).unwrap()).unwrap();
    assert_eq!(
        meta["non_finite"],
        serde_json::json!([{"instance": 4, "time": 1.02}])
    );
    // -q keeps quiet.
    let out = rateforge(&[
        "run", &model, "--time", "2", "--dt", "1e-3", "--solver", "euler", "-q",
    ]);
    assert!(!text(&out.stderr).contains("non-finite"));
}

#[test]
fn messages_say_what_is_wrong_and_what_to_write() {
    let dir = tmp("messages");
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, equation: &str, variables: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                "op:\n  base: OperatorTemplate\n  equations: \"{equation}\"\n  variables:\n{variables}\
                 pop:\n  base: NodeTemplate\n  operators: [op]\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    // Model paths that are not model files.
    expect(
        &["check", "/nonexistent/model.yaml"],
        2,
        &["error: `/nonexistent/model.yaml` does not exist"],
    );
    expect(
        &["check", dir.to_str().unwrap()],
        2,
        &["is a directory, not a model file"],
    );
    expect(
        &["check", "/dev/zero"],
        2,
        &["error: `/dev/zero` is not a regular file"],
    );
    // YAML the parser refuses: an alias bomb, several documents.
    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 10].join(",")
        ));
    }
    let path = dir.join("bomb.yaml");
    std::fs::write(&path, bomb).unwrap();
    expect(
        &["check", path.to_str().unwrap()],
        2,
        &[
            "the YAML expands to too many nodes",
            "help: a model file needs far fewer values",
        ],
    );
    let path = dir.join("multi.yaml");
    std::fs::write(
        &path,
        "op:\n  base: OperatorTemplate\n---\nop2:\n  base: OperatorTemplate\n",
    )
    .unwrap();
    expect(
        &["check", path.to_str().unwrap()],
        2,
        &[
            "the file holds more than one YAML document",
            "multi.yaml:4:1",
            "remove the extra `---` lines",
        ],
    );
    // Values.
    let f = file(
        "values.yaml",
        "d/dt * x = -x*tau",
        "    x: output(1e400)\n    tau: true\n",
    );
    expect(
        &["check", &f],
        2,
        &[
            "the number is out of range (a float64 holds at most about 1.8e308)",
            "error: the value of `tau` is the boolean `true`",
            "help: write a number, e.g. `tau: 1.0`",
            "aborting due to 2 previous errors",
        ],
    );
    // Equations.
    let f = file(
        "index.yaml",
        "d/dt * x = a[x]",
        "    x: output(1.0)\n    a: variable(0.0, 3)\n",
    );
    expect(
        &["check", &f],
        2,
        &["help: an index is an integer constant, e.g. `a[0]`"],
    );
    let f = file("time.yaml", "d/dt * t = -x", "    x: output(1.0)\n");
    expect(
        &["check", &f],
        2,
        &["error: `t` is the time and cannot be defined by an equation"],
    );
    // A file whose only circuit has an invalid name: an error, not a run of its node template.
    let path = dir.join("badname.yaml");
    std::fs::write(
        &path,
        "op:\n  base: OperatorTemplate\n  equations: \"d/dt * x = -x\"\n  variables:\n    x: output(1.0)\n\
         pop:\n  base: NodeTemplate\n  operators: [op]\nmy-circuit:\n  base: CircuitTemplate\n  nodes: {p: pop}\n",
    )
    .unwrap();
    expect(
        &["check", path.to_str().unwrap()],
        2,
        &[
            "error: invalid template name `my-circuit`",
            "badname.yaml:9:1",
            "not a valid name",
        ],
    );
    // A reference to a file that is not a model is reported where it is written, and the file
    // is not quoted.
    let secret = dir.join("secret");
    std::fs::write(
        &secret,
        "root:x:0:0:root:/root:/bin/bash\nsecret line two\n",
    )
    .unwrap();
    let path = dir.join("refers.yaml");
    std::fs::write(&path, "op:\n  base: secret/root\n").unwrap();
    let out = rateforge(&["check", &format!("{}/op", path.display())]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("secret` is not a model file: it holds a string, not templates"),
        "{err}"
    );
    assert!(err.contains("refers.yaml:2:9"), "{err}");
    assert!(
        !err.contains("root:x:0:0") && !err.contains("secret line two"),
        "{err}"
    );
    // Data files: a 3-D array is named as such; int32 is read.
    let a3 = dir.join("a3.npy");
    ndarray_npy::write_npy(&a3, &ndarray::Array3::<f64>::zeros((4, 3, 2))).unwrap();
    let input = format!("p/qif_op/I_ext={}", a3.display());
    expect(
        &["run", QIF, "--time", "1", "--dt", "1e-3", "--input", &input],
        2,
        &["a3.npy: the array has 3 dimensions, shape [4, 3, 2]; give a 1-D array"],
    );
    let i32s = dir.join("i32.npy");
    ndarray_npy::write_npy(&i32s, &ndarray::Array1::<i32>::from_elem(1000, 2)).unwrap();
    let input = format!("p/qif_op/I_ext={}", i32s.display());
    expect(
        &["run", QIF, "--time", "1", "--dt", "1e-3", "--input", &input],
        0,
        &[],
    );
    // Arguments.
    expect(
        &["run", QIF, "--time", "-1", "--dt", "1e-3"],
        2,
        &["the simulated time must be positive, found -1"],
    );
    expect(
        &["run", QIF, "--time", "1", "--dt", "-1e-3"],
        2,
        &["the step size must be positive, found -0.001"],
    );
    expect(
        &["run", QIF, "--time", "1", "--dt", "1e-3", "--every", "-0.5"],
        2,
        &["the sampling interval must be positive, found -0.5"],
    );
    expect(
        &[
            "sweep",
            "examples/models/networks/mpr68.xml",
            "--connectivity",
            "examples/data/connectivity_68",
            "-s0",
            "abc",
            "-n",
            "10",
            "-dt",
            "0.1",
        ],
        2,
        &[
            "`abc` in `-s0 abc` is not a positive number of points",
            "help: e.g. `-s0 8`",
        ],
    );
}

/// A TVB connectivity zip whose weights.txt inflates to 300 MB (from a 300 kB zip) is refused
/// from its declared size, before anything is inflated.
#[test]
fn a_connectivity_zip_that_inflates_too_far_is_refused() {
    let zip = tmp("bomb_connectivity.zip");
    let made = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import zipfile\nwith zipfile.ZipFile({:?}, 'w', zipfile.ZIP_DEFLATED) as z:\n    \
             z.writestr('weights.txt', '0 ' * 150_000_000)\n",
            zip.display().to_string()
        ))
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: python3 could not write the zip");
        return;
    }
    assert!(std::fs::metadata(&zip).unwrap().len() < 2_000_000);
    expect(
        &[
            "run",
            MPR68,
            "--connectivity",
            zip.to_str().unwrap(),
            "--steps",
            "1",
            "--dt",
            "0.1",
        ],
        2,
        &["weights.txt inflates to more than 256 MiB"],
    );
}
