//! Compiling generated Rust kernels to shared libraries, with a content-addressed cache.
//!
//! The cache key is the SHA-256 of (source, `rustc -vV`, the flags, and the CPU features
//! `-C target-cpu=native` enables on this machine), so a kernel is rebuilt when any of them
//! changes and a cache shared between different machines never hands out a kernel built for
//! another CPU. Each key has its own directory with a lock file: concurrent runs wait for one
//! compilation instead of racing, and the library appears atomically (compiled under a temporary
//! name, then renamed).

use crate::error::RuntimeError;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// How to compile kernels.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Cache directory (default: `$RATEFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/rateforge`, else
    /// `~/.cache/rateforge`).
    pub cache_dir: Option<PathBuf>,
    /// The compiler (default: `$RUSTC`, else `rustc` on the PATH).
    pub rustc: Option<PathBuf>,
    /// `-C target-cpu=...` (default `native`).
    pub target_cpu: Option<String>,
    /// Extra flags passed to rustc (after them, those in `$RATEFORGE_RUSTFLAGS`).
    pub extra_flags: Vec<String>,
}

/// A compiled kernel library on disk.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The shared library.
    pub library: PathBuf,
    /// Whether it came from the cache (no compilation in this call).
    pub cached: bool,
}

impl BuildOptions {
    fn rustc(&self) -> PathBuf {
        self.rustc
            .clone()
            .or_else(|| std::env::var_os("RUSTC").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("rustc"))
    }

    pub(crate) fn cache_root(&self) -> PathBuf {
        if let Some(d) = &self.cache_dir {
            return d.clone();
        }
        if let Some(d) = std::env::var_os("RATEFORGE_CACHE_DIR") {
            return PathBuf::from(d);
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return PathBuf::from(d).join("rateforge");
        }
        if let Some(h) = std::env::var_os("HOME") {
            return PathBuf::from(h).join(".cache").join("rateforge");
        }
        std::env::temp_dir().join("rateforge-cache")
    }

    /// The rustc flags (without input and output).
    pub fn flags(&self) -> Vec<String> {
        let cpu = self
            .target_cpu
            .clone()
            .unwrap_or_else(|| "native".to_string());
        let mut flags: Vec<String> = [
            "--edition=2024",
            "--crate-type=cdylib",
            "--crate-name=rateforge_kernel",
            "-Copt-level=3",
            "-Cpanic=abort",
            "-Ccodegen-units=1",
            "-Cdebuginfo=0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        flags.push(format!("-Ctarget-cpu={cpu}"));
        // LLVM prefers 256-bit vectors on some AVX-512 CPUs (the lower clock of 512-bit code
        // can cost more than it gains in general code); kernels are long vector loops where
        // 512-bit vectors win (Montbrio euler 1.15x, rk4 1.35x on a Xeon with AVX-512).
        if cpu_has_avx512(&self.rustc(), &cpu) {
            flags.push("-Ctarget-feature=-prefer-256-bit".to_string());
        }
        flags.extend(self.extra_flags.iter().cloned());
        // Extra flags from the environment, for experiments (part of the cache key).
        if let Some(extra) = std::env::var_os("RATEFORGE_RUSTFLAGS") {
            flags.extend(
                extra
                    .to_string_lossy()
                    .split_whitespace()
                    .map(str::to_string),
            );
        }
        flags
    }
}

fn run_capture(cmd: &mut Command, rustc: &Path) -> Result<String, RuntimeError> {
    let out = cmd.output().map_err(|e| RuntimeError::RustcMissing {
        rustc: rustc.display().to_string(),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(RuntimeError::RustcMissing {
            rustc: rustc.display().to_string(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the target CPU has AVX-512F (from `rustc --print cfg`; false if rustc cannot say).
fn cpu_has_avx512(rustc: &Path, cpu: &str) -> bool {
    toolchain_identity(rustc, cpu).is_ok_and(|id| id.contains("target_feature=\"avx512f\""))
}

/// `rustc -vV` plus the cfg of the target CPU; computed once per (rustc, cpu) per process.
fn toolchain_identity(rustc: &Path, cpu: &str) -> Result<String, RuntimeError> {
    static SEEN: Mutex<Vec<(PathBuf, String, String)>> = Mutex::new(Vec::new());
    if let Ok(seen) = SEEN.lock()
        && let Some((_, _, id)) = seen.iter().find(|(r, c, _)| r == rustc && c == cpu)
    {
        return Ok(id.clone());
    }
    let version = run_capture(Command::new(rustc).arg("-vV"), rustc)?;
    let cfg = run_capture(
        Command::new(rustc).args(["--print", "cfg", &format!("-Ctarget-cpu={cpu}")]),
        rustc,
    )?;
    let id = format!("{version}\n{cfg}");
    if let Ok(mut seen) = SEEN.lock() {
        seen.push((rustc.to_path_buf(), cpu.to_string(), id.clone()));
    }
    Ok(id)
}

/// The cache key of a source under the given options.
pub fn cache_key(source: &str, options: &BuildOptions) -> Result<String, RuntimeError> {
    let rustc = options.rustc();
    let cpu = options
        .target_cpu
        .clone()
        .unwrap_or_else(|| "native".to_string());
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0]);
    h.update(toolchain_identity(&rustc, &cpu)?.as_bytes());
    h.update([0]);
    h.update(options.flags().join("\u{1}").as_bytes());
    Ok(h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn cache_err(path: &Path, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Cache {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A cached build artifact: `dir/<kind>/<key>/<file>`, made by `make(dir, tmp)` (which writes
/// `tmp`, renamed into place) under a per-key lock when it is not there yet. Returns the path and
/// whether it came from the cache.
pub(crate) fn cached_artifact(
    options: &BuildOptions,
    kind: &str,
    key: &str,
    file: &str,
    make: impl FnOnce(&Path, &Path) -> Result<(), RuntimeError>,
) -> Result<(PathBuf, bool), RuntimeError> {
    let dir = options.cache_root().join(kind).join(key);
    let path = dir.join(file);
    if path.is_file() {
        return Ok((path, true));
    }
    fs::create_dir_all(&dir).map_err(|e| cache_err(&dir, e))?;
    let lock_path = dir.join(".lock");
    let lock = File::create(&lock_path).map_err(|e| cache_err(&lock_path, e))?;
    lock.lock().map_err(|e| cache_err(&lock_path, e))?;
    if path.is_file() {
        return Ok((path, true));
    }
    let tmp = dir.join(format!(".build-{}-{file}", std::process::id()));
    let made = make(&dir, &tmp);
    if made.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    made?;
    fs::rename(&tmp, &path).map_err(|e| cache_err(&path, e))?;
    drop(lock);
    Ok((path, false))
}

/// SHA-256 (hex, 32 characters) of some parts.
pub(crate) fn hash_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compiles `source` (or finds it in the cache) and returns the library path.
pub fn build_rust(source: &str, options: &BuildOptions) -> Result<Compiled, RuntimeError> {
    let key = cache_key(source, options)?;
    let dir = options.cache_root().join("rust").join(&key);
    let library = dir.join(format!(
        "{}rateforge_kernel{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    if library.is_file() {
        return Ok(Compiled {
            library,
            cached: true,
        });
    }
    fs::create_dir_all(&dir).map_err(|e| cache_err(&dir, e))?;
    let lock_path = dir.join(".lock");
    let lock = File::create(&lock_path).map_err(|e| cache_err(&lock_path, e))?;
    lock.lock().map_err(|e| cache_err(&lock_path, e))?;
    // Another process may have finished while we waited for the lock.
    if library.is_file() {
        return Ok(Compiled {
            library,
            cached: true,
        });
    }
    let source_path = dir.join("kernel.rs");
    fs::write(&source_path, source).map_err(|e| cache_err(&source_path, e))?;
    let tmp = dir.join(format!(
        ".build-{}{}",
        std::process::id(),
        std::env::consts::DLL_SUFFIX
    ));
    let rustc = options.rustc();
    let mut cmd = Command::new(&rustc);
    cmd.args(options.flags())
        .arg("-o")
        .arg(&tmp)
        .arg(&source_path);
    let command = format!(
        "{} {} -o {} {}",
        rustc.display(),
        options.flags().join(" "),
        tmp.display(),
        source_path.display()
    );
    let out = cmd.output().map_err(|e| RuntimeError::RustcMissing {
        rustc: rustc.display().to_string(),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        let _ = fs::remove_file(&tmp);
        return Err(RuntimeError::CompileFailed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            source_path,
        });
    }
    fs::rename(&tmp, &library).map_err(|e| cache_err(&library, e))?;
    drop(lock);
    Ok(Compiled {
        library,
        cached: false,
    })
}
