// ---------------------------------------------------------------------------
// rateforge vmath: vectorisable elementary functions for generated kernels.
//
// This text is included twice by `vmath/mod.rs`: as `vmath::exact` (RF_FMA =
// false) and as `vmath::fused` (RF_FMA set where the target has FMA).  The
// functions replace std's exp/ln/tanh/sin/cos, which are opaque libm calls that
// keep a lane loop such as `for l in 0..LANES { y[l] = rf_exp(x[l]); }` scalar.
// Everything here is branch-free straight-line code: f64/f32 arithmetic,
// comparisons feeding selects, and integer bit manipulation through
// to_bits/from_bits, all #[inline(always)], so LLVM's loop vectoriser turns a
// lane loop into packed SIMD (ymm/zmm with target-cpu=native).  No lookup
// tables (no gathers) and no libm calls.
//
// FMA: polynomials are evaluated with rf_mla(a, b, c) = a*b + c, which is
// f64::mul_add (one vfmadd instruction) when the includer sets the constant
// RF_FMA (`vmath::fused` sets it only where the target has FMA, so the slow
// libm fma() call that mul_add becomes without FMA hardware is never emitted)
// and a separate multiply and add otherwise.  rateforge-ir's reference
// semantics use `vmath::exact`, and so do kernels by default, which therefore
// agree with the reference evaluator bit for bit.  FMA
// makes rf_exp about 1.3x faster.  Both variants are accuracy-tested; they may
// differ in the last bit.  Error-free products (rf_prod_err) use FMA or Dekker's splitting and are
// exact either way.  Within one build, vectorised and scalar code give
// bit-identical results.
//
// Accuracy (Rust always runs in round-to-nearest), measured by
// crates/rateforge-kernel/tests/vmath.rs against a double-double reference
// (10^6 points per function per run, 3*10^7 in a one-off run; with and without
// FMA).  "vs CR" is |result - correctly rounded| / |correctly rounded|.
//
//   function     range where the bound holds           max vs CR   max vs exact
//   rf_exp       -708.39 <= x <= 709.78 (normal result)  2.2e-16     0.63 ulp
//   rf_expm1     all x with a finite result              2.2e-16     0.61 ulp
//   rf_log       all x > 0, subnormals included          2.2e-16     0.83 ulp
//   rf_tanh      all x                                   2.2e-16     0.57 ulp
//   rf_sigmoid   x >= -708.39 (normal result)            2.2e-16     0.63 ulp
//   rf_sin/cos   |x| <= 1.6e6 (n < 2^20 quadrants)       2.2e-16     0.82 ulp
//   (the guarantee the tests enforce is 4e-16 vs CR, i.e. at most 1 ulp off)
//   f32 versions (suffix _f32), checked exhaustively over all 2^32 inputs
//   (with and without FMA) against std's f64 functions: max error vs exact
//   0.68 (exp), 0.82 (expm1), 0.84 (log), 0.72 (tanh), 0.86 (sigmoid), 0.56
//   (sin, cos; |x| <= 1.6e6) ulp, so never more than 1 ulp from the correctly
//   rounded f32 (the tests enforce 2 ulp); subnormal results within 0.8
//   subnormal ulp.
//
// Special values.  exp: +inf above 709.78, gradual underflow below -708.39
// (subnormal results within one subnormal ulp), +0 below -745.13, exp(NaN) =
// NaN.  expm1: exactly -1 below -37.5, keeps -0.  log: log(+-0) = -inf,
// log(x < 0) = NaN, log(+inf) = +inf.  tanh: exactly +-1 for |x| >= 19.1,
// tanh(x) = x for tiny x (sign and -0 kept).  sigmoid: exactly 1 for
// x >= 37.5, subnormal below -708.39 (within one subnormal ulp), 0 below
// -745.13, sigmoid(+inf) = 1, sigmoid(-inf) = 0.
// sin/cos: beyond 1.6e6 the reduction is no longer exact and the absolute
// error grows like |x| * 2^-53; beyond 2^50 the phase is meaningless, but the
// result is always in [-1, 1].  sin/cos(+-inf) = NaN; sin(-0) = -0; sin is
// exactly odd and cos exactly even.  NaN inputs give NaN everywhere.
//
// Algorithms.  Polynomial coefficients were fitted for this file by a
// weighted Remez exchange in 60-digit arithmetic
// (crates/rateforge-kernel/vmath-fit/fit.py); the split constants of ln2 and
// pi/2 come from vmath-fit/consts.py.
//
// * exp: n = round(x / ln2) with the 1.5*2^52 "magic number" trick (n is then
//   read back from the bits), r = x - n*ln2 with ln2 split into a 42-bit and a
//   53-bit part (n*LN2_1 and x - n*LN2_1 are exact), carried as r + c.
//   e^r = 1 + r + r^2 Q(r), Q a degree-10 minimax polynomial on |r| <= 0.3473
//   (relative error 8e-19), 1 + r added error-free, one final rounding.  The
//   scale 2^n is applied as two exponent-field factors, so overflow to +inf
//   and gradual underflow come out of the arithmetic (x is clamped to
//   [-746, 709.9] first).
// * expm1: same reduction and Q; r^2 is split exactly (rf_prod_err) and
//   2^n (1 + r + r^2/2 + small) - 1 is summed with TwoSums, so there is a
//   single final rounding; n = 1024 is handled by a factor 2; x is clamped to
//   [-40, 710].
// * log: x = 2^k m with m in [sqrt(1/2), sqrt(2)) from the bits (subnormals are
//   pre-scaled by 2^54), f = m - 1 (exact), s = f / (2 + f),
//   log1p(f) = f - (f^2/2 - s (f^2/2 + R(s^2))), R a degree-7 minimax
//   polynomial in s^2 (error 1.3e-18); k*ln2 (two parts) + f by TwoSum.
// * tanh: |x| clamped to 20, M = expm1(2|x|) as a double-double,
//   tanh = M / (M + 2): quotient plus a correction from the exact division
//   residual and the low parts (rf_div_dd); sign restored with copysign.
// * sigmoid: E = e^-|x| as a double-double, 1/(1+E) for x >= 0 and E/(1+E)
//   for x < 0, with the same corrected division.
// * sin/cos: n = round(|x| * 2/pi) (magic number), r = |x| - n*pi/2 with pi/2
//   in four parts (three of 33 bits, so n*part is exact for n < 2^20, and a
//   rounded fourth; 152 bits), subtractions by TwoSum so r is a double-double;
//   sin r = r + r^3 S(r^2) (S degree 6), cos r = 1 - r^2/2 + r^4 C(r^2)
//   (C degree 5), both on |r| <= pi/4 (relative errors 1e-19), first-order
//   correction for the low part of r.  n mod 4 selects polynomial and sign;
//   sin works on |x| and xors the sign of x back in.
// * f32 versions mirror the above in f32 arithmetic with lower-degree
//   polynomials (Q degree 4, R degree 3).  sin_f32/cos_f32 reduce and evaluate
//   in f64 (three-part pi/2, S and C degree 2) and round once to f32.
// ---------------------------------------------------------------------------

/// 1.5 * 2^52: adding it rounds an f64 of magnitude < 2^51 to an integer n,
/// and the low bits of the sum are then n (two's complement).
const RF_MAGIC: f64 = 6_755_399_441_055_744.0;
const RF_MAGIC_BITS: u64 = 0x4338_0000_0000_0000;
/// 1.5 * 2^23, the f32 analogue.
const RF_MAGIC_F32: f32 = 12_582_912.0;
const RF_MAGIC_F32_BITS: u32 = 0x4B40_0000;

const RF_LN2_1: f64 = 0.6931471805598903;
const RF_LN2_2: f64 = 5.497923018708371e-14;
const RF_LN2_F32_1: f32 = 0.693_145_75;
const RF_LN2_F32_2: f32 = 1.428_606_8e-6;

const RF_PIO2_1: f64 = 1.5707963267341256;
const RF_PIO2_2: f64 = 6.077100506303966e-11;
const RF_PIO2_3: f64 = 2.0222662487111665e-21;
const RF_PIO2_4: f64 = 8.4784276603689e-32;
const RF_PIO2_F32_3: f64 = 2.0222662487959506e-21;
/// Reduced arguments are clamped to this (slightly above pi/4) so that huge
/// inputs, whose reduction is meaningless, still give values in [-1, 1].
const RF_TRIG_RMAX: f64 = 0.786;
/// Above this |x| the low part of the reduced argument is dropped.
const RF_TRIG_HUGE: f64 = 1_125_899_906_842_624.0; // 2^50

/// bits of sqrt(1/2) (rounded), the lower end of the log mantissa interval.
const RF_SQRT1_2_BITS: u64 = 0x3FE6_A09E_667F_3BCD;
const RF_SQRT1_2_F32_BITS: u32 = 0x3F35_04F3;

// e^r - 1 = r + r^2 Q(r), |r| <= 0.3473; weighted minimax error 8.4e-19.
const RF_EXP_Q: [f64; 11] = [
    0.5,
    0.16666666666666677,
    0.041666666666666505,
    0.008333333333321513,
    0.0013888888888963493,
    0.00019841269886477703,
    2.4801587171062337e-05,
    2.7557243803761886e-06,
    2.755740327699441e-07,
    2.5109195267350024e-08,
    2.0875325024908825e-09,
];
// 2 atanh(s) = 2 s + s R(s^2), R(z) = z (R0 + R1 z + ...), z <= 0.0295;
// error 1.3e-18.
const RF_LOG_R: [f64; 7] = [
    0.6666666666666735,
    0.3999999999940875,
    0.2857142874391069,
    0.22222198398931817,
    0.18183574218990667,
    0.15313777764912087,
    0.14798863073829704,
];
// sin r = r + r^3 S(r^2), |r| <= 0.787; relative error 9.3e-20.
const RF_SIN_S: [f64; 7] = [
    -0.16666666666666666,
    0.008333333333333042,
    -0.00019841269840962573,
    2.7557319074101685e-06,
    -2.5052070970993702e-08,
    1.6054319794684586e-10,
    -7.38996876488852e-13,
];
// cos r = 1 - r^2/2 + r^4 C(r^2), |r| <= 0.787; relative error 6.1e-20.
const RF_COS_C: [f64; 6] = [
    0.04166666666666659,
    -0.0013888888888872186,
    2.480158728829539e-05,
    -2.755731401512241e-07,
    2.0875678084770096e-09,
    -1.1357336715833915e-11,
];
// f32: e^r - 1 = r + r^2 Q(r); relative error 1.4e-8.
const RF_EXP_Q_F32: [f32; 5] = [
    0.499_999_97,
    0.166_665_38,
    0.041_667_74,
    0.008_367_319,
    0.001_383_786_1,
];
// f32: R(z) = z (R0 + R1 z + R2 z^2); error 8.2e-10.
const RF_LOG_R_F32: [f32; 3] = [0.666_667_76, 0.399_775_53, 0.298_721_28];
// f32 sin/cos, evaluated in f64: relative errors 3.9e-9 and 1.2e-10.
const RF_SIN_S_F32: [f64; 3] = [
    -0.16666654463346037,
    0.008332151331825514,
    -0.00019513979985790486,
];
const RF_COS_C_F32: [f64; 3] = [
    0.04166664542531281,
    -0.0013887303459693798,
    2.4431668189599626e-05,
];

// ----------------------------------------------------------------- helpers --

/// Error-free sum: s + e == a + b exactly (s = fl(a + b)).
#[inline(always)]
fn rf_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Error-free sum for |a| >= |b| (or a == 0).
#[inline(always)]
fn rf_fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, (a - s) + b)
}

#[inline(always)]
fn rf_two_sum_f32(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

#[inline(always)]
fn rf_fast_two_sum_f32(a: f32, b: f32) -> (f32, f32) {
    let s = a + b;
    (s, (a - s) + b)
}

/// a * b + c: one fused multiply-add when RF_FMA is set (the includer sets it
/// only where the target has FMA), two rounded operations otherwise -- never
/// the slow libm fma() call that f64::mul_add becomes without FMA hardware.
/// Used in polynomial evaluation, whose accuracy is verified both ways.
#[inline(always)]
fn rf_mla(a: f64, b: f64, c: f64) -> f64 {
    if RF_FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn rf_mla_f32(a: f32, b: f32, c: f32) -> f32 {
    if RF_FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Exact rounding error of a product: a * b == p + e for p = fl(a * b)
/// (barring overflow/underflow).  With FMA hardware this is one fused
/// multiply-add; otherwise Dekker's splitting.  Both give the same e, so the
/// results do not depend on the target.
#[inline(always)]
fn rf_prod_err(a: f64, b: f64, p: f64) -> f64 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, -p)
    } else {
        let ca = a * 134_217_729.0; // 2^27 + 1
        let ah = ca - (ca - a);
        let al = a - ah;
        let cb = b * 134_217_729.0;
        let bh = cb - (cb - b);
        let bl = b - bh;
        ((ah * bh - p) + ah * bl + al * bh) + al * bl
    }
}

#[inline(always)]
fn rf_prod_err_f32(a: f32, b: f32, p: f32) -> f32 {
    if cfg!(target_feature = "fma") {
        a.mul_add(b, -p)
    } else {
        let ca = a * 4097.0; // 2^12 + 1
        let ah = ca - (ca - a);
        let al = a - ah;
        let cb = b * 4097.0;
        let bh = cb - (cb - b);
        let bl = b - bh;
        ((ah * bh - p) + ah * bl + al * bh) + al * bl
    }
}

/// (n + nl) / (d + dl) for |nl| << |n|, |dl| << |d|: the rounded quotient
/// plus a correction computed from the exact division residual, so that the
/// result is within about half an ulp (plus the error of the inputs).
#[inline(always)]
fn rf_div_dd(n: f64, nl: f64, d: f64, dl: f64) -> f64 {
    let q = n / d;
    let p = q * d;
    let rho = (n - p) - rf_prod_err(q, d, p); // n - q d, exactly
    q + ((rho + nl) - q * dl) / d
}

#[inline(always)]
fn rf_div_dd_f32(n: f32, nl: f32, d: f32, dl: f32) -> f32 {
    let q = n / d;
    let p = q * d;
    let rho = (n - p) - rf_prod_err_f32(q, d, p);
    q + ((rho + nl) - q * dl) / d
}

/// Q1(r) with e^r - 1 = r + r^2 (1/2 + r Q1(r)), i.e. Q(r) = Q0 + r Q1(r).
#[inline(always)]
fn rf_exp_q1(r: f64, r2: f64) -> f64 {
    let c = &RF_EXP_Q;
    // Two interleaved Horner chains in r^2 (shorter dependency chain).
    let even = rf_mla(
        r2,
        rf_mla(r2, rf_mla(r2, rf_mla(r2, c[9], c[7]), c[5]), c[3]),
        c[1],
    );
    let odd = rf_mla(
        r2,
        rf_mla(r2, rf_mla(r2, rf_mla(r2, c[10], c[8]), c[6]), c[4]),
        c[2],
    );
    rf_mla(r, odd, even)
}

#[inline(always)]
fn rf_exp_q1_f32(r: f32) -> f32 {
    let c = &RF_EXP_Q_F32;
    rf_mla_f32(r, rf_mla_f32(r, rf_mla_f32(r, c[4], c[3]), c[2]), c[1])
}

/// Reduction shared by exp and expm1: returns (r, c, t) with
/// x = n ln2 + r + c (|c| <= ulp(r)/2) and t = n + RF_MAGIC.
#[inline(always)]
fn rf_exp_reduce(x: f64) -> (f64, f64, f64) {
    let t = x * core::f64::consts::LOG2_E + RF_MAGIC;
    let n = t - RF_MAGIC;
    let rh = x - n * RF_LN2_1; // exact
    let rl = n * -RF_LN2_2;
    let r = rh + rl;
    (r, (rh - r) + rl, t)
}

#[inline(always)]
fn rf_exp_reduce_f32(x: f32) -> (f32, f32, f32) {
    let t = x * core::f32::consts::LOG2_E + RF_MAGIC_F32;
    let n = t - RF_MAGIC_F32;
    let rh = x - n * RF_LN2_F32_1; // exact
    let rl = n * -RF_LN2_F32_2;
    let r = rh + rl;
    (r, (rh - r) + rl, t)
}

/// e^x as an unevaluated sum hi + lo (hi = rf_exp(x); lo is meaningful for
/// normal results only).
#[inline(always)]
fn rf_exp_dd(x: f64) -> (f64, f64) {
    // Clamp (NaN passes through: both comparisons are false).
    let x = if x > 709.9 { 709.9 } else { x };
    let x = if x < -746.0 { -746.0 } else { x };
    let (r, c, t) = rf_exp_reduce(x);
    // e^(r + c) = 1 + r + [r^2 Q(r) + c (1 + r)]
    let r2 = r * r;
    let tail = rf_mla(
        r2,
        rf_mla(r, rf_exp_q1(r, r2), RF_EXP_Q[0]),
        rf_mla(c, r, c),
    );
    let (s, e) = rf_fast_two_sum(1.0, r);
    let v = e + tail;
    let y = s + v;
    let ylo = (s - y) + v;
    // 2^n = 2^n1 * 2^n2, n1 = floor(n/2): covers n in [-1077, 1025].
    let kb = t.to_bits().wrapping_sub(RF_MAGIC_BITS).wrapping_add(2048); // n + 2048
    let e1 = (kb >> 1).wrapping_sub(1); // n1 + 1023
    let e2 = kb.wrapping_sub(e1).wrapping_sub(2); // n - n1 + 1023
    let s1 = f64::from_bits(e1 << 52);
    let s2 = f64::from_bits(e2 << 52);
    (y * s1 * s2, ylo * s1 * s2)
}

#[inline(always)]
fn rf_exp_dd_f32(x: f32) -> (f32, f32) {
    let x = if x > 89.0 { 89.0 } else { x };
    let x = if x < -104.0 { -104.0 } else { x };
    let (r, c, t) = rf_exp_reduce_f32(x);
    let tail = rf_mla_f32(
        r * r,
        rf_mla_f32(r, rf_exp_q1_f32(r), RF_EXP_Q_F32[0]),
        rf_mla_f32(c, r, c),
    );
    let (s, e) = rf_fast_two_sum_f32(1.0, r);
    let v = e + tail;
    let y = s + v;
    let ylo = (s - y) + v;
    let kb = t
        .to_bits()
        .wrapping_sub(RF_MAGIC_F32_BITS)
        .wrapping_add(256); // n + 256
    let e1 = (kb >> 1).wrapping_sub(1);
    let e2 = kb.wrapping_sub(e1).wrapping_sub(2);
    let s1 = f32::from_bits(e1 << 23);
    let s2 = f32::from_bits(e2 << 23);
    (y * s1 * s2, ylo * s1 * s2)
}

/// e^x - 1 as an unevaluated sum hi + lo.
#[inline(always)]
fn rf_expm1_dd(x: f64) -> (f64, f64) {
    let x = if x > 710.0 { 710.0 } else { x };
    let x = if x < -40.0 { -40.0 } else { x };
    let (r, c, t) = rf_exp_reduce(x);
    // e^(r + c) - 1 = r + r^2/2 + small; r^2 = r2 + r2e exactly (Q0 is
    // exactly 1/2 here).
    let r2 = r * r;
    let r2e = rf_prod_err(r, r, r2);
    let small = rf_mla(
        r2 * r,
        rf_exp_q1(r, r2),
        rf_mla(RF_EXP_Q[0], r2e, rf_mla(c, r, c)),
    );
    // e^x - 1 = 2^m (2^(n-m) (1 + r + r^2/2 + small) - 2^-m), m = 1 only for
    // n = 1024; the big terms are summed error-free.
    let big = (t - RF_MAGIC > 1023.0) as u64;
    let nb = t
        .to_bits()
        .wrapping_sub(RF_MAGIC_BITS)
        .wrapping_add(1023)
        .wrapping_sub(big);
    let s = f64::from_bits(nb << 52);
    let one = f64::from_bits((1023 - big) << 52);
    let fac = f64::from_bits((1023 + big) << 52);
    let (a, ae) = rf_two_sum(s, -one);
    let (h, he) = rf_two_sum(a, s * r);
    let (h, he2) = rf_two_sum(h, s * (RF_EXP_Q[0] * r2));
    let v = (he + he2) + (ae + s * small);
    let hi = h + v;
    let lo = (h - hi) + v;
    (hi * fac, lo * fac)
}

#[inline(always)]
fn rf_expm1_dd_f32(x: f32) -> (f32, f32) {
    let x = if x > 89.0 { 89.0 } else { x };
    let x = if x < -20.0 { -20.0 } else { x };
    let (r, c, t) = rf_exp_reduce_f32(x);
    // As in rf_expm1_dd, with (Q0 - 1/2) r^2 moved into the small part.
    let r2 = r * r;
    let r2e = rf_prod_err_f32(r, r, r2);
    let small = rf_mla_f32(
        r2 * r,
        rf_exp_q1_f32(r),
        rf_mla_f32(
            0.5,
            r2e,
            rf_mla_f32(RF_EXP_Q_F32[0] - 0.5, r2, rf_mla_f32(c, r, c)),
        ),
    );
    let big = (t - RF_MAGIC_F32 > 127.0) as u32;
    let nb = t
        .to_bits()
        .wrapping_sub(RF_MAGIC_F32_BITS)
        .wrapping_add(127)
        .wrapping_sub(big);
    let s = f32::from_bits(nb << 23);
    let one = f32::from_bits((127 - big) << 23);
    let fac = f32::from_bits((127 + big) << 23);
    let (a, ae) = rf_two_sum_f32(s, -one);
    let (h, he) = rf_two_sum_f32(a, s * r);
    let (h, he2) = rf_two_sum_f32(h, s * (0.5 * r2));
    let v = (he + he2) + (ae + s * small);
    let hi = h + v;
    let lo = (h - hi) + v;
    (hi * fac, lo * fac)
}

/// Reduction for sin/cos: |x| = n pi/2 + rh + rl; returns (rh, rl, bits of
/// n + RF_MAGIC, whose low two bits are n mod 4).
#[inline(always)]
fn rf_trig_reduce(x: f64) -> (f64, f64, u64) {
    let ax = x.abs();
    let t = ax * core::f64::consts::FRAC_2_PI + RF_MAGIC;
    let n = t - RF_MAGIC;
    let r1 = ax - n * RF_PIO2_1; // exact for n < 2^20
    let (a, ea) = rf_two_sum(r1, n * -RF_PIO2_2);
    let (b, eb) = rf_two_sum(a, n * -RF_PIO2_3);
    let rl = (ea + eb) - n * RF_PIO2_4;
    let rh = if b > RF_TRIG_RMAX { RF_TRIG_RMAX } else { b };
    let rh = if rh < -RF_TRIG_RMAX {
        -RF_TRIG_RMAX
    } else {
        rh
    };
    let rl = if ax > RF_TRIG_HUGE { 0.0 } else { rl };
    (rh, rl, t.to_bits())
}

/// sin(rh + rl) for |rh| <= pi/4.
#[inline(always)]
fn rf_sin_poly(rh: f64, rl: f64, z: f64) -> f64 {
    let c = &RF_SIN_S;
    let z2 = z * z;
    let even = rf_mla(z2, rf_mla(z2, rf_mla(z2, c[6], c[4]), c[2]), c[0]);
    let odd = rf_mla(z2, rf_mla(z2, c[5], c[3]), c[1]);
    let s = rf_mla(z, odd, even);
    rh + rf_mla(rh * z, s, rl * (1.0 - 0.5 * z))
}

/// cos(rh + rl) for |rh| <= pi/4.
#[inline(always)]
fn rf_cos_poly(rh: f64, rl: f64, z: f64) -> f64 {
    let c = &RF_COS_C;
    let z2 = z * z;
    let even = rf_mla(z2, rf_mla(z2, c[4], c[2]), c[0]);
    let odd = rf_mla(z2, rf_mla(z2, c[5], c[3]), c[1]);
    let p = rf_mla(z, odd, even);
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + rf_mla(z2, p, -(rh * rl)))
}

/// Reduction for the f32 sin/cos, in f64: returns (r, bits of n + RF_MAGIC).
#[inline(always)]
fn rf_trig_reduce_f32(x: f32) -> (f64, u64) {
    let ax = f64::from(x).abs();
    let t = ax * core::f64::consts::FRAC_2_PI + RF_MAGIC;
    let n = t - RF_MAGIC;
    let r = ((ax - n * RF_PIO2_1) - n * RF_PIO2_2) - n * RF_PIO2_F32_3;
    let r = if r > RF_TRIG_RMAX { RF_TRIG_RMAX } else { r };
    let r = if r < -RF_TRIG_RMAX { -RF_TRIG_RMAX } else { r };
    (r, t.to_bits())
}

#[inline(always)]
fn rf_sin_poly_f32(r: f64, z: f64) -> f64 {
    let c = &RF_SIN_S_F32;
    rf_mla(r * z, rf_mla(z, rf_mla(z, c[2], c[1]), c[0]), r)
}

#[inline(always)]
fn rf_cos_poly_f32(z: f64) -> f64 {
    let c = &RF_COS_C_F32;
    rf_mla(z * z, rf_mla(z, rf_mla(z, c[2], c[1]), c[0]), 1.0 - 0.5 * z)
}

// -------------------------------------------------------------- f64 API --

/// e^x.  Max relative error < 4e-16 where the result is normal; +inf above
/// 709.78, gradual underflow to +0 below -708.4, NaN propagates.
#[inline(always)]
pub fn rf_exp(x: f64) -> f64 {
    rf_exp_dd(x).0
}

/// e^x - 1, accurate near 0 (max relative error < 4e-16 for all x; -1 below
/// -37.4, +inf above 709.78, keeps the sign of -0).
#[inline(always)]
pub fn rf_expm1(x: f64) -> f64 {
    let y = rf_expm1_dd(x).0;
    if x == 0.0 { x } else { y }
}

/// Natural logarithm.  Max relative error < 4e-16 for all positive x
/// (subnormals included); log(0) = -inf, log(x < 0) = NaN, log(inf) = inf.
#[inline(always)]
pub fn rf_log(x: f64) -> f64 {
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x }; // 2^54
    let u = xs
        .to_bits()
        .wrapping_add(0x3FF0_0000_0000_0000 - RF_SQRT1_2_BITS);
    let m = f64::from_bits((u & 0x000F_FFFF_FFFF_FFFF).wrapping_add(RF_SQRT1_2_BITS));
    // k = (u >> 52) - 1023, converted exactly through the exponent trick.
    let k = f64::from_bits(0x4330_0000_0000_0000 | (u >> 52)) - 4_503_599_627_371_519.0;
    let k = if sub { k - 54.0 } else { k };
    let f = m - 1.0; // exact, f in [-0.293, 0.415)
    let s = f / (2.0 + f);
    let z = s * s;
    let c = &RF_LOG_R;
    let z2 = z * z;
    let even = rf_mla(z2, rf_mla(z2, rf_mla(z2, c[6], c[4]), c[2]), c[0]);
    let odd = rf_mla(z2, rf_mla(z2, c[5], c[3]), c[1]);
    let r = z * rf_mla(z, odd, even);
    let hfsq = 0.5 * f * f;
    let lo = hfsq - rf_mla(s, hfsq + r, k * RF_LN2_2);
    let (h, e) = rf_two_sum(k * RF_LN2_1, f);
    let y = h + (e - lo);
    let y = if x == f64::INFINITY { x } else { y };
    if x > 0.0 {
        y
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else {
        f64::NAN
    }
}

/// Hyperbolic tangent.  Max relative error < 4e-16 for all x (including tiny
/// and subnormal x); exactly +-1 for |x| >= 20.
#[inline(always)]
pub fn rf_tanh(x: f64) -> f64 {
    let a = x.abs();
    let a = if a > 20.0 { 20.0 } else { a };
    let (m, ml) = rf_expm1_dd(a + a);
    let (d, de) = rf_two_sum(m, 2.0);
    rf_div_dd(m, ml, d, de + ml).copysign(x)
}

/// Logistic sigmoid 1 / (1 + e^-x).  Max relative error < 4e-16 where the
/// result is normal (x >= -708.39); exactly 1 for x >= 37.5, 0 for x < -745.2.
#[inline(always)]
pub fn rf_sigmoid(x: f64) -> f64 {
    let (e, el) = rf_exp_dd(-x.abs());
    let (d, de) = rf_fast_two_sum(1.0, e);
    let neg = x < 0.0;
    let num = if neg { e } else { 1.0 };
    let numl = if neg { el } else { 0.0 };
    rf_div_dd(num, numl, d, de + el)
}

/// Sine.  Max relative error < 4e-16 for |x| <= 1.6e6; see the header for
/// larger |x|.
#[inline(always)]
pub fn rf_sin(x: f64) -> f64 {
    let (rh, rl, q) = rf_trig_reduce(x);
    let z = rh * rh;
    let sp = rf_sin_poly(rh, rl, z);
    let cp = rf_cos_poly(rh, rl, z);
    let v = if q & 1 == 0 { sp } else { cp };
    let sign = ((q & 2) << 62) ^ (x.to_bits() & 0x8000_0000_0000_0000);
    f64::from_bits(v.to_bits() ^ sign)
}

/// Cosine.  Max relative error < 4e-16 for |x| <= 1.6e6; see the header for
/// larger |x|.
#[inline(always)]
pub fn rf_cos(x: f64) -> f64 {
    let (rh, rl, q) = rf_trig_reduce(x);
    let z = rh * rh;
    let sp = rf_sin_poly(rh, rl, z);
    let cp = rf_cos_poly(rh, rl, z);
    let v = if q & 1 == 0 { cp } else { sp };
    let sign = (q.wrapping_add(1) & 2) << 62;
    f64::from_bits(v.to_bits() ^ sign)
}

// -------------------------------------------------------------- f32 API --

/// e^x in f32 (max error about 1 ulp where the result is normal).
#[inline(always)]
pub fn rf_exp_f32(x: f32) -> f32 {
    rf_exp_dd_f32(x).0
}

/// e^x - 1 in f32.
#[inline(always)]
pub fn rf_expm1_f32(x: f32) -> f32 {
    let y = rf_expm1_dd_f32(x).0;
    if x == 0.0 { x } else { y }
}

/// Natural logarithm in f32 (subnormals included).
#[inline(always)]
pub fn rf_log_f32(x: f32) -> f32 {
    let sub = x < f32::MIN_POSITIVE;
    let xs = if sub { x * 16_777_216.0 } else { x }; // 2^24
    let u = xs.to_bits().wrapping_add(0x3F80_0000 - RF_SQRT1_2_F32_BITS);
    let m = f32::from_bits((u & 0x007F_FFFF).wrapping_add(RF_SQRT1_2_F32_BITS));
    let k = f32::from_bits(0x4B00_0000 | (u >> 23)) - 8_388_735.0; // (u >> 23) - 127
    let k = if sub { k - 24.0 } else { k };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let c = &RF_LOG_R_F32;
    let r = z * rf_mla_f32(z, rf_mla_f32(z, c[2], c[1]), c[0]);
    let hfsq = 0.5 * f * f;
    let lo = hfsq - rf_mla_f32(s, hfsq + r, k * RF_LN2_F32_2);
    let (h, e) = rf_two_sum_f32(k * RF_LN2_F32_1, f);
    let y = h + (e - lo);
    let y = if x == f32::INFINITY { x } else { y };
    if x > 0.0 {
        y
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else {
        f32::NAN
    }
}

/// Hyperbolic tangent in f32.
#[inline(always)]
pub fn rf_tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let a = if a > 10.0 { 10.0 } else { a };
    let (m, ml) = rf_expm1_dd_f32(a + a);
    let (d, de) = rf_two_sum_f32(m, 2.0);
    rf_div_dd_f32(m, ml, d, de + ml).copysign(x)
}

/// Logistic sigmoid in f32.
#[inline(always)]
pub fn rf_sigmoid_f32(x: f32) -> f32 {
    let (e, el) = rf_exp_dd_f32(-x.abs());
    let (d, de) = rf_fast_two_sum_f32(1.0, e);
    let neg = x < 0.0;
    let num = if neg { e } else { 1.0 };
    let numl = if neg { el } else { 0.0 };
    rf_div_dd_f32(num, numl, d, de + el)
}

/// Sine in f32 (computed in f64, rounded once); |x| <= 1.6e6 for the bound.
#[inline(always)]
pub fn rf_sin_f32(x: f32) -> f32 {
    let (r, q) = rf_trig_reduce_f32(x);
    let z = r * r;
    let v = if q & 1 == 0 {
        rf_sin_poly_f32(r, z)
    } else {
        rf_cos_poly_f32(z)
    };
    let sign = ((q & 2) << 62) ^ (u64::from(x.to_bits() & 0x8000_0000) << 32);
    f64::from_bits(v.to_bits() ^ sign) as f32
}

/// Cosine in f32 (computed in f64, rounded once); |x| <= 1.6e6 for the bound.
#[inline(always)]
pub fn rf_cos_f32(x: f32) -> f32 {
    let (r, q) = rf_trig_reduce_f32(x);
    let z = r * r;
    let v = if q & 1 == 0 {
        rf_cos_poly_f32(z)
    } else {
        rf_sin_poly_f32(r, z)
    };
    let sign = (q.wrapping_add(1) & 2) << 62;
    f64::from_bits(v.to_bits() ^ sign) as f32
}
