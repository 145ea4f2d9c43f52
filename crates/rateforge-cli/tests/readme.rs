//! The README is the manual: every `rateforge` command it shows (in ```sh blocks, and complete
//! commands quoted inline, such as the example models table's) runs and succeeds, so the manual
//! cannot drift from the program. Commands that need a GPU (`--backend cuda`, `bench --backend
//! cuda`) and the benchmark (a minute) are listed and skipped; each run happens in
//! `target/readme-commands/`, where `examples` links to the repository's, so outputs land there.

mod common;

use common::{root, text};
use std::process::Command;

/// Every command of the README, with continuation lines joined.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut out = Vec::new();
    // Fenced shell blocks.
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_sh = !in_sh && trimmed == "```sh";
            pending.clear();
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(start) = trimmed.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let command = std::mem::take(&mut pending);
        let command = match command.strip_prefix("cargo run --release -p rateforge-cli -- ") {
            Some(rest) => format!("rateforge {rest}"),
            None => command,
        };
        if command.starts_with("rateforge ") {
            out.push(command);
        }
    }
    // Complete commands quoted inline: `rateforge run examples/...`.
    for piece in readme.split('`').skip(1).step_by(2) {
        if piece.starts_with("rateforge ") && piece.contains(" examples/") {
            out.push(piece.to_string());
        }
    }
    out
}

#[test]
fn every_command_the_readme_shows_runs() {
    let commands = readme_commands();
    assert!(commands.len() >= 15, "{commands:#?}");
    let dir = root().join("target/readme-commands");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(root().join("examples"), dir.join("examples")).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_rateforge"));
    let mut ran = 0;
    for command in &commands {
        if command.contains("--backend cuda") || command.starts_with("rateforge bench") {
            eprintln!("skipped (needs a GPU or a minute): {command}");
            continue;
        }
        let shell = format!("\"{}\" {}", bin.display(), &command["rateforge ".len()..]);
        let out = Command::new("sh")
            .arg("-c")
            .arg(&shell)
            .current_dir(&dir)
            .env(
                "RATEFORGE_CACHE_DIR",
                root().join("target/test-kernel-cache"),
            )
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(
            out.status.success(),
            "README command failed ({}): {command}\n{err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{command}\n{err}");
        eprintln!("ok: {command}");
        ran += 1;
    }
    assert!(ran >= 12, "only {ran} commands ran");
    // The Python that reads the first command's output, with the numpy of `scripts/setup`.
    let python = root().join(".venv/bin/python");
    if !python.exists() {
        eprintln!("SKIPPED the README's Python: no .venv (run scripts/setup)");
        return;
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let package = Command::new(&python)
        .args(["-c", "import rateforge"])
        .output()
        .is_ok_and(|o| o.status.success());
    for block in readme.split("```python\n").skip(1) {
        let code = block.split("```").next().unwrap();
        if code.contains("import rateforge") && !package {
            eprintln!(
                "SKIPPED a README Python block: the rateforge package is not in .venv (run scripts/setup)"
            );
            continue;
        }
        // What the comments of the first block say of montbrio.npz, checked.
        let check = if code.contains("montbrio.npz") {
            "\nassert t.shape == r.shape == (10001,) and meta['solver'] == 'rk4'"
        } else {
            ""
        };
        let out = Command::new(&python)
            .arg("-c")
            .arg(format!("{code}{check}"))
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{code}\n{}", text(&out.stderr));
    }
}
