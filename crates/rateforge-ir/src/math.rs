//! rateforge's own elementary functions: the semantics of `exp`, `log`, `tanh`, `sigmoid`, `sin`
//! and `cos` in every backend (`rateforge_kernel::vmath`, the exact build: no fused
//! multiply-adds). The kernels call the same code, so the reference evaluator, the Rust kernels and
//! (with the same algorithms in C) CUDA kernels compute the same bits.

pub use rateforge_kernel::vmath::exact::*;
