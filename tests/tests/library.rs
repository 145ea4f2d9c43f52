//! The model library (`examples/models/library/`, listed by `rateforge models`): every model in
//! both forms loads and validates; its generated kernel agrees with the reference evaluator (the
//! XML form, several instances sweeping the coupling); and its YAML and XML forms give identical
//! trajectories on a 4-region connectome with delays.

use rateforge::library::MODELS;
use rateforge::{Backend, RunSpec, Solver};
use rateforge_tests::*;

/// Step size (the header's), and steps to run.
fn schedule(name: &str) -> (f64, f64) {
    let dt = match name {
        "montbrio_pazo_roxin" => 0.01,
        "kuramoto" | "epileptor" | "stuart_landau" => 0.05,
        _ => 0.1,
    };
    (dt, 1500.0 * dt)
}

/// Parameter values that switch couplings on where TVB's defaults leave them off.
fn couplings_on(name: &str) -> &'static [(&'static str, f64)] {
    match name {
        "epileptor" => &[("Ks", -0.2), ("Kf", 0.1), ("Kvf", 0.1)],
        _ => &[],
    }
}

fn connectivity() -> rateforge::crates::runtime::Connectivity {
    let dir = root().join("examples/data/connectivity_4");
    rateforge::crates::runtime::connectivity::load(
        &dir.join("weights.npy"),
        Some(&dir.join("tract_lengths.npy")),
        None,
    )
    .unwrap()
    .connectivity
}

#[test]
fn every_library_model_is_in_both_forms_and_they_agree() {
    assert_eq!(MODELS.len(), 11);
    two_at_a_time(MODELS, check_model);
}

fn check_model(m: &rateforge::library::LibraryModel) {
    let yaml_ref = format!("examples/models/library/{}.yaml/{}", m.name, m.name);
    let xml_ref = format!("examples/models/library/{}.xml", m.name);
    // The embedded text is the file.
    let on_disk =
        std::fs::read_to_string(root().join(format!("examples/models/library/{}.xml", m.name)))
            .unwrap();
    assert_eq!(on_disk, m.xml, "{}: the binary's copy is stale", m.name);
    let mut yaml = load(&yaml_ref);
    let mut xml = load(&xml_ref);
    // Models whose couplings are off at TVB's defaults get them switched on.
    for (name, value) in couplings_on(m.name) {
        yaml.set(&format!("{}_op/{name}", m.name), *value).unwrap();
        xml.set(name, *value).unwrap();
    }
    assert_eq!(yaml.warnings(), "", "{}: YAML warnings", m.name);
    assert_eq!(xml.warnings(), "", "{}: XML warnings", m.name);
    let yaml = yaml.validate().unwrap_or_else(|e| panic!("{}", e.render()));
    let xml = xml.validate().unwrap_or_else(|e| panic!("{}", e.render()));
    let state_names = |v: &rateforge::Validated| -> Vec<String> {
        v.ir()
            .model()
            .states
            .values()
            .map(|s| s.name.clone())
            .collect()
    };
    let (ys, xs) = (state_names(&yaml), state_names(&xml));
    assert_eq!(ys.len(), xs.len(), "{}: state counts", m.name);
    for (y, x) in ys.iter().zip(&xs) {
        assert!(
            y.ends_with(&format!("/{x}")),
            "{}: states in a different order: {ys:?} vs {xs:?}",
            m.name
        );
    }
    let (dt, time) = schedule(m.name);
    let base = RunSpec {
        time,
        dt,
        solver: Solver::Heun,
        every: Some(10.0 * dt),
        connectivity: Some(connectivity()),
        ..Default::default()
    };
    // YAML and XML: the same trajectories, bit for bit.
    let ky = kernel(&yaml);
    let kx = kernel(&xml);
    let ry = run(
        &yaml,
        Backend::Native(&ky),
        &RunSpec {
            record: ys.clone(),
            ..base.clone()
        },
    );
    let rx = run(
        &xml,
        Backend::Native(&kx),
        &RunSpec {
            record: xs.clone(),
            ..base.clone()
        },
    );
    assert_eq!(ry.trace.len(), rx.trace.len());
    assert!(
        rx.trace.iter().all(|v| v.is_finite()),
        "{}: not finite",
        m.name
    );
    let differ = ry
        .trace
        .iter()
        .zip(&rx.trace)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(
        differ,
        0,
        "{}: YAML and XML trajectories differ in {differ} values (max {:e})",
        m.name,
        max_abs_diff(&ry.trace, &rx.trace)
    );
    // The kernel against the reference evaluator, sweeping the declared coupling range.
    let axis = &xml.sweep_axes()[0];
    assert_eq!(axis.name, "global_coupling", "{}", m.name);
    let n = 5;
    let values: Vec<f64> = (0..n)
        .map(|i| axis.lo + (axis.hi - axis.lo) * i as f64 / (n - 1) as f64)
        .collect();
    let spec = RunSpec {
        record: xs.clone(),
        instances: n,
        instance_values: vec![("global_coupling".into(), values)],
        ..base.clone()
    };
    let native = run(&xml, Backend::Native(&kx), &spec);
    let interp = run(&xml, Backend::Interp, &spec);
    let scale = interp.trace.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let err = max_abs_diff(&native.trace, &interp.trace) / scale.max(1e-300);
    eprintln!(
        "{}: kernel vs evaluator {err:e} (relative), YAML vs XML identical",
        m.name
    );
    assert!(
        err <= 1e-12,
        "{}: kernel differs from the evaluator by {err:e}",
        m.name
    );
}
