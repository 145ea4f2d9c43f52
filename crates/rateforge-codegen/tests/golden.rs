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
