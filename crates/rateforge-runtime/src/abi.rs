//! The C ABI between the runtime and generated kernels: `rateforge_kernel::abi`, where it is
//! described once (the structs with the C type, offset and size of every field, the exports, the
//! memory layout of every array).

pub use rateforge_kernel::abi::{
    ABI_VERSION, AbiStruct, CUDA_ABI_VERSION, LAYOUT_HASH, Layout, N_STATS, RfArgs, RfCudaArgs,
    RfInfo, RfObserve, RfSeries, STATS,
};
