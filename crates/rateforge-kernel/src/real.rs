//! The number types of kernels: [`Real`] (`f64` or `f32`, the arithmetic and the delay history)
//! and [`Lanes`] (`[[F; L]; N]`: `N` values of a lane block, `L` lanes each).

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A floating-point type a kernel computes or stores in.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Default
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Bits of the type.
    const BITS: u32;
    /// The nearest value of this type (`x as f32`; exact for `f64`).
    fn from_f64(x: f64) -> Self;
    /// The value as `f64` (exact).
    fn to_f64(self) -> f64;
    /// `self * a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// The value in another [`Real`] type (one rounding at most).
    #[inline(always)]
    fn cast<T: Real>(self) -> T {
        T::from_f64(self.to_f64())
    }
}

macro_rules! real {
    ($t:ty, $bits:expr) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const BITS: u32 = $bits;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
        }
    };
}

real!(f64, 64);
real!(f32, 32);

/// `N` values of a lane block (`[[F; L]; N]`): a kernel's states, parameters, derived values,
/// series, delayed values, couplings or noise terms of one node. Kernels name their sizes
/// (`type States = [[f64; 32]; 8]`), so the model's functions index fixed arrays.
pub trait Lanes<F: Real, const L: usize>: Copy + Send + Sync + 'static {
    /// `N`.
    const LEN: usize;
    /// All zeros.
    fn zeroed() -> Self;
    /// The values.
    fn rows(&self) -> &[[F; L]];
    /// The values.
    fn rows_mut(&mut self) -> &mut [[F; L]];
}

impl<F: Real, const L: usize, const N: usize> Lanes<F, L> for [[F; L]; N] {
    const LEN: usize = N;

    #[inline(always)]
    fn zeroed() -> Self {
        [[F::ZERO; L]; N]
    }

    #[inline(always)]
    fn rows(&self) -> &[[F; L]] {
        self
    }

    #[inline(always)]
    fn rows_mut(&mut self) -> &mut [[F; L]] {
        self
    }
}
