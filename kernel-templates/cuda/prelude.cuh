// ---------------------------------------------------------------------------
// rateforge CUDA kernels, part 1 of the model-independent code: the helpers a
// model's functions call and the inputs of a step.  Pasted into every generated
// CUDA kernel after vmath.cuh, random.cuh, the argument block (RfCudaArgs) and
// the model's sizes; runner.cuh (the integrator) follows the model.
//
// Needs: F (the arithmetic: double or float), RF_FMA (0/1), RF_FMA_FN (the
// fused multiply-add of F: __fma_rn or __fmaf_rn), RF_DEVICE, and the sizes
// A_SERIES, A_DELAY, A_COUPLING (never zero).  Semantics: rateforge-ir
// (`BinOp` truth values, `sign`, `heaviside`, clamping, `powi`,
// `eval::whole_steps`), as the Rust kernels' model_prelude!.
// ---------------------------------------------------------------------------

/* One node's inputs that are constant within a step. */
struct RfInputs {
    F u[A_SERIES];
    F q[A_DELAY];
    F c[A_COUPLING];
    F nn;
    F dt;
};

RF_DEVICE F rf_b(bool c) { return c ? (F)1 : (F)0; }

/* a*b + c: fused when RF_FMA is set (fast arithmetic), else two roundings. */
RF_DEVICE F rf_fma(F a, F b, F c) {
#if RF_FMA
    return RF_FMA_FN(a, b, c);
#else
    return a * b + c;
#endif
}

RF_DEVICE F rf_sign(F x) { return x > (F)0 ? (F)1 : (x < (F)0 ? (F)-1 : x); }

RF_DEVICE F rf_heaviside(F x) {
    return x > (F)0 ? (F)1 : (x < (F)0 ? (F)0 : (x == (F)0 ? (F)0.5 : x));
}

RF_DEVICE F rf_clamp(F x, F lo, F hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* x^n by left-to-right repeated multiplication (rateforge-ir `powi`). */
RF_DEVICE F rf_powi(F x, int n) {
    if (n == 0) return (F)1;
    int m = n < 0 ? -n : n;
    F acc = x;
    for (int k = 1; k < m; ++k) acc = acc * x;
    return n < 0 ? (F)1 / acc : acc;
}

/* round_half_even(steps) as a number of steps; negative or NaN gives 0, 2^64 and above the
   largest count (rateforge-kernel `runner::whole_steps`). */
RF_DEVICE unsigned long long rf_whole_steps(double steps) {
    if (!(steps > 0.0)) return 0ULL;
    if (steps >= 18446744073709551616.0) return ~0ULL;
    double r = (double)(unsigned long long)steps; /* floor, exact for positive values */
    double frac = steps - r;                      /* exact */
    if (frac > 0.5 || (frac == 0.5 && ((unsigned long long)r & 1ULL))) r += 1.0;
    return (unsigned long long)r;
}

/* The longest delay, in steps, a run of `n_steps` steps keeps (rateforge-kernel
   `runner::delay_cap`): longer ones only read the constant history before t0. */
RF_DEVICE unsigned long long rf_delay_cap(unsigned long long n_steps) {
    return n_steps > ~0ULL - 2ULL ? ~0ULL : n_steps + 2ULL;
}
