//! Where CUDA kernels run: a GPU through the driver API (`gpu`), or the CPU, where the same
//! kernel source is compiled as C++ with the shim (`emulated`). The driver in [`super`] only
//! sees this interface, so its chunking, time windows and output assembly are tested without a
//! GPU.

use super::RfCudaArgs;
use crate::error::RuntimeError;

/// A device address (a host address on the emulated device).
pub type DevicePtr = u64;

/// Memory, copies and launches on one device. Streams `0` and `1` let a chunk's results be
/// copied back while the next chunk runs; the emulated device runs everything in order.
pub trait Device {
    /// Allocates `bytes` (zeroed).
    fn alloc(&mut self, bytes: usize) -> Result<DevicePtr, RuntimeError>;
    /// Frees an allocation.
    fn free(&mut self, ptr: DevicePtr);
    /// Copies host bytes to the device (synchronous).
    fn upload(&mut self, ptr: DevicePtr, data: &[u8]) -> Result<(), RuntimeError>;
    /// Starts copying the first `bytes` of `ptr` back to the host on `stream` (into staging
    /// memory the device owns; pinned on a GPU, so the copy overlaps with other work). After
    /// [`Device::synchronize`] of that stream, [`Device::fetch`] hands them over.
    fn download(&mut self, stream: usize, ptr: DevicePtr, bytes: usize)
    -> Result<(), RuntimeError>;
    /// The bytes of the last completed [`Device::download`] of `ptr`.
    fn fetch(&mut self, ptr: DevicePtr, out: &mut [u8]) -> Result<(), RuntimeError>;
    /// Launches `rf_run` on `stream` with `grid` blocks of `block` threads.
    fn launch(
        &mut self,
        stream: usize,
        grid: u32,
        block: u32,
        args: &RfCudaArgs,
    ) -> Result<(), RuntimeError>;
    /// Waits for everything queued on `stream`.
    fn synchronize(&mut self, stream: usize) -> Result<(), RuntimeError>;
    /// Runs the kernel's layout probe (`rf_layout`) and returns the `words` it reports: the
    /// size, alignment and field offsets and sizes of `RfCudaArgs` as the kernel's compiler laid
    /// them out (`rateforge_kernel::abi::Layout::words`).
    fn layout(&mut self, words: usize) -> Result<Vec<u64>, RuntimeError>;
    /// Bytes that can still be allocated.
    fn free_memory(&self) -> usize;
    /// Threads per block.
    fn block_size(&self) -> u32 {
        128
    }
    /// A name for metadata (`NVIDIA H100 80GB HBM3 (sm_90)`, `CPU emulation`).
    fn name(&self) -> String;
}

/// The entry points of a CUDA kernel compiled as C++ with the shim (`shim_launch.h`):
/// `rf_emulate(args, grid, block)` launches `rf_run`, `rf_emulate_layout(out)` runs the layout
/// probe.
#[derive(Clone, Copy, Debug)]
pub struct EmulationFns {
    /// `rf_emulate`.
    pub run: unsafe extern "C" fn(*const RfCudaArgs, u32, u32) -> i32,
    /// `rf_emulate_layout`.
    pub layout: unsafe extern "C" fn(*mut u64),
}

/// The CPU: the kernel compiled as C++ with the shim (a shared library loaded at run time, or
/// linked into the binary), device memory in host memory.
pub struct Emulated {
    fns: EmulationFns,
    /// Whatever must outlive the entry points (the loaded library).
    _keep: Option<Box<dyn std::any::Any + Send>>,
    buffers: std::collections::HashMap<DevicePtr, Vec<u64>>,
    staging: std::collections::HashMap<DevicePtr, Vec<u8>>,
}

impl std::fmt::Debug for Emulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulated")
            .field("buffers", &self.buffers.len())
            .finish()
    }
}

impl Emulated {
    /// The emulation whose entry points are `fns`; `keep` lives as long as the device (the
    /// library the entry points are in, when it was loaded).
    ///
    /// # Safety
    ///
    /// `fns` are the entry points of one kernel compiled with the shim, valid while `keep` lives.
    pub unsafe fn new(fns: EmulationFns, keep: Option<Box<dyn std::any::Any + Send>>) -> Emulated {
        Emulated {
            fns,
            _keep: keep,
            buffers: std::collections::HashMap::new(),
            staging: std::collections::HashMap::new(),
        }
    }
}

impl Device for Emulated {
    fn alloc(&mut self, bytes: usize) -> Result<DevicePtr, RuntimeError> {
        // u64 storage: every array the kernel reads is 8-byte aligned, as on a GPU.
        let mut v: Vec<u64> = Vec::new();
        v.try_reserve_exact(bytes.div_ceil(8).max(1)).map_err(|_| {
            RuntimeError::OutOfMemory(format!(
                "cannot allocate {bytes} bytes for the emulated device"
            ))
        })?;
        v.resize(bytes.div_ceil(8).max(1), 0);
        let ptr = v.as_ptr() as DevicePtr;
        self.buffers.insert(ptr, v);
        Ok(ptr)
    }

    fn free(&mut self, ptr: DevicePtr) {
        self.buffers.remove(&ptr);
        self.staging.remove(&ptr);
    }

    fn upload(&mut self, ptr: DevicePtr, data: &[u8]) -> Result<(), RuntimeError> {
        let buf = self
            .buffers
            .get_mut(&ptr)
            .ok_or_else(|| RuntimeError::Invalid("upload to an unknown buffer".into()))?;
        let bytes: &mut [u8] = bytemuck_mut(buf);
        bytes[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn download(
        &mut self,
        _stream: usize,
        ptr: DevicePtr,
        bytes: usize,
    ) -> Result<(), RuntimeError> {
        let buf = self
            .buffers
            .get(&ptr)
            .ok_or_else(|| RuntimeError::Invalid("download from an unknown buffer".into()))?;
        let data = bytemuck_ref(buf)[..bytes].to_vec();
        self.staging.insert(ptr, data);
        Ok(())
    }

    fn fetch(&mut self, ptr: DevicePtr, out: &mut [u8]) -> Result<(), RuntimeError> {
        let data = self
            .staging
            .get(&ptr)
            .ok_or_else(|| RuntimeError::Invalid("fetch without a download".into()))?;
        out.copy_from_slice(&data[..out.len()]);
        Ok(())
    }

    fn launch(
        &mut self,
        _stream: usize,
        grid: u32,
        block: u32,
        args: &RfCudaArgs,
    ) -> Result<(), RuntimeError> {
        // SAFETY: every pointer in `args` is a buffer of this device, sized by the driver.
        let status = unsafe { (self.fns.run)(args, grid, block) };
        if status == 0 {
            Ok(())
        } else {
            Err(RuntimeError::Invalid("the emulated kernel failed".into()))
        }
    }

    fn synchronize(&mut self, _stream: usize) -> Result<(), RuntimeError> {
        Ok(())
    }

    fn layout(&mut self, words: usize) -> Result<Vec<u64>, RuntimeError> {
        // The probe writes 2 + 2 * fields words; a generous buffer, cut to what the caller expects.
        let mut out = vec![u64::MAX; words.max(2) * 2 + 64];
        // SAFETY: the probe writes at most 2 + 2 * (fields of RfCudaArgs) words.
        unsafe { (self.fns.layout)(out.as_mut_ptr()) };
        out.truncate(words);
        Ok(out)
    }

    fn free_memory(&self) -> usize {
        // `RATEFORGE_EMULATED_CUDA_MEMORY` (bytes) pretends to a smaller device, so tests exercise
        // sweeps split into chunks.
        std::env::var("RATEFORGE_EMULATED_CUDA_MEMORY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX / 4)
    }

    fn block_size(&self) -> u32 {
        32
    }

    fn name(&self) -> String {
        "CPU emulation of the CUDA kernel".to_string()
    }
}

fn bytemuck_mut(v: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 has no padding; any byte pattern is a valid u8.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len() * 8) }
}

fn bytemuck_ref(v: &[u64]) -> &[u8] {
    // SAFETY: as above.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len() * 8) }
}
