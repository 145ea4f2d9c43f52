//! Brain networks against The Virtual Brain 2.10 (`tests/data/refs/tvb`, copied from
//! `../shared/refs/tvb`): Montbrió–Pazó–Roxin on the 68-region connectome (delays up to 12 645
//! steps), the generic 2D oscillator and reduced Wong–Wang on a 4-region sub-network, TVB's
//! deterministic Heun with the coupling held over the step and bounds clamped after each stage.
//!
//! TVB keeps its history and coupling sums in float32; `data_pure_f64_reimpl.npy` is an
//! independent float64 implementation (matched by TVB's numba backend to 1.2e-12), which a float64
//! rateforge run must reproduce to 1e-9; against TVB's own `data.npy` expect only ~1e-3.
//!
//! Each model is written twice, in PyRates-style YAML and in RateML's XML (delays from
//! `rec_speed_dt`, couplings from coupling components); both must meet these bounds and agree
//! with each other.

use ndarray::{Array2, Array3};
use ndarray_npy::read_npy;
use rateforge::{Backend, RunSpec, Solver};
use rateforge_tests::*;

struct Case {
    name: &'static str,
    model: &'static str,
    /// The same model in RateML's XML format.
    xml: &'static str,
    dt: f64,
    states: &'static [&'static str],
    /// The states' names in the XML model.
    xml_states: &'static [&'static str],
    connectivity: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "mpr68",
        model: "examples/models/networks/mpr68.yaml/mpr68",
        xml: "examples/models/networks/mpr68.xml",
        dt: 0.01,
        states: &["mpr_op/r", "mpr_op/V"],
        xml_states: &["r", "V"],
        connectivity: "examples/data/connectivity_68",
    },
    Case {
        name: "g2do4",
        model: "examples/models/networks/g2do4.yaml/g2do4",
        xml: "examples/models/networks/g2do4.xml",
        dt: 0.1,
        states: &["g2do_op/V", "g2do_op/W"],
        xml_states: &["V", "W"],
        connectivity: "examples/data/connectivity_4",
    },
    Case {
        name: "rww4",
        model: "examples/models/networks/rww4.yaml/rww4",
        xml: "examples/models/networks/rww4.xml",
        dt: 0.1,
        states: &["rww_op/S"],
        xml_states: &["S"],
        connectivity: "examples/data/connectivity_4",
    },
];

const STEPS: usize = 4000;

fn refs(case: &Case, file: &str) -> std::path::PathBuf {
    root()
        .join("tests/data/refs/tvb")
        .join(case.name)
        .join(file)
}

/// TVB's integer delays: rint(tract_length / speed / dt), speed 2 mm/ms.
#[test]
fn delays_round_like_tvb() {
    for case in CASES {
        let lengths: Array2<f64> =
            read_npy(root().join(case.connectivity).join("tract_lengths.npy")).unwrap();
        let expected: Array2<i64> = read_npy(refs(case, "idelays.npy")).unwrap();
        for ((i, j), l) in lengths.indexed_iter() {
            let d = rateforge::crates::ir::eval::delay_steps(l / 2.0, case.dt);
            assert_eq!(
                d as i64,
                expected[[i, j]],
                "{}: delay of edge {i} <- {j}",
                case.name
            );
            // RateML's rule in the XML models: round_half_even(l * rec_speed_dt), with
            // rec_speed_dt = 1.0f / global_speed / dt.
            let d = rateforge::crates::ir::eval::whole_steps(l * (1.0 / 2.0 / case.dt));
            assert_eq!(
                d as i64,
                expected[[i, j]],
                "{} (XML): delay of edge {i} <- {j}",
                case.name
            );
        }
    }
}

#[test]
fn networks_reproduce_tvb() {
    for case in CASES {
        let yaml = check_case(case, case.model, case.states, None);
        let conn = rateforge::crates::runtime::connectivity::load(
            &root().join(case.connectivity).join("weights.npy"),
            Some(&root().join(case.connectivity).join("tract_lengths.npy")),
            None,
        )
        .unwrap();
        let xml = check_case(case, case.xml, case.xml_states, Some(conn.connectivity));
        let diff = max_abs_diff(&yaml, &xml);
        eprintln!("{}: max |YAML - XML| = {diff:e}", case.name);
        assert!(
            diff == 0.0,
            "{}: YAML and XML differ by {diff:e}",
            case.name
        );
    }
}

/// Runs one form of a case on both backends against the references; returns the native trace.
fn check_case(
    case: &Case,
    reference: &str,
    states: &[&str],
    connectivity: Option<rateforge::crates::runtime::Connectivity>,
) -> Vec<f64> {
    {
        let model = load(reference)
            .validate()
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let init: Array2<f64> = read_npy(refs(case, "initial_state.npy")).unwrap();
        let pure: Array3<f64> = read_npy(refs(case, "data_pure_f64_reimpl.npy")).unwrap();
        let tvb: Array3<f64> = read_npy(refs(case, "data.npy")).unwrap();
        let n = init.ncols();
        let spec = RunSpec {
            time: STEPS as f64 * case.dt,
            dt: case.dt,
            solver: Solver::Heun,
            record: states.iter().map(|s| s.to_string()).collect(),
            connectivity,
            node_values: states
                .iter()
                .enumerate()
                .map(|(s, name)| (name.to_string(), init.row(s).to_vec()))
                .collect(),
            ..Default::default()
        };
        let k = kernel(&model);
        let mut native = Vec::new();
        for backend in [Backend::Native(&k), Backend::Interp] {
            let out = run(&model, backend, &spec);
            if matches!(backend, Backend::Native(_)) {
                native = out.trace.clone();
            }
            assert_eq!(out.n_nodes, n);
            assert_eq!(out.time.len(), STEPS + 1);
            let (mut err_pure, mut err_tvb, mut scale) = (0.0f64, 0.0f64, 0.0f64);
            for (s, _) in states.iter().enumerate() {
                for node in 0..n {
                    let ours = out.node_column(s, node, 0);
                    // TVB's row k is the state after step k + 1.
                    for k in 0..STEPS {
                        err_pure = err_pure.max((ours[k + 1] - pure[[k, s, node]]).abs());
                        err_tvb = err_tvb.max((ours[k + 1] - tvb[[k, s, node]]).abs());
                        scale = scale.max(pure[[k, s, node]].abs());
                    }
                }
            }
            eprintln!(
                "{} ({reference}, {}): max |rateforge - f64 reference| = {err_pure:e}, max |rateforge - TVB| = {err_tvb:e}, max |x| = {scale}",
                case.name,
                backend.name()
            );
            assert!(
                err_pure < 1e-9,
                "{} ({}): {err_pure:e} from the float64 reference",
                case.name,
                backend.name()
            );
            assert!(
                err_tvb < 1e-3,
                "{} ({}): {err_tvb:e} from TVB",
                case.name,
                backend.name()
            );
        }
        native
    }
}
