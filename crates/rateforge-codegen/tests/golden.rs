//! Generated sources for the example models are committed under `generated/`. This test
//! regenerates them and fails when the committed files differ (run with `RATEFORGE_BLESS=1` to
//! rewrite them after an intended change). It also checks that generation is deterministic.

use rateforge_codegen::{EmitOptions, cuda, rust};
use std::path::{Path, PathBuf};

/// (model reference relative to the workspace root, output file under `generated/`).
const MODELS: &[(&str, &str)] = &[
    ("examples/models/montbrio.yaml/qif", "rust/montbrio_qif.rs"),
    (
        "examples/models/jansen_rit.yaml/JRC",
        "rust/jansen_rit_JRC.rs",
    ),
    (
        "examples/models/wilson_cowan.yaml/WC",
        "rust/wilson_cowan_WC.rs",
    ),
    ("examples/models/montbrio.yaml/qif", "cuda/montbrio_qif.cu"),
    (
        "examples/models/montbrio.yaml/qif",
        "cuda/montbrio_qif_driver.cu",
    ),
    (
        "examples/models/jansen_rit.yaml/JRC",
        "cuda/jansen_rit_JRC.cu",
    ),
    (
        "examples/models/jansen_rit_coupled.yaml/JRC_delay",
        "cuda/jansen_rit_JRC_delay.cu",
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn generate(reference: &str, out: &str) -> String {
    let path = root().join(reference);
    let loaded = rateforge_front::pyrates::load(path.to_str().unwrap(), &Default::default())
        .unwrap_or_else(|f| panic!("{}", f.diagnostics.render(&f.sources)));
    let valid = rateforge_ir::validate(loaded.model)
        .unwrap_or_else(|d| panic!("{}", d.render(&loaded.sources)));
    let options = EmitOptions::default();
    if out.ends_with("_driver.cu") {
        let spec = cuda::DriverSpec {
            name: "montbrio_qif".into(),
            kernel_file: "montbrio_qif.cu".into(),
            axes: Vec::new(),
            record: (0..valid.model().states.len() as u32).collect(),
        };
        cuda::emit_driver(&valid, &options, &spec).unwrap()
    } else if out.ends_with(".cu") {
        cuda::emit(&valid, &options).unwrap()
    } else {
        rust::emit(&valid, &options).unwrap()
    }
}

#[test]
fn generated_sources_are_up_to_date() {
    let bless = std::env::var_os("RATEFORGE_BLESS").is_some();
    let mut stale = Vec::new();
    for (reference, out) in MODELS {
        let text = generate(reference, out);
        assert_eq!(
            text,
            generate(reference, out),
            "generation of {reference} is not deterministic"
        );
        let path = root().join("generated").join(out);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else {
                stale.push(out.to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated sources are stale: {stale:?}\nregenerate with `RATEFORGE_BLESS=1 cargo test -p rateforge-codegen --test golden` and commit them"
    );
}

/// Renderings kept in a cache directory read back byte for byte what a fresh rendering gives,
/// and a kernel with other options gets its own entries.
#[test]
fn cached_renderings_equal_fresh_ones() {
    let path = root().join("examples/models/jansen_rit_coupled.yaml/JRC_delay");
    let loaded = rateforge_front::pyrates::load(path.to_str().unwrap(), &Default::default())
        .unwrap_or_else(|f| panic!("{}", f.diagnostics.render(&f.sources)));
    let valid = rateforge_ir::validate(loaded.model)
        .unwrap_or_else(|d| panic!("{}", d.render(&loaded.sources)));
    let dir = std::env::temp_dir().join(format!("rf-render-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cached = EmitOptions {
        render_cache: Some(dir.clone()),
        ..EmitOptions::default()
    };
    let fresh_rust = rust::emit(&valid, &EmitOptions::default()).unwrap();
    let fresh_cuda = cuda::emit(&valid, &EmitOptions::default()).unwrap();
    for _ in 0..2 {
        assert_eq!(rust::emit(&valid, &cached).unwrap(), fresh_rust);
        assert_eq!(cuda::emit(&valid, &cached).unwrap(), fresh_cuda);
    }
    let entries = std::fs::read_dir(&dir).unwrap().count();
    assert!(entries >= 2, "{entries} cache entries");
    let other = EmitOptions {
        lanes: 4,
        ..cached.clone()
    };
    let fresh_other = rust::emit(
        &valid,
        &EmitOptions {
            lanes: 4,
            ..EmitOptions::default()
        },
    )
    .unwrap();
    assert_ne!(fresh_other, fresh_rust);
    assert_eq!(rust::emit(&valid, &other).unwrap(), fresh_other);
    assert!(std::fs::read_dir(&dir).unwrap().count() > entries);
    std::fs::remove_dir_all(&dir).unwrap();
}
