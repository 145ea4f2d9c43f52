//! Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
//! as 1, 2, 3", SC 2011) and standard normal numbers from it by Box–Muller.
//!
//! Every normal number a run uses is a pure function of (seed, instance, node, step, index), so a
//! run gives the same numbers whatever the thread count, lane width or backend (CPU or GPU):
//!
//! * key `= (seed_lo32, seed_hi32)`;
//! * counter `= (step_lo32, step_hi16 | pair << 16, node, instance)`, `pair = index / 2`;
//! * the four output words `(r0, r1, r2, r3)` give two uniforms with 53 random bits,
//!   `u1 = (((r0 << 32 | r1) >> 11) + 1) * 2^-53` in (0, 1] and
//!   `u2 = ((r2 << 32 | r3) >> 11) * 2^-53` in [0, 1);
//! * `rho = sqrt(-2 ln u1)`, and normal number `index` is `rho * cos(TAU * u2)` for even indices,
//!   `rho * sin(TAU * u2)` for odd ones.
//!
//! Generated kernels implement exactly these steps: integer arithmetic is bit-exact everywhere,
//! `sqrt` is IEEE's, and `ln`, `cos`, `sin` are rateforge's own ([`crate::vmath`]: the exact build,
//! or the fused one in fast kernels, `normal_with`), so every
//! backend draws the same bits.

use crate::vmath::Functions;

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// The Philox4x32-10 block function.
#[inline(always)]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// `2^-53`.
const INV_2_53: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Normal numbers `2*pair` and `2*pair + 1` of (seed, instance, node, step).
#[inline(always)]
pub fn normal_pair(seed: u64, instance: u64, node: u64, step: u64, pair: u32) -> (f64, f64) {
    normal_pair_with::<false>(seed, instance, node, step, pair)
}

/// [`normal_pair`] with the elementary functions of the fused build (`FUSED`: fast kernels).
#[inline(always)]
pub fn normal_pair_with<const FUSED: bool>(
    seed: u64,
    instance: u64,
    node: u64,
    step: u64,
    pair: u32,
) -> (f64, f64) {
    let counter = [
        step as u32,
        ((step >> 32) as u32 & 0xFFFF) | (pair << 16),
        node as u32,
        instance as u32,
    ];
    let r = philox4x32_10(counter, [seed as u32, (seed >> 32) as u32]);
    let a = ((u64::from(r[0]) << 32) | u64::from(r[1])) >> 11;
    let b = ((u64::from(r[2]) << 32) | u64::from(r[3])) >> 11;
    let u1 = (a + 1) as f64 * INV_2_53;
    let u2 = b as f64 * INV_2_53;
    let rho = (-2.0 * Functions::<FUSED>::rf_log(u1)).sqrt();
    let angle = std::f64::consts::TAU * u2;
    (
        rho * Functions::<FUSED>::rf_cos(angle),
        rho * Functions::<FUSED>::rf_sin(angle),
    )
}

/// The step counter value reserved for initial-value draws: no run reaches step `2^48 - 1`.
pub const INIT_STEP: u64 = (1 << 48) - 1;

/// A uniform number in `[0, 1)` for the initial value of `state` at (seed, instance, node): the
/// `u2` word of the Philox block at counter `(INIT_STEP, state, node, instance)` (see the module
/// docs), so initial draws never reuse a noise number.
#[inline(always)]
pub fn uniform_init(seed: u64, instance: u64, node: u64, state: u32) -> f64 {
    let counter = [
        INIT_STEP as u32,
        ((INIT_STEP >> 32) as u32 & 0xFFFF) | (state << 16),
        node as u32,
        instance as u32,
    ];
    let r = philox4x32_10(counter, [seed as u32, (seed >> 32) as u32]);
    let b = ((u64::from(r[2]) << 32) | u64::from(r[3])) >> 11;
    b as f64 * INV_2_53
}

/// Normal number `index` of (seed, instance, node, step).
#[inline(always)]
pub fn normal(seed: u64, instance: u64, node: u64, step: u64, index: u32) -> f64 {
    normal_with::<false>(seed, instance, node, step, index)
}

/// [`normal`] with the elementary functions of the fused build (`FUSED`: fast kernels).
#[inline(always)]
pub fn normal_with<const FUSED: bool>(
    seed: u64,
    instance: u64,
    node: u64,
    step: u64,
    index: u32,
) -> f64 {
    let (z0, z1) = normal_pair_with::<FUSED>(seed, instance, node, step, index / 2);
    if index.is_multiple_of(2) { z0 } else { z1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of the Random123 distribution (kat_vectors, philox4x32_10).
    #[test]
    fn philox_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn normals_have_unit_variance_and_are_independent_of_order() {
        let n = 200_000u64;
        let (mut s, mut s2, mut s4) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let z = normal(7, i % 13, i / 13, i, (i % 4) as u32);
            s += z;
            s2 += z * z;
            s4 += z * z * z * z;
        }
        let nf = n as f64;
        let (mean, var, kurt) = (s / nf, s2 / nf, s4 / nf);
        // Standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032, 4th moment sqrt(96/n) = 0.022.
        assert!(mean.abs() < 5.0 * 0.0023, "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * 0.0032, "variance {var}");
        assert!((kurt - 3.0).abs() < 5.0 * 0.022, "fourth moment {kurt}");
        assert_eq!(normal(1, 2, 3, 4, 1), normal_pair(1, 2, 3, 4, 0).1);
        assert_ne!(normal(1, 2, 3, 4, 0), normal(2, 2, 3, 4, 0));
        assert_ne!(normal(1, 2, 3, 4, 0), normal(1, 2, 3, 5, 0));
    }

    #[test]
    fn initial_draws_are_uniform_and_keyed() {
        let n = 100_000u64;
        let (mut s, mut lo, mut hi) = (0.0, 1.0f64, 0.0f64);
        for i in 0..n {
            let u = uniform_init(3, i, i % 7, (i % 3) as u32);
            s += u;
            lo = lo.min(u);
            hi = hi.max(u);
        }
        // Mean of U(0,1): 0.5, standard error sqrt(1/12/n) = 0.00091.
        assert!(
            (s / n as f64 - 0.5).abs() < 5.0 * 0.00092,
            "mean {}",
            s / n as f64
        );
        assert!((0.0..1e-3).contains(&lo) && (1.0 - 1e-3..1.0).contains(&hi));
        assert_ne!(uniform_init(3, 0, 0, 0), uniform_init(3, 0, 0, 1));
        assert_ne!(uniform_init(3, 0, 0, 0), uniform_init(3, 0, 1, 0));
        assert_ne!(uniform_init(3, 0, 0, 0), uniform_init(3, 1, 0, 0));
        assert_ne!(uniform_init(3, 0, 0, 0), uniform_init(4, 0, 0, 0));
    }
}
