// ---------------------------------------------------------------------------
// rateforge CUDA kernels, part 2 of the model-independent code: the integrator
// (one thread per instance, the node loop and the time loop inside the thread),
// the delay ring, sampling and streaming statistics, the observers' calls
// (observe.cuh: BOLD, FC, FCD), and the preparation kernel.
// Pasted into every generated CUDA kernel after the model's functions; the same
// text compiles as C++ with the CPU shim (kernel-templates/cuda/shim.h), which is
// how every CUDA test runs it without a GPU.
//
// The semantics are the Rust runner's (crates/rateforge-kernel/src/runner.rs):
// per step, the history entry of every node, then per node the inputs (delayed
// values, couplings held over the step), the sample when due, the noise
// increments (Philox keyed by seed, global instance, node, step) and the solver
// step.  Layouts: rateforge_kernel::abi (RfCudaArgs).
//
// The model provides (the generated part of the kernel):
//   rf_rhs(t, p, x, ys, k), rf_derived(t, p, x, ys, out),
//   rf_derived_free(t, p, x, ys, out), rf_noise(t, p, x, ys, d, g),
//   rf_clamp_all(y), rf_add_noise(y, eta), rf_buffered(b, y, free),
//   rf_init_from(y, y0, free) when RF_HAS_INIT_FROM,
//   rf_delay_param(k), rf_delay_slot(k), rf_coupling_index(k), rf_coupling_slot(c),
//   rf_coupling_pre(c, t, n_nodes, step_dt, cs, p, ys, d),
//   rf_coupling_post(c, t, n_nodes, step_dt, gx, p),
//   rf_draw_initial(a, i, gi, init), rf_edge_delay_steps(a, i, distance),
//   and the sizes N_STATE ... N_NOISY, A_* (never zero), NETWORK, HISTORY_ZERO.
// ---------------------------------------------------------------------------

/* One solver step (rateforge-ir's `solver` semantics): 0 euler, 1 heun, 2 rk4. */
RF_DEVICE void rf_step(unsigned int solver, double t0, double dt, unsigned long long step, const F* p, const RfInputs* x, F* y, const F* eta) {
    F k1[A_STATE], k2[A_STATE], tmp[A_STATE];
    double tn = t0 + (double)step * dt;
    double te = t0 + (double)(step + 1) * dt;
    /* the left limit of the end of the step: the largest double below te */
    unsigned long long bits = RF_AS_U64(te);
    double t_end = te > 0.0 ? RF_FROM_U64(bits - 1ULL) : (te == 0.0 ? -RF_FROM_U64(1ULL) : RF_FROM_U64(bits + 1ULL));
    F h = (F)dt;
    if (solver == 0) {
        rf_rhs((F)tn, p, x, y, k1);
        for (int s = 0; s < N_STATE; ++s) y[s] = rf_fma(h, k1[s], y[s]);
        rf_add_noise(y, eta);
        rf_clamp_all(y);
    } else if (solver == 1) {
        rf_rhs((F)tn, p, x, y, k1);
        for (int s = 0; s < N_STATE; ++s) tmp[s] = rf_fma(h, k1[s], y[s]);
        rf_add_noise(tmp, eta);
        rf_clamp_all(tmp);
        rf_rhs((F)t_end, p, x, tmp, k2);
        F h2 = (F)(0.5 * dt);
        for (int s = 0; s < N_STATE; ++s) y[s] = rf_fma(h2, k1[s] + k2[s], y[s]);
        rf_add_noise(y, eta);
        rf_clamp_all(y);
    } else {
        F acc[A_STATE];
        double t_mid = t0 + ((double)step + 0.5) * dt;
        F h2 = (F)(0.5 * dt);
        rf_rhs((F)tn, p, x, y, k1);
        for (int s = 0; s < N_STATE; ++s) { acc[s] = k1[s]; tmp[s] = rf_fma(h2, k1[s], y[s]); }
        rf_clamp_all(tmp);
        rf_rhs((F)t_mid, p, x, tmp, k2);
        for (int s = 0; s < N_STATE; ++s) { acc[s] = rf_fma((F)2, k2[s], acc[s]); tmp[s] = rf_fma(h2, k2[s], y[s]); }
        rf_clamp_all(tmp);
        rf_rhs((F)t_mid, p, x, tmp, k2);
        for (int s = 0; s < N_STATE; ++s) { acc[s] = rf_fma((F)2, k2[s], acc[s]); tmp[s] = rf_fma(h, k2[s], y[s]); }
        rf_clamp_all(tmp);
        rf_rhs((F)t_end, p, x, tmp, k2);
        F h6 = (F)(dt / 6.0);
        for (int s = 0; s < N_STATE; ++s) y[s] = rf_fma(h6, acc[s] + k2[s], y[s]);
        rf_clamp_all(y);
    }
}

RF_DEVICE unsigned long long rf_slot_back(unsigned long long cur, unsigned long long back, unsigned long long horizon) {
    unsigned long long s = cur + horizon - back;
    return s >= horizon ? s - horizon : s;
}

RF_DEVICE void rf_load_series(const RfCudaArgs* a, unsigned long long step, unsigned long long node, unsigned long long gi, RfInputs* x) {
    for (int k = 0; k < N_SERIES; ++k) {
        const unsigned long long* meta = (const unsigned long long*)a->series_meta + 4 * k;
        unsigned long long rows = meta[1];
        unsigned long long row = step < rows ? step : rows - 1ULL;
        unsigned long long col;
        switch (meta[3]) {
            case 0: col = 0; break;
            case 1: col = node; break;
            case 2: col = gi; break;
            default: col = gi * a->n_nodes + node; break;
        }
        x->u[k] = (F)((const double*)a->series_data)[meta[0] + row * meta[2] + col];
    }
}

/* Sample `sample` of the recorded values of one node: the trace, and the running statistics
   (mean, m2, min, max and the count above the threshold; finished after the last step). */
RF_DEVICE void rf_sample(const RfCudaArgs* a, unsigned long long i, unsigned long long node, unsigned long long sample, double tn, const F* p, const RfInputs* x, const F* y) {
    unsigned long long nn = a->n_nodes, st = a->stride, nr = a->n_record;
    const unsigned int* record = (const unsigned int*)a->record;
    double* trace = (double*)a->trace;
    double* s = (double*)a->stats;
    F dv[A_DERIVED];
    rf_derived((F)tn, p, x, y, dv);
    int counting = s != RF_NULL && sample >= a->transient_samples;
    double count = (double)(sample - a->transient_samples + 1ULL);
    for (unsigned long long r = 0; r < nr; ++r) {
        unsigned int v = record[r];
        double value = (double)(v < N_STATE ? y[v] : dv[v - N_STATE]);
        if (trace != RF_NULL) trace[((sample * nr + r) * nn + node) * st + i] = value;
        if (counting) {
            unsigned long long plane = nr * nn * st, at = (r * nn + node) * st + i;
            if (count == 1.0) {
                s[plane + at] = 0.0;
                s[2 * plane + at] = 0.0;
                s[3 * plane + at] = value;
                s[4 * plane + at] = value;
                s[5 * plane + at] = 0.0;
                if (value != value) { s[3 * plane + at] = RF_FROM_U64(0x7ff0000000000000ULL); s[4 * plane + at] = -RF_FROM_U64(0x7ff0000000000000ULL); }
            }
            double mean = s[plane + at];
            double delta = value - mean;
            mean += delta / count;
            s[plane + at] = mean;
            s[2 * plane + at] += delta * (value - mean);
            if (value < s[3 * plane + at]) s[3 * plane + at] = value;
            if (value > s[4 * plane + at]) s[4 * plane + at] = value;
            if (value > ((const double*)a->thresholds)[r]) s[5 * plane + at] += 1.0;
            s[at] = value;
        }
    }
}

/* The node's delayed values and couplings of the current step (slot `cur`). */
RF_DEVICE void rf_inputs(const RfCudaArgs* a, unsigned long long i, unsigned long long node, unsigned long long cur, double tn, const F* p, const unsigned long long* delay, const F* y, const F* free, RfInputs* x) {
    unsigned long long nn = a->n_nodes, st = a->stride, hz = a->horizon;
    const H* history = (const H*)a->history;
    for (int k = 0; k < N_DELAY; ++k) {
        x->q[k] = (F)history[(((unsigned long long)rf_delay_slot(k) * nn + node) * hz + rf_slot_back(cur, delay[k], hz)) * st + i];
    }
#if NETWORK
    const unsigned long long* row_start = (const unsigned long long*)a->row_start;
    const unsigned int* source = (const unsigned int*)a->source;
    const double* weight = (const double*)a->weight;
    const unsigned int* edge_delay = (const unsigned int*)a->edge_delay;
    unsigned long long lo, hi;
    if (a->dense) { lo = 0; hi = nn; } else { lo = row_start[node]; hi = row_start[node + 1]; }
    for (int k_live = 0; k_live < N_LIVE_COUPLING; ++k_live) {
        int c = rf_coupling_index(k_live);
        unsigned long long b = (unsigned long long)rf_coupling_slot(c);
        F gx = (F)0;
        for (unsigned long long k = lo; k < hi; ++k) {
            unsigned long long e = a->dense ? node * nn + k : k;
            unsigned long long j = a->dense ? k : (unsigned long long)source[k];
            F w = (F)weight[e];
            unsigned long long d = (unsigned long long)edge_delay[a->edge_delay_stride ? e * a->edge_delay_stride + i : e];
            F cs = (F)history[((b * nn + j) * hz + rf_slot_back(cur, d, hz)) * st + i];
            gx = rf_fma(w, rf_coupling_pre(c, (F)tn, x->nn, x->dt, cs, p, y, free), gx);
        }
        x->c[c] = rf_coupling_post(c, (F)tn, x->nn, x->dt, gx, p);
    }
#endif
}

/* Integrates steps step_begin .. step_end of the chunk's instances (one thread each). Step n
   records sample n/record_every when due, then (if n < n_steps) advances to n + 1. */
RF_KERNEL void rf_run(RfCudaArgs args) {
    unsigned long long i = RF_THREAD_INDEX;
    if (i >= args.n_instances) return;
    const RfCudaArgs* a = &args;
    unsigned long long nn = a->n_nodes, st = a->stride, hz = a->horizon;
    unsigned long long gi = a->first_instance + i;
    const double* params = (const double*)a->params;
    const double* init = (const double*)a->init;
    double* state = (double*)a->state;
    H* history = (H*)a->history;
    F p[A_PARAM];
    for (int k = 0; k < N_PARAM; ++k) p[k] = (F)params[(unsigned long long)k * st + i];
    unsigned long long delay[A_DELAY];
    const unsigned long long cap = rf_delay_cap(a->n_steps);
    for (int k = 0; k < N_DELAY; ++k) {
        unsigned long long d = rf_whole_steps(params[(unsigned long long)rf_delay_param(k) * st + i] / a->dt);
        delay[k] = d < cap ? d : cap;
    }
    RfInputs x;
    x.nn = (F)nn;
    x.dt = (F)a->dt;
    for (int k = 0; k < A_SERIES; ++k) x.u[k] = (F)0;
    for (int k = 0; k < A_DELAY; ++k) x.q[k] = (F)0;
    for (int k = 0; k < A_COUPLING; ++k) x.c[k] = (F)0;
    F y[A_STATE];
    F free[A_DERIVED];
    F g[A_NOISY];
    F eta[A_NOISY];
    for (int k = 0; k < A_NOISY; ++k) eta[k] = (F)0;
    double sqrt_dt = RF_SQRT(a->dt);

    if (a->step_begin == 0) {
        if (a->bold_every) rf_obs_init(a, i);
        /* The initial states, states starting at another value, and the history before t0. */
        for (unsigned long long node = 0; node < nn; ++node) {
            for (int s = 0; s < N_STATE; ++s) y[s] = (F)init[((unsigned long long)s * nn + node) * st + i];
            rf_load_series(a, 0ULL, node, gi, &x);
#if RF_HAS_INIT_FROM
            {
                F y0[A_STATE];
                for (int s = 0; s < N_STATE; ++s) y0[s] = y[s];
                rf_derived_free((F)a->t0, p, &x, y0, free);
                rf_init_from(y, y0, free);
            }
#endif
            for (int s = 0; s < N_STATE; ++s) state[((unsigned long long)s * nn + node) * st + i] = (double)y[s];
            if (N_BUFFERED > 0) {
                rf_derived_free((F)a->t0, p, &x, y, free);
                for (int b = 0; b < N_BUFFERED; ++b) {
                    H v = HISTORY_ZERO ? (H)0 : (H)rf_buffered(b, y, free);
                    for (unsigned long long slot = 0; slot < hz; ++slot) {
                        history[(((unsigned long long)b * nn + node) * hz + slot) * st + i] = v;
                    }
                }
            }
        }
    }
    unsigned long long every = a->record_every ? a->record_every : 1ULL;
    unsigned long long n_bold = a->n_tr * a->tr_every;
    for (unsigned long long step = a->step_begin; step < a->step_end && step <= a->n_steps; ++step) {
        double tn = a->t0 + (double)step * a->dt;
        unsigned long long cur = step % hz;
        /* A BOLD step is due at this step (k: its number). */
        int bold_due = a->bold_every && step % a->bold_every == 0ULL && step / a->bold_every < n_bold;
        unsigned long long bold_k = a->bold_every ? step / a->bold_every : 0ULL;
        /* The history entry of this step, for every node. */
        if (N_BUFFERED > 0) {
            for (unsigned long long node = 0; node < nn; ++node) {
                for (int s = 0; s < N_STATE; ++s) y[s] = (F)state[((unsigned long long)s * nn + node) * st + i];
                rf_load_series(a, step, node, gi, &x);
                rf_derived_free((F)tn, p, &x, y, free);
                for (int b = 0; b < N_BUFFERED; ++b) {
                    history[(((unsigned long long)b * nn + node) * hz + cur) * st + i] = (H)rf_buffered(b, y, free);
                }
            }
        }
        /* Inputs, sample, noise and the solver step, node by node. */
        for (unsigned long long node = 0; node < nn; ++node) {
            for (int s = 0; s < N_STATE; ++s) y[s] = (F)state[((unsigned long long)s * nn + node) * st + i];
            rf_load_series(a, step, node, gi, &x);
            rf_derived_free((F)tn, p, &x, y, free);
            rf_inputs(a, i, node, cur, tn, p, delay, y, free, &x);
            if (step % every == 0) rf_sample(a, i, node, step / every, tn, p, &x, y);
            if (bold_due) {
                unsigned int v = a->bold_driver;
                double drive;
                if (v < N_STATE) {
                    drive = (double)y[v];
                } else {
                    F dv[A_DERIVED];
                    rf_derived((F)tn, p, &x, y, dv);
                    drive = (double)dv[v - N_STATE];
                }
                rf_balloon_step(a, i, node, drive);
            }
            if (step == a->n_steps) continue;
            if (N_NOISY > 0) {
                F dv[A_DERIVED];
                rf_derived((F)tn, p, &x, y, dv);
                rf_noise((F)tn, p, &x, y, dv, g);
                for (int q = 0; q < N_NOISY; ++q) {
                    double z = rf_normal(a->seed, a->shared_noise ? 0ULL : gi, node, step, (unsigned int)q);
                    eta[q] = g[q] * (F)(sqrt_dt * z);
                }
            }
            rf_step(a->solver, a->t0, a->dt, step, p, &x, y, eta);
            for (int s = 0; s < N_STATE; ++s) state[((unsigned long long)s * nn + node) * st + i] = (double)y[s];
        }
        /* A TR sample of BOLD is due after this BOLD step: FC and FCD take it. */
        if (bold_due && (bold_k + 1ULL) % a->tr_every == 0ULL) rf_obs_tr(a, i, (bold_k + 1ULL) / a->tr_every - 1ULL);
    }
    /* After the last step: the statistics from their running sums. */
    if (a->step_end > a->n_steps && a->stats != RF_NULL) {
        unsigned long long nr = a->n_record, plane = nr * nn * st;
        unsigned long long samples = a->n_steps / every + 1ULL;
        double count = samples > a->transient_samples ? (double)(samples - a->transient_samples) : 0.0;
        double* s = (double*)a->stats;
        for (unsigned long long r = 0; r < nr; ++r) {
            for (unsigned long long node = 0; node < nn; ++node) {
                unsigned long long at = (r * nn + node) * st + i;
                if (count == 0.0) {
                    double nan = RF_FROM_U64(0x7ff8000000000000ULL);
                    for (int k = 0; k < RF_N_STATS; ++k) s[k * plane + at] = nan;
                } else {
                    s[2 * plane + at] = s[2 * plane + at] / count;
                    s[5 * plane + at] = s[5 * plane + at] * ((double)every * a->dt);
                }
            }
        }
    }
}

/* Each instance's initial states drawn from their ranges (Philox, keyed by seed, instance, node
   and state, as on the CPU) into `init` [(s*n_nodes + node)*stride + i], and the delay in steps of
   every edge of length `distance[e]` into `edge_delay` [e*stride + i] (used by the stand-alone
   driver; the rateforge runtime does this on the host). */
RF_KERNEL void rf_prepare(RfCudaArgs args, const double* distance, unsigned long long n_edges, double* init, unsigned int* edge_delay) {
    unsigned long long i = RF_THREAD_INDEX;
    if (i >= args.n_instances) return;
    unsigned long long gi = args.first_instance + i;
    rf_draw_initial(&args, i, gi, init);
    const unsigned long long cap = rf_delay_cap(args.n_steps);
    for (unsigned long long e = 0; e < n_edges; ++e) {
        unsigned long long d = rf_edge_delay_steps(&args, i, distance[e]);
        edge_delay[e * args.stride + i] = (unsigned int)(d < cap ? d : cap);
    }
}
