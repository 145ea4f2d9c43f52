//! Tests for the vectorisable elementary functions in
//! `src/vmath/functions.rs` (the `vmath::exact` and `vmath::fused` builds).
//!
//! * Accuracy: every f64 function is compared with a double-double reference
//!   (more than 90 correct bits, independent of libm except as a starting guess
//!   for log) and the relative error against the correctly rounded value must
//!   be <= 4e-16.  f32 functions are compared with std's f64 functions (29
//!   spare bits) and must be within 2 ulp of the exact value.
//!   The samples (10^6 per function, `RF_VMATH_POINTS=N` overrides) mix
//!   uniform, log-uniform and edge-region points: near 0, subnormals, near the
//!   overflow/underflow thresholds, near multiples of ln2 and pi/2, large
//!   arguments, plus explicit special values (+-0, +-inf, NaN).
//! * Vectorisation: a lane-loop kernel is compiled with
//!   `rustc -C opt-level=3 -C target-cpu=native --emit asm` and the assembly
//!   of every lane loop must be packed SIMD with no calls.
//! * The kernels' configuration (`-C opt-level=3 -C target-cpu=native`, which
//!   turns on FMA in the polynomials and vectorises the loops) is tested by
//!   rebuilding this file that way and running all of the above there, plus a
//!   check that vectorised lane loops give bit-identical results to scalar
//!   calls.

#![allow(clippy::needless_range_loop, clippy::type_complexity)]

/// As in generated kernels built with FMA where the target has it.
const RF_FMA: bool = cfg!(target_feature = "fma");

include!("../src/vmath/functions.rs");

use std::fmt::Write as _;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const VMATH_SRC: &str = include_str!("../src/vmath/functions.rs");

// ===================================================== double-double reference

#[derive(Clone, Copy, Debug)]
struct Dd {
    hi: f64,
    lo: f64,
}

fn dd(x: f64) -> Dd {
    Dd { hi: x, lo: 0.0 }
}

fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd {
        hi: s,
        lo: (a - (s - bb)) + (b - bb),
    }
}

fn fast_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: (a - s) + b,
    }
}

fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    Dd {
        hi: p,
        lo: a.mul_add(b, -p),
    }
}

impl Add for Dd {
    type Output = Dd;
    fn add(self, o: Dd) -> Dd {
        let s = two_sum(self.hi, o.hi);
        let t = two_sum(self.lo, o.lo);
        let u = fast_two_sum(s.hi, s.lo + t.hi);
        fast_two_sum(u.hi, u.lo + t.lo)
    }
}

impl Neg for Dd {
    type Output = Dd;
    fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

impl Sub for Dd {
    type Output = Dd;
    fn sub(self, o: Dd) -> Dd {
        self + (-o)
    }
}

impl Mul for Dd {
    type Output = Dd;
    fn mul(self, o: Dd) -> Dd {
        let p = two_prod(self.hi, o.hi);
        fast_two_sum(p.hi, p.lo + (self.hi * o.lo + self.lo * o.hi))
    }
}

impl Div for Dd {
    type Output = Dd;
    fn div(self, o: Dd) -> Dd {
        let q1 = self.hi / o.hi;
        let r = self - o * dd(q1);
        let q2 = r.hi / o.hi;
        let r = r - o * dd(q2);
        let q3 = r.hi / o.hi;
        fast_two_sum(q1, q2) + dd(q3)
    }
}

impl Dd {
    /// Multiply by an exact power of two.
    fn scale(self, s: f64) -> Dd {
        Dd {
            hi: self.hi * s,
            lo: self.lo * s,
        }
    }
}

fn pow2(k: i32) -> f64 {
    assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

// ln2 and pi/2 as sums of three doubles (from mpmath).
const LN2_A: f64 = std::f64::consts::LN_2;
const LN2_B: f64 = 2.3190468138462996e-17;
const LN2_C: f64 = 5.707708438416212e-34;
const PIO2_A: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_B: f64 = 6.123233995736766e-17;
const PIO2_C: f64 = -1.4973849048591698e-33;

/// 1/k! for k = 0..=30 as double-doubles.
fn inv_fact() -> &'static [Dd] {
    static T: OnceLock<Vec<Dd>> = OnceLock::new();
    T.get_or_init(|| {
        let mut v = vec![dd(1.0)];
        for k in 1..=30 {
            let prev = v[k - 1];
            v.push(prev / dd(k as f64));
        }
        v
    })
}

/// 1/k for k = 0..=30 (entry 0 unused).
fn inv_int() -> &'static [Dd] {
    static T: OnceLock<Vec<Dd>> = OnceLock::new();
    T.get_or_init(|| {
        (0..=30)
            .map(|k| {
                if k == 0 {
                    dd(0.0)
                } else {
                    dd(1.0) / dd(k as f64)
                }
            })
            .collect()
    })
}

/// e^x = 2^k (1 + m) with |x - k ln2| <= ln2/2; valid for |x| < 1000.
fn dd_exp_parts(x: f64) -> (i32, Dd) {
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = dd(x) - two_prod(k, LN2_A) - two_prod(k, LN2_B) - dd(k * LN2_C);
    let s = r.scale(1.0 / 1024.0);
    let f = inv_fact();
    // expm1(s) = s * sum_{j>=1} s^(j-1)/j!, |s| < 3.4e-4, 8 terms
    let mut p = f[8];
    for j in (1..8).rev() {
        p = p * s + f[j];
    }
    let mut m = p * s;
    for _ in 0..10 {
        m = m * (m + dd(2.0));
    }
    (k as i32, m)
}

/// e^x for results in the normal range (or a little below).
fn dd_exp(x: f64) -> Dd {
    let (k, m) = dd_exp_parts(x);
    let y = dd(1.0) + m;
    let k1 = k / 2;
    y.scale(pow2(k1)).scale(pow2(k - k1))
}

/// e^x - 1 for -745 < x < 709.
fn dd_expm1(x: f64) -> Dd {
    if x.abs() < 1e-5 {
        let f = inv_fact();
        let mut p = f[9];
        for j in (1..9).rev() {
            p = p * dd(x) + f[j];
        }
        return p * dd(x);
    }
    let (k, m) = dd_exp_parts(x);
    if k > 1000 {
        return dd_exp(x) - dd(1.0);
    }
    let s = pow2(k);
    two_sum(s, -1.0) + m.scale(s)
}

/// ln x for positive normal or subnormal x.
fn dd_log(x: f64) -> Dd {
    let d = x - 1.0;
    if d.abs() < 1.0 / 32.0 {
        // log1p(d) = d * sum_{j=1..22} (-1)^(j+1) d^(j-1) / j, |d| < 2^-5
        let inv = inv_int();
        let mut p = -inv[22];
        for j in (1..22).rev() {
            let c = if j % 2 == 1 { inv[j] } else { -inv[j] };
            p = p * dd(d) + c;
        }
        return p * dd(d);
    }
    let (xs, e) = if x < 1e-150 {
        (x * pow2(600), -600.0)
    } else if x > 1e150 {
        (x * pow2(-600), 600.0)
    } else {
        (x, 0.0)
    };
    let y0 = xs.ln();
    let t = dd_exp(-y0) * dd(xs) - dd(1.0);
    let y = dd(y0) + t - (t * t).scale(0.5);
    y + Dd {
        hi: LN2_A,
        lo: LN2_B,
    } * dd(e)
}

/// (sin x, cos x) for |x| < 2^21 (the reduction needs k*pi/2 exactly).
fn dd_sin_cos(x: f64) -> (Dd, Dd) {
    let k = (x * std::f64::consts::FRAC_2_PI).round();
    let r = dd(x) - two_prod(k, PIO2_A) - two_prod(k, PIO2_B) - dd(k * PIO2_C);
    let z = r * r;
    let f = inv_fact();
    // sin r = r sum_{j=0..13} (-1)^j z^j / (2j+1)!, cos r = sum (-1)^j z^j / (2j)!
    let mut s = -f[27];
    let mut c = -f[26];
    for j in (0..13).rev() {
        let (fs, fc) = if j % 2 == 0 {
            (f[2 * j + 1], f[2 * j])
        } else {
            (-f[2 * j + 1], -f[2 * j])
        };
        s = s * z + fs;
        c = c * z + fc;
    }
    let s = s * r;
    match (k as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

fn dd_tanh(x: f64) -> Dd {
    let a = x.abs();
    let t = if a >= 40.0 {
        dd(1.0)
    } else if a < 1e-5 {
        // a - a^3/3 + 2 a^5/15 - 17 a^7/315
        let a2 = dd(a) * dd(a);
        let p = dd(-17.0) / dd(315.0);
        let p = p * a2 + dd(2.0) / dd(15.0);
        let p = p * a2 + dd(-1.0) / dd(3.0);
        let p = p * a2 + dd(1.0);
        p * dd(a)
    } else {
        let m = dd_expm1(2.0 * a);
        m / (m + dd(2.0))
    };
    if x < 0.0 { -t } else { t }
}

fn dd_sigmoid(x: f64) -> Dd {
    let e = dd_exp(-x.abs());
    let d = dd(1.0) + e;
    if x < 0.0 { e / d } else { dd(1.0) / d }
}

// ================================================================== sampling

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
    fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    fn sign(&mut self) -> f64 {
        if self.next() & 1 == 0 { 1.0 } else { -1.0 }
    }
    /// Random double with unbiased exponent in [e0, e1] (e = -1023 gives
    /// subnormals) and a random mantissa: log-uniform magnitudes.
    fn binades(&mut self, e0: i64, e1: i64) -> f64 {
        let e = self.int(e0, e1) + 1023;
        f64::from_bits(((e as u64) << 52) | (self.next() >> 12))
    }
    /// Move x by a random number of ulps in [-n, n].
    fn jitter(&mut self, x: f64, n: i64) -> f64 {
        let j = self.int(-n, n);
        f64::from_bits((x.to_bits() as i64 + j) as u64)
    }
}

fn points_f64() -> usize {
    if let Ok(v) = std::env::var("RF_VMATH_POINTS") {
        return v.parse().expect("RF_VMATH_POINTS");
    }
    1_000_000
}

fn points_f32() -> usize {
    if let Ok(v) = std::env::var("RF_VMATH_POINTS") {
        return v.parse().expect("RF_VMATH_POINTS");
    }
    1_000_000
}

// ============================================================ error checking

fn ulp64(y: f64) -> f64 {
    let y = y.abs();
    if y < f64::MIN_POSITIVE {
        return f64::from_bits(1);
    }
    f64::from_bits(y.to_bits() & 0x7FF0_0000_0000_0000) * f64::EPSILON
}

fn ulp32(y: f64) -> f64 {
    let y = y.abs() as f32;
    let e = if y < f32::MIN_POSITIVE {
        f32::MIN_POSITIVE
    } else {
        f32::from_bits(y.to_bits() & 0x7F80_0000)
    };
    f64::from(e) * f64::from(f32::EPSILON)
}

#[derive(Debug, Default)]
struct Stats {
    n: usize,
    /// max |got - cr| / |cr|, cr = correctly rounded reference
    max_rel: f64,
    rel_at: f64,
    rel_got: f64,
    rel_ref: f64,
    /// max |got - exact| in ulps of the exact value
    max_ulp: f64,
    ulp_at: f64,
}

impl Stats {
    fn add64(&mut self, x: f64, got: f64, r: Dd) {
        self.n += 1;
        let cr = r.hi; // r is normalised, so hi is the correctly rounded value
        let rel = if got == cr {
            0.0
        } else {
            ((got - cr) / cr).abs()
        };
        // (below 1e-289 the low part of the reference may have lost bits to
        // underflow, so only the comparison with hi, which is still the
        // correctly rounded value, is meaningful there)
        let ulp = if r.hi.abs() < 1e-289 {
            0.0
        } else {
            (((got - r.hi) - r.lo) / ulp64(r.hi)).abs()
        };
        if rel > self.max_rel || rel.is_nan() {
            self.max_rel = rel;
            self.rel_at = x;
            self.rel_got = got;
            self.rel_ref = cr;
        }
        if ulp > self.max_ulp {
            self.max_ulp = ulp;
            self.ulp_at = x;
        }
    }
    fn add32(&mut self, x: f32, got: f32, exact: f64) {
        self.n += 1;
        let g = f64::from(got);
        let cr = exact as f32;
        let rel = if got == cr {
            0.0
        } else {
            ((g - f64::from(cr)) / f64::from(cr)).abs()
        };
        let ulp = ((g - exact) / ulp32(exact)).abs();
        if rel > self.max_rel || rel.is_nan() {
            self.max_rel = rel;
            self.rel_at = f64::from(x);
            self.rel_got = g;
            self.rel_ref = f64::from(cr);
        }
        if ulp > self.max_ulp || ulp.is_nan() {
            self.max_ulp = ulp;
            self.ulp_at = f64::from(x);
        }
    }
    fn report(&self, name: &str) -> String {
        format!(
            "{name}: {} points, max rel err vs correctly rounded {:.3e} at x = {:e} (got {:e}, \
             ref {:e}); max err vs exact {:.3} ulp at x = {:e}",
            self.n,
            self.max_rel,
            self.rel_at,
            self.rel_got,
            self.rel_ref,
            self.max_ulp,
            self.ulp_at
        )
    }
    fn assert64(&self, name: &str, bound: f64) {
        let msg = self.report(name);
        println!("{msg}");
        assert!(self.max_rel <= bound, "{msg}: exceeds {bound:e}");
    }
    fn assert32(&self, name: &str, max_ulp: f64) {
        let msg = self.report(name);
        println!("{msg}");
        assert!(self.max_ulp <= max_ulp, "{msg}: exceeds {max_ulp} ulp");
    }
}

const F64_BOUND: f64 = 4e-16;
const F32_ULPS: f64 = 2.0;

/// Check the listed `edges` and `n` points sampled from `sample`, keep those
/// whose reference is a finite normal number, and collect error statistics.
fn sweep64(
    n: usize,
    seed: u64,
    edges: &[f64],
    sample: impl Fn(&mut Rng, usize) -> f64,
    f: fn(f64) -> f64,
    r: fn(f64) -> Dd,
) -> Stats {
    let mut rng = Rng::new(seed);
    let mut st = Stats::default();
    for i in 0..n + edges.len() {
        let x = if i < edges.len() {
            edges[i]
        } else {
            sample(&mut rng, i)
        };
        let want = r(x);
        if !want.hi.is_finite() || want.hi.abs() < f64::MIN_POSITIVE {
            continue;
        }
        st.add64(x, f(x), want);
    }
    st
}

fn sweep32(
    n: usize,
    seed: u64,
    edges: &[f32],
    sample: impl Fn(&mut Rng, usize) -> f32,
    f: fn(f32) -> f32,
    r: fn(f64) -> f64,
) -> Stats {
    let mut rng = Rng::new(seed);
    let mut st = Stats::default();
    for i in 0..n + edges.len() {
        let x = if i < edges.len() {
            edges[i]
        } else {
            sample(&mut rng, i)
        };
        let want = r(f64::from(x));
        if !want.is_finite()
            || want.abs() < f64::from(f32::MIN_POSITIVE)
            || want.abs() > f64::from(f32::MAX)
        {
            continue;
        }
        st.add32(x, f(x), want);
    }
    st
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn same32(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn check_specials64(name: &str, f: fn(f64) -> f64, cases: &[(f64, f64)]) {
    for &(x, want) in cases {
        let got = f(x);
        assert!(
            same(got, want),
            "{name}({x:e}) = {got:e} ({:#x}), want {want:e} ({:#x})",
            got.to_bits(),
            want.to_bits()
        );
    }
}

fn check_specials32(name: &str, f: fn(f32) -> f32, cases: &[(f32, f32)]) {
    for &(x, want) in cases {
        let got = f(x);
        assert!(
            same32(got, want),
            "{name}({x:e}) = {got:e} ({:#x}), want {want:e} ({:#x})",
            got.to_bits(),
            want.to_bits()
        );
    }
}

/// f(x) == want exactly (saturation) for x sampled in [lo, hi].
fn check_saturation64(name: &str, f: fn(f64) -> f64, lo: f64, hi: f64, want: f64) {
    let mut g = Rng::new(lo.to_bits() ^ hi.to_bits());
    for i in 0..20_000 {
        let x = if i == 0 { lo } else { g.uniform(lo, hi) };
        assert!(
            same(f(x), want),
            "{name}({x:e}) = {:e}, want {want:e}",
            f(x)
        );
    }
}

fn check_saturation32(name: &str, f: fn(f32) -> f32, lo: f32, hi: f32, want: f32) {
    let mut g = Rng::new(u64::from(lo.to_bits() ^ hi.to_bits()));
    for i in 0..20_000 {
        let x = if i == 0 {
            lo
        } else {
            g.uniform(f64::from(lo), f64::from(hi)) as f32
        };
        assert!(
            same32(f(x), want),
            "{name}({x:e}) = {:e}, want {want:e}",
            f(x)
        );
    }
}

// Thresholds.
const EXP_MAX_X: f64 = 709.782712893384; // largest x with finite e^x
const EXP_MIN_NORMAL_X: f64 = -708.3964185322641; // e^x >= 2^-1022 just above

// ============================================================ f64 accuracy

#[test]
fn exp_f64_accuracy() {
    let st = sweep64(
        points_f64(),
        1,
        &[
            1.0,
            -1.0,
            EXP_MAX_X,
            EXP_MIN_NORMAL_X,
            0.5,
            1e-10,
            -1e-10,
            700.0,
            -700.0,
            2.0f64.ln(),
            0.34657359027997264,
        ],
        |g, i| match i % 10 {
            0..=3 => g.uniform(EXP_MIN_NORMAL_X, EXP_MAX_X),
            4 | 5 => g.uniform(-1.0, 1.0),
            6 => g.sign() * g.binades(-1023, -1),
            7 => {
                if g.next() & 1 == 0 {
                    g.uniform(700.0, EXP_MAX_X)
                } else {
                    g.uniform(EXP_MIN_NORMAL_X, -700.0)
                }
            }
            // near k ln2 and (k + 1/2) ln2: reduction boundaries
            _ => {
                let k = g.int(-1021, 1023) as f64 + if i % 10 == 9 { 0.5 } else { 0.0 };
                g.jitter(
                    (dd(k)
                        * Dd {
                            hi: LN2_A,
                            lo: LN2_B,
                        })
                    .hi,
                    4,
                )
            }
        },
        rf_exp,
        dd_exp,
    );
    st.assert64("rf_exp", F64_BOUND);
}

#[test]
fn exp_f64_specials_and_subnormal_results() {
    check_specials64(
        "rf_exp",
        rf_exp,
        &[
            (0.0, 1.0),
            (-0.0, 1.0),
            (f64::INFINITY, f64::INFINITY),
            (f64::NEG_INFINITY, 0.0),
            (f64::NAN, f64::NAN),
            (EXP_MAX_X, 1.7976931348622732e308),
            (f64::from_bits(EXP_MAX_X.to_bits() + 1), f64::INFINITY),
            (710.0, f64::INFINITY),
            (1e300, f64::INFINITY),
            (-745.2, 0.0),
            (-1e300, 0.0),
            (1e-300, 1.0),
            (-1e-300, 1.0),
        ],
    );
    // Gradual underflow: within one subnormal ulp of the exact value.
    let mut g = Rng::new(2);
    for _ in 0..20_000 {
        let x = g.uniform(-745.2, EXP_MIN_NORMAL_X);
        let (k, m) = dd_exp_parts(x);
        // exact value scaled into the normal range, then the exact product
        let want = (dd(1.0) + m).scale(pow2(k + 600));
        let got = rf_exp(x) * pow2(600);
        let err = ((got - want.hi) - want.lo).abs() / pow2(-1074 + 600);
        assert!(
            err <= 1.0,
            "rf_exp({x:e}) = {:e}: {err} subnormal ulps off",
            rf_exp(x)
        );
    }
}

#[test]
fn expm1_f64_accuracy() {
    let st = sweep64(
        points_f64(),
        3,
        &[
            EXP_MAX_X,
            1.0,
            -1.0,
            1e-10,
            -1e-10,
            0.34657359027997264,
            -0.34657359027997264,
            0.7,
            -37.0,
            40.0,
        ],
        |g, i| match i % 10 {
            0..=2 => g.uniform(-45.0, EXP_MAX_X),
            3..=5 => g.uniform(-1.0, 1.0),
            6 | 7 => g.sign() * g.binades(-1023, -1),
            _ => {
                let k = g.int(-60, 1023) as f64 + if i % 10 == 9 { 0.5 } else { 0.0 };
                g.jitter(
                    (dd(k)
                        * Dd {
                            hi: LN2_A,
                            lo: LN2_B,
                        })
                    .hi,
                    4,
                )
            }
        },
        rf_expm1,
        |x| if x < -44.0 { dd(-1.0) } else { dd_expm1(x) },
    );
    st.assert64("rf_expm1", F64_BOUND);
    check_specials64(
        "rf_expm1",
        rf_expm1,
        &[
            (0.0, 0.0),
            (-0.0, -0.0),
            (f64::INFINITY, f64::INFINITY),
            (f64::NEG_INFINITY, -1.0),
            (f64::NAN, f64::NAN),
            (-40.0, -1.0),
            (-1000.0, -1.0),
            (710.0, f64::INFINITY),
            (1e-300, 1e-300),
            (-5e-324, -5e-324),
        ],
    );
    check_saturation64("rf_expm1", rf_expm1, -1e4, -37.5, -1.0);
}

#[test]
fn log_f64_accuracy() {
    let st = sweep64(
        points_f64(),
        4,
        &[
            2.0,
            0.5,
            std::f64::consts::E,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            2.225e-308,
            1.0 + f64::EPSILON,
            1.0 - f64::EPSILON / 2.0,
            10.0,
            0.1,
            1e300,
        ],
        |g, i| match i % 20 {
            0..=7 => g.binades(-1022, 1023),
            8..=11 => g.uniform(0.5, 2.0),
            12..=14 => 1.0 + g.sign() * g.binades(-53, -4),
            15 | 16 => f64::from_bits(g.next() >> 12 | 1), // subnormal
            17 | 18 => {
                // mantissa near sqrt(1/2) (the reduction boundary)
                let m = f64::from_bits(0x3FE6_A09E_667F_3BCD);
                let p = m * pow2(g.int(-1021, 1023) as i32);
                g.jitter(p, 8)
            }
            _ => {
                let p = pow2(g.int(-1021, 1023) as i32);
                g.jitter(p, 8)
            }
        },
        rf_log,
        dd_log,
    );
    st.assert64("rf_log", F64_BOUND);
    check_specials64(
        "rf_log",
        rf_log,
        &[
            (1.0, 0.0),
            (0.0, f64::NEG_INFINITY),
            (-0.0, f64::NEG_INFINITY),
            (-1.0, f64::NAN),
            (-1e-310, f64::NAN),
            (f64::NEG_INFINITY, f64::NAN),
            (f64::INFINITY, f64::INFINITY),
            (f64::NAN, f64::NAN),
        ],
    );
}

#[test]
fn tanh_f64_accuracy() {
    let st = sweep64(
        points_f64(),
        5,
        &[
            0.5, -0.5, 0.55, 0.6, 1.0, 19.0, 19.1, 1e-8, -1e-8, 5e-324, 0.25, 0.1,
        ],
        |g, i| match i % 10 {
            0..=3 => g.uniform(-22.0, 22.0),
            4 | 5 => g.uniform(-1.0, 1.0),
            6 | 7 => g.sign() * g.binades(-1023, 0),
            _ => g.sign() * g.uniform(0.3, 0.9),
        },
        rf_tanh,
        dd_tanh,
    );
    st.assert64("rf_tanh", F64_BOUND);
    check_specials64(
        "rf_tanh",
        rf_tanh,
        &[
            (0.0, 0.0),
            (-0.0, -0.0),
            (f64::INFINITY, 1.0),
            (f64::NEG_INFINITY, -1.0),
            (f64::NAN, f64::NAN),
            (20.0, 1.0),
            (-25.0, -1.0),
            (1e300, 1.0),
            (-f64::MAX, -1.0),
            (1e-300, 1e-300),
            (-5e-324, -5e-324),
            (2.2250738585072014e-308, 2.2250738585072014e-308),
        ],
    );
    check_saturation64("rf_tanh", rf_tanh, 19.1, 1e3, 1.0);
    check_saturation64("rf_tanh", rf_tanh, -1e3, -19.1, -1.0);
}

#[test]
fn sigmoid_f64_accuracy() {
    let st = sweep64(
        points_f64(),
        6,
        &[
            1.0,
            -1.0,
            36.0,
            37.0,
            38.0,
            -36.0,
            -700.0,
            EXP_MIN_NORMAL_X,
            1e-10,
            -1e-10,
            0.5,
            -0.5,
        ],
        |g, i| match i % 10 {
            0..=3 => g.uniform(EXP_MIN_NORMAL_X, 40.0),
            4..=6 => g.uniform(-5.0, 5.0),
            7 | 8 => g.sign() * g.binades(-1023, 0),
            _ => {
                if g.next() & 1 == 0 {
                    g.uniform(EXP_MIN_NORMAL_X, -600.0)
                } else {
                    g.uniform(30.0, 40.0)
                }
            }
        },
        rf_sigmoid,
        dd_sigmoid,
    );
    st.assert64("rf_sigmoid", F64_BOUND);
    check_specials64(
        "rf_sigmoid",
        rf_sigmoid,
        &[
            (0.0, 0.5),
            (-0.0, 0.5),
            (f64::INFINITY, 1.0),
            (f64::NEG_INFINITY, 0.0),
            (f64::NAN, f64::NAN),
            (40.0, 1.0),
            (1e300, 1.0),
            (-746.0, 0.0),
            (-1e300, 0.0),
            (1e-300, 0.5),
        ],
    );
    check_saturation64("rf_sigmoid", rf_sigmoid, 37.5, 1e4, 1.0);
    // Subnormal results: within one subnormal ulp.
    let mut g = Rng::new(7);
    for _ in 0..20_000 {
        let x = g.uniform(-745.2, EXP_MIN_NORMAL_X);
        let (k, m) = dd_exp_parts(x);
        let want = (dd(1.0) + m).scale(pow2(k + 600)); // e^x / (1 + e^x) = e^x here
        let got = rf_sigmoid(x) * pow2(600);
        let err = ((got - want.hi) - want.lo).abs() / pow2(-1074 + 600);
        assert!(
            err <= 1.0,
            "rf_sigmoid({x:e}) = {:e}: {err} subnormal ulps off",
            rf_sigmoid(x)
        );
    }
}

/// Doubles nearest to k pi/2, the hardest inputs for the reduction.
fn near_pio2_multiple(g: &mut Rng, kmax: i64) -> f64 {
    let k = g.int(1, kmax) as f64;
    let x = (two_prod(k, PIO2_A) + two_prod(k, PIO2_B)).hi;
    g.sign() * g.jitter(x, 2)
}

const TRIG_MAX: f64 = 1.6e6;
const TRIG_EDGES: &[f64] = &[
    std::f64::consts::PI,
    std::f64::consts::FRAC_PI_2,
    std::f64::consts::FRAC_PI_4,
    -std::f64::consts::FRAC_PI_4,
    1.0,
    1e-8,
    1e5,
    1e6,
    1.6e6,
    6381956970095103.0 / 4294967296.0,
    355.0,
    103993.0,
];

fn trig_gen(g: &mut Rng, i: usize) -> f64 {
    match i % 8 {
        0 | 1 => g.uniform(-7.0, 7.0),
        2 => g.sign() * g.binades(-1023, 20),
        3 => g.sign() * g.binades(-30, 0),
        4 | 5 => g.uniform(-TRIG_MAX, TRIG_MAX),
        _ => near_pio2_multiple(g, 1_018_591), // k pi/2 <= 1.6e6
    }
}

#[test]
fn sin_f64_accuracy() {
    let st = sweep64(points_f64(), 8, TRIG_EDGES, trig_gen, rf_sin, |x| {
        dd_sin_cos(x).0
    });
    st.assert64("rf_sin", F64_BOUND);
}

#[test]
fn cos_f64_accuracy() {
    let st = sweep64(points_f64(), 9, TRIG_EDGES, trig_gen, rf_cos, |x| {
        dd_sin_cos(x).1
    });
    st.assert64("rf_cos", F64_BOUND);
}

#[test]
fn sin_cos_f64_specials_and_large_arguments() {
    let pio2 = std::f64::consts::FRAC_PI_2;
    check_specials64(
        "rf_sin",
        rf_sin,
        &[
            (0.0, 0.0),
            (-0.0, -0.0),
            (f64::INFINITY, f64::NAN),
            (f64::NEG_INFINITY, f64::NAN),
            (f64::NAN, f64::NAN),
            (1e-300, 1e-300),
            (-5e-324, -5e-324),
            (pio2, 1.0),
            (-pio2, -1.0),
        ],
    );
    check_specials64(
        "rf_cos",
        rf_cos,
        &[
            (0.0, 1.0),
            (-0.0, 1.0),
            (f64::INFINITY, f64::NAN),
            (f64::NEG_INFINITY, f64::NAN),
            (f64::NAN, f64::NAN),
            (1e-300, 1.0),
            (std::f64::consts::PI, -1.0),
        ],
    );
    // Every multiple k pi/2 up to 65536 quadrants (|x| ~ 1e5), exactly.
    let mut st_s = Stats::default();
    let mut st_c = Stats::default();
    for k in 1..=65_536 {
        let x = (two_prod(k as f64, PIO2_A) + two_prod(k as f64, PIO2_B)).hi;
        for x in [x, -x] {
            let (s, c) = dd_sin_cos(x);
            st_s.add64(x, rf_sin(x), s);
            st_c.add64(x, rf_cos(x), c);
        }
    }
    st_s.assert64("rf_sin near k*pi/2", F64_BOUND);
    st_c.assert64("rf_cos near k*pi/2", F64_BOUND);
    // Beyond the accurate range: still finite and within [-1, 1].
    let mut g = Rng::new(10);
    for _ in 0..100_000 {
        let x = g.sign() * g.binades(20, 1023);
        for (name, y) in [("rf_sin", rf_sin(x)), ("rf_cos", rf_cos(x))] {
            assert!(y.abs() <= 1.0, "{name}({x:e}) = {y:e} is not in [-1, 1]");
        }
    }
    // Moderately large: still close (absolute error ~ |x| 2^-53).
    for _ in 0..20_000 {
        let x = g.uniform(TRIG_MAX, 2e6);
        let (s, c) = dd_sin_cos(x);
        assert!(
            (rf_sin(x) - s.hi).abs() < 1e-9 && (rf_cos(x) - c.hi).abs() < 1e-9,
            "x = {x:e}"
        );
    }
}

// ============================================================ f32 accuracy

fn f32_from(g: &mut Rng, lo: f32, hi: f32) -> f32 {
    g.uniform(f64::from(lo), f64::from(hi)) as f32
}

/// Random f32 with unbiased exponent in [e0, e1] (-127 = subnormal).
fn f32_binades(g: &mut Rng, e0: i64, e1: i64) -> f32 {
    let e = (g.int(e0, e1) + 127) as u32;
    f32::from_bits((e << 23) | (g.next() as u32 >> 9))
}

fn sigmoid_ref64(x: f64) -> f64 {
    if x < 0.0 {
        let e = x.exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}

#[test]
fn exp_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        11,
        &[1.0, -1.0, 88.72, -87.33, 0.5],
        |g, i| match i % 6 {
            0 | 1 => f32_from(g, -87.3, 88.73),
            2 => f32_from(g, -1.0, 1.0),
            3 => (g.sign() as f32) * f32_binades(g, -127, -1),
            4 => f32_from(g, 80.0, 88.73),
            _ => f32_from(g, -87.34, -80.0),
        },
        rf_exp_f32,
        f64::exp,
    );
    st.assert32("rf_exp_f32", F32_ULPS);
    check_specials32(
        "rf_exp_f32",
        rf_exp_f32,
        &[
            (0.0, 1.0),
            (-0.0, 1.0),
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, 0.0),
            (f32::NAN, f32::NAN),
            (89.0, f32::INFINITY),
            (1e30, f32::INFINITY),
            (-104.0, 0.0),
            (-1e30, 0.0),
        ],
    );
    // subnormal results: within one subnormal ulp
    let mut g = Rng::new(12);
    for _ in 0..20_000 {
        let x = f32_from(&mut g, -103.9, -87.34);
        let want = f64::from(x).exp();
        let got = f64::from(rf_exp_f32(x));
        assert!(
            (got - want).abs() <= f64::from(f32::from_bits(1)),
            "rf_exp_f32({x:e}) = {got:e}, want {want:e}"
        );
    }
}

#[test]
fn expm1_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        13,
        &[1.0, -1.0, 1e-5, -1e-5, 88.7, -17.0],
        |g, i| match i % 4 {
            0 => f32_from(g, -20.0, 88.72),
            1 => f32_from(g, -1.0, 1.0),
            2 => (g.sign() as f32) * f32_binades(g, -127, -1),
            _ => f32_from(g, -3.0, 3.0),
        },
        rf_expm1_f32,
        f64::exp_m1,
    );
    st.assert32("rf_expm1_f32", F32_ULPS);
    check_specials32(
        "rf_expm1_f32",
        rf_expm1_f32,
        &[
            (0.0, 0.0),
            (-0.0, -0.0),
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, -1.0),
            (f32::NAN, f32::NAN),
            (-30.0, -1.0),
            (89.0, f32::INFINITY),
            (1e-40, 1e-40),
        ],
    );
    check_saturation32("rf_expm1_f32", rf_expm1_f32, -1e4, -17.4, -1.0);
}

#[test]
fn log_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        14,
        &[
            2.0,
            0.5,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            1.0 + f32::EPSILON,
        ],
        |g, i| match i % 5 {
            0 | 1 => f32_binades(g, -126, 127),
            2 => f32_from(g, 0.5, 2.0),
            3 => 1.0 + (g.sign() as f32) * f32_binades(g, -24, -4),
            _ => f32::from_bits(g.next() as u32 >> 9 | 1), // subnormal
        },
        rf_log_f32,
        f64::ln,
    );
    st.assert32("rf_log_f32", F32_ULPS);
    check_specials32(
        "rf_log_f32",
        rf_log_f32,
        &[
            (1.0, 0.0),
            (0.0, f32::NEG_INFINITY),
            (-0.0, f32::NEG_INFINITY),
            (-1.0, f32::NAN),
            (f32::NEG_INFINITY, f32::NAN),
            (f32::INFINITY, f32::INFINITY),
            (f32::NAN, f32::NAN),
        ],
    );
}

#[test]
fn tanh_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        15,
        &[0.5, 0.55, 1.0, 9.0, 1e-20],
        |g, i| match i % 4 {
            0 => f32_from(g, -12.0, 12.0),
            1 => f32_from(g, -1.0, 1.0),
            2 => (g.sign() as f32) * f32_binades(g, -127, 0),
            _ => (g.sign() as f32) * f32_from(g, 0.3, 0.9),
        },
        rf_tanh_f32,
        f64::tanh,
    );
    st.assert32("rf_tanh_f32", F32_ULPS);
    check_specials32(
        "rf_tanh_f32",
        rf_tanh_f32,
        &[
            (0.0, 0.0),
            (-0.0, -0.0),
            (f32::INFINITY, 1.0),
            (f32::NEG_INFINITY, -1.0),
            (f32::NAN, f32::NAN),
            (10.0, 1.0),
            (-1e30, -1.0),
            (1e-40, 1e-40),
        ],
    );
    check_saturation32("rf_tanh_f32", rf_tanh_f32, 9.1, 1e3, 1.0);
    check_saturation32("rf_tanh_f32", rf_tanh_f32, -1e3, -9.1, -1.0);
}

#[test]
fn sigmoid_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        16,
        &[1.0, -1.0, 17.0, -87.0, 1e-20],
        |g, i| match i % 4 {
            0 => f32_from(g, -87.33, 20.0),
            1 => f32_from(g, -5.0, 5.0),
            2 => (g.sign() as f32) * f32_binades(g, -127, 0),
            _ => f32_from(g, -87.33, -60.0),
        },
        rf_sigmoid_f32,
        sigmoid_ref64,
    );
    st.assert32("rf_sigmoid_f32", F32_ULPS);
    check_specials32(
        "rf_sigmoid_f32",
        rf_sigmoid_f32,
        &[
            (0.0, 0.5),
            (f32::INFINITY, 1.0),
            (f32::NEG_INFINITY, 0.0),
            (f32::NAN, f32::NAN),
            (20.0, 1.0),
            (-104.0, 0.0),
        ],
    );
    check_saturation32("rf_sigmoid_f32", rf_sigmoid_f32, 17.4, 1e4, 1.0);
}

const TRIG_EDGES32: &[f32] = &[
    std::f32::consts::PI,
    std::f32::consts::FRAC_PI_2,
    1.0,
    1e5,
    1.6e6,
    1e-20,
];

fn trig_gen32(g: &mut Rng, i: usize) -> f32 {
    match i % 6 {
        0 | 1 => f32_from(g, -7.0, 7.0),
        2 => (g.sign() as f32) * f32_binades(g, -127, 20),
        3 => f32_from(g, -1.6e6, 1.6e6),
        // floats nearest to k pi/2
        _ => {
            let k = g.int(1, 1_018_591) as f64;
            let x = (k * std::f64::consts::FRAC_PI_2) as f32;
            let j = g.int(-2, 2) as i32;
            (g.sign() as f32) * f32::from_bits((x.to_bits() as i32 + j) as u32)
        }
    }
}

#[test]
fn sin_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        17,
        TRIG_EDGES32,
        trig_gen32,
        rf_sin_f32,
        f64::sin,
    );
    st.assert32("rf_sin_f32", F32_ULPS);
    check_specials32(
        "rf_sin_f32",
        rf_sin_f32,
        &[
            (0.0, 0.0),
            (-0.0, -0.0),
            (f32::INFINITY, f32::NAN),
            (f32::NAN, f32::NAN),
            (1e-40, 1e-40),
        ],
    );
    let mut g = Rng::new(18);
    for _ in 0..100_000 {
        let x = (g.sign() as f32) * f32_binades(&mut g, 20, 127);
        assert!(
            rf_sin_f32(x).abs() <= 1.0 && rf_cos_f32(x).abs() <= 1.0,
            "x = {x:e}"
        );
    }
}

#[test]
fn cos_f32_accuracy() {
    let st = sweep32(
        points_f32(),
        19,
        TRIG_EDGES32,
        trig_gen32,
        rf_cos_f32,
        f64::cos,
    );
    st.assert32("rf_cos_f32", F32_ULPS);
    check_specials32(
        "rf_cos_f32",
        rf_cos_f32,
        &[
            (0.0, 1.0),
            (-0.0, 1.0),
            (f32::INFINITY, f32::NAN),
            (f32::NAN, f32::NAN),
            (1e-40, 1.0),
        ],
    );
}

// ================================================ compiled-kernel checks

/// (name, type, lanes) of every lane-loop kernel we compile.
const FUNCS: [(&str, &str, usize); 14] = [
    ("rf_exp", "f64", 8),
    ("rf_expm1", "f64", 8),
    ("rf_log", "f64", 8),
    ("rf_tanh", "f64", 8),
    ("rf_sigmoid", "f64", 8),
    ("rf_sin", "f64", 8),
    ("rf_cos", "f64", 8),
    ("rf_exp_f32", "f32", 16),
    ("rf_expm1_f32", "f32", 16),
    ("rf_log_f32", "f32", 16),
    ("rf_tanh_f32", "f32", 16),
    ("rf_sigmoid_f32", "f32", 16),
    ("rf_sin_f32", "f32", 16),
    ("rf_cos_f32", "f32", 16),
];

/// Kernel source as the code generator would produce it: vmath text first,
/// then lane loops over fixed-size arrays.
fn lanes_source() -> String {
    let mut s = String::from("const RF_FMA: bool = cfg!(target_feature = \"fma\");\n");
    s.push_str(VMATH_SRC);
    s.push_str("\n// ---- lane loops ----\n");
    for (f, ty, lanes) in FUNCS {
        writeln!(
            s,
            "#[no_mangle]\n#[inline(never)]\npub fn lanes_{f}(x: &[{ty}; {lanes}], y: &mut [{ty}; {lanes}]) {{\n    \
             for l in 0..{lanes} {{\n        y[l] = {f}(x[l]);\n    }}\n}}"
        )
        .unwrap();
    }
    s
}

fn rustc() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("RUSTC").map(PathBuf::from),
        std::env::var_os("CARGO").map(|c| PathBuf::from(c).with_file_name("rustc")),
        Some(PathBuf::from("rustc")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn scratch_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rf-vmath-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_rustc(rustc: &PathBuf, args: &[&str], dir: &PathBuf) -> String {
    let out = Command::new(rustc)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running rustc");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rustc {args:?} failed:\n{stderr}");
    stderr
}

/// Instruction lines of one function in AT&T assembly.
fn asm_function<'a>(asm: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = asm.lines();
    let start = format!("{name}:");
    assert!(
        lines.by_ref().any(|l| l.trim() == start),
        "{name} not found in the assembly"
    );
    lines
        .take_while(|l| !l.trim_start().starts_with(".Lfunc_end") && !l.contains(".cfi_endproc"))
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('.') && !l.starts_with('#') && !l.ends_with(':')
        })
        .collect()
}

fn check_vector_asm(asm: &str, label: &str, packed_regs: &[&str]) {
    let mut report = String::new();
    for (f, _, _) in FUNCS {
        let body = asm_function(asm, &format!("lanes_{f}"));
        let mnemonic = |l: &str| l.split_whitespace().next().unwrap_or("").to_string();
        let calls: Vec<_> = body
            .iter()
            .filter(|l| {
                let m = mnemonic(l);
                m.starts_with("call") || (m.starts_with("jmp") && !l.contains(".L"))
            })
            .collect();
        assert!(calls.is_empty(), "[{label}] lanes_{f} calls out: {calls:?}");
        let fp = |l: &&&str| {
            let m = mnemonic(l);
            (m.ends_with("pd") || m.ends_with("ps"))
                && !m.starts_with("vmov")
                && !m.contains("broadcast")
        };
        let packed = body
            .iter()
            .filter(fp)
            .filter(|l| packed_regs.iter().any(|r| l.contains(r)))
            .count();
        // Scalar floating-point arithmetic would mean a lane was done alone.
        let scalar: Vec<_> = body
            .iter()
            .filter(|l| {
                let m = mnemonic(l);
                let core = m.trim_start_matches('v');
                (m.ends_with("sd") || m.ends_with("ss"))
                    && [
                        "add", "sub", "mul", "div", "fmadd", "fmsub", "fnmadd", "fnmsub", "cvt",
                        "min", "max",
                    ]
                    .iter()
                    .any(|p| core.starts_with(p))
            })
            .collect();
        assert!(
            scalar.is_empty(),
            "[{label}] lanes_{f} has scalar FP arithmetic: {:?}",
            &scalar[..scalar.len().min(5)]
        );
        assert!(
            packed >= 20,
            "[{label}] lanes_{f}: only {packed} packed FP instructions on {packed_regs:?}"
        );
        writeln!(
            report,
            "[{label}] lanes_{f}: {} instructions, {packed} packed FP on {packed_regs:?}, no calls",
            body.len()
        )
        .unwrap();
    }
    print!("{report}");
}

#[test]
fn lane_loops_vectorise() {
    let Some(rustc) = rustc() else {
        println!("SKIPPED: rustc not found");
        return;
    };
    let dir = scratch_dir("asm");
    std::fs::write(dir.join("lanes.rs"), lanes_source()).unwrap();
    let common = [
        "--crate-type=lib",
        "--edition=2021",
        "-C",
        "opt-level=3",
        "--emit",
        "asm",
        "-C",
        "panic=abort",
    ];
    let mut args: Vec<&str> = common.to_vec();
    args.extend(["-C", "target-cpu=native", "-o", "native.s", "lanes.rs"]);
    let stderr = run_rustc(&rustc, &args, &dir);
    assert!(
        !stderr.contains("warning"),
        "the vmath template should compile without warnings:\n{stderr}"
    );
    let asm = std::fs::read_to_string(dir.join("native.s")).unwrap();
    if cfg!(target_arch = "x86_64") {
        let regs: &[&str] = if std::is_x86_feature_detected!("avx2") {
            &["%ymm", "%zmm"]
        } else {
            &["%xmm"]
        };
        check_vector_asm(&asm, "target-cpu=native", regs);
        if std::is_x86_feature_detected!("avx512f") {
            assert!(
                asm.contains("%zmm") || asm.contains("%ymm"),
                "no AVX registers in the AVX-512 build"
            );
        }
        // A plain AVX2 target (x86-64-v3) must vectorise too.
        let mut args: Vec<&str> = common.to_vec();
        args.extend(["-C", "target-cpu=x86-64-v3", "-o", "v3.s", "lanes.rs"]);
        run_rustc(&rustc, &args, &dir);
        let asm = std::fs::read_to_string(dir.join("v3.s")).unwrap();
        check_vector_asm(&asm, "x86-64-v3", &["%ymm"]);
    } else {
        for (f, _, _) in FUNCS {
            let body = asm_function(&asm, &format!("lanes_{f}"));
            assert!(
                !body
                    .iter()
                    .any(|l| l.starts_with("bl ") || l.starts_with("call")),
                "lanes_{f} calls out"
            );
        }
        println!("packed-instruction check skipped: not x86_64");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Deterministic inputs covering all ranges and special values.
fn bitcheck_inputs(n: usize) -> Vec<f64> {
    let mut g = Rng::new(0x1234_5678_9ABC_DEF0);
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        5e-324,
        -5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        EXP_MAX_X,
        -745.1,
        TRIG_MAX,
        1e15,
        1e300,
    ];
    while v.len() < n {
        let x = match g.next() % 5 {
            0 => f64::from_bits(g.next()),
            1 => g.uniform(-32.0, 32.0),
            2 => g.uniform(-800.0, 800.0),
            3 => g.uniform(-2.0 * TRIG_MAX, 2.0 * TRIG_MAX),
            _ => g.sign() * g.binades(-1023, 30),
        };
        v.push(x);
    }
    v
}

macro_rules! lane_kernels {
    ($(($name:ident, $f:ident, $ty:ty, $lanes:expr)),* $(,)?) => {
        $(
            /// A lane loop as generated kernels write it.
            #[inline(never)]
            fn $name(x: &[$ty; $lanes], y: &mut [$ty; $lanes]) {
                for l in 0..$lanes {
                    y[l] = $f(x[l]);
                }
            }
        )*
    };
}

lane_kernels!(
    (lanes_exp, rf_exp, f64, 8),
    (lanes_expm1, rf_expm1, f64, 8),
    (lanes_log, rf_log, f64, 8),
    (lanes_tanh, rf_tanh, f64, 8),
    (lanes_sigmoid, rf_sigmoid, f64, 8),
    (lanes_sin, rf_sin, f64, 8),
    (lanes_cos, rf_cos, f64, 8),
    (lanes_exp_f32, rf_exp_f32, f32, 16),
    (lanes_expm1_f32, rf_expm1_f32, f32, 16),
    (lanes_log_f32, rf_log_f32, f32, 16),
    (lanes_tanh_f32, rf_tanh_f32, f32, 16),
    (lanes_sigmoid_f32, rf_sigmoid_f32, f32, 16),
    (lanes_sin_f32, rf_sin_f32, f32, 16),
    (lanes_cos_f32, rf_cos_f32, f32, 16),
);

/// Lane loops (vectorised in the optimised native build that
/// `native_build_passes_accuracy_tests` runs) give bit-identical results to
/// scalar calls, so the scalar accuracy sweeps cover the vectorised code.
#[test]
fn lane_loops_match_scalar() {
    let xs = bitcheck_inputs(64_000);
    type Lanes64 = fn(&[f64; 8], &mut [f64; 8]);
    type Lanes32 = fn(&[f32; 16], &mut [f32; 16]);
    let f64s: [(&str, fn(f64) -> f64, Lanes64); 7] = [
        ("rf_exp", rf_exp, lanes_exp),
        ("rf_expm1", rf_expm1, lanes_expm1),
        ("rf_log", rf_log, lanes_log),
        ("rf_tanh", rf_tanh, lanes_tanh),
        ("rf_sigmoid", rf_sigmoid, lanes_sigmoid),
        ("rf_sin", rf_sin, lanes_sin),
        ("rf_cos", rf_cos, lanes_cos),
    ];
    for (name, scalar, lanes) in f64s {
        let scalar = std::hint::black_box(scalar);
        for c in xs.chunks_exact(8) {
            let x: [f64; 8] = c.try_into().unwrap();
            let mut y = [0.0; 8];
            std::hint::black_box(lanes)(&x, &mut y);
            for l in 0..8 {
                assert!(
                    same(y[l], scalar(x[l])),
                    "{name}({:e}): lane loop {:e} != scalar {:e}",
                    x[l],
                    y[l],
                    scalar(x[l])
                );
            }
        }
    }
    let f32s: [(&str, fn(f32) -> f32, Lanes32); 7] = [
        ("rf_exp_f32", rf_exp_f32, lanes_exp_f32),
        ("rf_expm1_f32", rf_expm1_f32, lanes_expm1_f32),
        ("rf_log_f32", rf_log_f32, lanes_log_f32),
        ("rf_tanh_f32", rf_tanh_f32, lanes_tanh_f32),
        ("rf_sigmoid_f32", rf_sigmoid_f32, lanes_sigmoid_f32),
        ("rf_sin_f32", rf_sin_f32, lanes_sin_f32),
        ("rf_cos_f32", rf_cos_f32, lanes_cos_f32),
    ];
    for (name, scalar, lanes) in f32s {
        let scalar = std::hint::black_box(scalar);
        for c in xs.chunks_exact(16) {
            let mut x = [0.0f32; 16];
            for l in 0..16 {
                x[l] = c[l] as f32;
            }
            let mut y = [0.0f32; 16];
            std::hint::black_box(lanes)(&x, &mut y);
            for l in 0..16 {
                assert!(
                    same32(y[l], scalar(x[l])),
                    "{name}({:e}): lane loop {:e} != scalar {:e}",
                    x[l],
                    y[l],
                    scalar(x[l])
                );
            }
        }
    }
}

/// Generated kernels are compiled with `-C opt-level=3 -C target-cpu=native`,
/// where the polynomials use FMA and the loops are vectorised.  This test
/// binary is normally built unoptimised for the host baseline (no FMA), so
/// rebuild this very file that way and run all its checks there too.
#[test]
fn native_build_passes_accuracy_tests() {
    if std::env::var_os("RF_VMATH_NATIVE_CHILD").is_some() {
        return;
    }
    let Some(rustc) = rustc() else {
        println!("SKIPPED: rustc not found");
        return;
    };
    // This file: via cargo's CARGO_MANIFEST_DIR, or (when built by hand)
    // file!() relative to the current directory or one of its parents.
    let cwd = std::env::current_dir().unwrap();
    let src = option_env!("CARGO_MANIFEST_DIR")
        .map(|d| PathBuf::from(d).join("tests/vmath.rs"))
        .into_iter()
        .chain(cwd.ancestors().map(|a| a.join(file!())))
        .find(|p| p.is_file())
        .expect("cannot locate tests/vmath.rs");
    let dir = scratch_dir("native");
    let exe = dir.join("vmath_native");
    let src = src.to_str().unwrap();
    run_rustc(
        &rustc,
        &[
            "--test",
            "--edition=2024",
            "-C",
            "opt-level=3",
            "-C",
            "target-cpu=native",
            "-o",
            exe.to_str().unwrap(),
            src,
        ],
        &dir,
    );
    let out = Command::new(&exe)
        .args([
            "--nocapture",
            "--skip",
            "native_build",
            "--skip",
            "lane_loops_vectorise",
        ])
        .env("RF_VMATH_NATIVE_CHILD", "1")
        .output()
        .expect("running the native test build");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("rf_") || l.starts_with("test result"))
    {
        println!("[native] {line}");
    }
    assert!(
        out.status.success(),
        "the -C target-cpu=native build failed its tests:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
