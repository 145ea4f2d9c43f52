//! rateforge's own elementary functions: the semantics of `exp`, `log`, `tanh`, `sigmoid`, `sin`
//! and `cos` in every backend.
//!
//! Branch-free polynomials within 1 ulp of the correctly rounded result (see `functions.rs` for
//! ranges, special values and algorithms), which vectorise in lane loops (glibc's `exp` does not)
//! and do not depend on the platform's libm, so the reference evaluator, the Rust kernels and the
//! CUDA kernels (`kernel-templates/cuda/vmath.cuh`, the same algorithms in C) compute the same
//! bits. Two builds of the same text:
//!
//! * [`exact`]: polynomials with separate multiplies and adds (the reference semantics, and what
//!   kernels use by default);
//! * [`fused`]: polynomials with fused multiply-adds where the target has FMA (`--fast`).
//!
//! [`Functions`] picks one of them by a constant, for code generic over fast arithmetic.

#![allow(missing_docs, clippy::all)]

/// Separate multiplies and adds: the reference semantics.
pub mod exact {
    const RF_FMA: bool = false;
    include!("functions.rs");
}

/// Fused multiply-adds in the polynomials where the target has FMA.
pub mod fused {
    const RF_FMA: bool = cfg!(target_feature = "fma");
    include!("functions.rs");
}

/// The elementary functions of the [`exact`] (`FUSED = false`) or [`fused`] build.
#[derive(Clone, Copy, Debug)]
pub struct Functions<const FUSED: bool>;

macro_rules! pick {
    ($($name:ident: $t:ty),* $(,)?) => {
        impl<const FUSED: bool> Functions<FUSED> {
            $(
                #[inline(always)]
                pub fn $name(x: $t) -> $t {
                    if FUSED { fused::$name(x) } else { exact::$name(x) }
                }
            )*
        }
    };
}

pick!(
    rf_exp: f64, rf_expm1: f64, rf_log: f64, rf_tanh: f64, rf_sigmoid: f64, rf_sin: f64,
    rf_cos: f64, rf_exp_f32: f32, rf_expm1_f32: f32, rf_log_f32: f32, rf_tanh_f32: f32,
    rf_sigmoid_f32: f32, rf_sin_f32: f32, rf_cos_f32: f32,
);
