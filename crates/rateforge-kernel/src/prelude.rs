//! The helper functions a generated module's expressions call.

/// Defines, in a generated kernel module, the functions its expressions call, for its arithmetic
/// type `F` and its fast-arithmetic switch `FUSED` (a `const bool` expression: fused multiply-adds
/// where asked for and the target has them):
///
/// * `rf_b(c)`: a truth value as `1` or `0` (rateforge-ir's `BinOp` semantics);
/// * `rf_fma(a, b, c)`: `a * b + c`, one fused operation when `FUSED`, else two roundings;
/// * `rf_sign`, `rf_heaviside`, `rf_clamp`: as rateforge-ir defines them (NaN stays NaN);
/// * `rf_exp`, `rf_log`, `rf_sin`, `rf_cos`, `rf_tanh`, `rf_sigmoid` and their `_f32` forms:
///   [`crate::vmath`], the exact or the fused build.
///
/// ```
/// mod model {
///     rateforge_kernel::model_prelude!(f64, false);
///     pub fn f(x: f64) -> f64 {
///         rf_fma(2.0, rf_exp(x), rf_b(x > 0.0))
///     }
/// }
/// assert_eq!(model::f(0.0), 2.0);
/// ```
#[macro_export]
macro_rules! model_prelude {
    ($F:ty, $fused:expr) => {
        #[allow(dead_code)]
        const RF_FUSED: bool = $fused;

        #[allow(dead_code)]
        #[inline(always)]
        fn rf_b(c: bool) -> $F {
            if c { 1.0 } else { 0.0 }
        }

        #[allow(dead_code)]
        #[inline(always)]
        fn rf_fma(a: $F, b: $F, c: $F) -> $F {
            if RF_FUSED { a.mul_add(b, c) } else { a * b + c }
        }

        /// `1` for `x > 0`, `-1` for `x < 0`, `x` itself for zero and NaN.
        #[allow(dead_code)]
        #[inline(always)]
        fn rf_sign(x: $F) -> $F {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        }

        /// `0` below zero, `0.5` at zero, `1` above, NaN for NaN.
        #[allow(dead_code)]
        #[inline(always)]
        fn rf_heaviside(x: $F) -> $F {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                0.0
            } else if x == 0.0 {
                0.5
            } else {
                x
            }
        }

        /// `x` clamped to `[lo, hi]` by comparisons, so NaN stays NaN.
        #[allow(dead_code)]
        #[inline(always)]
        fn rf_clamp(x: $F, lo: $F, hi: $F) -> $F {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        }

        $crate::model_prelude!(@vmath
            rf_exp: f64, rf_log: f64, rf_sin: f64, rf_cos: f64, rf_tanh: f64, rf_sigmoid: f64,
            rf_exp_f32: f32, rf_log_f32: f32, rf_sin_f32: f32, rf_cos_f32: f32,
            rf_tanh_f32: f32, rf_sigmoid_f32: f32
        );
    };
    (@vmath $($name:ident: $t:ty),*) => {
        $(
            #[allow(dead_code)]
            #[inline(always)]
            fn $name(x: $t) -> $t {
                $crate::vmath::Functions::<RF_FUSED>::$name(x)
            }
        )*
    };
}
