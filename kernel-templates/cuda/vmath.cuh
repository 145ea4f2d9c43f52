// ---------------------------------------------------------------------------
// rateforge vmath, CUDA C / C++ port of kernel-templates/rust/vmath.rs.
//
// This text is pasted verbatim into generated CUDA kernels (compiled with
// NVRTC) and into C++ programs that emulate them on the CPU.  It computes the
// SAME BITS as the Rust text: every function below is a transcription of its
// Rust namesake, operation by operation and in the same order, with the same
// constants (written as exact hex-float literals, the Rust decimal literal in
// the comment; a test compares every constant's bits).  See vmath.rs for the
// algorithms, accuracy and special values; nothing here differs.
// crates/rateforge-codegen/tests/cuda_vmath.rs checks bit-identity against the
// Rust build (both RF_FMA settings, f64 and f32, ~2*10^5 points per function).
//
// No #include: NVRTC compiles it without headers.  Types: double, float,
// unsigned long long (u64), long long, unsigned int (u32), int.
//
// Macro contract.  The includer may define these before pasting the text;
// each has a default (chosen by __CUDACC__, which nvcc and NVRTC define):
//
//   RF_DEVICE       function qualifier.
//                   CUDA: __device__ __forceinline__    C++: static inline
//   RF_FMA          0 or 1 (default 0).  1: polynomial steps rf_mla(a, b, c)
//                   are one fused multiply-add (CUDA __fma_rn / __fmaf_rn,
//                   C++ __builtin_fma / __builtin_fmaf), as the Rust text with
//                   `const RF_FMA: bool = true`.  0: a rounded multiply then
//                   a rounded add, rateforge-ir's reference semantics.
//   RF_AS_U64(x)    bits of a double as unsigned long long, RF_FROM_U64(u)
//                   the inverse; RF_AS_U32(x) / RF_FROM_U32(u) for float and
//                   unsigned int.
//                   CUDA: (unsigned long long)__double_as_longlong(x),
//                         __longlong_as_double((long long)(u)),
//                         __float_as_uint(x), __uint_as_float(u)
//                   C++:  __builtin_bit_cast(unsigned long long, x), ... (g++
//                         >= 11, clang >= 9)
//   RF_SQRT(x)      IEEE correctly rounded double square root (used by
//                   random.cuh).  CUDA: __dsqrt_rn(x)   C++: __builtin_sqrt(x)
//   RF_PROD_ERR_FMA 0 or 1: how rf_prod_err computes the exact error of a
//                   product: one fma (1) or Dekker's splitting (0).  This
//                   mirrors `cfg!(target_feature = "fma")` in the Rust text.
//                   Both are exact for every argument the functions below
//                   pass, so the results do not depend on it (the test checks
//                   both against the Rust build).  CUDA default 1 (the GPU
//                   always has fma); C++ default 1 if __FMA__ is defined
//                   (-mfma, -march=native on FMA hardware), else 0.
//
// Arithmetic.  Every multiplication and division goes through rf_mul_f64 /
// rf_mul_f32 / rf_div_f64 / rf_div_f32, which under CUDA are __dmul_rn,
// __fmul_rn, __ddiv_rn and __fdiv_rn: round-to-nearest operations that the
// compiler never contracts into a multiply-add, whatever --fmad says, and
// IEEE divisions whatever --prec-div says.  Additions, subtractions,
// comparisons, selects and integer operations are plain C.  So the results
// here are the Rust results bit for bit under any NVRTC options EXCEPT
// flushing f32 subnormals: do not compile with -ftz=true or --use_fast_math
// (f64 is never flushed).  On the C++ side the operations are plain C, so
// compile with -ffp-contract=off: g++ otherwise fuses a*b+c into an fma where
// the target has one (e.g. -march=native), even with -std=c++17; and keep IEEE
// semantics (no -ffast-math; SSE2 or another IEEE unit, not x87 extended
// precision).
//
// Language: C++17 or later (hex-float literals, which NVRTC 12 accepts by
// default, -std=c++17 / c++20; -std=c++14 rejects them).  Hex floats are used
// because they are exact: C++ lets a compiler round an inexact decimal literal
// either way.
//
// NaN results are NaN wherever Rust's are; the NaN payload (and the sign of a
// NaN) may differ between CPU and GPU, which propagate NaNs differently.
// ---------------------------------------------------------------------------

#ifndef RF_DEVICE
#if defined(__CUDACC__)
#define RF_DEVICE __device__ __forceinline__
#else
#define RF_DEVICE static inline
#endif
#endif

#ifndef RF_FMA
#define RF_FMA 0
#endif

#ifndef RF_PROD_ERR_FMA
#if defined(__CUDACC__) || defined(__FMA__)
#define RF_PROD_ERR_FMA 1
#else
#define RF_PROD_ERR_FMA 0
#endif
#endif

#ifndef RF_AS_U64
#if defined(__CUDACC__)
#define RF_AS_U64(x) ((unsigned long long)__double_as_longlong(x))
#else
#define RF_AS_U64(x) __builtin_bit_cast(unsigned long long, (double)(x))
#endif
#endif

#ifndef RF_FROM_U64
#if defined(__CUDACC__)
#define RF_FROM_U64(u) __longlong_as_double((long long)(u))
#else
#define RF_FROM_U64(u) __builtin_bit_cast(double, (unsigned long long)(u))
#endif
#endif

#ifndef RF_AS_U32
#if defined(__CUDACC__)
#define RF_AS_U32(x) __float_as_uint(x)
#else
#define RF_AS_U32(x) __builtin_bit_cast(unsigned int, (float)(x))
#endif
#endif

#ifndef RF_FROM_U32
#if defined(__CUDACC__)
#define RF_FROM_U32(u) __uint_as_float(u)
#else
#define RF_FROM_U32(u) __builtin_bit_cast(float, (unsigned int)(u))
#endif
#endif

#ifndef RF_SQRT
#if defined(__CUDACC__)
#define RF_SQRT(x) __dsqrt_rn(x)
#else
#define RF_SQRT(x) __builtin_sqrt(x)
#endif
#endif

// ---------------------------------------------------------------- constants --
// (Macros, so that they work in device code and in C++ alike.  Redefining a
// macro with the same text is allowed, so the file may be pasted twice, e.g.
// into two C++ namespaces with different RF_FMA.)

// 1.5 * 2^52 and its bits; 1.5 * 2^23 and its bits.
#define RF_MAGIC (0x1.8p+52) /* 6_755_399_441_055_744.0 */
#define RF_MAGIC_BITS 0x4338000000000000ULL
#define RF_MAGIC_F32 (0x1.8p+23f) /* 12_582_912.0 */
#define RF_MAGIC_F32_BITS 0x4B400000u

#define RF_LN2_1 (0x1.62e42fefa38p-1)         /* 0.6931471805598903 */
#define RF_LN2_2 (0x1.ef35793c7673p-45)       /* 5.497923018708371e-14 */
#define RF_LN2_F32_1 (0x1.62e4p-1f)           /* 0.693_145_75 */
#define RF_LN2_F32_2 (0x1.7f7d1cp-20f)        /* 1.428_606_8e-6 */

#define RF_PIO2_1 (0x1.921fb544p+0)           /* 1.5707963267341256 */
#define RF_PIO2_2 (0x1.0b4611a6p-34)          /* 6.077100506303966e-11 */
#define RF_PIO2_3 (0x1.3198a2ep-69)           /* 2.0222662487111665e-21 */
#define RF_PIO2_4 (0x1.b839a252049c1p-104)    /* 8.4784276603689e-32 */
#define RF_PIO2_F32_3 (0x1.3198a2e037073p-69) /* 2.0222662487959506e-21 */
#define RF_TRIG_RMAX (0x1.926e978d4fdf4p-1)   /* 0.786 */
#define RF_TRIG_HUGE (0x1p+50)                /* 1_125_899_906_842_624.0 */

#define RF_SQRT1_2_BITS 0x3FE6A09E667F3BCDULL
#define RF_SQRT1_2_F32_BITS 0x3F3504F3u

// core::f64::consts::LOG2_E, FRAC_2_PI; core::f32::consts::LOG2_E.
#define RF_LOG2_E (0x1.71547652b82fep+0)      /* 1.4426950408889634 */
#define RF_FRAC_2_PI (0x1.45f306dc9c883p-1)   /* 0.6366197723675814 */
#define RF_LOG2_E_F32 (0x1.715476p+0f)        /* 1.442695 */

// Other non-trivial literals of vmath.rs.
#define RF_EXP_XMAX (0x1.62f3333333333p+9)    /* 709.9 */
#define RF_SPLIT (0x1.0000002p+27)            /* 134_217_729.0 = 2^27 + 1 */
#define RF_SPLIT_F32 (0x1.001p+12f)           /* 4097.0 = 2^12 + 1 */
#define RF_LOG_KOFF (0x1.00000000003ffp+52)   /* 4_503_599_627_371_519.0 */
#define RF_LOG_KOFF_F32 (0x1.0000fep+23f)     /* 8_388_735.0 */

// e^r - 1 = r + r^2 Q(r), |r| <= 0.3473 (RF_EXP_Q).
#define RF_EXP_Q0 (0x1p-1)                    /* 0.5 */
#define RF_EXP_Q1 (0x1.5555555555559p-3)      /* 0.16666666666666677 */
#define RF_EXP_Q2 (0x1.555555555553ep-5)      /* 0.041666666666666505 */
#define RF_EXP_Q3 (0x1.111111110f673p-7)      /* 0.008333333333321513 */
#define RF_EXP_Q4 (0x1.6c16c16c1f27cp-10)     /* 0.0013888888888963493 */
#define RF_EXP_Q5 (0x1.a01a01b001f7fp-13)     /* 0.00019841269886477703 */
#define RF_EXP_Q6 (0x1.a01a017b5cb1p-16)      /* 2.4801587171062337e-05 */
#define RF_EXP_Q7 (0x1.71ddf7fe4c8b1p-19)     /* 2.7557243803761886e-06 */
#define RF_EXP_Q8 (0x1.27e5369d2ecd5p-22)     /* 2.755740327699441e-07 */
#define RF_EXP_Q9 (0x1.af5f689cc66b8p-26)     /* 2.5109195267350024e-08 */
#define RF_EXP_Q10 (0x1.1ee885335ffep-29)     /* 2.0875325024908825e-09 */

// 2 atanh(s) = 2 s + s R(s^2) (RF_LOG_R).
#define RF_LOG_R0 (0x1.5555555555593p-1)      /* 0.6666666666666735 */
#define RF_LOG_R1 (0x1.999999997f98bp-2)      /* 0.3999999999940875 */
#define RF_LOG_R2 (0x1.2492494234212p-2)      /* 0.2857142874391069 */
#define RF_LOG_R3 (0x1.c71c51cd7da8dp-3)      /* 0.22222198398931817 */
#define RF_LOG_R4 (0x1.74664c2f98a6ap-3)      /* 0.18183574218990667 */
#define RF_LOG_R5 (0x1.39a04c9647df5p-3)      /* 0.15313777764912087 */
#define RF_LOG_R6 (0x1.2f14a9c99b404p-3)      /* 0.14798863073829704 */

// sin r = r + r^3 S(r^2) (RF_SIN_S).
#define RF_SIN_S0 (-0x1.5555555555555p-3)     /* -0.16666666666666666 */
#define RF_SIN_S1 (0x1.1111111111069p-7)      /* 0.008333333333333042 */
#define RF_SIN_S2 (-0x1.a01a019ffe548p-13)    /* -0.00019841269840962573 */
#define RF_SIN_S3 (0x1.71de3a33ac36cp-19)     /* 2.7557319074101685e-06 */
#define RF_SIN_S4 (-0x1.ae642c5f59511p-26)    /* -2.5052070970993702e-08 */
#define RF_SIN_S5 (0x1.6109c92a99c89p-33)     /* 1.6054319794684586e-10 */
#define RF_SIN_S6 (-0x1.a004ac80f3df6p-41)    /* -7.38996876488852e-13 */

// cos r = 1 - r^2/2 + r^4 C(r^2) (RF_COS_C).
#define RF_COS_C0 (0x1.555555555554ap-5)      /* 0.04166666666666659 */
#define RF_COS_C1 (-0x1.6c16c16c14ep-10)      /* -0.0013888888888872186 */
#define RF_COS_C2 (0x1.a01a019c5c392p-16)     /* 2.480158728829539e-05 */
#define RF_COS_C3 (-0x1.27e4f7cd3188p-22)     /* -2.755731401512241e-07 */
#define RF_COS_C4 (0x1.1ee9c3356fafp-29)     /* 2.0875678084770096e-09 */
#define RF_COS_C5 (-0x1.8f99cb78309acp-37)    /* -1.1357336715833915e-11 */

// f32 (RF_EXP_Q_F32, RF_LOG_R_F32).
#define RF_EXP_Q_F32_0 (0x1.fffffep-2f)       /* 0.499_999_97 */
#define RF_EXP_Q_F32_1 (0x1.5554a8p-3f)       /* 0.166_665_38 */
#define RF_EXP_Q_F32_2 (0x1.555796p-5f)       /* 0.041_667_74 */
#define RF_EXP_Q_F32_3 (0x1.122e28p-7f)       /* 0.008_367_319 */
#define RF_EXP_Q_F32_4 (0x1.6ac05p-10f)       /* 0.001_383_786_1 */
#define RF_LOG_R_F32_0 (0x1.55557ap-1f)       /* 0.666_667_76 */
#define RF_LOG_R_F32_1 (0x1.995ec2p-2f)       /* 0.399_775_53 */
#define RF_LOG_R_F32_2 (0x1.31e3fep-2f)       /* 0.298_721_28 */

// f32 sin/cos, evaluated in f64 (RF_SIN_S_F32, RF_COS_C_F32).
#define RF_SIN_S_F32_0 (-0x1.555544f44de62p-3)  /* -0.16666654463346037 */
#define RF_SIN_S_F32_1 (0x1.110726bcdd9fcp-7)   /* 0.008332151331825514 */
#define RF_SIN_S_F32_2 (-0x1.993ce1df8a6d5p-13) /* -0.00019513979985790486 */
#define RF_COS_C_F32_0 (0x1.555549edf1a2bp-5)   /* 0.04166664542531281 */
#define RF_COS_C_F32_1 (-0x1.6c0c1dacf4732p-10) /* -0.0013887303459693798 */
#define RF_COS_C_F32_2 (0x1.99e53742ab871p-16)  /* 2.4431668189599626e-05 */

#define RF_INF_BITS 0x7FF0000000000000ULL
#define RF_NAN_BITS 0x7FF8000000000000ULL     /* f64::NAN */
#define RF_INF_F32_BITS 0x7F800000u
#define RF_NAN_F32_BITS 0x7FC00000u           /* f32::NAN */

// ------------------------------------------------------ basic operations --

// Round-to-nearest products and quotients that are never contracted into a
// multiply-add (see the header).
RF_DEVICE double rf_mul_f64(double a, double b) {
#if defined(__CUDACC__)
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

RF_DEVICE float rf_mul_f32(float a, float b) {
#if defined(__CUDACC__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

RF_DEVICE double rf_div_f64(double a, double b) {
#if defined(__CUDACC__)
    return __ddiv_rn(a, b);
#else
    return a / b;
#endif
}

RF_DEVICE float rf_div_f32(float a, float b) {
#if defined(__CUDACC__)
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}

// Correctly rounded a * b + c.
RF_DEVICE double rf_fma_f64(double a, double b, double c) {
#if defined(__CUDACC__)
    return __fma_rn(a, b, c);
#else
    return __builtin_fma(a, b, c);
#endif
}

RF_DEVICE float rf_fma_f32(float a, float b, float c) {
#if defined(__CUDACC__)
    return __fmaf_rn(a, b, c);
#else
    return __builtin_fmaf(a, b, c);
#endif
}

// f64::abs and f64::copysign (bit operations, so NaNs keep their payload).
RF_DEVICE double rf_abs_f64(double x) {
    return RF_FROM_U64(RF_AS_U64(x) & 0x7FFFFFFFFFFFFFFFULL);
}

RF_DEVICE float rf_abs_f32(float x) {
    return RF_FROM_U32(RF_AS_U32(x) & 0x7FFFFFFFu);
}

RF_DEVICE double rf_copysign_f64(double x, double s) {
    return RF_FROM_U64((RF_AS_U64(x) & 0x7FFFFFFFFFFFFFFFULL) |
                       (RF_AS_U64(s) & 0x8000000000000000ULL));
}

RF_DEVICE float rf_copysign_f32(float x, float s) {
    return RF_FROM_U32((RF_AS_U32(x) & 0x7FFFFFFFu) | (RF_AS_U32(s) & 0x80000000u));
}

// ----------------------------------------------------------------- helpers --
// (Rust tuples are returned as the function value (first element) and
// pointer out-parameters (the others).)

// Error-free sum: s + *e == a + b exactly (s = fl(a + b)).
RF_DEVICE double rf_two_sum(double a, double b, double *e) {
    double s = a + b;
    double bb = s - a;
    *e = (a - (s - bb)) + (b - bb);
    return s;
}

// Error-free sum for |a| >= |b| (or a == 0).
RF_DEVICE double rf_fast_two_sum(double a, double b, double *e) {
    double s = a + b;
    *e = (a - s) + b;
    return s;
}

RF_DEVICE float rf_two_sum_f32(float a, float b, float *e) {
    float s = a + b;
    float bb = s - a;
    *e = (a - (s - bb)) + (b - bb);
    return s;
}

RF_DEVICE float rf_fast_two_sum_f32(float a, float b, float *e) {
    float s = a + b;
    *e = (a - s) + b;
    return s;
}

// a * b + c: one fused multiply-add when RF_FMA is 1, two rounded operations
// otherwise.
RF_DEVICE double rf_mla(double a, double b, double c) {
#if RF_FMA
    return rf_fma_f64(a, b, c);
#else
    return rf_mul_f64(a, b) + c;
#endif
}

RF_DEVICE float rf_mla_f32(float a, float b, float c) {
#if RF_FMA
    return rf_fma_f32(a, b, c);
#else
    return rf_mul_f32(a, b) + c;
#endif
}

// Exact rounding error of a product: a * b == p + e for p = fl(a * b).
RF_DEVICE double rf_prod_err(double a, double b, double p) {
#if RF_PROD_ERR_FMA
    return rf_fma_f64(a, b, -p);
#else
    double ca = rf_mul_f64(a, RF_SPLIT); // 2^27 + 1
    double ah = ca - (ca - a);
    double al = a - ah;
    double cb = rf_mul_f64(b, RF_SPLIT);
    double bh = cb - (cb - b);
    double bl = b - bh;
    return (((rf_mul_f64(ah, bh) - p) + rf_mul_f64(ah, bl)) + rf_mul_f64(al, bh)) +
           rf_mul_f64(al, bl);
#endif
}

RF_DEVICE float rf_prod_err_f32(float a, float b, float p) {
#if RF_PROD_ERR_FMA
    return rf_fma_f32(a, b, -p);
#else
    float ca = rf_mul_f32(a, RF_SPLIT_F32); // 2^12 + 1
    float ah = ca - (ca - a);
    float al = a - ah;
    float cb = rf_mul_f32(b, RF_SPLIT_F32);
    float bh = cb - (cb - b);
    float bl = b - bh;
    return (((rf_mul_f32(ah, bh) - p) + rf_mul_f32(ah, bl)) + rf_mul_f32(al, bh)) +
           rf_mul_f32(al, bl);
#endif
}

// (n + nl) / (d + dl) with a correction from the exact division residual.
RF_DEVICE double rf_div_dd(double n, double nl, double d, double dl) {
    double q = rf_div_f64(n, d);
    double p = rf_mul_f64(q, d);
    double rho = (n - p) - rf_prod_err(q, d, p); // n - q d, exactly
    return q + rf_div_f64((rho + nl) - rf_mul_f64(q, dl), d);
}

RF_DEVICE float rf_div_dd_f32(float n, float nl, float d, float dl) {
    float q = rf_div_f32(n, d);
    float p = rf_mul_f32(q, d);
    float rho = (n - p) - rf_prod_err_f32(q, d, p);
    return q + rf_div_f32((rho + nl) - rf_mul_f32(q, dl), d);
}

// Q1(r) with e^r - 1 = r + r^2 (1/2 + r Q1(r)).
RF_DEVICE double rf_exp_q1(double r, double r2) {
    // Two interleaved Horner chains in r^2.
    double even = rf_mla(
        r2, rf_mla(r2, rf_mla(r2, rf_mla(r2, RF_EXP_Q9, RF_EXP_Q7), RF_EXP_Q5), RF_EXP_Q3),
        RF_EXP_Q1);
    double odd = rf_mla(
        r2, rf_mla(r2, rf_mla(r2, rf_mla(r2, RF_EXP_Q10, RF_EXP_Q8), RF_EXP_Q6), RF_EXP_Q4),
        RF_EXP_Q2);
    return rf_mla(r, odd, even);
}

RF_DEVICE float rf_exp_q1_f32(float r) {
    return rf_mla_f32(
        r, rf_mla_f32(r, rf_mla_f32(r, RF_EXP_Q_F32_4, RF_EXP_Q_F32_3), RF_EXP_Q_F32_2),
        RF_EXP_Q_F32_1);
}

// Reduction shared by exp and expm1: returns r and sets *c, *t with
// x = n ln2 + r + c and t = n + RF_MAGIC.
RF_DEVICE double rf_exp_reduce(double x, double *c, double *t) {
    double tt = rf_mul_f64(x, RF_LOG2_E) + RF_MAGIC;
    double n = tt - RF_MAGIC;
    double rh = x - rf_mul_f64(n, RF_LN2_1); // exact
    double rl = rf_mul_f64(n, -RF_LN2_2);
    double r = rh + rl;
    *c = (rh - r) + rl;
    *t = tt;
    return r;
}

RF_DEVICE float rf_exp_reduce_f32(float x, float *c, float *t) {
    float tt = rf_mul_f32(x, RF_LOG2_E_F32) + RF_MAGIC_F32;
    float n = tt - RF_MAGIC_F32;
    float rh = x - rf_mul_f32(n, RF_LN2_F32_1); // exact
    float rl = rf_mul_f32(n, -RF_LN2_F32_2);
    float r = rh + rl;
    *c = (rh - r) + rl;
    *t = tt;
    return r;
}

// e^x as hi + *lo.
RF_DEVICE double rf_exp_dd(double x, double *lo) {
    // Clamp (NaN passes through: both comparisons are false).
    x = x > RF_EXP_XMAX ? RF_EXP_XMAX : x;
    x = x < -746.0 ? -746.0 : x;
    double c, t;
    double r = rf_exp_reduce(x, &c, &t);
    // e^(r + c) = 1 + r + [r^2 Q(r) + c (1 + r)]
    double r2 = rf_mul_f64(r, r);
    double tail = rf_mla(r2, rf_mla(r, rf_exp_q1(r, r2), RF_EXP_Q0), rf_mla(c, r, c));
    double e;
    double s = rf_fast_two_sum(1.0, r, &e);
    double v = e + tail;
    double y = s + v;
    double ylo = (s - y) + v;
    // 2^n = 2^n1 * 2^n2, n1 = floor(n/2): covers n in [-1077, 1025].
    unsigned long long kb = RF_AS_U64(t) - RF_MAGIC_BITS + 2048ULL; // n + 2048
    unsigned long long e1 = (kb >> 1) - 1ULL;                       // n1 + 1023
    unsigned long long e2 = kb - e1 - 2ULL;                         // n - n1 + 1023
    double s1 = RF_FROM_U64(e1 << 52);
    double s2 = RF_FROM_U64(e2 << 52);
    *lo = rf_mul_f64(rf_mul_f64(ylo, s1), s2);
    return rf_mul_f64(rf_mul_f64(y, s1), s2);
}

RF_DEVICE float rf_exp_dd_f32(float x, float *lo) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    float c, t;
    float r = rf_exp_reduce_f32(x, &c, &t);
    float tail = rf_mla_f32(rf_mul_f32(r, r), rf_mla_f32(r, rf_exp_q1_f32(r), RF_EXP_Q_F32_0),
                            rf_mla_f32(c, r, c));
    float e;
    float s = rf_fast_two_sum_f32(1.0f, r, &e);
    float v = e + tail;
    float y = s + v;
    float ylo = (s - y) + v;
    unsigned int kb = RF_AS_U32(t) - RF_MAGIC_F32_BITS + 256u; // n + 256
    unsigned int e1 = (kb >> 1) - 1u;
    unsigned int e2 = kb - e1 - 2u;
    float s1 = RF_FROM_U32(e1 << 23);
    float s2 = RF_FROM_U32(e2 << 23);
    *lo = rf_mul_f32(rf_mul_f32(ylo, s1), s2);
    return rf_mul_f32(rf_mul_f32(y, s1), s2);
}

// e^x - 1 as hi + *lo.
RF_DEVICE double rf_expm1_dd(double x, double *lo) {
    x = x > 710.0 ? 710.0 : x;
    x = x < -40.0 ? -40.0 : x;
    double c, t;
    double r = rf_exp_reduce(x, &c, &t);
    // e^(r + c) - 1 = r + r^2/2 + small; r^2 = r2 + r2e exactly.
    double r2 = rf_mul_f64(r, r);
    double r2e = rf_prod_err(r, r, r2);
    double small = rf_mla(rf_mul_f64(r2, r), rf_exp_q1(r, r2),
                          rf_mla(RF_EXP_Q0, r2e, rf_mla(c, r, c)));
    // e^x - 1 = 2^m (2^(n-m) (1 + r + r^2/2 + small) - 2^-m), m = 1 only for
    // n = 1024; the big terms are summed error-free.
    unsigned long long big = (unsigned long long)(t - RF_MAGIC > 1023.0);
    unsigned long long nb = RF_AS_U64(t) - RF_MAGIC_BITS + 1023ULL - big;
    double s = RF_FROM_U64(nb << 52);
    double one = RF_FROM_U64((1023ULL - big) << 52);
    double fac = RF_FROM_U64((1023ULL + big) << 52);
    double ae, he, he2;
    double a = rf_two_sum(s, -one, &ae);
    double h = rf_two_sum(a, rf_mul_f64(s, r), &he);
    h = rf_two_sum(h, rf_mul_f64(s, rf_mul_f64(RF_EXP_Q0, r2)), &he2);
    double v = (he + he2) + (ae + rf_mul_f64(s, small));
    double hi = h + v;
    double l = (h - hi) + v;
    *lo = rf_mul_f64(l, fac);
    return rf_mul_f64(hi, fac);
}

RF_DEVICE float rf_expm1_dd_f32(float x, float *lo) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -20.0f ? -20.0f : x;
    float c, t;
    float r = rf_exp_reduce_f32(x, &c, &t);
    // As in rf_expm1_dd, with (Q0 - 1/2) r^2 moved into the small part.
    float r2 = rf_mul_f32(r, r);
    float r2e = rf_prod_err_f32(r, r, r2);
    float small = rf_mla_f32(
        rf_mul_f32(r2, r), rf_exp_q1_f32(r),
        rf_mla_f32(0.5f, r2e, rf_mla_f32(RF_EXP_Q_F32_0 - 0.5f, r2, rf_mla_f32(c, r, c))));
    unsigned int big = (unsigned int)(t - RF_MAGIC_F32 > 127.0f);
    unsigned int nb = RF_AS_U32(t) - RF_MAGIC_F32_BITS + 127u - big;
    float s = RF_FROM_U32(nb << 23);
    float one = RF_FROM_U32((127u - big) << 23);
    float fac = RF_FROM_U32((127u + big) << 23);
    float ae, he, he2;
    float a = rf_two_sum_f32(s, -one, &ae);
    float h = rf_two_sum_f32(a, rf_mul_f32(s, r), &he);
    h = rf_two_sum_f32(h, rf_mul_f32(s, rf_mul_f32(0.5f, r2)), &he2);
    float v = (he + he2) + (ae + rf_mul_f32(s, small));
    float hi = h + v;
    float l = (h - hi) + v;
    *lo = rf_mul_f32(l, fac);
    return rf_mul_f32(hi, fac);
}

// Reduction for sin/cos: |x| = n pi/2 + rh + *rl; returns rh and sets *q to
// the bits of n + RF_MAGIC (low two bits: n mod 4).
RF_DEVICE double rf_trig_reduce(double x, double *rl, unsigned long long *q) {
    double ax = rf_abs_f64(x);
    double t = rf_mul_f64(ax, RF_FRAC_2_PI) + RF_MAGIC;
    double n = t - RF_MAGIC;
    double r1 = ax - rf_mul_f64(n, RF_PIO2_1); // exact for n < 2^20
    double ea, eb;
    double a = rf_two_sum(r1, rf_mul_f64(n, -RF_PIO2_2), &ea);
    double b = rf_two_sum(a, rf_mul_f64(n, -RF_PIO2_3), &eb);
    double l = (ea + eb) - rf_mul_f64(n, RF_PIO2_4);
    double rh = b > RF_TRIG_RMAX ? RF_TRIG_RMAX : b;
    rh = rh < -RF_TRIG_RMAX ? -RF_TRIG_RMAX : rh;
    *rl = ax > RF_TRIG_HUGE ? 0.0 : l;
    *q = RF_AS_U64(t);
    return rh;
}

// sin(rh + rl) for |rh| <= pi/4.
RF_DEVICE double rf_sin_poly(double rh, double rl, double z) {
    double z2 = rf_mul_f64(z, z);
    double even = rf_mla(z2, rf_mla(z2, rf_mla(z2, RF_SIN_S6, RF_SIN_S4), RF_SIN_S2), RF_SIN_S0);
    double odd = rf_mla(z2, rf_mla(z2, RF_SIN_S5, RF_SIN_S3), RF_SIN_S1);
    double s = rf_mla(z, odd, even);
    return rh + rf_mla(rf_mul_f64(rh, z), s, rf_mul_f64(rl, 1.0 - rf_mul_f64(0.5, z)));
}

// cos(rh + rl) for |rh| <= pi/4.
RF_DEVICE double rf_cos_poly(double rh, double rl, double z) {
    double z2 = rf_mul_f64(z, z);
    double even = rf_mla(z2, rf_mla(z2, RF_COS_C4, RF_COS_C2), RF_COS_C0);
    double odd = rf_mla(z2, rf_mla(z2, RF_COS_C5, RF_COS_C3), RF_COS_C1);
    double p = rf_mla(z, odd, even);
    double hz = rf_mul_f64(0.5, z);
    double w = 1.0 - hz;
    return w + (((1.0 - w) - hz) + rf_mla(z2, p, -rf_mul_f64(rh, rl)));
}

// Reduction for the f32 sin/cos, in f64: returns r, sets *q to the bits of
// n + RF_MAGIC.
RF_DEVICE double rf_trig_reduce_f32(float x, unsigned long long *q) {
    double ax = rf_abs_f64((double)x);
    double t = rf_mul_f64(ax, RF_FRAC_2_PI) + RF_MAGIC;
    double n = t - RF_MAGIC;
    double r = ((ax - rf_mul_f64(n, RF_PIO2_1)) - rf_mul_f64(n, RF_PIO2_2)) -
               rf_mul_f64(n, RF_PIO2_F32_3);
    r = r > RF_TRIG_RMAX ? RF_TRIG_RMAX : r;
    r = r < -RF_TRIG_RMAX ? -RF_TRIG_RMAX : r;
    *q = RF_AS_U64(t);
    return r;
}

RF_DEVICE double rf_sin_poly_f32(double r, double z) {
    return rf_mla(rf_mul_f64(r, z),
                  rf_mla(z, rf_mla(z, RF_SIN_S_F32_2, RF_SIN_S_F32_1), RF_SIN_S_F32_0), r);
}

RF_DEVICE double rf_cos_poly_f32(double z) {
    return rf_mla(rf_mul_f64(z, z),
                  rf_mla(z, rf_mla(z, RF_COS_C_F32_2, RF_COS_C_F32_1), RF_COS_C_F32_0),
                  1.0 - rf_mul_f64(0.5, z));
}

// ------------------------------------------------------------------ f64 API --

// e^x.
RF_DEVICE double rf_exp(double x) {
    double lo;
    return rf_exp_dd(x, &lo);
}

// e^x - 1 (keeps the sign of -0).
RF_DEVICE double rf_expm1(double x) {
    double lo;
    double y = rf_expm1_dd(x, &lo);
    return x == 0.0 ? x : y;
}

// Natural logarithm; log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf.
RF_DEVICE double rf_log(double x) {
    int sub = x < 0x1p-1022; // f64::MIN_POSITIVE
    double xs = sub ? rf_mul_f64(x, 0x1p+54) : x; // 18_014_398_509_481_984.0
    unsigned long long u = RF_AS_U64(xs) + (0x3FF0000000000000ULL - RF_SQRT1_2_BITS);
    double m = RF_FROM_U64((u & 0x000FFFFFFFFFFFFFULL) + RF_SQRT1_2_BITS);
    // k = (u >> 52) - 1023, converted exactly through the exponent trick.
    double k = RF_FROM_U64(0x4330000000000000ULL | (u >> 52)) - RF_LOG_KOFF;
    k = sub ? k - 54.0 : k;
    double f = m - 1.0; // exact
    double s = rf_div_f64(f, 2.0 + f);
    double z = rf_mul_f64(s, s);
    double z2 = rf_mul_f64(z, z);
    double even = rf_mla(z2, rf_mla(z2, rf_mla(z2, RF_LOG_R6, RF_LOG_R4), RF_LOG_R2), RF_LOG_R0);
    double odd = rf_mla(z2, rf_mla(z2, RF_LOG_R5, RF_LOG_R3), RF_LOG_R1);
    double r = rf_mul_f64(z, rf_mla(z, odd, even));
    double hfsq = rf_mul_f64(rf_mul_f64(0.5, f), f);
    double lo = hfsq - rf_mla(s, hfsq + r, rf_mul_f64(k, RF_LN2_2));
    double e;
    double h = rf_two_sum(rf_mul_f64(k, RF_LN2_1), f, &e);
    double y = h + (e - lo);
    y = x == RF_FROM_U64(RF_INF_BITS) ? x : y;
    return x > 0.0 ? y : (x == 0.0 ? -RF_FROM_U64(RF_INF_BITS) : RF_FROM_U64(RF_NAN_BITS));
}

// Hyperbolic tangent; exactly +-1 for |x| >= 20.
RF_DEVICE double rf_tanh(double x) {
    double a = rf_abs_f64(x);
    a = a > 20.0 ? 20.0 : a;
    double ml, de;
    double m = rf_expm1_dd(a + a, &ml);
    double d = rf_two_sum(m, 2.0, &de);
    return rf_copysign_f64(rf_div_dd(m, ml, d, de + ml), x);
}

// Logistic sigmoid 1 / (1 + e^-x).
RF_DEVICE double rf_sigmoid(double x) {
    double el, de;
    double e = rf_exp_dd(-rf_abs_f64(x), &el);
    double d = rf_fast_two_sum(1.0, e, &de);
    int neg = x < 0.0;
    double num = neg ? e : 1.0;
    double numl = neg ? el : 0.0;
    return rf_div_dd(num, numl, d, de + el);
}

// Sine.
RF_DEVICE double rf_sin(double x) {
    double rl;
    unsigned long long q;
    double rh = rf_trig_reduce(x, &rl, &q);
    double z = rf_mul_f64(rh, rh);
    double sp = rf_sin_poly(rh, rl, z);
    double cp = rf_cos_poly(rh, rl, z);
    double v = (q & 1ULL) == 0ULL ? sp : cp;
    unsigned long long sign = ((q & 2ULL) << 62) ^ (RF_AS_U64(x) & 0x8000000000000000ULL);
    return RF_FROM_U64(RF_AS_U64(v) ^ sign);
}

// Cosine.
RF_DEVICE double rf_cos(double x) {
    double rl;
    unsigned long long q;
    double rh = rf_trig_reduce(x, &rl, &q);
    double z = rf_mul_f64(rh, rh);
    double sp = rf_sin_poly(rh, rl, z);
    double cp = rf_cos_poly(rh, rl, z);
    double v = (q & 1ULL) == 0ULL ? cp : sp;
    unsigned long long sign = ((q + 1ULL) & 2ULL) << 62;
    return RF_FROM_U64(RF_AS_U64(v) ^ sign);
}

// ------------------------------------------------------------------ f32 API --

RF_DEVICE float rf_exp_f32(float x) {
    float lo;
    return rf_exp_dd_f32(x, &lo);
}

RF_DEVICE float rf_expm1_f32(float x) {
    float lo;
    float y = rf_expm1_dd_f32(x, &lo);
    return x == 0.0f ? x : y;
}

RF_DEVICE float rf_log_f32(float x) {
    int sub = x < 0x1p-126f; // f32::MIN_POSITIVE
    float xs = sub ? rf_mul_f32(x, 0x1p+24f) : x; // 16_777_216.0
    unsigned int u = RF_AS_U32(xs) + (0x3F800000u - RF_SQRT1_2_F32_BITS);
    float m = RF_FROM_U32((u & 0x007FFFFFu) + RF_SQRT1_2_F32_BITS);
    float k = RF_FROM_U32(0x4B000000u | (u >> 23)) - RF_LOG_KOFF_F32; // (u >> 23) - 127
    k = sub ? k - 24.0f : k;
    float f = m - 1.0f;
    float s = rf_div_f32(f, 2.0f + f);
    float z = rf_mul_f32(s, s);
    float r = rf_mul_f32(z, rf_mla_f32(z, rf_mla_f32(z, RF_LOG_R_F32_2, RF_LOG_R_F32_1),
                                       RF_LOG_R_F32_0));
    float hfsq = rf_mul_f32(rf_mul_f32(0.5f, f), f);
    float lo = hfsq - rf_mla_f32(s, hfsq + r, rf_mul_f32(k, RF_LN2_F32_2));
    float e;
    float h = rf_two_sum_f32(rf_mul_f32(k, RF_LN2_F32_1), f, &e);
    float y = h + (e - lo);
    y = x == RF_FROM_U32(RF_INF_F32_BITS) ? x : y;
    return x > 0.0f ? y
                    : (x == 0.0f ? -RF_FROM_U32(RF_INF_F32_BITS) : RF_FROM_U32(RF_NAN_F32_BITS));
}

RF_DEVICE float rf_tanh_f32(float x) {
    float a = rf_abs_f32(x);
    a = a > 10.0f ? 10.0f : a;
    float ml, de;
    float m = rf_expm1_dd_f32(a + a, &ml);
    float d = rf_two_sum_f32(m, 2.0f, &de);
    return rf_copysign_f32(rf_div_dd_f32(m, ml, d, de + ml), x);
}

RF_DEVICE float rf_sigmoid_f32(float x) {
    float el, de;
    float e = rf_exp_dd_f32(-rf_abs_f32(x), &el);
    float d = rf_fast_two_sum_f32(1.0f, e, &de);
    int neg = x < 0.0f;
    float num = neg ? e : 1.0f;
    float numl = neg ? el : 0.0f;
    return rf_div_dd_f32(num, numl, d, de + el);
}

// Sine in f32 (computed in f64, rounded once).
RF_DEVICE float rf_sin_f32(float x) {
    unsigned long long q;
    double r = rf_trig_reduce_f32(x, &q);
    double z = rf_mul_f64(r, r);
    double v = (q & 1ULL) == 0ULL ? rf_sin_poly_f32(r, z) : rf_cos_poly_f32(z);
    unsigned long long sign =
        ((q & 2ULL) << 62) ^ ((unsigned long long)(RF_AS_U32(x) & 0x80000000u) << 32);
    return (float)RF_FROM_U64(RF_AS_U64(v) ^ sign);
}

// Cosine in f32 (computed in f64, rounded once).
RF_DEVICE float rf_cos_f32(float x) {
    unsigned long long q;
    double r = rf_trig_reduce_f32(x, &q);
    double z = rf_mul_f64(r, r);
    double v = (q & 1ULL) == 0ULL ? rf_cos_poly_f32(z) : rf_sin_poly_f32(r, z);
    unsigned long long sign = ((q + 1ULL) & 2ULL) << 62;
    return (float)RF_FROM_U64(RF_AS_U64(v) ^ sign);
}
