//! NVIDIA GPUs through the CUDA driver API and NVRTC, both loaded at run time (cudarc with
//! dynamic loading): a machine without CUDA builds and runs everything else, and asking for the
//! CUDA backend there is an error, never a panic (cudarc panics when a library is missing, so
//! every entry point checks first).
//!
//! NVRTC is found through `RATEFORGE_NVRTC` (the library file), `CUDA_HOME`/`CUDA_PATH`
//! (`lib64/libnvrtc.so*`), a Python environment with the `nvidia-cuda-nvrtc-cu12` wheel
//! (`.venv` in the current directory or a parent: what `scripts/setup` installs), or the system's
//! library path. Kernels are compiled to a CUBIN for the device's own architecture (queried, never
//! assumed) and cached like the CPU kernels.

use crate::compile::{BuildOptions, cached_artifact, hash_parts};
use crate::error::RuntimeError;
pub use rateforge_rt::cuda::gpu::{Gpu, driver_available};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Candidate NVRTC library files, most specific first.
pub fn nvrtc_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("RATEFORGE_NVRTC") {
        out.push(PathBuf::from(p));
    }
    let names = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"];
    let mut homes: Vec<PathBuf> = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| std::env::var_os(v).map(PathBuf::from))
        .collect();
    homes.push(PathBuf::from("/usr/local/cuda"));
    for home in homes {
        for n in names {
            out.push(home.join("lib64").join(n));
        }
    }
    // A virtual environment with the PyPI wheel, here or above.
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let lib = dir.join(".venv").join("lib");
            if let Ok(entries) = std::fs::read_dir(&lib) {
                for e in entries.flatten() {
                    let wheel = e.path().join("site-packages/nvidia/cuda_nvrtc/lib");
                    for n in names {
                        out.push(wheel.join(n));
                    }
                }
            }
        }
    }
    out.retain(|p| p.is_file());
    out
}

/// Loads NVRTC once per process (from [`nvrtc_candidates`], else the system's search path).
fn nvrtc() -> Result<(), RuntimeError> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            for p in nvrtc_candidates() {
                // SAFETY: NVRTC's initialisers are those of a system library. Kept loaded for the
                // process, so cudarc's own `dlopen` by name finds this copy.
                if let Ok(lib) = unsafe { libloading::Library::new(&p) } {
                    std::mem::forget(lib);
                    break;
                }
            }
            // SAFETY: only opens the library and looks up symbols.
            if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                Ok(())
            } else {
                Err("NVRTC (libnvrtc) was not found".to_string())
            }
        })
        .clone()
        .map_err(RuntimeError::CudaUnavailable)
}

/// Whether NVRTC can be used (kernels can be compiled, even without a GPU).
pub fn nvrtc_available() -> bool {
    nvrtc().is_ok()
}

/// NVRTC's version.
pub fn nvrtc_version() -> Result<(i32, i32), RuntimeError> {
    nvrtc()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is loaded; plain out-parameters.
    unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| RuntimeError::Cuda(format!("nvrtcVersion: {e:?}")))?;
    Ok((major, minor))
}

/// The result of an NVRTC compilation.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The PTX text.
    pub ptx: String,
    /// The CUBIN (for a real architecture `sm_XY`; none for a virtual one `compute_XY`).
    pub cubin: Option<Vec<u8>>,
}

/// NVRTC options for a kernel: the architecture, no contraction into fused multiply-adds unless
/// `fast`, unannotated functions on the device.
pub fn options(arch: &str, fast: bool) -> Vec<String> {
    vec![
        format!("--gpu-architecture={arch}"),
        format!("--fmad={fast}"),
        "-default-device".to_string(),
    ]
}

/// Compiles CUDA C with NVRTC for `arch` (`sm_90`, or `compute_80` for PTX only).
pub fn compile(source: &str, arch: &str, fast: bool) -> Result<Compiled, RuntimeError> {
    use cudarc::nvrtc::{result, sys};
    nvrtc()?;
    let src = std::ffi::CString::new(source)
        .map_err(|_| RuntimeError::Cuda("the kernel source contains a NUL byte".into()))?;
    let prog = result::create_program(&src, Some(c"rateforge_kernel.cu"))
        .map_err(|e| RuntimeError::Cuda(format!("nvrtcCreateProgram: {e:?}")))?;
    let opts = options(arch, fast);
    let out = (|| {
        // SAFETY: `prog` is a live program; the options are valid C strings.
        if let Err(e) = unsafe { result::compile_program(prog, &opts) } {
            let log = unsafe { result::get_program_log(prog) }
                .map(|l| {
                    // SAFETY: NVRTC returns a NUL-terminated log.
                    unsafe { std::ffi::CStr::from_ptr(l.as_ptr()) }
                        .to_string_lossy()
                        .into_owned()
                })
                .unwrap_or_default();
            return Err(RuntimeError::Cuda(format!(
                "NVRTC could not compile the kernel ({e:?}) with {}:\n{log}",
                opts.join(" ")
            )));
        }
        // SAFETY: the program compiled.
        let ptx: Vec<u8> = unsafe { result::get_ptx(prog) }
            .map_err(|e| RuntimeError::Cuda(format!("nvrtcGetPTX: {e:?}")))?
            .into_iter()
            .map(|c| c as u8)
            .take_while(|&b| b != 0)
            .collect();
        let mut n = 0usize;
        // SAFETY: as above; the buffer is sized by NVRTC.
        let cubin = if unsafe { sys::nvrtcGetCUBINSize(prog, &mut n) }
            .result()
            .is_ok()
            && n > 0
        {
            let mut buf = vec![0u8; n];
            unsafe { sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast()) }
                .result()
                .map_err(|e| RuntimeError::Cuda(format!("nvrtcGetCUBIN: {e:?}")))?;
            Some(buf)
        } else {
            None
        };
        Ok(Compiled {
            ptx: String::from_utf8_lossy(&ptx).into_owned(),
            cubin,
        })
    })();
    // SAFETY: destroyed once.
    let _ = unsafe { result::destroy_program(prog) };
    out
}

/// The CUBIN of a kernel for a device of compute capability `cc`, compiled or from the cache.
pub fn cubin(
    source: &str,
    cc: (i32, i32),
    fast: bool,
    options: &BuildOptions,
) -> Result<Vec<u8>, RuntimeError> {
    let arch = format!("sm_{}{}", cc.0, cc.1);
    let (major, minor) = nvrtc_version()?;
    let key = hash_parts(&[
        source.as_bytes(),
        arch.as_bytes(),
        &[u8::from(fast)],
        format!("nvrtc {major}.{minor}").as_bytes(),
    ]);
    let (path, _) = cached_artifact(options, "cuda", &key, "kernel.cubin", |dir, tmp| {
        let _ = std::fs::write(dir.join("kernel.cu"), source);
        let c = compile(source, &arch, fast)?;
        let bin = c
            .cubin
            .ok_or_else(|| RuntimeError::Cuda(format!("NVRTC gave no CUBIN for {arch}")))?;
        std::fs::write(tmp, bin).map_err(|e| RuntimeError::Cache {
            path: tmp.to_path_buf(),
            reason: e.to_string(),
        })
    })?;
    std::fs::read(&path).map_err(|e| RuntimeError::Cache {
        path,
        reason: e.to_string(),
    })
}
