//! The compiled-in models give what `rateforge run` and `rateforge sweep` give for the same
//! settings (their kernel built at run time and loaded from a shared library), bit for bit, with
//! the same arrays and metadata fields. Two models live in this one binary.

use rateforge::{Backend, BuildOptions, Controls, EmitOptions, Model, RunResult, RunSpec, Solver};
use rateforge_downstream_example::{couplings, jansen_rit, mpr68_sweep};
use rateforge_rt::Target;
use std::path::Path;

fn here(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// The command line's way: load, build a kernel with rustc (parameters that do not vary compiled
/// in, as `rateforge run` does), run.
fn rateforge_run(model: &str, connectivity: Option<&str>, spec: &RunSpec) -> RunResult {
    let mut m = Model::load(&here(model), &Default::default()).unwrap();
    if let Some(c) = connectivity {
        let loaded =
            rateforge::crates::runtime::connectivity::load(Path::new(&here(c)), None, None)
                .unwrap();
        m.set_connectivity(loaded).unwrap();
    }
    let v = m.validate().unwrap();
    let emit = EmitOptions {
        inline: v.constant_parameters(spec),
        ..Default::default()
    };
    let build = BuildOptions {
        cache_dir: Some(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-kernel-cache"),
        ),
        ..Default::default()
    };
    let kernel = v
        .build(&emit, &build)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    v.run(Backend::Native(&kernel), spec, Controls::default())
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

fn same(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}[{i}]: {x} vs {y}");
    }
}

fn same_results(a: &RunResult, b: &RunResult) {
    same("time", &a.time, &b.time);
    same("trace", &a.trace, &b.trace);
    same("final states", &a.final_state, &b.final_state);
    assert_eq!(a.names, b.names);
    assert_eq!(a.array_names(), b.array_names());
    for name in a.array_names() {
        let (x, y) = (a.array(&name).unwrap(), b.array(&name).unwrap());
        assert_eq!(x.shape(), y.shape(), "{name}");
    }
    // The same metadata fields, with the same values except for how the model was named and
    // linked.
    let (ma, mb) = (
        a.metadata.as_object().unwrap(),
        b.metadata.as_object().unwrap(),
    );
    assert_eq!(
        ma.keys().collect::<Vec<_>>(),
        mb.keys().collect::<Vec<_>>(),
        "metadata fields"
    );
    for (key, value) in ma {
        match key.as_str() {
            "model" | "files" | "kernel" => {}
            // Where the connectivity was read from is named as each side was given it.
            "network" if value.is_object() => {
                assert_eq!(value["nodes"], mb[key]["nodes"]);
                assert_eq!(value["edges"], mb[key]["edges"]);
            }
            _ => assert_eq!(value, &mb[key], "metadata `{key}`"),
        }
    }
    assert_eq!(a.metadata["kernel"]["linkage"], "static");
    assert_eq!(b.metadata["kernel"]["linkage"], "dynamic");
}

#[test]
fn the_single_simulation_equals_rateforge_run() {
    let ours = jansen_rit(Target::Cpu).unwrap();
    let spec = RunSpec {
        time: 2.0,
        dt: 1e-4,
        solver: Solver::Euler,
        every: Some(1e-3),
        record: vec![
            "pc/pro/v".into(),
            "pc/rpo_e_in/v".into(),
            "pc/rpo_i/v".into(),
        ],
        ..Default::default()
    };
    let theirs = rateforge_run("../models/jansen_rit.yaml/JRC", None, &spec);
    same_results(&ours, &theirs);
    assert_eq!(ours.array("pc/pro/v").unwrap().shape(), &[2001]);
}

#[test]
fn the_sweep_equals_rateforge_sweep() {
    let ours = mpr68_sweep(Target::Cpu).unwrap();
    let spec = RunSpec {
        time: 40.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1.0),
        instances: 64,
        instance_values: vec![("global_coupling".into(), couplings())],
        ..Default::default()
    };
    let theirs = rateforge_run(
        "../models/networks/mpr68.xml",
        Some("../data/connectivity_68"),
        &spec,
    );
    same_results(&ours, &theirs);
    assert_eq!(ours.array("r").unwrap().shape(), &[41, 68, 64]);
    same(
        "grid",
        ours.array("grid/global_coupling")
            .unwrap()
            .as_slice()
            .unwrap(),
        &couplings(),
    );
    // The instances really differ.
    let r = ours.array("r").unwrap();
    assert_ne!(r[[40, 0, 0]], r[[40, 0, 63]]);
}

#[test]
fn the_typed_values_know_their_paths() {
    use rateforge_downstream_example::{jrc, mpr68};
    use rateforge_rt::{Recordable, Values};
    let mut p = mpr68::Params::default();
    assert_eq!(p.global_coupling, 20.0);
    p.set("eta", -4.5).unwrap();
    assert_eq!(p.eta, -4.5);
    assert_eq!(p.get("eta"), Some(-4.5));
    assert!(p.set("etta", 1.0).unwrap_err().to_string().contains("eta"));
    assert_eq!(jrc::Var::pc__pro__v.path(), "pc/pro/v");
    assert_eq!(jrc::State::PATHS.len(), 8);
}

/// The compiled-in CUDA kernels, run on the CPU through the shim (and on a GPU, where there is
/// one), equal the compiled-in Rust kernels bit for bit in float64.
#[test]
fn the_cuda_kernels_equal_the_rust_kernels() {
    let mut targets = vec![Target::CudaEmulated];
    match std::env::var("RATEFORGE_TEST_GPU") {
        Ok(n) => targets.push(Target::Gpu(n.parse().unwrap_or(0))),
        Err(_) => {
            eprintln!("no GPU test: set RATEFORGE_TEST_GPU=N to run the CUDA kernels on GPU N too")
        }
    }
    let (jrc, sweep) = (
        jansen_rit(Target::Cpu).unwrap(),
        mpr68_sweep(Target::Cpu).unwrap(),
    );
    for target in targets {
        let (a, b) = (jansen_rit(target).unwrap(), mpr68_sweep(target).unwrap());
        assert_eq!(a.metadata["backend"], "cuda");
        for (what, x, y) in [
            ("Jansen-Rit trace", &a.trace, &jrc.trace),
            ("Jansen-Rit final states", &a.final_state, &jrc.final_state),
            ("mpr68 trace", &b.trace, &sweep.trace),
            ("mpr68 final states", &b.final_state, &sweep.final_state),
        ] {
            same(&format!("{what} ({target:?})"), x, y);
        }
        eprintln!("{target:?}: the CUDA kernels equal the Rust kernels");
    }
}
