//! RateML semantics beyond the TVB cases: initial values drawn from `StateVariable dimension`
//! ranges, the `noise` component's per-step deviation `nsig`, a coupling term whose scaling reads
//! the target node, and networks without `rec_speed_dt` (no delays).

use rateforge::crates::runtime::Connectivity;
use rateforge::{Backend, Model, RunSpec, Solver, Validated};
use rateforge_tests::*;

/// Writes `xml` to a temporary file and loads it.
fn xml_model(name: &str, xml: &str) -> Validated {
    let dir = root().join("target/rateml-test-models");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).unwrap();
    Model::load(&path.display().to_string(), &Default::default())
        .and_then(Model::validate)
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

#[test]
fn initial_values_are_drawn_from_ranges_reproducibly() {
    let m = xml_model(
        "ranges",
        r#"<Lems>
  <ComponentType name="derivatives">
    <Dynamics>
      <StateVariable name="u" dimension="-2.0, 1.0" exposure="0.0, 1.0"/>
      <StateVariable name="v" dimension="3.0, 5.0"/>
      <StateVariable name="w" dimension="0.25, 0.25"/>
      <TimeDerivative variable="du" value="0"/>
      <TimeDerivative variable="dv" value="0"/>
      <TimeDerivative variable="dw" value="0"/>
    </Dynamics>
  </ComponentType>
  <ComponentType name="coupling_function">
    <Parameter name="u_j" dimension="0"/>
    <DerivedParameter name="c" value="0.0"/>
    <Dynamics><DerivedVariable name="pre" value="u_j"/><DerivedVariable name="post" value="1"/></Dynamics>
  </ComponentType>
</Lems>"#,
    );
    let n = 64;
    let nn = 3;
    let conn = Connectivity::from_dense(nn, &[0.0; 9], &[0.0; 9]);
    let spec = |seed: u64| RunSpec {
        time: 0.0,
        dt: 0.1,
        solver: Solver::Euler,
        instances: n,
        seed,
        record: vec!["u".into(), "v".into(), "w".into()],
        connectivity: Some(conn.clone()),
        ..Default::default()
    };
    let k = kernel(&m);
    let a = run(&m, Backend::Native(&k), &spec(7));
    let b = run(&m, Backend::Interp, &spec(7));
    let c = run(&m, Backend::Native(&k), &spec(8));
    assert_eq!(a.trace, b.trace, "both backends start from the same draws");
    assert_ne!(a.trace, c.trace, "another seed draws other values");
    // trace[((sample * 3 + r) * nn + node) * n + i], sample 0 only.
    let at = |t: &[f64], r: usize, node: usize, i: usize| t[(r * nn + node) * n + i];
    let mut us = Vec::new();
    let mut vs = Vec::new();
    for node in 0..nn {
        for i in 0..n {
            let (u, v, w) = (
                at(&a.trace, 0, node, i),
                at(&a.trace, 1, node, i),
                at(&a.trace, 2, node, i),
            );
            assert!((0.0..=1.0).contains(&u), "u = {u} is clamped to its bounds");
            assert!((3.0..5.0).contains(&v), "v = {v} in its range");
            assert_eq!(w, 0.25, "lo = hi is a fixed value");
            us.push(u);
            vs.push(v);
        }
    }
    // u is drawn from [-2, 1) and clamped at 0: about two thirds are exactly 0.
    let zeros = us.iter().filter(|u| **u == 0.0).count() as f64 / us.len() as f64;
    assert!((zeros - 2.0 / 3.0).abs() < 0.1, "fraction clamped {zeros}");
    // Different nodes and instances get different values.
    let mut sorted = vs.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        vs.len(),
        "every (node, instance) draws its own v"
    );
    let mean = vs.iter().sum::<f64>() / vs.len() as f64;
    assert!(
        (mean - 4.0).abs() < 0.15,
        "mean of U(3, 5) over {} draws: {mean}",
        vs.len()
    );
}

#[test]
fn nsig_is_the_standard_deviation_per_step() {
    // dV = 0 with RateML's noise: V after n steps has variance n * nsig^2, whatever dt.
    let m = xml_model(
        "noise",
        r#"<Lems>
  <ComponentType name="derivatives">
    <DerivedParameter name="nsig" value="0.1"/>
    <Dynamics>
      <StateVariable name="V" dimension="0.0, 0.0"/>
      <TimeDerivative variable="dV" value="0"/>
    </Dynamics>
  </ComponentType>
  <ComponentType name="noise"/>
</Lems>"#,
    );
    let k = kernel(&m);
    let n = 20_000;
    for dt in [0.01, 0.5] {
        let spec = RunSpec {
            time: 100.0 * dt,
            dt,
            solver: Solver::Euler,
            every: Some(100.0 * dt),
            instances: n,
            seed: 3,
            ..Default::default()
        };
        let out = run(&m, Backend::Native(&k), &spec);
        let last: Vec<f64> = (0..n).map(|i| out.column(0, i)[1]).collect();
        let mean = last.iter().sum::<f64>() / n as f64;
        let var = last.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // Expected 100 * 0.01 = 1; standard error sqrt(2/n) = 0.01.
        assert!((var - 1.0).abs() < 0.05, "dt {dt}: variance {var}");
        assert!(mean.abs() < 0.05, "dt {dt}: mean {mean}");
    }
}

#[test]
fn a_coupling_scaled_by_the_target_node_and_no_delays() {
    // c0_i = (sum_j w_ij x_j) * (k * g_i), no rec_speed_dt: no delays whatever the lengths.
    let m = xml_model(
        "scaled",
        r#"<Lems>
  <ComponentType name="derivatives">
    <Constant name="k" dimension="" value="0.5"/>
    <Dynamics>
      <StateVariable name="x" dimension="1.0, 1.0"/>
      <StateVariable name="g" dimension="2.0, 2.0"/>
      <TimeDerivative variable="dx" value="-x + c0"/>
      <TimeDerivative variable="dg" value="-0.1 * g"/>
    </Dynamics>
  </ComponentType>
  <ComponentType name="coupling_a">
    <Parameter name="x_j" dimension="0"/>
    <DerivedParameter name="c0" value="k * g"/>
    <Dynamics><DerivedVariable name="pre" value="x_j"/><DerivedVariable name="post" value="1"/></Dynamics>
  </ComponentType>
</Lems>"#,
    );
    assert!(m.listing().contains("no delays"), "{}", m.listing());
    let w = [0.0, 0.3, 0.7, 0.0];
    let conn = Connectivity::from_dense(2, &w, &[50.0, 50.0, 50.0, 50.0]);
    let (dt, steps) = (0.01, 300);
    let spec = RunSpec {
        time: steps as f64 * dt,
        dt,
        solver: Solver::Euler,
        record: vec!["x".into(), "g".into()],
        connectivity: Some(conn),
        node_values: vec![("x".into(), vec![1.0, -0.5])],
        ..Default::default()
    };
    let k = kernel(&m);
    let native = run(&m, Backend::Native(&k), &spec);
    let interp = run(&m, Backend::Interp, &spec);
    assert_eq!(native.trace, interp.trace);
    // The same by hand.
    let (mut x, mut g) = ([1.0f64, -0.5], [2.0f64, 2.0]);
    for _ in 0..steps {
        let sum = [w[1] * x[1], w[2] * x[0]];
        let c = [sum[0] * (0.5 * g[0]), sum[1] * (0.5 * g[1])];
        let dx = [-x[0] + c[0], -x[1] + c[1]];
        let dg = [-0.1 * g[0], -0.1 * g[1]];
        for i in 0..2 {
            x[i] += dt * dx[i];
            g[i] += dt * dg[i];
        }
    }
    for (node, &by_hand) in x.iter().enumerate() {
        let ours = native.node_column(0, node, 0);
        let err = (ours[steps] - by_hand).abs();
        assert!(
            err < 1e-13,
            "node {node}: {} vs {by_hand} by hand",
            ours[steps]
        );
    }
}
