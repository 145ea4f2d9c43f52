//! NVIDIA GPUs through the CUDA driver API, loaded at run time (cudarc with dynamic loading): a
//! machine without CUDA builds and runs everything else, and asking for a GPU there is an error,
//! never a panic (cudarc panics when a library is missing, so every entry point checks first).
//! A kernel is loaded from a CUBIN (compiled for the device by NVRTC) or from PTX (compiled for a
//! virtual architecture, which the driver compiles for the device when it loads it).

use super::RfCudaArgs;
use super::device::{Device, DevicePtr};
use crate::error::RuntimeError;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;

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

    /// Opens GPU `ordinal` and loads a kernel compiled for it (a CUBIN).
    pub fn open(ordinal: usize, cubin: Vec<u8>) -> Result<Gpu, RuntimeError> {
        Gpu::load(ordinal, cudarc::nvrtc::Ptx::from_binary(cubin))
    }

    /// Opens GPU `ordinal` and loads a kernel as PTX for a virtual architecture, which the driver
    /// compiles for this GPU.
    pub fn open_ptx(ordinal: usize, ptx: &str) -> Result<Gpu, RuntimeError> {
        Gpu::load(ordinal, cudarc::nvrtc::Ptx::from_src(ptx))
    }

    fn load(ordinal: usize, image: cudarc::nvrtc::Ptx) -> Result<Gpu, RuntimeError> {
        let ctx = context(ordinal)?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(driver_err("compute capability"))?;
        let name = format!(
            "{} (sm_{major}{minor})",
            ctx.name().map_err(driver_err("device name"))?
        );
        let module = ctx
            .load_module(image)
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
