//! Bit-identity of the CUDA C port of rateforge's elementary functions and random numbers
//! (`kernel-templates/cuda/vmath.cuh` and `random.cuh`, pasted into generated CUDA kernels) with
//! the Rust text (`crates/rateforge-kernel/src/vmath/functions.rs`, linked by Rust kernels and
//! `rateforge_ir::math`) and with `rateforge_ir::rng`.
//!
//! The CUDA files are plain C++ apart from a few macros, so the test compiles them as C++ with
//! the C++ macro definitions (`c++ -O2 -ffp-contract=off -std=c++17`; skipped with a note when no
//! C++ compiler is found) into a harness that holds four builds of the text in four namespaces:
//! `RF_FMA` 0 and 1 times `RF_PROD_ERR_FMA` 0 and 1 (Dekker's splitting or one fma for exact
//! product errors, the choice the Rust text makes by `cfg!(target_feature = "fma")`). Then:
//!
//! * every constant of the C text has the bits of its Rust counterpart;
//! * every function (f64 and f32) gives the bits of the Rust build with the same `RF_FMA` (the
//!   Rust text included here twice, `RF_FMA = false` and `true`), whichever `RF_PROD_ERR_FMA`, at
//!   2*10^5 points per function mixing special values, uniform and log-uniform points, random bit
//!   patterns and ulp neighbourhoods of thresholds and of multiples of ln2 and pi/2 (NaN results
//!   must be NaN on both sides; the payload is not compared);
//! * 10^5 normal numbers, normal pairs and initial uniforms equal `rateforge_ir::rng` (with
//!   `RF_FMA = 0`) and a transcription of the Box-Muller step over the fused build (with
//!   `RF_FMA = 1`) bit for bit.
//!
//! What this does not cover: the CUDA-only spellings of the macros (`__dmul_rn`, `__fma_rn`,
//! `__double_as_longlong`, ...), which are IEEE operations with the same results by definition.

#![allow(clippy::type_complexity, clippy::unreadable_literal)]

use std::path::{Path, PathBuf};
use std::process::Command;

const VMATH_CUH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../kernel-templates/cuda/vmath.cuh"
);
const RANDOM_CUH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../kernel-templates/cuda/random.cuh"
);

/// How the harness prints a constant.
#[derive(Clone, Copy, Debug)]
enum Kind {
    F64,
    F32,
    Int,
}

/// The Rust text, compiled with the given RF_FMA, plus what the test needs from inside it.
macro_rules! vmath_build {
    ($name:ident, $fma:expr) => {
        mod $name {
            #![allow(dead_code, clippy::all)]

            const RF_FMA: bool = $fma;

            include!("../../rateforge-kernel/src/vmath/functions.rs");

            pub(crate) const F64_FNS: [(&str, fn(f64) -> f64); 7] = [
                ("rf_exp", rf_exp),
                ("rf_expm1", rf_expm1),
                ("rf_log", rf_log),
                ("rf_tanh", rf_tanh),
                ("rf_sigmoid", rf_sigmoid),
                ("rf_sin", rf_sin),
                ("rf_cos", rf_cos),
            ];

            pub(crate) const F32_FNS: [(&str, fn(f32) -> f32); 7] = [
                ("rf_exp_f32", rf_exp_f32),
                ("rf_expm1_f32", rf_expm1_f32),
                ("rf_log_f32", rf_log_f32),
                ("rf_tanh_f32", rf_tanh_f32),
                ("rf_sigmoid_f32", rf_sigmoid_f32),
                ("rf_sin_f32", rf_sin_f32),
                ("rf_cos_f32", rf_cos_f32),
            ];

            /// rng::normal_pair over this build's rf_log, rf_cos, rf_sin (prelude.rs's rf_normal
            /// in a kernel built with this RF_FMA).
            pub(crate) fn normal_pair(
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
                let r =
                    rateforge_ir::rng::philox4x32_10(counter, [seed as u32, (seed >> 32) as u32]);
                let a = ((u64::from(r[0]) << 32) | u64::from(r[1])) >> 11;
                let b = ((u64::from(r[2]) << 32) | u64::from(r[3])) >> 11;
                let u1 = (a + 1) as f64 * (1.0 / 9_007_199_254_740_992.0);
                let u2 = b as f64 * (1.0 / 9_007_199_254_740_992.0);
                let rho = (-2.0 * rf_log(u1)).sqrt();
                let angle = std::f64::consts::TAU * u2;
                (rho * rf_cos(angle), rho * rf_sin(angle))
            }

            /// (name in the C text, kind, bits in the Rust text) of every constant.
            pub(crate) fn constants() -> Vec<(String, super::Kind, u64)> {
                use super::Kind::{F32, F64, Int};
                let mut v: Vec<(String, super::Kind, u64)> = Vec::new();
                let mut d = |n: &str, x: f64| v.push((n.to_string(), F64, x.to_bits()));
                d("RF_MAGIC", RF_MAGIC);
                d("RF_LN2_1", RF_LN2_1);
                d("RF_LN2_2", RF_LN2_2);
                d("RF_PIO2_1", RF_PIO2_1);
                d("RF_PIO2_2", RF_PIO2_2);
                d("RF_PIO2_3", RF_PIO2_3);
                d("RF_PIO2_4", RF_PIO2_4);
                d("RF_PIO2_F32_3", RF_PIO2_F32_3);
                d("RF_TRIG_RMAX", RF_TRIG_RMAX);
                d("RF_TRIG_HUGE", RF_TRIG_HUGE);
                d("RF_LOG2_E", core::f64::consts::LOG2_E);
                d("RF_FRAC_2_PI", core::f64::consts::FRAC_2_PI);
                d("RF_EXP_XMAX", 709.9);
                d("RF_SPLIT", 134_217_729.0);
                d("RF_LOG_KOFF", 4_503_599_627_371_519.0);
                for (i, c) in RF_EXP_Q.iter().enumerate() {
                    d(&format!("RF_EXP_Q{i}"), *c);
                }
                for (i, c) in RF_LOG_R.iter().enumerate() {
                    d(&format!("RF_LOG_R{i}"), *c);
                }
                for (i, c) in RF_SIN_S.iter().enumerate() {
                    d(&format!("RF_SIN_S{i}"), *c);
                }
                for (i, c) in RF_COS_C.iter().enumerate() {
                    d(&format!("RF_COS_C{i}"), *c);
                }
                for (i, c) in RF_SIN_S_F32.iter().enumerate() {
                    d(&format!("RF_SIN_S_F32_{i}"), *c);
                }
                for (i, c) in RF_COS_C_F32.iter().enumerate() {
                    d(&format!("RF_COS_C_F32_{i}"), *c);
                }
                let mut f = |n: &str, x: f32| v.push((n.to_string(), F32, u64::from(x.to_bits())));
                f("RF_MAGIC_F32", RF_MAGIC_F32);
                f("RF_LN2_F32_1", RF_LN2_F32_1);
                f("RF_LN2_F32_2", RF_LN2_F32_2);
                f("RF_LOG2_E_F32", core::f32::consts::LOG2_E);
                f("RF_SPLIT_F32", 4097.0);
                f("RF_LOG_KOFF_F32", 8_388_735.0);
                for (i, c) in RF_EXP_Q_F32.iter().enumerate() {
                    f(&format!("RF_EXP_Q_F32_{i}"), *c);
                }
                for (i, c) in RF_LOG_R_F32.iter().enumerate() {
                    f(&format!("RF_LOG_R_F32_{i}"), *c);
                }
                let mut n = |s: &str, x: u64| v.push((s.to_string(), Int, x));
                n("RF_MAGIC_BITS", RF_MAGIC_BITS);
                n("RF_MAGIC_F32_BITS", u64::from(RF_MAGIC_F32_BITS));
                n("RF_SQRT1_2_BITS", RF_SQRT1_2_BITS);
                n("RF_SQRT1_2_F32_BITS", u64::from(RF_SQRT1_2_F32_BITS));
                n("RF_INF_BITS", f64::INFINITY.to_bits());
                n("RF_NAN_BITS", f64::NAN.to_bits());
                n("RF_INF_F32_BITS", u64::from(f32::INFINITY.to_bits()));
                n("RF_NAN_F32_BITS", u64::from(f32::NAN.to_bits()));
                n("RF_INIT_STEP", rateforge_ir::rng::INIT_STEP);
                v
            }
        }
    };
}

vmath_build!(reference, false);
vmath_build!(fused, true);

/// The four builds in the harness: (namespace, RF_FMA, RF_PROD_ERR_FMA).
const VARIANTS: [(&str, u32, u32); 4] =
    [("v00", 0, 0), ("v01", 0, 1), ("v10", 1, 0), ("v11", 1, 1)];

/// Points per function (`RF_CUDA_VMATH_POINTS=N` overrides, for one-off longer runs); half as many
/// random-number tuples.
fn points() -> usize {
    std::env::var("RF_CUDA_VMATH_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000)
}

// ================================================================== samples

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
    fn sign(&mut self) -> f64 {
        if self.next() & 1 == 0 { 1.0 } else { -1.0 }
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// x and its neighbours up to k ulps either side (in bit order of |x|).
fn around_f64(v: &mut Vec<f64>, x: f64, k: u64) {
    if !x.is_finite() {
        v.push(x);
        return;
    }
    let b = x.to_bits();
    let mag = b & !(1 << 63);
    let sign = b & (1 << 63);
    for i in 0..=2 * k {
        let m = (mag + i).checked_sub(k);
        if let Some(m) = m {
            v.push(f64::from_bits(sign | m));
        }
    }
}

fn around_f32(v: &mut Vec<f32>, x: f32, k: u32) {
    if !x.is_finite() {
        v.push(x);
        return;
    }
    let b = x.to_bits();
    let mag = b & !(1 << 31);
    let sign = b & (1 << 31);
    for i in 0..=2 * k {
        if let Some(m) = (mag + i).checked_sub(k) {
            v.push(f32::from_bits(sign | m));
        }
    }
}

fn samples_f64(n: usize) -> Vec<f64> {
    use std::f64::consts::{FRAC_PI_2, LN_2};
    let mut rng = Rng(0x05EE_DF64);
    let mut v: Vec<f64> = vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7FF0_0000_0000_0001),
        f64::from_bits(0x7FF8_0000_0000_1234),
        f64::MAX,
        f64::MIN,
    ];
    // Thresholds of the functions (both signs, +-4 ulps).
    let centers = [
        709.782712893384,
        709.9,
        710.0,
        708.3964185322641,
        745.1332191019411,
        744.4400719213812,
        746.0,
        40.0,
        37.5,
        37.4,
        36.04365338911715,
        19.1,
        20.0,
        0.34657359027997264,
        0.3473,
        1.6e6,
        1_125_899_906_842_624.0,
        2_251_799_813_685_248.0,
        4_503_599_627_371_496.0,
        9_007_199_254_740_992.0,
        1e300,
        1e-300,
        1e-8,
        1e-16,
        0.5,
        1.0,
        2.0,
        std::f64::consts::FRAC_PI_4,
        0.786,
        std::f64::consts::FRAC_1_SQRT_2,
        std::f64::consts::SQRT_2,
        88.72283905206835,
        0.1,
        1e6,
        1e10,
        1e15,
        1e18,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::MAX,
    ];
    for c in centers {
        around_f64(&mut v, c, 4);
        around_f64(&mut v, -c, 4);
    }
    // Multiples of ln2 and the rounding boundaries between them (exp reduction).
    for k in -1080..=1030 {
        around_f64(&mut v, f64::from(k) * LN_2, 3);
        around_f64(&mut v, (f64::from(k) + 0.5) * LN_2, 3);
    }
    // Multiples of pi/2 and boundaries (trig reduction), random signs.
    for k in 1..=2000 {
        let s = rng.sign();
        around_f64(&mut v, s * f64::from(k) * FRAC_PI_2, 3);
        around_f64(&mut v, s * (f64::from(k) + 0.5) * FRAC_PI_2, 3);
    }
    for (count, bits) in [(2000, 20), (600, 30), (600, 52), (300, 60)] {
        for _ in 0..count {
            let k = rng.below(1 << bits) as f64;
            let s = rng.sign();
            around_f64(&mut v, s * k * FRAC_PI_2, 3);
        }
    }
    // log: around 1, the mantissa-interval boundary sqrt(1/2) in every binade, powers of two.
    for i in 0..200u64 {
        v.push(f64::from_bits(1.0f64.to_bits() + i));
        v.push(f64::from_bits(1.0f64.to_bits() - i));
    }
    for j in 1..=60 {
        let e = 2f64.powi(-j);
        around_f64(&mut v, 1.0 + e, 2);
        around_f64(&mut v, 1.0 - e, 2);
    }
    for e in 1..2047u64 {
        around_f64(&mut v, f64::from_bits((e << 52) | 0x0006_A09E_667F_3BCD), 1);
        let s = rng.sign();
        around_f64(&mut v, s * f64::from_bits(e << 52), 1);
    }
    // Subnormals, and their neighbourhood of 0.
    for _ in 0..5000 {
        let b = rng.next() & 0x000F_FFFF_FFFF_FFFF;
        v.push(rng.sign() * f64::from_bits(b >> rng.below(52)));
    }
    // Random bit patterns (every binade, NaNs with payloads, infinities).
    for _ in 0..n / 10 {
        v.push(f64::from_bits(rng.next()));
    }
    // Log-uniform magnitudes in [2^-80, 2^12].
    for _ in 0..n * 3 / 20 {
        let m = (1.0 + rng.unit()) * 2f64.powi(rng.below(92) as i32 - 80);
        v.push(rng.sign() * m);
    }
    // Uniform on [-a, a], filling up to n.
    let ranges = [1.0, 5.0, 25.0, 50.0, 750.0, 2e6];
    let mut i = 0;
    while v.len() < n {
        let a = ranges[i % ranges.len()];
        v.push(a * (2.0 * rng.unit() - 1.0));
        i += 1;
    }
    v.truncate(n);
    v
}

fn samples_f32(n: usize) -> Vec<f32> {
    use std::f64::consts::{FRAC_PI_2, LN_2};
    let mut rng = Rng(0x05EE_DF32);
    let mut v: Vec<f32> = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7F80_0001),
        f32::from_bits(0x7FC0_1234),
    ];
    let centers: [f32; 30] = [
        88.72284,
        89.0,
        87.33655,
        103.27893,
        104.0,
        20.0,
        17.328_68,
        10.0,
        9.010913,
        0.346_573_6,
        0.3473,
        1.6e6,
        8_388_608.0,
        16_777_216.0,
        1e30,
        1e-30,
        1e-4,
        1e-8,
        0.5,
        1.0,
        2.0,
        std::f32::consts::FRAC_PI_4,
        0.786,
        std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::SQRT_2,
        0.1,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::from_bits(0x007F_FFFF),
        f32::MAX,
    ];
    for c in centers {
        around_f32(&mut v, c, 8);
        around_f32(&mut v, -c, 8);
    }
    for k in -160..=135 {
        around_f32(&mut v, (f64::from(k) * LN_2) as f32, 4);
        around_f32(&mut v, ((f64::from(k) + 0.5) * LN_2) as f32, 4);
    }
    for k in 1..=2000 {
        let s = rng.sign() as f32;
        around_f32(&mut v, s * (f64::from(k) * FRAC_PI_2) as f32, 3);
        around_f32(&mut v, s * ((f64::from(k) + 0.5) * FRAC_PI_2) as f32, 3);
    }
    for _ in 0..2000 {
        let k = rng.below(1 << 20) as f64;
        around_f32(&mut v, (rng.sign() * k * FRAC_PI_2) as f32, 3);
    }
    for i in 0..200u32 {
        v.push(f32::from_bits(1.0f32.to_bits() + i));
        v.push(f32::from_bits(1.0f32.to_bits() - i));
    }
    for e in 1..255u32 {
        around_f32(&mut v, f32::from_bits((e << 23) | 0x0035_04F3), 1);
        around_f32(&mut v, rng.sign() as f32 * f32::from_bits(e << 23), 1);
    }
    // A stratified sweep over all 2^32 bit patterns.
    let sweep = (n * 7 / 20) as u64;
    for i in 0..sweep {
        let b = (i << 32) / sweep + rng.below((1 << 32) / sweep);
        v.push(f32::from_bits(b as u32));
    }
    for _ in 0..n / 10 {
        let m = (1.0 + rng.unit()) * 2f64.powi(rng.below(40) as i32 - 32);
        v.push((rng.sign() * m) as f32);
    }
    let ranges = [1.0, 5.0, 12.0, 25.0, 110.0, 2e6];
    let mut i = 0;
    while v.len() < n {
        let a = ranges[i % ranges.len()];
        v.push((a * (2.0 * rng.unit() - 1.0)) as f32);
        i += 1;
    }
    v.truncate(n);
    v
}

/// (seed, instance, node, step, index) tuples for the random-number checks.
fn samples_rng(n: usize) -> Vec<[u64; 5]> {
    let mut rng = Rng(0x5EED_0001);
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let seed = if i % 4 == 0 {
            rng.below(100)
        } else {
            rng.next()
        };
        let instance = if i % 3 == 0 {
            rng.below(1000)
        } else {
            rng.next()
        };
        let node = if i % 2 == 0 {
            rng.below(100_000)
        } else {
            rng.next()
        };
        let step = match i % 5 {
            0 => rng.below(1 << 20),
            1 => rng.below(1 << 48),
            2 => rateforge_ir::rng::INIT_STEP - rng.below(4),
            _ => rng.next(),
        };
        let index = match i % 3 {
            0 => rng.below(8),
            1 => rng.below(1 << 16),
            _ => rng.below(1 << 32),
        };
        v.push([seed, instance, node, step, index]);
    }
    v
}

// ================================================================== harness

fn find_cxx() -> Option<String> {
    let candidates: Vec<String> = std::env::var("CXX")
        .into_iter()
        .chain(["c++", "g++", "clang++"].map(String::from))
        .collect();
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn harness_source(consts: &[(String, Kind, u64)]) -> String {
    let mut s = String::from(
        r#"// Generated by crates/rateforge-codegen/tests/cuda_vmath.rs.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

typedef unsigned long long u64;

// The C++ definitions of the macro contract (see vmath.cuh).
#define RF_DEVICE static inline
#define RF_AS_U64(x) __builtin_bit_cast(unsigned long long, (double)(x))
#define RF_FROM_U64(u) __builtin_bit_cast(double, (unsigned long long)(u))
#define RF_AS_U32(x) __builtin_bit_cast(unsigned int, (float)(x))
#define RF_FROM_U32(u) __builtin_bit_cast(float, (unsigned int)(u))
#define RF_SQRT(x) __builtin_sqrt(x)

struct Input {
    std::vector<u64> x64;
    std::vector<unsigned int> x32;
    std::vector<u64> rng; // 5 words per tuple
};

static void put(FILE *f, const void *p, size_t size, size_t n) {
    if (fwrite(p, size, n, f) != n) { perror("fwrite"); exit(2); }
}

"#,
    );
    for (ns, fma, pe) in VARIANTS {
        s.push_str(&format!(
            "#define RF_FMA {fma}\n#define RF_PROD_ERR_FMA {pe}\nnamespace {ns} {{\n\
             #include \"{VMATH_CUH}\"\n#include \"{RANDOM_CUH}\"\n#include \"body.inc\"\n}}\n\
             #undef RF_FMA\n#undef RF_PROD_ERR_FMA\n\n"
        ));
    }
    s.push_str(
        r#"static void dump_constants(FILE *f) {
    std::vector<u64> v;
"#,
    );
    for (name, kind, _) in consts {
        s.push_str(&match kind {
            Kind::F64 => format!("    v.push_back(RF_AS_U64({name}));\n"),
            Kind::F32 => format!("    v.push_back((u64)RF_AS_U32({name}));\n"),
            Kind::Int => format!("    v.push_back((u64)({name}));\n"),
        });
    }
    s.push_str(
        r#"    put(f, v.data(), 8, v.size());
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: harness INPUT VARIANT OUTPUT\n"); return 2; }
    FILE *in = fopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 2; }
    u64 hdr[3];
    if (fread(hdr, 8, 3, in) != 3) { fprintf(stderr, "short input\n"); return 2; }
    Input input;
    input.x64.resize(hdr[0]);
    input.x32.resize(hdr[1]);
    input.rng.resize(5 * hdr[2]);
    if (fread(input.x64.data(), 8, hdr[0], in) != hdr[0] ||
        fread(input.x32.data(), 4, hdr[1], in) != hdr[1] ||
        fread(input.rng.data(), 8, 5 * hdr[2], in) != 5 * hdr[2]) {
        fprintf(stderr, "short input\n");
        return 2;
    }
    fclose(in);
    FILE *out = fopen(argv[3], "wb");
    if (!out) { perror(argv[3]); return 2; }
    const char *v = argv[2];
"#,
    );
    for (ns, _, _) in VARIANTS {
        s.push_str(&format!(
            "    if (!strcmp(v, \"{ns}\")) {ns}::run(input, out);\n"
        ));
    }
    s.push_str(
        r#"    if (!strcmp(v, "constants")) dump_constants(out);
    if (fclose(out) != 0) { perror("fclose"); return 2; }
    return 0;
}
"#,
    );
    s
}

/// The per-build evaluation, included inside each namespace (after vmath.cuh and random.cuh).
const HARNESS_BODY: &str = r#"
static void run(const Input &in, FILE *out) {
    size_t n64 = in.x64.size(), n32 = in.x32.size(), nr = in.rng.size() / 5;
    std::vector<u64> o64(n64);
    std::vector<unsigned int> o32(n32);
#define RF_T64(f) \
    for (size_t i = 0; i < n64; i++) o64[i] = RF_AS_U64(f(RF_FROM_U64(in.x64[i]))); \
    put(out, o64.data(), 8, n64);
#define RF_T32(f) \
    for (size_t i = 0; i < n32; i++) o32[i] = RF_AS_U32(f(RF_FROM_U32(in.x32[i]))); \
    put(out, o32.data(), 4, n32);
    RF_T64(rf_exp) RF_T64(rf_expm1) RF_T64(rf_log) RF_T64(rf_tanh) RF_T64(rf_sigmoid)
    RF_T64(rf_sin) RF_T64(rf_cos)
    RF_T32(rf_exp_f32) RF_T32(rf_expm1_f32) RF_T32(rf_log_f32) RF_T32(rf_tanh_f32)
    RF_T32(rf_sigmoid_f32) RF_T32(rf_sin_f32) RF_T32(rf_cos_f32)
#undef RF_T64
#undef RF_T32
    std::vector<u64> r(4 * nr);
    for (size_t i = 0; i < nr; i++) {
        const u64 *t = &in.rng[5 * i];
        double z1;
        double z0 = rf_normal_pair(t[0], t[1], t[2], t[3], (unsigned int)t[4], &z1);
        r[4 * i + 0] = RF_AS_U64(rf_normal(t[0], t[1], t[2], t[3], (unsigned int)t[4]));
        r[4 * i + 1] = RF_AS_U64(z0);
        r[4 * i + 2] = RF_AS_U64(z1);
        r[4 * i + 3] = RF_AS_U64(rf_uniform_init(t[0], t[1], t[2], (unsigned int)t[4]));
    }
    put(out, r.data(), 8, 4 * nr);
}
"#;

fn compile_harness(cxx: &str, dir: &Path, consts: &[(String, Kind, u64)]) -> PathBuf {
    std::fs::write(dir.join("body.inc"), HARNESS_BODY).unwrap();
    let src = dir.join("harness.cpp");
    std::fs::write(&src, harness_source(consts)).unwrap();
    let exe = dir.join("harness");
    let out = Command::new(cxx)
        .args(["-O2", "-ffp-contract=off", "-std=c++17", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("running the C++ compiler");
    assert!(
        out.status.success(),
        "{cxx} failed on {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn run_harness(exe: &Path, input: &Path, variant: &str, dir: &Path) -> Vec<u8> {
    let output = dir.join(format!("out-{variant}.bin"));
    let st = Command::new(exe)
        .arg(input)
        .arg(variant)
        .arg(&output)
        .status()
        .expect("running the harness");
    assert!(st.success(), "harness {variant} failed: {st}");
    let bytes = std::fs::read(&output).unwrap();
    std::fs::remove_file(&output).ok();
    bytes
}

fn u64s(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

fn u32s(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

/// Equal bits, or both NaN.
fn same64(a: u64, b: u64) -> bool {
    a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan())
}

fn same32(a: u32, b: u32) -> bool {
    a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan())
}

/// Collects mismatches; reports up to a few per check.
#[derive(Default)]
struct Report {
    lines: Vec<String>,
    failed_checks: usize,
}

impl Report {
    fn check<T: Copy>(
        &mut self,
        what: &str,
        inputs: &[T],
        got: &[T],
        want: &[T],
        same: impl Fn(T, T) -> bool,
        show: impl Fn(T) -> String,
    ) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        let bad: Vec<usize> = (0..got.len()).filter(|&i| !same(got[i], want[i])).collect();
        if !bad.is_empty() {
            self.failed_checks += 1;
            self.lines
                .push(format!("{what}: {} of {} differ", bad.len(), got.len()));
            for &i in bad.iter().take(5) {
                self.lines.push(format!(
                    "    input {}: C++ {} Rust {}",
                    show(inputs[i]),
                    show(got[i]),
                    show(want[i])
                ));
            }
        }
    }
}

fn show64(b: u64) -> String {
    format!("{:#018x} ({:e})", b, f64::from_bits(b))
}

fn show32(b: u32) -> String {
    format!("{:#010x} ({:e})", b, f32::from_bits(b))
}

#[test]
fn cuda_vmath_and_random_are_bit_identical_to_rust() {
    let Some(cxx) = find_cxx() else {
        println!(
            "note: no C++ compiler found (tried $CXX, c++, g++, clang++); skipping cuda_vmath"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("rf-cuda-vmath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let consts = reference::constants();
    let exe = compile_harness(&cxx, &dir, &consts);

    let x64 = samples_f64(points());
    let x32 = samples_f32(points());
    let tuples = samples_rng(points() / 2);
    let x64b: Vec<u64> = x64.iter().map(|x| x.to_bits()).collect();
    let x32b: Vec<u32> = x32.iter().map(|x| x.to_bits()).collect();
    let mut input = Vec::new();
    for h in [x64.len(), x32.len(), tuples.len()] {
        input.extend_from_slice(&(h as u64).to_ne_bytes());
    }
    x64b.iter()
        .for_each(|b| input.extend_from_slice(&b.to_ne_bytes()));
    x32b.iter()
        .for_each(|b| input.extend_from_slice(&b.to_ne_bytes()));
    tuples
        .iter()
        .flatten()
        .for_each(|w| input.extend_from_slice(&w.to_ne_bytes()));
    let input_path = dir.join("input.bin");
    std::fs::write(&input_path, &input).unwrap();

    let mut report = Report::default();

    // Constants.
    let got = u64s(&run_harness(&exe, &input_path, "constants", &dir));
    assert_eq!(got.len(), consts.len());
    for ((name, kind, want), got) in consts.iter().zip(&got) {
        if got != want {
            report.failed_checks += 1;
            report.lines.push(format!(
                "constant {name} ({kind:?}): C {got:#x}, Rust {want:#x}"
            ));
        }
    }

    // The Rust results, per RF_FMA.
    let rust = |fma: bool| -> (Vec<Vec<u64>>, Vec<Vec<u32>>, Vec<u64>) {
        let (f64s, f32s, pair): (_, _, fn(u64, u64, u64, u64, u32) -> (f64, f64)) = if fma {
            (fused::F64_FNS, fused::F32_FNS, fused::normal_pair)
        } else {
            (
                reference::F64_FNS,
                reference::F32_FNS,
                reference::normal_pair,
            )
        };
        let r64 = f64s
            .iter()
            .map(|(_, f)| x64.iter().map(|&x| f(x).to_bits()).collect())
            .collect();
        let r32 = f32s
            .iter()
            .map(|(_, f)| x32.iter().map(|&x| f(x).to_bits()).collect())
            .collect();
        let mut rr = Vec::with_capacity(4 * tuples.len());
        for &[seed, instance, node, step, index] in &tuples {
            let index = index as u32;
            let (z0, z1) = pair(seed, instance, node, step, index);
            let (w0, w1) = pair(seed, instance, node, step, index / 2);
            let z = if index.is_multiple_of(2) { w0 } else { w1 };
            let u = rateforge_ir::rng::uniform_init(seed, instance, node, index);
            rr.extend([z.to_bits(), z0.to_bits(), z1.to_bits(), u.to_bits()]);
        }
        (r64, r32, rr)
    };
    let want = [rust(false), rust(true)];

    // The transcription over the reference build is rateforge_ir::rng itself.
    for (i, &[seed, instance, node, step, index]) in tuples.iter().enumerate() {
        let index = index as u32;
        let (z0, z1) = rateforge_ir::rng::normal_pair(seed, instance, node, step, index);
        let z = rateforge_ir::rng::normal(seed, instance, node, step, index);
        let w = &want[0].2[4 * i..4 * i + 3];
        assert_eq!(
            [z.to_bits(), z0.to_bits(), z1.to_bits()],
            w,
            "test transcription differs from rateforge_ir::rng at {:?}",
            tuples[i]
        );
    }

    let n64 = x64.len();
    let n32 = x32.len();
    for (ns, fma, pe) in VARIANTS {
        let bytes = run_harness(&exe, &input_path, ns, &dir);
        assert_eq!(
            bytes.len(),
            7 * 8 * n64 + 7 * 4 * n32 + 4 * 8 * tuples.len()
        );
        let (b64, rest) = bytes.split_at(7 * 8 * n64);
        let (b32, brng) = rest.split_at(7 * 4 * n32);
        let (o64, o32, orng) = (u64s(b64), u32s(b32), u64s(brng));
        let (w64, w32, wrng) = &want[fma as usize];
        let tag = format!("[RF_FMA={fma} RF_PROD_ERR_FMA={pe}]");
        for (k, (name, _)) in reference::F64_FNS.iter().enumerate() {
            report.check(
                &format!("{tag} {name}"),
                &x64b,
                &o64[k * n64..(k + 1) * n64],
                &w64[k],
                same64,
                show64,
            );
        }
        for (k, (name, _)) in reference::F32_FNS.iter().enumerate() {
            report.check(
                &format!("{tag} {name}"),
                &x32b,
                &o32[k * n32..(k + 1) * n32],
                &w32[k],
                same32,
                show32,
            );
        }
        let tuple_ids: Vec<u64> = (0..tuples.len() as u64).collect();
        for (j, name) in [
            "rf_normal",
            "rf_normal_pair.0",
            "rf_normal_pair.1",
            "rf_uniform_init",
        ]
        .iter()
        .enumerate()
        {
            let got: Vec<u64> = orng.iter().skip(j).step_by(4).copied().collect();
            let exp: Vec<u64> = wrng.iter().skip(j).step_by(4).copied().collect();
            report.check(
                &format!("{tag} {name} (input: tuple number)"),
                &tuple_ids,
                &got,
                &exp,
                |a, b| a == b,
                show64,
            );
        }
    }

    std::fs::remove_dir_all(&dir).ok();
    assert!(
        report.failed_checks == 0,
        "the CUDA C text differs from the Rust text in {} checks:\n{}",
        report.failed_checks,
        report.lines.join("\n")
    );
    println!(
        "cuda_vmath: {} constants, {} f64 and {} f32 points per function, {} random tuples, \
         4 builds: all bit-identical",
        consts.len(),
        n64,
        n32,
        tuples.len()
    );
}
