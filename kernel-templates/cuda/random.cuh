// ---------------------------------------------------------------------------
// rateforge random numbers, CUDA C / C++ port of the Philox4x32-10 generator
// and Box-Muller normals of kernel-templates/rust/prelude.rs (rf_philox,
// rf_normal) and crates/rateforge-ir/src/rng.rs (philox4x32_10, normal_pair,
// normal, uniform_init).
//
// Pasted verbatim into generated CUDA kernels AFTER vmath.cuh (it uses
// rf_log, rf_cos, rf_sin, rf_mul_f64 and the macros RF_DEVICE, RF_SQRT
// documented at the top of vmath.cuh; no #include).
//
// Every number is a pure function of (seed, instance, node, step, index):
//   key     = (seed_lo32, seed_hi32)
//   counter = (step_lo32, step_hi16 | pair << 16, node_lo32, instance_lo32),
//             pair = index / 2
//   u1 = (((r0 << 32 | r1) >> 11) + 1) * 2^-53 in (0, 1]
//   u2 = ((r2 << 32 | r3) >> 11) * 2^-53 in [0, 1)
//   normal 2 pair     = sqrt(-2 ln u1) * cos(2 pi u2)
//   normal 2 pair + 1 = sqrt(-2 ln u1) * sin(2 pi u2)
// Integer arithmetic is exact everywhere, RF_SQRT is IEEE's and rf_log /
// rf_cos / rf_sin are vmath's, so the results are rateforge_ir::rng's bit for
// bit when vmath.cuh is compiled with RF_FMA = 0 (the reference semantics);
// with RF_FMA = 1 they equal a Rust kernel's rf_normal built with
// RF_FMA = true.  Checked by crates/rateforge-codegen/tests/cuda_vmath.rs.
// ---------------------------------------------------------------------------

// Four 32-bit words (a Rust [u32; 4]).
typedef struct rf_u32x4 {
    unsigned int v[4];
} rf_u32x4;

// The Philox4x32-10 block function (Salmon et al., SC 2011).
RF_DEVICE rf_u32x4 rf_philox(rf_u32x4 counter, unsigned int key0, unsigned int key1) {
    unsigned int c0 = counter.v[0], c1 = counter.v[1], c2 = counter.v[2], c3 = counter.v[3];
    unsigned int k0 = key0, k1 = key1;
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        unsigned long long p0 = 0xD2511F53ULL * (unsigned long long)c0;
        unsigned long long p1 = 0xCD9E8D57ULL * (unsigned long long)c2;
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0;
        unsigned int n1 = (unsigned int)p1;
        unsigned int n2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
        unsigned int n3 = (unsigned int)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
    }
    rf_u32x4 out;
    out.v[0] = c0;
    out.v[1] = c1;
    out.v[2] = c2;
    out.v[3] = c3;
    return out;
}

// The Philox block of (seed, instance, node, step, slot): slot is the pair
// index for normals, the state index for initial draws.
RF_DEVICE rf_u32x4 rf_philox_block(unsigned long long seed, unsigned long long instance,
                                   unsigned long long node, unsigned long long step,
                                   unsigned int slot) {
    rf_u32x4 counter;
    counter.v[0] = (unsigned int)step;
    counter.v[1] = ((unsigned int)(step >> 32) & 0xFFFFu) | (slot << 16);
    counter.v[2] = (unsigned int)node;
    counter.v[3] = (unsigned int)instance;
    return rf_philox(counter, (unsigned int)seed, (unsigned int)(seed >> 32));
}

// Normal numbers 2 pair (returned) and 2 pair + 1 (*z1) of
// (seed, instance, node, step): rng::normal_pair.
RF_DEVICE double rf_normal_pair(unsigned long long seed, unsigned long long instance,
                                unsigned long long node, unsigned long long step,
                                unsigned int pair, double *z1) {
    rf_u32x4 r = rf_philox_block(seed, instance, node, step, pair);
    unsigned long long a = (((unsigned long long)r.v[0] << 32) | (unsigned long long)r.v[1]) >> 11;
    unsigned long long b = (((unsigned long long)r.v[2] << 32) | (unsigned long long)r.v[3]) >> 11;
    // (a + 1) and b are below 2^53 + 1 and 2^53: converted exactly.
    double u1 = rf_mul_f64((double)(a + 1ULL), 0x1p-53); // 1.0 / 9_007_199_254_740_992.0
    double u2 = rf_mul_f64((double)b, 0x1p-53);
    double rho = RF_SQRT(rf_mul_f64(-2.0, rf_log(u1)));
    double angle = rf_mul_f64(0x1.921fb54442d18p+2, u2); // TAU = 6.283185307179586
    *z1 = rf_mul_f64(rho, rf_sin(angle));
    return rf_mul_f64(rho, rf_cos(angle));
}

// Normal number `index` of (seed, instance, node, step), in double whatever
// the kernel's precision: prelude.rs rf_normal, rng::normal.
RF_DEVICE double rf_normal(unsigned long long seed, unsigned long long instance,
                           unsigned long long node, unsigned long long step, unsigned int index) {
    rf_u32x4 r = rf_philox_block(seed, instance, node, step, index / 2u);
    unsigned long long a = (((unsigned long long)r.v[0] << 32) | (unsigned long long)r.v[1]) >> 11;
    unsigned long long b = (((unsigned long long)r.v[2] << 32) | (unsigned long long)r.v[3]) >> 11;
    double u1 = rf_mul_f64((double)(a + 1ULL), 0x1p-53);
    double u2 = rf_mul_f64((double)b, 0x1p-53);
    double rho = RF_SQRT(rf_mul_f64(-2.0, rf_log(u1)));
    double angle = rf_mul_f64(0x1.921fb54442d18p+2, u2);
    return (index % 2u) == 0u ? rf_mul_f64(rho, rf_cos(angle)) : rf_mul_f64(rho, rf_sin(angle));
}

// The step counter value reserved for initial-value draws (rng::INIT_STEP).
#define RF_INIT_STEP 0xFFFFFFFFFFFFULL /* 2^48 - 1 */

// A uniform number in [0, 1) for the initial value of `state` at
// (seed, instance, node): the u2 word of the block at counter
// (INIT_STEP, state, node, instance); rng::uniform_init.
RF_DEVICE double rf_uniform_init(unsigned long long seed, unsigned long long instance,
                                 unsigned long long node, unsigned int state) {
    rf_u32x4 r = rf_philox_block(seed, instance, node, RF_INIT_STEP, state);
    unsigned long long b = (((unsigned long long)r.v[2] << 32) | (unsigned long long)r.v[3]) >> 11;
    return rf_mul_f64((double)b, 0x1p-53);
}
