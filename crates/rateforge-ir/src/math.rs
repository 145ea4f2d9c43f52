//! rateforge's own elementary functions: the semantics of `exp`, `log`, `tanh`, `sigmoid`, `sin`
//! and `cos` in every backend.
//!
//! They are the text of `kernel-templates/rust/vmath.rs`, compiled here without fused
//! multiply-adds (`RF_FMA = false`) and pasted into every generated kernel, where they vectorise
//! (glibc's `exp` does not). Results are within 1 ulp of the correctly rounded value (see the
//! file's header for ranges and special values) and do not depend on the platform's libm, so the
//! reference evaluator, the Rust kernels and (with the same text) CUDA kernels compute the same
//! bits.

#![allow(missing_docs, dead_code, clippy::all, clippy::pedantic)]

/// The reference semantics never fuse multiply-adds.
const RF_FMA: bool = false;

include!("../../../kernel-templates/rust/vmath.rs");
