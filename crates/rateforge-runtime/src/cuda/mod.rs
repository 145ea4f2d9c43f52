//! The CUDA backend's build side: NVRTC (CUDA C to CUBIN or PTX, cached), the CPU emulation (the
//! kernel compiled as C++ with the shim and loaded), and the description of a model the host
//! driver needs ([`cuda_model`]). The host driver itself (chunks, windows, streams, devices) is
//! `rateforge_rt::cuda`, shared with models compiled into a binary.

pub mod emulate;
#[cfg(feature = "cuda")]
pub mod gpu;

use rateforge_ir::ValidModel;
pub use rateforge_rt::cuda::{
    CudaKernel, CudaKernelInfo, CudaModel, EdgeDelays, RfCudaArgs, device,
};

/// What the CUDA host driver needs to know about `model`: its sizes, its kernel's `n_buffered`
/// history buffers (the kernel plan's), delays, and the delays of a network's edges (the
/// reference evaluator's rule, in float64).
pub fn cuda_model(model: &ValidModel, n_buffered: usize) -> CudaModel {
    let m = model.model();
    let owned = model.clone();
    CudaModel {
        shape: rateforge_rt::exec::Shape {
            n_state: m.states.len(),
            n_param: m.params.len(),
            n_derived: m.derived.len(),
            n_series: m.series.len(),
            network: m.network.is_some(),
            noise: model.info().has_noise,
        },
        n_buffered,
        delay_params: m.delays.values().map(|d| d.time.index()).collect(),
        edge_delays: Box::new(move |params, n_nodes, dt, distance| {
            rateforge_ir::eval::edge_delays(&owned, params, n_nodes, dt, distance)
        }),
    }
}
