// Truth values are 1.0 / 0.0 (rateforge-ir `BinOp`).
#[inline(always)]
fn rf_b(c: bool) -> F {
    if c { 1.0 } else { 0.0 }
}

// a * b + c: one fused multiply-add when RF_FMA is set, else two roundings (rateforge-ir's
// semantics, which never fuse).
#[inline(always)]
fn rf_fma(a: F, b: F, c: F) -> F {
    if RF_FMA { a.mul_add(b, c) } else { a * b + c }
}

// sign(x): 1 for x > 0, -1 for x < 0, x itself for zero and NaN.
#[inline(always)]
fn rf_sign(x: F) -> F {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

// heaviside(x): 0 below zero, 0.5 at zero, 1 above, NaN for NaN.
#[inline(always)]
fn rf_heaviside(x: F) -> F {
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

// clamp(x, lo, hi) with comparisons, so NaN stays NaN (rateforge-ir `eval::clamp_value`).
#[inline(always)]
fn rf_clamp(x: F, lo: F, hi: F) -> F {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

// Philox4x32-10 (rateforge-ir `rng`).
#[inline(always)]
fn rf_philox(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(0x9E37_79B9);
            k[1] = k[1].wrapping_add(0xBB67_AE85);
        }
        let p0 = 0xD251_1F53u64 * c[0] as u64;
        let p1 = 0xCD9E_8D57u64 * c[2] as u64;
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
    }
    c
}

// Normal number `index` of (seed, instance, node, step) by Box-Muller (rateforge-ir `rng::normal`),
// in float64 whatever the kernel's precision.
#[inline(always)]
fn rf_normal(seed: u64, instance: u64, node: u64, step: u64, index: u32) -> f64 {
    let pair = index / 2;
    let counter = [step as u32, ((step >> 32) as u32 & 0xFFFF) | (pair << 16), node as u32, instance as u32];
    let r = rf_philox(counter, [seed as u32, (seed >> 32) as u32]);
    let a = (((r[0] as u64) << 32) | r[1] as u64) >> 11;
    let b = (((r[2] as u64) << 32) | r[3] as u64) >> 11;
    let u1 = (a + 1) as f64 * (1.0 / 9_007_199_254_740_992.0);
    let u2 = b as f64 * (1.0 / 9_007_199_254_740_992.0);
    let rho = (-2.0 * rf_log(u1)).sqrt();
    let angle = std::f64::consts::TAU * u2;
    if index % 2 == 0 { rho * rf_cos(angle) } else { rho * rf_sin(angle) }
}
