//! Compiling generated Rust kernels to shared libraries, with a content-addressed cache.
//!
//! A kernel module links `rateforge-kernel` (the runner, the ABI, the elementary functions). The
//! crate is compiled once per toolchain, flags and CPU from its own sources
//! ([`rateforge_kernel::SOURCES`]) to an rlib in the cache; each kernel is then compiled to a
//! shared library against it (`--extern rateforge_kernel=...`).
//!
//! The cache key is the SHA-256 of (source, `rustc -vV`, the flags, the CPU features
//! `-C target-cpu=native` enables on this machine, and the kernel crate's sources), so a kernel
//! is rebuilt when any of them changes and a cache shared between different machines never hands
//! out a kernel built for another CPU. Each key has its own directory with a lock file:
//! concurrent runs wait for one compilation instead of racing, and the library appears
//! atomically (compiled under a temporary name, then renamed).

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

    /// The cache directory: `cache_dir`, else `$RATEFORGE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/rateforge`, else `~/.cache/rateforge`.
    pub fn cache_root(&self) -> PathBuf {
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

    /// The rustc flags of the kernel crate and of kernels (without crate type, input and
    /// output).
    pub fn flags(&self) -> Vec<String> {
        let cpu = self
            .target_cpu
            .clone()
            .unwrap_or_else(|| "native".to_string());
        let mut flags: Vec<String> = [
            "--edition=2024",
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
        if cpu_has_avx512(self, &cpu) {
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
fn cpu_has_avx512(options: &BuildOptions, cpu: &str) -> bool {
    toolchain_identity(options, cpu).is_ok_and(|id| id.contains("target_feature=\"avx512f\""))
}

/// The compiler probes of this process: (rustc, cpu, identity).
static SEEN: Mutex<Vec<(PathBuf, String, String)>> = Mutex::new(Vec::new());

/// `rustc -vV` plus the cfg of the target CPU: computed once per (rustc, cpu) per process, and
/// kept in the cache (`probes/`) under [`probe_key`], so a run whose kernel is cached starts no
/// compiler at all.
fn toolchain_identity(options: &BuildOptions, cpu: &str) -> Result<String, RuntimeError> {
    let rustc = options.rustc();
    if let Ok(seen) = SEEN.lock()
        && let Some((_, _, id)) = seen.iter().find(|(r, c, _)| *r == rustc && c == cpu)
    {
        return Ok(id.clone());
    }
    let file = probe_key(&rustc, cpu).map(|k| options.cache_root().join("probes").join(k));
    let id = match file.as_ref().and_then(|f| fs::read_to_string(f).ok()) {
        Some(id) if id.contains("release:") => id,
        _ => {
            let version = run_capture(Command::new(&rustc).arg("-vV"), &rustc)?;
            let cfg = run_capture(
                Command::new(&rustc).args(["--print", "cfg", &format!("-Ctarget-cpu={cpu}")]),
                &rustc,
            )?;
            let id = format!("{version}\n{cfg}");
            if let Some(f) = &file {
                // Best effort: a cache that cannot be written only costs the probes next time.
                let tmp = f.with_extension(format!("tmp{}", std::process::id()));
                if f.parent().is_some_and(|d| fs::create_dir_all(d).is_ok())
                    && fs::write(&tmp, &id).is_ok()
                {
                    let _ = fs::rename(&tmp, f);
                }
            }
            id
        }
    };
    if let Ok(mut seen) = SEEN.lock() {
        seen.push((rustc, cpu.to_string(), id.clone()));
    }
    Ok(id)
}

/// Forgets the compiler probes (in this process and in the cache), after a compile showed them
/// stale (a toolchain changed in a way [`probe_key`] did not see).
fn forget_probes(options: &BuildOptions) {
    if let Ok(mut seen) = SEEN.lock() {
        seen.clear();
    }
    let _ = fs::remove_dir_all(options.cache_root().join("probes"));
}

/// What decides which compiler `rustc` is and what `-C target-cpu=cpu` means, hashed: the
/// compiler file (path, size, modification time), rustup's selection (`RUSTUP_TOOLCHAIN`, its
/// settings and installed toolchains, `rust-toolchain` files from here up), and for `native` the
/// CPU (`/proc/cpuinfo`'s model and flags). `None` where the CPU cannot be read: probe every time.
fn probe_key(rustc: &Path, cpu: &str) -> Option<String> {
    let mut parts: Vec<Vec<u8>> = vec![cpu.as_bytes().to_vec()];
    let resolved = if rustc.components().count() > 1 {
        Some(rustc.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(rustc))
                .find(|p| p.is_file())
        })
    };
    let stamp = |p: &Path| -> Vec<u8> {
        let m = fs::metadata(p).ok();
        let modified = m
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{}:{}:{modified}", p.display(), m.map_or(0, |m| m.len())).into_bytes()
    };
    parts.push(stamp(resolved.as_deref().unwrap_or(rustc)));
    parts.push(
        std::env::var("RUSTUP_TOOLCHAIN")
            .unwrap_or_default()
            .into_bytes(),
    );
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    if let Some(home) = rustup_home {
        parts.push(fs::read(home.join("settings.toml")).unwrap_or_default());
        parts.push(stamp(&home.join("toolchains")));
        parts.push(stamp(&home.join("update-hashes")));
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            for f in ["rust-toolchain", "rust-toolchain.toml"] {
                if let Ok(text) = fs::read(dir.join(f)) {
                    parts.push(text);
                }
            }
        }
    }
    if cpu == "native" {
        let info = fs::read_to_string("/proc/cpuinfo").ok()?;
        let pick = |key: &str| {
            info.lines()
                .find(|l| l.starts_with(key))
                .unwrap_or("")
                .to_string()
        };
        parts.push(pick("model name").into_bytes());
        parts.push(pick("flags").into_bytes());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Some(hash_parts(&refs))
}

/// The cache key of a source under the given options (and of the kernel crate it links).
pub fn cache_key(source: &str, options: &BuildOptions) -> Result<String, RuntimeError> {
    let cpu = options
        .target_cpu
        .clone()
        .unwrap_or_else(|| "native".to_string());
    let toolchain = toolchain_identity(options, &cpu)?;
    let flags = options.flags().join("\u{1}");
    let mut parts: Vec<&[u8]> = vec![source.as_bytes(), toolchain.as_bytes(), flags.as_bytes()];
    for (name, text) in rateforge_kernel::SOURCES {
        parts.push(name.as_bytes());
        parts.push(text.as_bytes());
    }
    Ok(hash_parts(&parts))
}

fn cache_err(path: &Path, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Cache {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The record written beside a finished artifact: its length in bytes.
fn seal_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".len");
    path.with_file_name(name)
}

/// Whether the artifact at `path` is there whole: its length is the one recorded when it was
/// finished. A truncated or overwritten file, or one from before the record existed, is not.
fn is_whole(path: &Path) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return false;
    };
    fs::read_to_string(seal_path(path))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .is_some_and(|len| meta.is_file() && meta.len() == len)
}

/// Removes a cached artifact that turned out broken (a library the loader refused), so the next
/// build makes it again.
pub fn forget_artifact(path: &Path) {
    let _ = fs::remove_file(seal_path(path));
    let _ = fs::remove_file(path);
}

/// A cached build artifact: `dir/<kind>/<key>/<file>`, made by `make(dir, tmp)` (which writes
/// `tmp`, renamed into place) under a per-key lock when it is not there whole (see [`is_whole`]:
/// a truncated file is rebuilt). Under the lock, leftovers of builds that were killed
/// (`.build-*`) are removed first. Returns the path and whether it came from the cache.
pub(crate) fn cached_artifact(
    options: &BuildOptions,
    kind: &str,
    key: &str,
    file: &str,
    make: impl FnOnce(&Path, &Path) -> Result<(), RuntimeError>,
) -> Result<(PathBuf, bool), RuntimeError> {
    let dir = options.cache_root().join(kind).join(key);
    let path = dir.join(file);
    if is_whole(&path) {
        return Ok((path, true));
    }
    fs::create_dir_all(&dir).map_err(|e| cache_err(&dir, e))?;
    let lock_path = dir.join(".lock");
    let lock = File::create(&lock_path).map_err(|e| cache_err(&lock_path, e))?;
    lock.lock().map_err(|e| cache_err(&lock_path, e))?;
    if is_whole(&path) {
        return Ok((path, true));
    }
    // Only the holder of the lock builds here: any `.build-*` file is a killed build's.
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".build-") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    forget_artifact(&path);
    let tmp = dir.join(format!(".build-{}-{file}", std::process::id()));
    let made = make(&dir, &tmp);
    if made.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    made?;
    let len = fs::metadata(&tmp).map_err(|e| cache_err(&tmp, e))?.len();
    fs::rename(&tmp, &path).map_err(|e| cache_err(&path, e))?;
    let seal = seal_path(&path);
    fs::write(&seal, len.to_string()).map_err(|e| cache_err(&seal, e))?;
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

/// Compiles `rateforge-kernel` from [`rateforge_kernel::SOURCES`] to an rlib (or finds it in the
/// cache) and returns its path.
pub fn kernel_library(options: &BuildOptions) -> Result<PathBuf, RuntimeError> {
    let key = cache_key("rateforge-kernel", options)?;
    let rustc = options.rustc();
    let (path, _) = cached_artifact(
        options,
        "rust-kernel-lib",
        &key,
        "librateforge_kernel.rlib",
        |dir, tmp| {
            let src = dir.join("src");
            for (name, text) in rateforge_kernel::SOURCES {
                let file = src.join(name);
                if let Some(parent) = file.parent() {
                    fs::create_dir_all(parent).map_err(|e| cache_err(parent, e))?;
                }
                fs::write(&file, text).map_err(|e| cache_err(&file, e))?;
            }
            let lib = src.join("lib.rs");
            let mut cmd = Command::new(&rustc);
            cmd.args(options.flags())
                .args(["--crate-type=rlib", "--crate-name=rateforge_kernel"])
                .arg("-o")
                .arg(tmp)
                .arg(&lib);
            compile(cmd, &rustc, lib)
        },
    )?;
    Ok(path)
}

/// Runs a compiler command; a failure keeps `source_path` and reports the compiler's output.
fn compile(mut cmd: Command, rustc: &Path, source_path: PathBuf) -> Result<(), RuntimeError> {
    let command = format!("{cmd:?}").replace('"', "");
    let out = cmd.output().map_err(|e| RuntimeError::RustcMissing {
        rustc: rustc.display().to_string(),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(RuntimeError::CompileFailed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            source_path,
        });
    }
    Ok(())
}

/// Compiles `source` (a crate root that may use `rateforge_kernel`) to a shared library, or finds
/// it in the cache, and returns the library path. A kernel crate that this rustc refuses (the
/// probes were stale: a toolchain changed unseen) is rebuilt after probing again.
pub fn build_rust(source: &str, options: &BuildOptions) -> Result<Compiled, RuntimeError> {
    match build_rust_once(source, options) {
        Err(RuntimeError::CompileFailed { stderr, .. })
            if stderr.contains("E0514") || stderr.contains("incompatible version of rustc") =>
        {
            forget_probes(options);
            build_rust_once(source, options)
        }
        other => other,
    }
}

fn build_rust_once(source: &str, options: &BuildOptions) -> Result<Compiled, RuntimeError> {
    let key = cache_key(source, options)?;
    let file = format!(
        "{}rateforge_model{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let library = options.cache_root().join("rust").join(&key).join(&file);
    if is_whole(&library) {
        return Ok(Compiled {
            library,
            cached: true,
        });
    }
    let kernel = kernel_library(options)?;
    let rustc = options.rustc();
    let (library, cached) = cached_artifact(options, "rust", &key, &file, |dir, tmp| {
        let source_path = dir.join("kernel.rs");
        fs::write(&source_path, source).map_err(|e| cache_err(&source_path, e))?;
        let mut cmd = Command::new(&rustc);
        cmd.args(options.flags())
            .args(["--crate-type=cdylib", "--crate-name=rateforge_model"])
            .arg("--extern")
            .arg(format!("rateforge_kernel={}", kernel.display()))
            .arg("-o")
            .arg(tmp)
            .arg(&source_path);
        compile(cmd, &rustc, source_path)
    })?;
    Ok(Compiled { library, cached })
}
