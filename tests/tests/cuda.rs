//! The CUDA backend without a GPU. The generated CUDA C kernel is compiled as C++ with the CPU
//! shim (`kernel-templates/cuda/shim.h`) and run through the same host driver as on a GPU
//! (chunks of instances, windows of steps, two streams): it must equal the reference evaluator,
//! bit for bit in float64, for every example model and feature (delays, couplings, noise,
//! bounds, inputs, statistics). And every example model's kernel compiles with NVRTC (the PyPI
//! wheel installed by `scripts/setup`; the test says so and skips when NVRTC is absent).

use rateforge::{
    Backend, CudaTarget, EmitOptions, RunResult, RunSpec, Solver, StatsSpec, Validated,
};
use rateforge_tests::*;

fn emulated(model: &Validated, spec: &RunSpec) -> rateforge::CudaKernel {
    model
        .build_cuda(
            &EmitOptions {
                inline: model.constant_parameters(spec),
                ..Default::default()
            },
            &build_options(),
            CudaTarget::Emulated,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Panics at the first value whose bits differ, naming its index and both values. NaNs are
/// equal whatever their bits: IEEE 754 leaves the sign and payload of a NaN that an operation
/// makes to the machine (x86 makes 0xfff8..., a GPU 0x7fff...), so an instance that blows up
/// gives NaN everywhere but not the same NaN.
fn same_bits(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let differ = |i: usize| a[i].to_bits() != b[i].to_bits() && !(a[i].is_nan() && b[i].is_nan());
    if let Some(i) = (0..a.len()).find(|&i| differ(i)) {
        let d = max_abs_diff(a, b);
        panic!(
            "{what}: first difference at index {i} of {}: CUDA {:e}, evaluator {:e} (largest difference {d:e})",
            a.len(),
            a[i],
            b[i]
        );
    }
}

/// The emulated CUDA run equals the evaluator bit for bit (traces, final states, statistics);
/// returns the number of chunks the run took.
fn check(name: &str, model: &Validated, spec: &RunSpec) -> usize {
    let k = emulated(model, spec);
    let a = run(model, Backend::Cuda(&k), spec);
    let b = run(model, Backend::Interp, spec);
    same_bits(&format!("{name}: trace"), &a.trace, &b.trace);
    same_bits(
        &format!("{name}: final states"),
        &a.final_state,
        &b.final_state,
    );
    same_bits(&format!("{name}: statistics"), &a.stats, &b.stats);
    eprintln!(
        "{name}: CUDA (emulated) equals the evaluator ({} values)",
        a.trace.len()
    );
    k.last_run_chunks()
}

#[test]
fn single_node_models_every_solver() {
    // (model, (swept path, values), time, dt)
    type Case<'a> = (&'a str, (&'a str, [f64; 3]), f64, f64);
    let cases: &[Case<'_>] = &[
        (
            "examples/models/montbrio.yaml/qif",
            ("p/qif_op/eta", [-6.0, -5.0, -4.0]),
            2.0,
            1e-3,
        ),
        (
            "examples/models/jansen_rit.yaml/JRC",
            ("pc/rpo_e_in/u", [120.0, 220.0, 320.0]),
            0.2,
            1e-4,
        ),
        (
            "examples/models/wilson_cowan.yaml/WC",
            ("e/wc_e/P", [1.0, 1.25, 1.5]),
            20.0,
            0.01,
        ),
        (
            "tests/models/valid/features.yaml/main",
            ("n1/edited_op/r", [1.0, 2.0, 3.0]),
            1.0,
            1e-3,
        ),
        // Complex-valued: pairs of real states, `angle` as selects.
        (
            "examples/models/kuramoto_mean_field.yaml/kmo_mf",
            ("p/kmo_op/z->p/kmo_op/s_in/weight", [1.0, 3.0, 4.0]),
            1.0,
            1e-3,
        ),
    ];
    for (reference, (path, values), time, dt) in cases {
        let model = load(reference)
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        for solver in [Solver::Euler, Solver::Heun, Solver::Rk4] {
            let spec = RunSpec {
                time: *time,
                dt: *dt,
                solver,
                every: Some(10.0 * dt),
                instances: 3,
                instance_values: vec![(path.to_string(), values.to_vec())],
                ..Default::default()
            };
            check(&format!("{reference} {solver:?}"), &model, &spec);
        }
    }
}

#[test]
fn delays_edges_and_networks() {
    let conn = connectivity_4();
    // Models with their own delays, gamma chains and edge templates.
    for reference in [
        "tests/models/valid/delayed_edge.yaml/net",
        "tests/models/valid/gamma_delay.yaml",
        "tests/models/valid/edge_template.yaml",
        "examples/models/jansen_rit_coupled.yaml/JRC_delay",
        "examples/models/delay_equations.yaml/linear",
        "examples/models/delay_equations.yaml/hutchinson",
        "examples/models/kuramoto_pair.yaml/kmo_2coupled",
    ] {
        let model = load(reference)
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let spec = RunSpec {
            time: 0.05,
            dt: 1e-4,
            solver: Solver::Heun,
            every: Some(1e-3),
            instances: 2,
            ..Default::default()
        };
        check(reference, &model, &spec);
    }
    // Connectome models, with bounds; the speed swept gives every instance its own delays.
    for (reference, sweep) in [
        (
            "examples/models/networks/g2do4.xml",
            ("global_speed", vec![1.0, 2.0, 7.5]),
        ),
        (
            "examples/models/library/kuramoto.xml",
            ("global_coupling", vec![1.0, 4.0, 9.0]),
        ),
        (
            "examples/models/library/jansen_rit.xml",
            ("global_coupling", vec![1.0, 5.0, 10.0]),
        ),
        (
            "examples/models/library/epileptor.xml",
            ("x0", vec![-1.6, -2.0, -2.4]),
        ),
        (
            "examples/models/networks/rww4.xml",
            ("global_coupling", vec![20.0, 25.0, 30.0]),
        ),
    ] {
        let model = load(reference)
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let spec = RunSpec {
            time: 30.0,
            dt: 0.1,
            solver: Solver::Heun,
            every: Some(1.0),
            instances: 3,
            instance_values: vec![(sweep.0.to_string(), sweep.1.clone())],
            connectivity: Some(conn.clone()),
            stats: Some(StatsSpec {
                transient: 10.0,
                thresholds: Vec::new(),
            }),
            ..Default::default()
        };
        check(reference, &model, &spec);
    }
}

#[test]
fn noise_inputs_statistics_chunks_and_windows() {
    // Noise: the same Philox numbers as the CPU.
    let ou = load("tests/models/valid/ou.yaml")
        .validate()
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let spec = RunSpec {
        time: 1.0,
        dt: 1e-2,
        solver: Solver::Heun,
        instances: 7,
        seed: 11,
        stats: Some(StatsSpec::default()),
        ..Default::default()
    };
    check("ou", &ou, &spec);
    // An input driven by an expression of time and statistics with a threshold.
    let mut qif = load("examples/models/montbrio.yaml/qif");
    qif.drive("p/qif_op/I_ext", "30*(t>=0.5)*(t<1.5)").unwrap();
    let qif = qif.validate().unwrap();
    let spec = RunSpec {
        time: 2.0,
        dt: 1e-3,
        solver: Solver::Rk4,
        every: Some(0.01),
        instances: 4,
        instance_values: vec![("p/qif_op/eta".into(), vec![-6.0, -5.5, -5.0, -4.5])],
        stats: Some(StatsSpec {
            transient: 0.3,
            thresholds: vec![("p/qif_op/r".into(), 1.0)],
        }),
        ..Default::default()
    };
    check("qif with input", &qif, &spec);
    // A device too small for all instances at once: chunks of a few instances (the results of one
    // are copied back while the next runs), in windows of steps.
    let model = load("examples/models/networks/rww4.xml")
        .validate()
        .unwrap();
    let spec = RunSpec {
        time: 100.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1.0),
        instances: 37,
        instance_values: vec![(
            "global_coupling".into(),
            (0..37).map(|i| 20.0 + i as f64).collect(),
        )],
        connectivity: Some(connectivity_4()),
        stats: Some(StatsSpec::default()),
        ..Default::default()
    };
    // SAFETY: tests in this binary run this function only; the variable is read by the emulated
    // device's memory query.
    unsafe { std::env::set_var("RATEFORGE_EMULATED_CUDA_MEMORY", "400000") };
    let chunks = check("rww4 in chunks", &model, &spec);
    assert!(
        chunks >= 4,
        "the run took {chunks} chunk(s), the test wants several"
    );
    eprintln!("rww4: {chunks} chunks");
    unsafe { std::env::remove_var("RATEFORGE_EMULATED_CUDA_MEMORY") };
}

#[test]
fn every_example_kernel_compiles_with_nvrtc() {
    use rateforge::crates::runtime::cuda::gpu;
    if !gpu::nvrtc_available() {
        eprintln!(
            "NVRTC not found: run scripts/setup (it installs nvidia-cuda-nvrtc-cu12 into .venv) to compile the CUDA kernels here"
        );
        return;
    }
    let (major, minor) = gpu::nvrtc_version().unwrap();
    let mut models: Vec<String> = [
        "examples/models/montbrio.yaml/qif",
        "examples/models/jansen_rit.yaml/JRC",
        "examples/models/wilson_cowan.yaml/WC",
        "examples/models/jansen_rit_coupled.yaml/JRC_delay",
        "examples/models/networks/mpr68.yaml/mpr68",
        "examples/models/networks/mpr68.xml",
        "examples/models/networks/g2do4.xml",
        "examples/models/networks/rww4.xml",
        "tests/models/valid/ou.yaml",
        "tests/models/valid/gamma_delay.yaml",
        "examples/models/delay_equations.yaml/hutchinson",
        "examples/models/kuramoto_pair.yaml/kmo_2coupled",
        "examples/models/kuramoto_mean_field.yaml/kmo_mf_2coupled",
        "examples/models/theta_neurons.yaml/theta",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in rateforge::library::MODELS {
        models.push(format!("examples/models/library/{}.xml", m.name));
    }
    // NVRTC is thread-safe: two compilations at a time.
    two_at_a_time(&models, |reference| {
        let model = load(reference)
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        for (emit, arch) in [
            (EmitOptions::default(), "sm_80"),
            (
                EmitOptions {
                    precision: rateforge::Precision::F32,
                    history: rateforge::Precision::F32,
                    fast: true,
                    ..Default::default()
                },
                "sm_90",
            ),
        ] {
            let source = model.generate_cuda(&emit).unwrap();
            let c = gpu::compile(&source, arch, emit.fast)
                .unwrap_or_else(|e| panic!("{reference} ({arch}): {e}"));
            assert!(c.cubin.as_ref().is_some_and(|b| b.starts_with(b"\x7fELF")));
            assert!(
                c.ptx.contains(".entry rf_run"),
                "{reference}: no rf_run in the PTX"
            );
            if !emit.fast && !calls_platform_libm(&model) {
                // No multiply-add is fused in the exact kernel: the only fused operations are the
                // exact error terms of vmath's products, and with those computed by Dekker's
                // splitting instead there is not one fma left in the PTX. (The platform's
                // `tan`, `sinh`, `cosh` and inverse trigonometric functions, CUDA's own, fuse.)
                let dekker = format!("#define RF_PROD_ERR_FMA 0\n{source}");
                let c = gpu::compile(&dekker, arch, false).unwrap();
                assert!(
                    !c.ptx.contains("fma.rn"),
                    "{reference}: fused multiply-add in the exact kernel"
                );
            }
        }
    });
    eprintln!(
        "NVRTC {major}.{minor}: {} kernels compiled for sm_80 (f64) and sm_90 (f32, fast)",
        2 * models.len()
    );
}

/// Whether the model calls one of the functions taken from the platform's libm, not rateforge's
/// (documented as not the same bits on every platform).
fn calls_platform_libm(model: &rateforge::Validated) -> bool {
    use rateforge::crates::ir::{Builtin as B, Expr};
    model.ir().model().exprs.values().any(|e| {
        matches!(
            e,
            Expr::Call(B::Tan | B::Sinh | B::Cosh | B::Asin | B::Acos | B::Atan, _)
        )
    })
}

/// How a test builds the generated stand-alone program.
#[derive(Clone, Copy, PartialEq)]
enum DriverBuild {
    /// As C++ with the CPU shim (any machine with a C++ compiler).
    Shim,
    /// With the generated Makefile (`nvcc -arch=native`), to run on the GPU.
    Nvcc,
}

/// Builds a generated stand-alone program (`how`) and runs it in `dir` with `args`; returns
/// (params, trace, stats, final_state) as read back from its `.npy` files.
fn run_driver(
    model: &Validated,
    dir: &std::path::Path,
    args: &[&str],
    how: DriverBuild,
) -> [Vec<f64>; 4] {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let files = model
        .generate_cuda_program(&EmitOptions::default())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let mut driver = None;
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
        if name.ends_with("_driver.cu") {
            driver = Some(name.clone());
        }
    }
    assert!(files.iter().any(|(n, _)| n == "Makefile"));
    let driver = driver.unwrap();
    let exe = match how {
        DriverBuild::Shim => {
            // The generated Makefile's CPU build (the shim is one of the generated files).
            let out = std::process::Command::new("make")
                .current_dir(dir)
                .arg("cpu")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "`make cpu` failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            dir.join(format!("{}_cpu", driver.trim_end_matches("_driver.cu")))
        }
        DriverBuild::Nvcc => {
            let out = std::process::Command::new("make")
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "the generated Makefile failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            dir.join(driver.trim_end_matches("_driver.cu"))
        }
    };
    let run = std::process::Command::new(&exe)
        .current_dir(root())
        .args(args)
        .args(["-o", dir.join("out").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the driver failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = |name: &str| -> Vec<f64> {
        let a: ndarray::ArrayD<f64> = ndarray_npy::read_npy(dir.join("out").join(name)).unwrap();
        a.iter().copied().collect()
    };
    let meta = std::fs::read_to_string(dir.join("out/metadata.json")).unwrap();
    assert!(meta.contains("\"recorded\""), "{meta}");
    [
        read("params.npy"),
        read("trace.npy"),
        read("stats.npy"),
        read("final_state.npy"),
    ]
}

#[test]
fn stand_alone_driver_compiles_as_cpp_and_equals_the_evaluator() {
    driver_equals_the_evaluator(DriverBuild::Shim);
}

/// The stand-alone program built by its own Makefile with nvcc and run on a GPU (skipped, saying
/// so, where there is no GPU or no nvcc) writes the evaluator's numbers bit for bit.
#[test]
fn on_a_gpu_the_stand_alone_driver_equals_the_evaluator() {
    use rateforge::crates::runtime::cuda::gpu;
    if let Err(e) = gpu::Gpu::probe(0) {
        eprintln!("no GPU, not run: {e}");
        return;
    }
    let nvcc = std::process::Command::new("nvcc").arg("--version").output();
    if !nvcc.is_ok_and(|o| o.status.success()) {
        eprintln!("no nvcc on the PATH, not run");
        return;
    }
    driver_equals_the_evaluator(DriverBuild::Nvcc);
}

fn driver_equals_the_evaluator(how: DriverBuild) {
    use rateforge::sweep::{Axis, grid};
    let base = root().join(match how {
        DriverBuild::Shim => "target/cuda-driver-test",
        DriverBuild::Nvcc => "target/cuda-driver-nvcc",
    });
    // RateML-style: two declared swept parameters (the speed among them, so every instance has
    // its own delays), initial states drawn from ranges, bounds, noise; -sK points.
    let model = load("tests/models/valid/rateml_style.xml")
        .validate()
        .unwrap();
    let [params, trace, stats, fin] = run_driver(
        &model,
        &base.join("rateml_style"),
        &[
            "-s0",
            "3",
            "-s1",
            "2",
            "-n",
            "300",
            "-dt",
            "0.1",
            "-c",
            "examples/data/connectivity_4",
            "-every",
            "5",
            "-seed",
            "7",
            "-solver",
            "heun",
        ],
        how,
    );
    let axes: Vec<Axis> = model
        .sweep_axes()
        .iter()
        .zip([3, 2])
        .map(|(a, n)| Axis::linspace(a.name.clone(), a.lo, a.hi, n).unwrap())
        .collect();
    let spec = RunSpec {
        time: 30.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(0.5),
        instances: 6,
        instance_values: grid(&axes),
        connectivity: Some(connectivity_4()),
        seed: 7,
        stats: Some(StatsSpec::default()),
        ..Default::default()
    };
    let reference = run(&model, Backend::Interp, &spec);
    let np = model.ir().model().params.len();
    assert_eq!(params.len(), np * 6);
    same_bits("rateml_style driver: trace", &trace, &reference.trace);
    same_bits("rateml_style driver: statistics", &stats, &reference.stats);
    same_bits(
        "rateml_style driver: final states",
        &fin,
        &reference.final_state,
    );
    // A single node with noise, any parameter swept with -p, another solver.
    let model = load("tests/models/valid/ou.yaml").validate().unwrap();
    let [_, trace, stats, fin] = run_driver(
        &model,
        &base.join("ou"),
        &[
            "-p",
            "p/ou_op/sigma=0.5:1.5:3",
            "-n",
            "200",
            "-dt",
            "0.01",
            "-every",
            "1",
            "-seed",
            "3",
            "-solver",
            "euler",
        ],
        how,
    );
    let spec = RunSpec {
        time: 2.0,
        dt: 0.01,
        solver: Solver::Euler,
        instances: 3,
        instance_values: vec![("p/ou_op/sigma".into(), vec![0.5, 1.0, 1.5])],
        seed: 3,
        stats: Some(StatsSpec::default()),
        ..Default::default()
    };
    let reference = run(&model, Backend::Interp, &spec);
    same_bits("ou driver: trace", &trace, &reference.trace);
    same_bits("ou driver: statistics", &stats, &reference.stats);
    same_bits("ou driver: final states", &fin, &reference.final_state);
}

/// The float32 cases: a network with a sweep, a noisy single node, a delayed Kuramoto network;
/// each as (reference, model, spec, options) with float32 arithmetic and history.
fn float32_cases() -> Vec<(&'static str, Validated, RunSpec, EmitOptions)> {
    [
        (
            "examples/models/networks/rww4.xml",
            ("global_coupling", vec![20.0, 30.0, 40.0]),
            true,
        ),
        (
            "tests/models/valid/ou.yaml",
            ("p/ou_op/sigma", vec![0.5, 1.0, 2.0]),
            false,
        ),
        (
            "examples/models/library/kuramoto.xml",
            ("global_coupling", vec![1.0, 4.0, 9.0]),
            true,
        ),
    ]
    .into_iter()
    .map(|(reference, sweep, network)| {
        let model = load(reference).validate().unwrap();
        let spec = RunSpec {
            time: 20.0,
            dt: 0.1,
            solver: Solver::Heun,
            every: Some(1.0),
            instances: 3,
            seed: 5,
            instance_values: vec![(sweep.0.to_string(), sweep.1.clone())],
            connectivity: network.then(connectivity_4),
            stats: Some(StatsSpec::default()),
            ..Default::default()
        };
        let emit = EmitOptions {
            precision: rateforge::Precision::F32,
            history: rateforge::Precision::F32,
            inline: model.constant_parameters(&spec),
            ..Default::default()
        };
        (reference, model, spec, emit)
    })
    .collect()
}

/// Traces, statistics and final states of two runs have the same bits.
fn same_results(what: &str, a: &RunResult, b: &RunResult) {
    same_bits(&format!("{what}: trace"), &a.trace, &b.trace);
    same_bits(&format!("{what}: statistics"), &a.stats, &b.stats);
    same_bits(
        &format!("{what}: final states"),
        &a.final_state,
        &b.final_state,
    );
}

#[test]
fn float32_equals_the_cpu_kernel() {
    // The CUDA kernel in float32 (arithmetic and history) against the CPU kernel with the same
    // options: the same operations in the same order, so the same bits.
    for (reference, model, spec, emit) in float32_cases() {
        let gpu = model
            .build_cuda(&emit, &build_options(), CudaTarget::Emulated)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let cpu = model
            .build(&emit, &build_options())
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let a = run(&model, Backend::Cuda(&gpu), &spec);
        let b = run(&model, Backend::Native(&cpu), &spec);
        same_results(&format!("{reference} f32"), &a, &b);
        // And float32 is float32: not the float64 result.
        let exact = run(&model, Backend::Interp, &spec);
        assert_ne!(a.trace, exact.trace, "{reference}");
        let d = max_abs_diff(&a.trace, &exact.trace);
        assert!(
            d < 1e-3,
            "{reference}: float32 differs from float64 by {d:e}"
        );
    }
}

/// On a real GPU (skipped, saying so, where there is none): float32 kernels give the bits of the
/// emulation, which gives those of the float32 CPU kernel (the test above).
#[test]
fn on_a_gpu_float32_equals_the_emulation() {
    use rateforge::crates::runtime::cuda::gpu;
    if let Err(e) = gpu::Gpu::probe(0) {
        eprintln!("no GPU, not run: {e}");
        return;
    }
    for (reference, model, spec, emit) in float32_cases() {
        let build = |target| {
            model
                .build_cuda(&emit, &build_options(), target)
                .unwrap_or_else(|e| panic!("{}", e.render()))
        };
        let (on_gpu, emulated) = (build(CudaTarget::Gpu(0)), build(CudaTarget::Emulated));
        let a = run(&model, Backend::Cuda(&on_gpu), &spec);
        let b = run(&model, Backend::Cuda(&emulated), &spec);
        same_results(&format!("{reference} f32 on the GPU"), &a, &b);
        eprintln!(
            "{reference}: float32 on the GPU equals the emulation ({} values)",
            a.trace.len()
        );
    }
}

/// On a real GPU (skipped, saying so, where there is none: CI has none): the CUDA kernels equal
/// the reference evaluator bit for bit, for single nodes, networks with delays, noise, and a
/// grid of more than 10^5 instances (so hundreds of blocks: the global index includes blockIdx).
#[test]
fn on_a_gpu_equals_the_evaluator() {
    use rateforge::crates::runtime::cuda::gpu;
    let (cc, name) = match gpu::Gpu::probe(0) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("no GPU, not run: {e}");
            return;
        }
    };
    eprintln!("GPU 0: {name} (compute capability {}.{})", cc.0, cc.1);
    equals_the_evaluator_on(CudaTarget::Gpu(0));
}

/// The GPU test's checks on the CPU emulation, so that they are known to pass where they can run.
#[test]
fn the_gpu_checks_pass_on_the_emulation() {
    equals_the_evaluator_on(CudaTarget::Emulated);
}

fn equals_the_evaluator_on(target: CudaTarget) {
    let on_gpu = |model: &Validated, spec: &RunSpec| {
        model
            .build_cuda(
                &EmitOptions {
                    inline: model.constant_parameters(spec),
                    ..Default::default()
                },
                &build_options(),
                target,
            )
            .unwrap_or_else(|e| panic!("{}", e.render()))
    };
    let compare = |what: &str, model: &Validated, spec: &RunSpec| {
        let k = on_gpu(model, spec);
        let a = run(model, Backend::Cuda(&k), spec);
        let b = run(model, Backend::Interp, spec);
        same_bits(&format!("{what} on the GPU: trace"), &a.trace, &b.trace);
        same_bits(
            &format!("{what} on the GPU: statistics"),
            &a.stats,
            &b.stats,
        );
        same_bits(
            &format!("{what} on the GPU: final states"),
            &a.final_state,
            &b.final_state,
        );
        eprintln!(
            "{what}: the GPU equals the evaluator ({} values)",
            a.trace.len()
        );
    };
    for (reference, path, values, dt) in [
        (
            "examples/models/montbrio.yaml/qif",
            "p/qif_op/eta",
            vec![-6.0, -5.0, -4.0],
            1e-3,
        ),
        (
            "examples/models/jansen_rit.yaml/JRC",
            "pc/rpo_e_in/u",
            vec![120.0, 220.0, 320.0],
            1e-4,
        ),
        (
            "tests/models/valid/ou.yaml",
            "p/ou_op/sigma",
            vec![0.5, 1.0, 2.0],
            1e-2,
        ),
    ] {
        let model = load(reference).validate().unwrap();
        let noisy = reference.contains("ou.yaml");
        for solver in [Solver::Euler, Solver::Heun, Solver::Rk4] {
            if noisy && solver == Solver::Rk4 {
                continue; // no stochastic form
            }
            let spec = RunSpec {
                time: 1000.0 * dt,
                dt,
                solver,
                every: Some(10.0 * dt),
                instances: values.len(),
                instance_values: vec![(path.to_string(), values.clone())],
                seed: 9,
                stats: Some(StatsSpec::default()),
                ..Default::default()
            };
            compare(&format!("{reference} {solver:?}"), &model, &spec);
        }
    }
    for (reference, sweep) in [
        (
            "examples/models/networks/rww4.xml",
            ("global_coupling", vec![20.0, 25.0, 30.0]),
        ),
        (
            "examples/models/networks/g2do4.xml",
            ("global_speed", vec![1.0, 2.0, 7.5]),
        ),
        (
            "examples/models/library/kuramoto.xml",
            ("global_coupling", vec![1.0, 4.0, 9.0]),
        ),
        (
            "tests/models/valid/rateml_style.xml",
            ("global_speed", vec![1.0, 1.5, 2.0]),
        ),
    ] {
        let model = load(reference).validate().unwrap();
        let spec = RunSpec {
            time: 50.0,
            dt: 0.1,
            solver: Solver::Heun,
            every: Some(1.0),
            instances: 3,
            seed: 4,
            instance_values: vec![(sweep.0.to_string(), sweep.1.clone())],
            connectivity: Some(connectivity_4()),
            stats: Some(StatsSpec::default()),
            ..Default::default()
        };
        compare(reference, &model, &spec);
    }
    // 100,003 instances; a few of them, far apart, against the evaluator.
    let model = load("examples/models/montbrio.yaml/qif")
        .validate()
        .unwrap();
    let n = 100_003usize;
    let eta: Vec<f64> = (0..n)
        .map(|i| -6.0 + 2.0 * i as f64 / (n - 1) as f64)
        .collect();
    let spec = RunSpec {
        time: 0.5,
        dt: 1e-3,
        solver: Solver::Rk4,
        every: Some(0.5),
        instances: n,
        instance_values: vec![("p/qif_op/eta".into(), eta.clone())],
        ..Default::default()
    };
    let k = on_gpu(&model, &spec);
    let all = run(&model, Backend::Cuda(&k), &spec);
    let picks = [0usize, 1, 255, 256, 65_537, n - 1];
    let sub = RunSpec {
        instances: picks.len(),
        instance_values: vec![(
            "p/qif_op/eta".into(),
            picks.iter().map(|&i| eta[i]).collect(),
        )],
        ..spec.clone()
    };
    let reference = run(&model, Backend::Interp, &sub);
    let ns = model.ir().model().states.len();
    for (j, &i) in picks.iter().enumerate() {
        for s in 0..ns {
            let (a, b) = (
                all.final_state[s * n + i],
                reference.final_state[s * picks.len() + j],
            );
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "instance {i}, state {s}: GPU {a:e}, evaluator {b:e}"
            );
        }
    }
    eprintln!(
        "{n} instances on {}; instances {picks:?} equal the evaluator",
        k.device_name()
    );
}
