//! The CUDA backend without a GPU. The generated CUDA C kernel is compiled as C++ with the CPU
//! shim (`kernel-templates/cuda/shim.h`) and run through the same host driver as on a GPU
//! (chunks of instances, windows of steps, two streams): it must equal the reference evaluator,
//! bit for bit in float64, for every example model and feature (delays, couplings, noise,
//! bounds, inputs, statistics). And every example model's kernel compiles with NVRTC (the PyPI
//! wheel installed by `scripts/setup`; the test says so and skips when NVRTC is absent).

use rateforge::{Backend, CudaTarget, EmitOptions, RunSpec, Solver, StatsSpec, Validated};
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

fn connectivity_4() -> rateforge::crates::runtime::Connectivity {
    rateforge::crates::runtime::connectivity::load(
        &root().join("examples/data/connectivity_4/weights.npy"),
        Some(&root().join("examples/data/connectivity_4/tract_lengths.npy")),
        None,
    )
    .unwrap()
    .connectivity
}

/// Panics at the first value whose bits differ, naming its index and both values.
fn same_bits(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = (0..a.len()).find(|&i| a[i].to_bits() != b[i].to_bits()) {
        let d = max_abs_diff(a, b);
        panic!(
            "{what}: first difference at index {i} of {}: CUDA {:e}, evaluator {:e} (largest difference {d:e})",
            a.len(),
            a[i],
            b[i]
        );
    }
}

/// The emulated CUDA run equals the evaluator bit for bit (traces, final states, statistics).
fn check(name: &str, model: &Validated, spec: &RunSpec) {
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
    check("rww4 in chunks", &model, &spec);
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in rateforge::library::MODELS {
        models.push(format!("examples/models/library/{}.xml", m.name));
    }
    for reference in &models {
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
            if !emit.fast {
                // No multiply-add is fused in the exact kernel: the only fused operations are the
                // exact error terms of vmath's products, and with those computed by Dekker's
                // splitting instead there is not one fma left in the PTX.
                let dekker = format!("#define RF_PROD_ERR_FMA 0\n{source}");
                let c = gpu::compile(&dekker, arch, false).unwrap();
                assert!(
                    !c.ptx.contains("fma.rn"),
                    "{reference}: fused multiply-add in the exact kernel"
                );
            }
        }
    }
    eprintln!(
        "NVRTC {major}.{minor}: {} kernels compiled for sm_80 (f64) and sm_90 (f32, fast)",
        2 * models.len()
    );
}
