//! `rateforge-build` in a real downstream crate, built by a real Cargo: a model with an error
//! fails the build with the rendered diagnostics; editing a file a model reads (through `base:`)
//! reruns the build script, editing an unrelated file does not; the built crate runs its model.
//!
//! The crate is written under `target/nested/` and built with `--offline` (every dependency is
//! already in Cargo's cache after the workspace's own build) into `target/nested/target`, which
//! the generated-crate tests of the command line share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `cargo build -v` in `dir`, with the shared nested target directory.
fn cargo_build(dir: &Path) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .current_dir(dir)
        .args(["build", "-v", "--offline"])
        .env("CARGO_TARGET_DIR", workspace().join("target/nested/target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A downstream crate named `name` whose build script compiles `models/child.yaml/net` (its
/// operator inherited from `models/base.yaml`), beside an unrelated `models/other.yaml`.
fn downstream(name: &str, child_equation: &str) -> PathBuf {
    let dir = workspace().join("target/nested").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let ws = workspace();
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nrateforge-rt = {{ path = \"{rt}\" }}\n\n\
             [build-dependencies]\nrateforge-build = {{ path = \"{build}\" }}\n\n[workspace]\n",
            rt = ws.join("crates/rateforge-rt").display(),
            build = ws.join("crates/rateforge-build").display(),
        ),
    );
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    write(
        &dir.join("build.rs"),
        "fn main() -> Result<(), rateforge_build::Error> {\n    \
         rateforge_build::Build::new().model(\"models/child.yaml/net\").compile()\n}\n",
    );
    write(
        &dir.join("src/main.rs"),
        "include!(concat!(env!(\"OUT_DIR\"), \"/rateforge_models.rs\"));\n\n\
         fn main() {\n    \
         let r = net::Simulation::new().time(1.0).dt(0.01).solver(rateforge_rt::Solver::Euler)\n        \
         .run(&net::Params::default()).unwrap();\n    \
         println!(\"x(1) = {:.12}\", r.array(\"n/leaf/x\").unwrap()[100]);\n}\n",
    );
    write(
        &dir.join("models/base.yaml"),
        &format!(
            "leak:\n  base: OperatorTemplate\n  equations: \"{child_equation}\"\n  variables:\n    x: output(1.0)\n    tau: 2.0\n"
        ),
    );
    write(
        &dir.join("models/child.yaml"),
        "leaf:\n  base: base/leak\nnode:\n  base: NodeTemplate\n  operators: [leaf]\nnet:\n  base: CircuitTemplate\n  nodes: {n: node}\n",
    );
    write(&dir.join("models/other.yaml"), "# not used by any model\n");
    dir
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether the last build ran the build script (`cargo -v` names it when it runs).
fn ran_build_script(o: &Output) -> bool {
    text(o).contains("build-script-build`")
}

/// Moves a file's modification time forward, as an editor saving it would.
fn touch(path: &Path) {
    let later = SystemTime::now() + Duration::from_secs(5);
    let f = std::fs::File::options().append(true).open(path).unwrap();
    f.set_modified(later).unwrap();
}

#[test]
fn a_model_error_fails_the_build_with_the_rendered_diagnostic() {
    let dir = downstream("rf-build-error", "d/dt * x = -x/tua");
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(!out.status.success(), "the build must fail:\n{all}");
    assert!(all.contains("error: unknown symbol `tua`"), "{all}");
    assert!(all.contains("models/base.yaml:3:29"), "{all}");
    assert!(all.contains("^^^"), "the text is underlined:\n{all}");
    assert!(all.contains("help: did you mean `tau`?"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    // Fixing the base file reruns the build script (it was told to watch the file).
    write(
        &dir.join("models/base.yaml"),
        "leak:\n  base: OperatorTemplate\n  equations: \"d/dt * x = -x/tau\"\n  variables:\n    x: output(1.0)\n    tau: 2.0\n",
    );
    touch(&dir.join("models/base.yaml"));
    let out = cargo_build(&dir);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn editing_a_base_file_reruns_the_build_and_an_unrelated_file_does_not() {
    let dir = downstream("rf-build-rerun", "d/dt * x = -x/tau");
    let out = cargo_build(&dir);
    assert!(out.status.success(), "{}", text(&out));
    assert!(ran_build_script(&out));
    // Nothing changed: the build script does not run.
    let out = cargo_build(&dir);
    assert!(!ran_build_script(&out), "{}", text(&out));
    // An unrelated file: no rerun.
    touch(&dir.join("models/other.yaml"));
    let out = cargo_build(&dir);
    assert!(!ran_build_script(&out), "{}", text(&out));
    // The base file a template inherits from: rerun.
    touch(&dir.join("models/base.yaml"));
    let out = cargo_build(&dir);
    assert!(ran_build_script(&out), "{}", text(&out));
    // The model file itself: rerun.
    touch(&dir.join("models/child.yaml"));
    let out = cargo_build(&dir);
    assert!(ran_build_script(&out), "{}", text(&out));
    // The program runs the compiled-in model: x' = -x/2 by Euler, 100 steps of 0.01.
    let exe = workspace().join("target/nested/target/debug/rf-build-rerun");
    let run = Command::new(exe).output().unwrap();
    let expected = (0..100).fold(1.0f64, |x, _| 0.01 * (-x / 2.0) + x);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        format!("x(1) = {expected:.12}")
    );
}
