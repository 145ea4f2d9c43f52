//! Where the output goes wrong: a closed pipe, a full device. No panic, a clear exit status.

mod common;

use common::{command as rateforge, text, tmp};
use std::process::Stdio;

#[test]
fn a_closed_pipe_ends_the_program_quietly_with_status_0() {
    for args in [
        &["models"][..],
        &["check", "examples/models/jansen_rit.yaml/JRC"][..],
    ] {
        let mut child = rateforge()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written (`rateforge ... | head -0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_full_device_is_an_error_with_status_1() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: this system has no /dev/full");
        return;
    }
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    // Standard output on a full device.
    let out = rateforge()
        .args(["check", "examples/models/montbrio.yaml/qif"])
        .stdout(full())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "error: cannot write to standard output: No space left on device (os error 28)\n"
    );
    // An output file on a full device (a link to /dev/full with the extension that picks the
    // format).
    let link = tmp("full.npz");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    let out = rateforge()
        .args([
            "run",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "1",
            "--dt",
            "1e-3",
            "-o",
        ])
        .arg(&link)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("full.npz` failed: "), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("ZipWriter"),
        "{err}"
    );
    std::fs::remove_file(&link).unwrap();
}

#[test]
fn a_path_recorded_twice_is_refused_before_the_run() {
    let path = tmp("twice.npz");
    let _ = std::fs::remove_file(&path);
    let out = rateforge()
        .args([
            "run",
            "examples/models/montbrio.yaml/qif",
            "--time",
            "1",
            "--dt",
            "1e-3",
        ])
        .args(["--record", "p/qif_op/r,p/qif_op/v,p/qif_op/r", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: `p/qif_op/r` is recorded twice"),
        "{err}"
    );
    assert!(!path.exists());
}

/// A cached kernel the loader refuses (same length, other bytes) is built again, once, and the
/// run succeeds; the cache is this test's own.
#[test]
fn a_damaged_kernel_in_the_cache_is_rebuilt() {
    let cache = tmp("damaged-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let args = [
        "run",
        "examples/models/montbrio.yaml/qif",
        "--time",
        "1",
        "--dt",
        "1e-3",
    ];
    let run = || {
        rateforge()
            .args(args)
            .env("RATEFORGE_CACHE_DIR", &cache)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let libraries: Vec<_> = walk(&cache.join("rust"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "so"))
        .collect();
    assert_eq!(libraries.len(), 1, "{libraries:?}");
    let len = std::fs::metadata(&libraries[0]).unwrap().len() as usize;
    std::fs::write(&libraries[0], vec![0u8; len]).unwrap();
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("p/qif_op/r"));
    assert_ne!(std::fs::read(&libraries[0]).unwrap(), vec![0u8; len]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
