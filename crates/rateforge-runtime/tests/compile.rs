//! Building kernels: compile errors are reported, the cache is keyed and locked.

use rateforge_runtime::{BuildOptions, RuntimeError, build_rust};
use std::path::PathBuf;

fn fresh_cache(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rateforge-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

const SOURCE: &str = "#[unsafe(no_mangle)]\npub extern \"C\" fn rf_probe() -> i32 { 42 }\n";

#[test]
fn a_compile_error_keeps_the_source_and_reports_rustc_output() {
    let options = BuildOptions {
        cache_dir: Some(fresh_cache("fail")),
        ..Default::default()
    };
    let err = build_rust("fn broken( {", &options).unwrap_err();
    match &err {
        RuntimeError::CompileFailed {
            stderr,
            source_path,
            command,
        } => {
            assert!(stderr.contains("error"), "{stderr}");
            assert!(source_path.is_file());
            assert!(
                command.contains("-Copt-level=3") && command.contains("-Ctarget-cpu=native"),
                "{command}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("did not compile"));
}

#[test]
fn concurrent_builds_of_one_source_compile_once() {
    let options = BuildOptions {
        cache_dir: Some(fresh_cache("race")),
        ..Default::default()
    };
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| build_rust(SOURCE, &options)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let built: Vec<_> = results.into_iter().map(|r| r.expect("build")).collect();
    assert_eq!(
        built.iter().filter(|c| !c.cached).count(),
        1,
        "exactly one compilation"
    );
    assert!(
        built
            .iter()
            .all(|c| c.library == built[0].library && c.library.is_file())
    );
    // The library loads and runs.
    let lib = unsafe { libloading::Library::new(&built[0].library) }.unwrap();
    let f: libloading::Symbol<'_, extern "C" fn() -> i32> =
        unsafe { lib.get(b"rf_probe") }.unwrap();
    assert_eq!(f(), 42);
    // Same source, other flags: another cache entry.
    let other = BuildOptions {
        extra_flags: vec!["-Cdebug-assertions=on".into()],
        ..options.clone()
    };
    let again = build_rust(SOURCE, &other).unwrap();
    assert!(!again.cached);
    assert_ne!(again.library, built[0].library);
    assert!(build_rust(SOURCE, &options).unwrap().cached);
}

#[test]
fn a_missing_compiler_is_an_error_not_a_panic() {
    let options = BuildOptions {
        cache_dir: Some(fresh_cache("norustc")),
        rustc: Some(PathBuf::from("/nonexistent/rustc")),
        ..Default::default()
    };
    let err = build_rust(SOURCE, &options).unwrap_err();
    assert!(matches!(err, RuntimeError::RustcMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("install Rust"));
}

#[test]
fn a_truncated_library_in_the_cache_is_rebuilt_and_leftovers_are_removed() {
    let options = BuildOptions {
        cache_dir: Some(fresh_cache("repair")),
        ..Default::default()
    };
    let first = build_rust(SOURCE, &options).unwrap();
    assert!(!first.cached);
    let whole = std::fs::read(&first.library).unwrap();
    // A killed build's leftover beside it, and the library cut in half.
    let dir = first.library.parent().unwrap();
    let leftover = dir.join(".build-999999-leftover.so");
    std::fs::write(&leftover, b"half").unwrap();
    std::fs::write(&first.library, &whole[..whole.len() / 2]).unwrap();
    let again = build_rust(SOURCE, &options).unwrap();
    assert!(!again.cached, "a truncated library must be built again");
    assert_eq!(std::fs::read(&again.library).unwrap().len(), whole.len());
    assert!(
        !leftover.exists(),
        "the leftover of a killed build is removed"
    );
    // Whole again: found in the cache.
    assert!(build_rust(SOURCE, &options).unwrap().cached);
}
