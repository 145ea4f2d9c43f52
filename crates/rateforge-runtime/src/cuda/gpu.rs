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

use super::RfCudaArgs;
use super::device::{Device, DevicePtr};
use crate::compile::{BuildOptions, cached_artifact, hash_parts};
use crate::error::RuntimeError;
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

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

/// Whether the CUDA driver library can be loaded (no GPU needed to answer).
pub fn driver_available() -> bool {
    // SAFETY: only opens the library and looks up symbols.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

fn driver_err(what: &str) -> impl Fn(cudarc::driver::DriverError) -> RuntimeError + '_ {
    move |e| RuntimeError::Cuda(format!("{what}: {e:?}"))
}

/// A GPU with a loaded kernel, two streams and pinned staging memory.
pub struct Gpu {
    ctx: Arc<cudarc::driver::CudaContext>,
    streams: [Arc<cudarc::driver::CudaStream>; 2],
    _module: Arc<cudarc::driver::CudaModule>,
    function: cudarc::driver::CudaFunction,
    probe: cudarc::driver::CudaFunction,
    buffers: HashMap<DevicePtr, usize>,
    staging: HashMap<DevicePtr, (*mut c_void, usize)>,
    name: String,
}

// SAFETY: the context is bound to the calling thread before every call; the raw pointers are
// pinned host buffers owned by this value.
unsafe impl Send for Gpu {}

/// The context of GPU `ordinal` (checking first that the driver library exists: cudarc panics
/// without it).
fn context(ordinal: usize) -> Result<Arc<cudarc::driver::CudaContext>, RuntimeError> {
    if !driver_available() {
        return Err(RuntimeError::CudaUnavailable(
            "the CUDA driver library (libcuda) is not installed".into(),
        ));
    }
    cudarc::driver::CudaContext::new(ordinal)
        .map_err(|e| RuntimeError::CudaUnavailable(format!("no usable GPU {ordinal}: {e:?}")))
}

impl Gpu {
    /// The device `ordinal`'s compute capability and name (checks that CUDA can be used).
    pub fn probe(ordinal: usize) -> Result<((i32, i32), String), RuntimeError> {
        let ctx = context(ordinal)?;
        let cc = ctx
            .compute_capability()
            .map_err(driver_err("compute capability"))?;
        let name = ctx.name().map_err(driver_err("device name"))?;
        Ok((cc, name))
    }

    /// Opens GPU `ordinal` and loads a kernel compiled for it.
    pub fn open(ordinal: usize, cubin: Vec<u8>) -> Result<Gpu, RuntimeError> {
        let ctx = context(ordinal)?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(driver_err("compute capability"))?;
        let name = format!(
            "{} (sm_{major}{minor})",
            ctx.name().map_err(driver_err("device name"))?
        );
        let module = ctx
            .load_module(cudarc::nvrtc::Ptx::from_binary(cubin))
            .map_err(driver_err("loading the kernel"))?;
        let function = module
            .load_function("rf_run")
            .map_err(driver_err("finding rf_run"))?;
        let probe = module
            .load_function("rf_layout")
            .map_err(driver_err("finding rf_layout"))?;
        let streams = [
            ctx.new_stream().map_err(driver_err("creating a stream"))?,
            ctx.new_stream().map_err(driver_err("creating a stream"))?,
        ];
        Ok(Gpu {
            ctx,
            streams,
            _module: module,
            function,
            probe,
            buffers: HashMap::new(),
            staging: HashMap::new(),
            name,
        })
    }

    fn bind(&self) -> Result<(), RuntimeError> {
        self.ctx
            .bind_to_thread()
            .map_err(driver_err("binding the context"))
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        let _ = self.bind();
        for (_, (p, _)) in self.staging.drain() {
            // SAFETY: allocated by malloc_host below, freed once.
            let _ = unsafe { cudarc::driver::result::free_host(p) };
        }
        for (p, _) in self.buffers.drain() {
            // SAFETY: allocated by malloc_sync below, freed once.
            let _ = unsafe { cudarc::driver::result::free_sync(p) };
        }
    }
}

impl Device for Gpu {
    fn alloc(&mut self, bytes: usize) -> Result<DevicePtr, RuntimeError> {
        use cudarc::driver::result;
        self.bind()?;
        let bytes = bytes.max(8);
        // SAFETY: the context is current; the allocation is zeroed before use.
        let p = unsafe { result::malloc_sync(bytes) }.map_err(|e| {
            RuntimeError::OutOfMemory(format!("cannot allocate {bytes} bytes on the GPU: {e:?}"))
        })?;
        unsafe { result::memset_d8_sync(p, 0, bytes) }.map_err(driver_err("clearing memory"))?;
        self.buffers.insert(p, bytes);
        Ok(p)
    }

    fn free(&mut self, ptr: DevicePtr) {
        let _ = self.bind();
        if self.buffers.remove(&ptr).is_some() {
            // SAFETY: allocated above, freed once.
            let _ = unsafe { cudarc::driver::result::free_sync(ptr) };
        }
        if let Some((p, _)) = self.staging.remove(&ptr) {
            // SAFETY: allocated by malloc_host, freed once.
            let _ = unsafe { cudarc::driver::result::free_host(p) };
        }
    }

    fn upload(&mut self, ptr: DevicePtr, data: &[u8]) -> Result<(), RuntimeError> {
        self.bind()?;
        // SAFETY: `ptr` has at least `data.len()` bytes (the driver sizes every buffer).
        unsafe { cudarc::driver::result::memcpy_htod_sync(ptr, data) }
            .map_err(driver_err("copying to the GPU"))
    }

    fn download(
        &mut self,
        stream: usize,
        ptr: DevicePtr,
        bytes: usize,
    ) -> Result<(), RuntimeError> {
        use cudarc::driver::result;
        self.bind()?;
        let need_new = self.staging.get(&ptr).is_none_or(|(_, n)| *n < bytes);
        if need_new {
            if let Some((p, _)) = self.staging.remove(&ptr) {
                // SAFETY: allocated by malloc_host, freed once.
                let _ = unsafe { result::free_host(p) };
            }
            // SAFETY: pinned host memory (flags 0: cached, fast to read on the host).
            let p = unsafe { result::malloc_host(bytes.max(8), 0) }
                .map_err(driver_err("allocating pinned memory"))?;
            self.staging.insert(ptr, (p, bytes.max(8)));
        }
        let (p, _) = self.staging[&ptr];
        // SAFETY: pinned buffer of at least `bytes`; completes before `synchronize(stream)`.
        let dst = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), bytes) };
        unsafe { result::memcpy_dtoh_async(dst, ptr, self.streams[stream].cu_stream()) }
            .map_err(driver_err("copying from the GPU"))
    }

    fn fetch(&mut self, ptr: DevicePtr, out: &mut [u8]) -> Result<(), RuntimeError> {
        let (p, n) = *self
            .staging
            .get(&ptr)
            .ok_or_else(|| RuntimeError::Cuda("fetch without a download".into()))?;
        let len = out.len().min(n);
        // SAFETY: the staging buffer holds at least `len` bytes written by the finished copy.
        out[..len].copy_from_slice(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) });
        Ok(())
    }

    fn launch(
        &mut self,
        stream: usize,
        grid: u32,
        block: u32,
        args: &RfCudaArgs,
    ) -> Result<(), RuntimeError> {
        self.bind()?;
        let mut a = *args;
        let mut params = [(&mut a as *mut RfCudaArgs).cast::<c_void>()];
        // SAFETY: the kernel's only parameter is an `RfCudaArgs` by value, whose pointers the driver
        // allocated on this device.
        unsafe {
            cudarc::driver::result::launch_kernel(
                self.function.cu_function(),
                (grid, 1, 1),
                (block, 1, 1),
                0,
                self.streams[stream].cu_stream(),
                &mut params,
            )
        }
        .map_err(driver_err("launching the kernel"))
    }

    fn synchronize(&mut self, stream: usize) -> Result<(), RuntimeError> {
        self.bind()?;
        self.streams[stream]
            .synchronize()
            .map_err(driver_err("running the kernel"))
    }

    fn layout(&mut self, words: usize) -> Result<Vec<u64>, RuntimeError> {
        use cudarc::driver::result;
        // Room for more words than expected, so a kernel with more fields cannot write past the end.
        let bytes = 8 * (words.max(2) * 2 + 64);
        let ptr = self.alloc(bytes)?;
        let out = (|| {
            let mut arg = ptr;
            let mut params = [(&mut arg as *mut DevicePtr).cast::<c_void>()];
            // SAFETY: `rf_layout(unsigned long long* out)` with a device buffer of `bytes` bytes.
            unsafe {
                result::launch_kernel(
                    self.probe.cu_function(),
                    (1, 1, 1),
                    (1, 1, 1),
                    0,
                    self.streams[0].cu_stream(),
                    &mut params,
                )
            }
            .map_err(driver_err("launching the layout probe"))?;
            self.synchronize(0)?;
            let mut host = vec![0u8; 8 * words];
            // SAFETY: the buffer holds at least `8 * words` bytes.
            unsafe { result::memcpy_dtoh_sync(&mut host, ptr) }
                .map_err(driver_err("copying the layout back"))?;
            Ok(host
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect())
        })();
        self.free(ptr);
        out
    }

    fn free_memory(&self) -> usize {
        let _ = self.bind();
        cudarc::driver::result::mem_get_info().map_or(0, |(free, _)| free)
    }

    fn block_size(&self) -> u32 {
        128
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
