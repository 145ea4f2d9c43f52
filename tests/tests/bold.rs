//! BOLD (Balloon–Windkessel), FC and FCD computed inside the kernels: against an independent
//! scalar implementation of the equations, against direct (numpy-style) computations from the
//! full BOLD trace, the hemodynamic response's peak against the literature, and every backend
//! against the reference evaluator, bit for bit.

use rateforge::{
    Backend, BoldSpec, Format, Hemodynamics, Model, Parallel, RunResult, RunSpec, Solver, Validated,
};
use rateforge::{CudaTarget, EmitOptions};
use rateforge_tests::{build_options, connectivity_4, kernel, load, run};

/// One node whose `u` decays from 1 with time constant `tau_u` (ms): a step input for a huge
/// `tau_u`, an impulse of area `tau_u` ms for a short one.
const DECAY: &str = "
op:
  base: OperatorTemplate
  equations:
    - \"d/dt * u = -u/tau_u\"
  variables:
    u: output(1.0)
    tau_u: 1.0e30
pop:
  base: NodeTemplate
  operators: [op]
net:
  base: CircuitTemplate
  nodes: {p: pop}
";

fn decay() -> Validated {
    Model::from_source("decay.yaml/net", DECAY, Format::Yaml)
        .and_then(Model::validate)
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// The constants as the papers give them: (kappa, gamma, tau, alpha, rho, V0, k1, k2, k3).
type Constants = (f64, f64, f64, f64, f64, f64, f64, f64, f64);

/// Stephan et al. 2007, classical non-linear BOLD equation, epsilon = 1.
const STEPHAN: Constants = {
    let (e0, te, nu0, r0, eps) = (0.4, 0.04, 40.3, 25.0, 1.0);
    (
        0.64,
        0.32,
        2.0,
        0.32,
        e0,
        0.04,
        4.3 * nu0 * e0 * te,
        eps * r0 * e0 * te,
        1.0 - eps,
    )
};
/// Friston et al. 2003.
const FRISTON: Constants = (
    0.65,
    0.41,
    0.98,
    0.32,
    0.34,
    0.02,
    7.0 * 0.34,
    2.0,
    2.0 * 0.34 - 0.2,
);
/// cuBNM.
const CUBNM: Constants = (
    1.0 / 0.65,
    1.0 / 0.41,
    0.98,
    0.32,
    0.34,
    0.02,
    7.0 * 0.34,
    2.0,
    2.0 * 0.34 - 0.2,
);

/// The Balloon–Windkessel equations as a plain scalar loop (std's `powf`), driven by `x[k]` at
/// BOLD step `k`; the BOLD signal after every `tr_every` steps.
fn balloon_reference(c: Constants, x: &[f64], h: f64, tr_every: usize) -> Vec<f64> {
    let (kappa, gamma, tau, alpha, rho, v0, k1, k2, k3) = c;
    let (mut s, mut f, mut v, mut q) = (0.0f64, 1.0f64, 1.0f64, 1.0f64);
    let mut out = Vec::new();
    for (k, &xk) in x.iter().enumerate() {
        let s1 = s + h * (xk - kappa * s - gamma * (f - 1.0));
        let f1 = f + h * s1;
        let v1 = v + h / tau * (f - v.powf(1.0 / alpha));
        let q1 = q + h / tau
            * (f * (1.0 - (1.0 - rho).powf(1.0 / f)) / rho - v.powf(1.0 / alpha) * q / v);
        (s, f, v, q) = (s1, f1, v1, q1);
        if (k + 1) % tr_every == 0 {
            out.push(100.0 * v0 * (k1 * (1.0 - q) + k2 * (1.0 - q / v) + k3 * (1.0 - v)));
        }
    }
    out
}

fn bold(driver: &str, tr: f64) -> BoldSpec {
    BoldSpec {
        driver: driver.into(),
        tr,
        keep_bold: true,
        ..Default::default()
    }
}

fn array(r: &RunResult, name: &str) -> Vec<f64> {
    r.array(name)
        .unwrap_or_else(|| panic!("no array `{name}`"))
        .iter()
        .copied()
        .collect()
}

#[test]
fn bold_of_a_step_and_of_an_impulse_follow_the_equations_and_peak_as_the_literature_says() {
    let model = decay();
    let k = kernel(&model);
    let presets = [
        (Hemodynamics::STEPHAN_2007, STEPHAN, 4.0..=5.0),
        (Hemodynamics::FRISTON_2003, FRISTON, 2.8..=3.4),
        (Hemodynamics::CUBNM, CUBNM, 1.5..=1.9),
    ];
    for ((tau_u, tr), (preset, constants, peak_at)) in [(1.0e30, 0.05), (10.0, 0.05)]
        .into_iter()
        .flat_map(|t| presets.clone().map(|p| (t, p)))
    {
        // 20 s at dt 0.1 ms (time in ms), BOLD every 1 ms, a sample every 50 ms.
        let spec = RunSpec {
            time: 20_000.0,
            dt: 0.1,
            solver: Solver::Euler,
            every: Some(1.0),
            record: vec!["p/op/u".into()],
            instance_values: vec![("p/op/tau_u".into(), vec![tau_u])],
            bold: Some(BoldSpec {
                hemodynamics: preset,
                ..bold("p/op/u", tr)
            }),
            ..Default::default()
        };
        let native = run(&model, Backend::Native(&k), &spec);
        let x = array(&native, "p/op/u");
        let want = balloon_reference(constants, &x[..20_000], 1e-3, 50);
        let got = array(&native, "bold");
        assert_eq!(got.len(), 400);
        let err = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-12, "tau_u {tau_u}: BOLD differs by {err}");
        let time = array(&native, "bold_time");
        assert!((time[0] - 0.05).abs() < 1e-15 && (time[399] - 20.0).abs() < 1e-12);
        if tau_u < 1e3 {
            // The hemodynamic response to a brief pulse peaks where the constants' papers
            // put it: 4-5 s for Stephan et al. 2007.
            let peak = (0..got.len())
                .max_by(|&a, &b| got[a].total_cmp(&got[b]))
                .unwrap();
            let t_peak = time[peak];
            assert!(peak_at.contains(&t_peak), "{preset:?}: peak at {t_peak} s");
            assert!(got[peak] > 0.0);
            // ... and undershoots afterwards.
            assert!(got[got.len() - 100..].iter().any(|&b| b < 0.0));
        } else {
            // A sustained input settles to a raised plateau.
            assert!(got[399] > 0.5 && (got[399] - got[398]).abs() < 1e-3 * got[399]);
        }
        // The reference evaluator: the same bits (one set of constants is enough: the
        // evaluator and the kernels share the observer's code).
        if preset == Hemodynamics::STEPHAN_2007 {
            let interp = run(&model, Backend::Interp, &spec);
            assert_eq!(array(&interp, "bold"), got);
        }
    }
}

/// Pearson correlation of the rows of `x` (`rows x len`), two passes, as numpy's `corrcoef`.
fn corrcoef(rows: &[Vec<f64>]) -> Vec<f64> {
    let n = rows.len();
    let centred: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let m = r.iter().sum::<f64>() / r.len() as f64;
            r.iter().map(|v| v - m).collect()
        })
        .collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = dot(&centred[i], &centred[j])
                / (dot(&centred[i], &centred[i]) * dot(&centred[j], &centred[j])).sqrt();
        }
    }
    out
}

/// Reduced Wong–Wang on 4 regions with delays, 3 coupling strengths and different initial
/// states per node, BOLD every 0.1 s.
fn rww4_spec(parallel: Parallel) -> RunSpec {
    RunSpec {
        time: 12_000.0,
        dt: 0.1,
        solver: Solver::Heun,
        every: Some(1000.0),
        record: vec!["rww_op/S".into()],
        instances: 3,
        instance_values: vec![("rww_op/w".into(), vec![0.3, 0.6, 0.9])],
        node_values: vec![("rww_op/S".into(), vec![0.1, 0.4, 0.7, 0.95])],
        connectivity: Some(connectivity_4()),
        parallel,
        threads: Some(2),
        bold: Some(BoldSpec {
            transient: 1.0,
            fcd_window: 12,
            fcd_step: 5,
            ..bold("rww_op/S", 0.1)
        }),
        ..Default::default()
    }
}

#[test]
fn streaming_fc_and_fcd_equal_direct_computations_on_every_backend() {
    let model = load("examples/models/networks/rww4.yaml/rww4")
        .validate()
        .unwrap();
    let k = kernel(&model);
    let native = run(&model, Backend::Native(&k), &rww4_spec(Parallel::Instances));
    let (n, nn) = (3, 4);
    let bold = array(&native, "bold");
    let n_tr = bold.len() / (nn * n);
    assert_eq!(n_tr, 120);
    let fc = array(&native, "fc");
    let fcd = array(&native, "fcd");
    // Windows of 12 samples every 5 over the 110 samples after the 1 s transient.
    let nw = (110 - 12) / 5 + 1;
    assert_eq!(fcd.len(), nw * nw * n);
    for i in 0..n {
        let rows: Vec<Vec<f64>> = (0..nn)
            .map(|node| (10..n_tr).map(|j| bold[(j * nn + node) * n + i]).collect())
            .collect();
        let want = corrcoef(&rows);
        for (k, w) in want.iter().enumerate() {
            let got = fc[k * n + i];
            assert!(
                (got - w).abs() < 1e-12,
                "instance {i} FC[{k}]: {got} vs {w}"
            );
        }
        let tris: Vec<Vec<f64>> = (0..nw)
            .map(|w| {
                let win: Vec<Vec<f64>> =
                    rows.iter().map(|r| r[w * 5..w * 5 + 12].to_vec()).collect();
                let c = corrcoef(&win);
                let mut v = Vec::new();
                for a in 0..nn {
                    for b in a + 1..nn {
                        v.push(c[a * nn + b]);
                    }
                }
                v
            })
            .collect();
        let want = corrcoef(&tris);
        for (k, w) in want.iter().enumerate() {
            let got = fcd[k * n + i];
            assert!(
                (got - w).abs() < 1e-12,
                "instance {i} FCD[{k}]: {got} vs {w}"
            );
        }
    }
    // The coupling strength changes the FC.
    assert!((fc[n] - fc[n + 2]).abs() > 1e-6);
    // Threads sharing the nodes, the reference evaluator and the CUDA kernel (its C++ emulation):
    // the same bits.
    let nodes = run(&model, Backend::Native(&k), &rww4_spec(Parallel::Nodes));
    let interp = run(&model, Backend::Interp, &rww4_spec(Parallel::Instances));
    let cuda_kernel = model
        .build_cuda(
            &EmitOptions::default(),
            &build_options(),
            CudaTarget::Emulated,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let cuda = run(
        &model,
        Backend::Cuda(&cuda_kernel),
        &rww4_spec(Parallel::Instances),
    );
    for other in [&nodes, &interp, &cuda] {
        for name in ["bold", "fc", "fcd"] {
            assert_eq!(array(other, name), array(&native, name), "{name}");
        }
    }
}

#[test]
fn bold_options_that_do_not_fit_the_run_are_explained() {
    let model = decay();
    let spec = |b: BoldSpec| RunSpec {
        time: 1000.0,
        dt: 0.1,
        solver: Solver::Euler,
        bold: Some(b),
        ..Default::default()
    };
    let err = |b: BoldSpec| {
        model
            .run(Backend::Interp, &spec(b), Default::default())
            .map(|_| ())
            .unwrap_err()
            .render()
    };
    let e = err(BoldSpec {
        bold_dt: 2.5e-4,
        ..bold("p/op/u", 0.1)
    });
    assert!(e.contains("not a whole number of model steps"), "{e}");
    let e = err(bold("p/op/u", 0.1005));
    assert!(e.contains("not a whole number of BOLD steps"), "{e}");
    let e = err(bold("p/op/u", 0.72));
    assert!(e.contains("gives 1 BOLD samples"), "{e}");
    let e = err(BoldSpec {
        fcd_window: 20,
        ..bold("p/op/u", 0.1)
    });
    assert!(e.contains("longer than the 10 BOLD samples"), "{e}");
    let e = err(bold("p/op/w", 0.1));
    assert!(e.contains("p/op/w"), "{e}");
}

#[test]
fn models_declare_bold_in_yaml_and_in_xml() {
    let yaml = load("examples/models/networks/rww68_bold.yaml/rww68")
        .validate()
        .unwrap();
    assert_eq!(
        yaml.declared_bold(),
        Some(BoldSpec {
            driver: "rww_op/S".into(),
            tr: 0.72,
            transient: 10.0,
            fcd_window: 20,
            fcd_step: 2,
            ..Default::default()
        })
    );
    let xml = r#"<Lems>
    <ComponentType name="derivatives">
        <Parameter name="a" dimension="0.5, 0.5"/>
        <Exposure name="V" dimension="V"/>
        <Bold driver="V" tr="0.5" bold_dt="0.01" time_unit="s" balloon="cubnm" transient="2"
              fcd_window="4" fcd_step="2" keep_bold="true"/>
        <Dynamics>
            <StateVariable name="V" dimension="0.5"/>
            <TimeDerivative variable="dV" value="-V * a"/>
        </Dynamics>
    </ComponentType>
</Lems>"#;
    let model = Model::from_source("decay.xml", xml, Format::Xml)
        .and_then(Model::validate)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let declared = model.declared_bold().unwrap();
    assert_eq!(
        declared,
        BoldSpec {
            driver: "V".into(),
            tr: 0.5,
            bold_dt: 0.01,
            time_unit: 1.0,
            hemodynamics: Hemodynamics::CUBNM,
            transient: 2.0,
            fcd_window: 4,
            fcd_step: 2,
            keep_bold: true,
        }
    );
    // A run with it: 20 s of model time in seconds, BOLD every 0.5 s.
    let r = run(
        &model,
        Backend::Interp,
        &RunSpec {
            time: 20.0,
            dt: 0.01,
            solver: Solver::Euler,
            bold: Some(declared),
            ..Default::default()
        },
    );
    assert_eq!(array(&r, "bold").len(), 40);
    assert_eq!(array(&r, "fc"), vec![1.0]);
}
