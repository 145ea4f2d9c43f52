//! The CPU emulation of a CUDA kernel: the generated `.cu` text compiled as C++ with the shim
//! (`kernel-templates/cuda/shim.h`), which maps the CUDA built-ins the kernel uses to plain C++
//! and a launch to a loop over blocks and threads. With `-ffp-contract=off` (as `--fmad=false` on
//! the GPU) it computes what the GPU computes, so the kernel, its indexing and the host driver are
//! tested without a GPU.

use crate::compile::{BuildOptions, cached_artifact, hash_parts};
use crate::error::RuntimeError;
use rateforge_rt::cuda::RfCudaArgs;
use rateforge_rt::cuda::device::{Emulated, EmulationFns};
use std::path::PathBuf;
use std::process::Command;

/// The shim, the kernel and the launcher, as one C++ translation unit.
pub fn emulation_source(kernel_cu: &str) -> String {
    format!(
        "{}\n{}\n{}\n",
        rateforge_codegen::cuda::SHIM,
        kernel_cu,
        rateforge_codegen::cuda::SHIM_LAUNCH
    )
}

/// The C++ compiler: `$CXX`, else `c++`.
pub fn compiler() -> PathBuf {
    std::env::var_os("CXX").map_or_else(|| PathBuf::from("c++"), PathBuf::from)
}

/// The flags of an emulation build: IEEE arithmetic, no contraction into fused multiply-adds.
pub const FLAGS: &[&str] = &[
    "-std=c++17",
    "-O2",
    "-ffp-contract=off",
    "-fno-fast-math",
    "-shared",
    "-fPIC",
];

/// Compiles (or finds in the cache) the emulation of a kernel and loads it.
pub fn load(kernel_cu: &str, options: &BuildOptions) -> Result<Emulated, RuntimeError> {
    let cxx = compiler();
    let version = Command::new(&cxx).arg("--version").output().map_err(|e| {
        RuntimeError::CudaUnavailable(format!(
            "no C++ compiler `{}` for the CPU emulation: {e}",
            cxx.display()
        ))
    })?;
    let source = emulation_source(kernel_cu);
    let key = hash_parts(&[
        source.as_bytes(),
        &version.stdout,
        FLAGS.join(" ").as_bytes(),
    ]);
    let file = format!(
        "{}rateforge_cuda_emulation{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let (path, _) = cached_artifact(options, "cuda-emulation", &key, &file, |dir, tmp| {
        let src = dir.join("kernel_emulation.cpp");
        std::fs::write(&src, &source).map_err(|e| RuntimeError::Cache {
            path: src.clone(),
            reason: e.to_string(),
        })?;
        let out = Command::new(&cxx)
            .args(FLAGS)
            .arg("-o")
            .arg(tmp)
            .arg(&src)
            .output()
            .map_err(|e| {
                RuntimeError::CudaUnavailable(format!("cannot run `{}`: {e}", cxx.display()))
            })?;
        if !out.status.success() {
            return Err(RuntimeError::CompileFailed {
                command: format!(
                    "{} {} -o {} {}",
                    cxx.display(),
                    FLAGS.join(" "),
                    tmp.display(),
                    src.display()
                ),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                source_path: src,
            });
        }
        Ok(())
    })?;
    load_library(&path)
}

/// Loads a library built from shim + kernel + shim launcher ([`emulation_source`]).
pub fn load_library(path: &std::path::Path) -> Result<Emulated, RuntimeError> {
    let err = |reason: String| RuntimeError::Load {
        path: path.to_path_buf(),
        reason,
    };
    // SAFETY: a library we compiled from the shim; its initialisers are trivial.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| err(e.to_string()))?;
    // SAFETY: the shim exports these with these signatures.
    let fns = unsafe {
        let run: libloading::Symbol<'_, unsafe extern "C" fn(*const RfCudaArgs, u32, u32) -> i32> =
            library
                .get(b"rf_emulate")
                .map_err(|e| err(format!("missing symbol `rf_emulate`: {e}")))?;
        let layout: libloading::Symbol<'_, unsafe extern "C" fn(*mut u64)> = library
            .get(b"rf_emulate_layout")
            .map_err(|e| err(format!("missing symbol `rf_emulate_layout`: {e}")))?;
        EmulationFns {
            run: *run,
            layout: *layout,
        }
    };
    // SAFETY: the entry points are the library's, which the device keeps loaded.
    Ok(unsafe { Emulated::new(fns, Some(Box::new(library))) })
}
