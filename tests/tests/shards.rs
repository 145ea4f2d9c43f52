//! Shards of a sweep: each runs a contiguous block of the instances with the noise and the drawn
//! initial values those instances have in the whole sweep, so the shards together equal the
//! unsharded sweep bit for bit, on every backend.

use rateforge::sweep::{apply_shard, grid_hash, shard_range};
use rateforge::{Backend, CudaTarget, EmitOptions, Format, Model, RunResult, RunSpec, Solver};
use rateforge_tests::{build_options, connectivity_4, kernel, run};

/// TVB's generic 2D oscillator on 4 regions with delays (examples/models/networks/g2do4.xml),
/// its `V` starting at a value drawn from [-1, 1] per instance and node, with noise on `V`.
fn model() -> rateforge::Validated {
    let path = rateforge_tests::root().join("examples/models/networks/g2do4.xml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        r#"<StateVariable name="V" dimension="0.0, 0.0""#,
        r#"<StateVariable name="V" dimension="-1.0, 1.0""#,
    );
    let mut m = Model::from_source(&path.display().to_string(), &text, Format::Xml)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    m.set_noise("V", 0.05)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    m.validate().unwrap_or_else(|e| panic!("{}", e.render()))
}

fn sweep(instances: usize) -> RunSpec {
    RunSpec {
        time: 20.0,
        dt: 0.01,
        solver: Solver::Heun,
        every: Some(0.5),
        instances,
        instance_values: vec![(
            "global_coupling".into(),
            (0..instances).map(|i| 10.0 + i as f64).collect(),
        )],
        connectivity: Some(connectivity_4()),
        seed: 11,
        stats: Some(Default::default()),
        ..Default::default()
    }
}

/// Instance `i` of every per-instance array of a result: final states, trace, statistics.
fn instance(r: &RunResult, i: usize) -> Vec<f64> {
    let n = r.n_instances;
    [&r.final_state, &r.trace, &r.stats]
        .iter()
        .flat_map(|a| (0..a.len() / n).map(move |k| a[k * n + i]))
        .collect()
}

#[test]
fn shards_are_balanced_contiguous_and_cover_every_instance_once() {
    for (total, n) in [(10, 3), (10, 7), (7, 7), (1000, 64)] {
        let ranges: Vec<_> = (1..=n).map(|k| shard_range(total, k, n).unwrap()).collect();
        assert_eq!(ranges[0].start, 0);
        assert_eq!(ranges[n - 1].end, total);
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }
    for (total, k, n) in [(10, 0, 3), (10, 4, 3), (3, 1, 4), (10, 1, 0)] {
        let e = shard_range(total, k, n).unwrap_err().render();
        assert!(e.contains("--shard K/N"), "{e}");
    }
    let a = sweep(10);
    let mut b = sweep(10);
    b.instance_values[0].1[3] += 1e-15;
    assert_ne!(grid_hash(&a.instance_values), grid_hash(&b.instance_values));
}

#[test]
fn sharded_sweeps_equal_the_unsharded_one_bit_for_bit_on_every_backend() {
    let model = model();
    let k = kernel(&model);
    let total = 10;
    let whole = run(&model, Backend::Native(&k), &sweep(total));
    let cuda = model
        .build_cuda(
            &EmitOptions::default(),
            &build_options(),
            CudaTarget::Emulated,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
    for (n, backend) in [
        (1, Backend::Native(&k)),
        (3, Backend::Native(&k)),
        (7, Backend::Native(&k)),
        (3, Backend::Cuda(&cuda)),
        (7, Backend::Interp),
    ] {
        let mut got = Vec::new();
        for part in 1..=n {
            let mut spec = sweep(total);
            apply_shard(&mut spec, part, n).unwrap();
            let r = run(&model, backend, &spec);
            let shard = &r.metadata["shard"];
            assert_eq!(shard["index"], part);
            assert_eq!(shard["grid_hash"], grid_hash(&sweep(total).instance_values));
            for i in 0..r.n_instances {
                got.push(instance(&r, i));
            }
        }
        let want: Vec<Vec<f64>> = (0..total).map(|i| instance(&whole, i)).collect();
        if n == 3 && backend.name() == "native" {
            // Without the offset, the last shard would draw the noise and initial values of
            // the sweep's first instances: different numbers.
            let mut spec = sweep(total);
            apply_shard(&mut spec, 3, 3).unwrap();
            let first = spec.instance_offset as usize;
            spec.instance_offset = 0;
            let r = run(&model, backend, &spec);
            assert_ne!(instance(&r, 0), want[first]);
        }
        assert_eq!(got.len(), total);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let same =
                g.len() == w.len() && g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(
                same,
                "{} shard(s) on {}: instance {i} differs",
                n,
                backend.name()
            );
        }
    }
}

/// Every array of an `.npz` file, as (name, shape, values).
fn npz_arrays(path: &std::path::Path) -> Vec<(String, Vec<usize>, Vec<f64>)> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for name in npz.names().unwrap() {
        if name.starts_with("metadata") {
            continue;
        }
        let a: ndarray::ArrayD<f64> = npz.by_name(&name).unwrap();
        out.push((name, a.shape().to_vec(), a.iter().copied().collect()));
    }
    out
}

#[test]
fn merged_shards_equal_the_unsharded_sweep_and_bad_sets_are_refused() {
    use rateforge::crates::rt::merge::merge;
    let model = model();
    let k = kernel(&model);
    let dir = rateforge_tests::root().join("target/shards-test");
    std::fs::create_dir_all(&dir).unwrap();
    let total = 10;
    let whole_path = dir.join("whole.npz");
    let mut whole_spec = sweep(total);
    whole_spec.trace = true;
    run(&model, Backend::Native(&k), &whole_spec)
        .write(&whole_path)
        .unwrap();
    let shard_path = |part: usize, n: usize| dir.join(format!("shard_{part}_of_{n}.npz"));
    for n in [3, 7] {
        for part in 1..=n {
            let mut spec = sweep(total);
            spec.trace = true;
            apply_shard(&mut spec, part, n).unwrap();
            run(&model, Backend::Native(&k), &spec)
                .write(&shard_path(part, n))
                .unwrap();
        }
        let paths: Vec<_> = (1..=n).rev().map(|p| shard_path(p, n)).collect();
        let out = dir.join(format!("merged_{n}.npz"));
        let m = merge(&paths, &out).unwrap();
        assert_eq!((m.instances, m.shards), (total as u64, n));
        let (a, b) = (npz_arrays(&out), npz_arrays(&whole_path));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.0, &x.1), (&y.0, &y.1));
            assert!(
                x.2.iter()
                    .zip(&y.2)
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "{} differs",
                x.0
            );
        }
    }
    let refused = |paths: Vec<std::path::PathBuf>| {
        merge(&paths, &dir.join("refused.npz"))
            .unwrap_err()
            .to_string()
    };
    // Missing, doubled, foreign (another shard count), not a shard at all.
    let e = refused(vec![shard_path(1, 3), shard_path(3, 3)]);
    assert!(e.contains("instances 3..6 are missing"), "{e}");
    let e = refused(vec![
        shard_path(1, 3),
        shard_path(1, 3),
        shard_path(2, 3),
        shard_path(3, 3),
    ]);
    assert!(e.contains("overlaps"), "{e}");
    let e = refused(vec![shard_path(1, 3), shard_path(2, 7)]);
    assert!(e.contains("not shards of one sweep"), "{e}");
    let e = refused(vec![whole_path.clone()]);
    assert!(e.contains("is not a shard"), "{e}");
    // Another sweep (other values) with the same shape.
    let mut other = sweep(total);
    other.instance_values[0].1[9] = 99.0;
    apply_shard(&mut other, 3, 3).unwrap();
    let foreign = dir.join("foreign.npz");
    run(&model, Backend::Native(&k), &other)
        .write(&foreign)
        .unwrap();
    let e = refused(vec![shard_path(1, 3), shard_path(2, 3), foreign]);
    assert!(e.contains("grids differ"), "{e}");
    // A partial shard (its run interrupted).
    let mut spec = sweep(total);
    spec.time = 200.0;
    apply_shard(&mut spec, 2, 3).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(true);
    let partial = model
        .run(
            Backend::Native(&k),
            &spec,
            rateforge::Controls {
                progress: None,
                cancel: Some(&stop),
            },
        )
        .unwrap();
    assert!(partial.partial);
    let partial_path = dir.join("partial.npz");
    partial.write(&partial_path).unwrap();
    let e = refused(vec![shard_path(1, 3), partial_path, shard_path(3, 3)]);
    assert!(e.contains("is partial"), "{e}");
}
