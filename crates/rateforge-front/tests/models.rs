//! Snapshot tests over `tests/models/`:
//! * `valid/*.{yaml,xml}` load and validate; the IR listing plus warnings must equal `NAME.ir`;
//! * `invalid/*.{yaml,xml}` fail; the rendered diagnostics must equal `NAME.stderr`, and every
//!   error must point into a file (line and column).
//!
//! A first line `# model: TEMPLATE` selects the template; otherwise the file's single circuit is
//! used. Run with `RATEFORGE_BLESS=1` to rewrite the snapshots after an intended change.

use rateforge_front::pyrates::LoadOptions;
use rateforge_front::{pyrates, rateml};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn reference(path: &Path) -> String {
    // Bytes: a model that is not UTF-8 still names its template on its first line.
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    match text.lines().next().and_then(|l| l.strip_prefix("# model:")) {
        Some(t) => format!("{}/{}", path.display(), t.trim()),
        None => path.display().to_string(),
    }
}

/// Loads and validates; returns the listing or the rendered diagnostics, with paths made
/// relative to the workspace root.
fn outcome(path: &Path) -> (bool, String, Vec<String>) {
    let prefix = format!("{}/", root().display());
    let loaded = if path.extension().is_some_and(|e| e == "xml") {
        rateml::load(path)
    } else {
        pyrates::load(&reference(path), &LoadOptions::default())
    };
    match loaded {
        Ok(l) => {
            let warnings = l.warnings.render(&l.sources);
            match rateforge_ir::validate(l.model) {
                Ok(v) => (
                    true,
                    format!("{warnings}{}", rateforge_ir::print::model(&v)).replace(&prefix, ""),
                    vec![],
                ),
                Err(d) => {
                    let locs = d
                        .errors()
                        .map(|e| {
                            e.primary_span()
                                .map(|s| l.sources.location(s))
                                .unwrap_or_default()
                        })
                        .collect();
                    (
                        false,
                        format!("{warnings}{}", d.render(&l.sources)).replace(&prefix, ""),
                        locs,
                    )
                }
            }
        }
        Err(f) => {
            let locs = f
                .diagnostics
                .errors()
                .map(|e| {
                    e.primary_span()
                        .map(|s| f.sources.location(s))
                        .unwrap_or_default()
                })
                .collect();
            (
                false,
                f.diagnostics.render(&f.sources).replace(&prefix, ""),
                locs,
            )
        }
    }
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("tests/models").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "xml"))
        .collect();
    v.sort();
    v
}

fn compare(path: &Path, ext: &str, actual: &str, stale: &mut Vec<String>) {
    let snap = match path.extension().and_then(|e| e.to_str()) {
        // `a.xml` and `a.yaml` may both exist: XML snapshots keep the extension.
        Some("xml") => path.with_extension(format!("xml.{ext}")),
        _ => path.with_extension(ext),
    };
    let expected = std::fs::read_to_string(&snap).unwrap_or_default();
    if expected != actual {
        if std::env::var_os("RATEFORGE_BLESS").is_some() {
            std::fs::write(&snap, actual).unwrap();
        } else {
            stale.push(format!(
                "{}\n--- expected\n{expected}\n--- actual\n{actual}",
                snap.display()
            ));
        }
    }
}

#[test]
fn valid_models_match_their_listings() {
    let mut stale = Vec::new();
    for path in files("valid") {
        let (ok, text, _) = outcome(&path);
        assert!(ok, "{} failed:\n{text}", path.display());
        compare(&path, "ir", &text, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "snapshots differ (RATEFORGE_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}

#[test]
fn invalid_models_give_located_diagnostics() {
    let paths = files("invalid");
    assert!(
        paths.len() >= 25,
        "the corpus must hold at least 25 malformed models, found {}",
        paths.len()
    );
    // tests/models/hostile: inputs as a careless or hostile user writes them (every equation
    // shape the grammar refuses, sizes, YAML and XML syntax, wrong structure).
    let hostile = files("hostile");
    assert!(
        hostile.len() >= 120,
        "the hostile corpus must hold at least 120 models, found {}",
        hostile.len()
    );
    let paths: Vec<PathBuf> = paths.into_iter().chain(hostile).collect();
    let mut stale = Vec::new();
    for path in paths {
        let (ok, text, locations) = outcome(&path);
        assert!(!ok, "{} loaded without error", path.display());
        assert!(!locations.is_empty(), "{}: no error", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        for loc in &locations {
            // file:line:col inside the model file itself
            let rest = loc.rsplit_once(name).map(|(_, r)| r).unwrap_or("");
            let parts: Vec<&str> = rest.split(':').collect();
            assert!(
                parts.len() == 3
                    && parts[1].parse::<u32>().is_ok()
                    && parts[2].parse::<u32>().is_ok(),
                "{}: an error is not located in the file ({loc:?}):\n{text}",
                path.display()
            );
        }
        if !text.contains("help:") {
            stale.push(format!("{}: no help line:\n{text}", path.display()));
        }
        compare(&path, "stderr", &text, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "snapshots differ (RATEFORGE_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}
