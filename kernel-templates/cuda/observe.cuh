// ---------------------------------------------------------------------------
// rateforge CUDA kernels, the observers: BOLD by the Balloon–Windkessel model and
// the running sums of FC and FCD, one thread per instance. The algorithm of
// crates/rateforge-kernel/src/observe.rs operation for operation (the same
// expressions in the same order, rateforge's own exp and log), so float64 results
// are the CPU's bits; the host finishes FC and FCD from the state this code leaves
// (rateforge_kernel::observe::FcStream::from_raw), with the CPU's code.
//
// State of instance i: value k at observe_state[k * stride + i], laid out as
// rateforge_kernel::observe::RawLayout (rf_obs_layout below computes the same
// offsets).
// ---------------------------------------------------------------------------

struct RfObsLayout {
    unsigned long long s, f, v, q, count, done, mean, co, ring, windows, norms, x, d, wmean, wdiag, total;
};

RF_DEVICE RfObsLayout rf_obs_layout(unsigned long long n, unsigned long long window, unsigned long long nw) {
    RfObsLayout L;
    unsigned long long pairs = n * (n - 1ULL) / 2ULL;
    L.s = 0ULL;
    L.f = n;
    L.v = 2ULL * n;
    L.q = 3ULL * n;
    L.count = 4ULL * n;
    L.done = L.count + 1ULL;
    L.mean = L.done + 1ULL;
    L.co = L.mean + n;
    L.ring = L.co + n * (n + 1ULL) / 2ULL;
    L.windows = L.ring + window * n;
    L.norms = L.windows + nw * pairs;
    L.x = L.norms + nw;
    L.d = L.x + n;
    L.wmean = L.d + n;
    L.wdiag = L.wmean + n;
    L.total = L.wdiag + n;
    return L;
}

/* The index of (i, j), i <= j < n, in a packed upper triangle with the diagonal. */
RF_DEVICE unsigned long long rf_tri(unsigned long long i, unsigned long long j, unsigned long long n) {
    return i * n - i * (i + 1ULL) / 2ULL + j;
}

/* At rest (s = 0, f = v = q = 1), no samples. */
RF_DEVICE void rf_obs_init(const RfCudaArgs* a, unsigned long long i) {
    double* o = (double*)a->observe_state;
    unsigned long long st = a->stride, n = a->n_nodes;
    RfObsLayout L = rf_obs_layout(n, a->fcd_window, a->fcd_windows);
    for (unsigned long long k = 0; k < L.total; ++k) o[k * st + i] = 0.0;
    for (unsigned long long k = L.f; k < L.count; ++k) o[k * st + i] = 1.0;
}

/* One Euler step of node `node`'s hemodynamic states, driven by x. */
RF_DEVICE void rf_balloon_step(const RfCudaArgs* a, unsigned long long i, unsigned long long node, double x) {
    double* o = (double*)a->observe_state;
    unsigned long long st = a->stride, n = a->n_nodes;
    const double* c = a->hemodynamics;
    double h = a->bold_dt;
    double h_tau = h / c[2];
    double inv_alpha = 1.0 / c[3];
    double log_1m_rho = rf_log(1.0 - c[4]);
    double inv_rho = 1.0 / c[4];
    double* ps = &o[(node) * st + i];
    double* pf = &o[(n + node) * st + i];
    double* pv = &o[(2ULL * n + node) * st + i];
    double* pq = &o[(3ULL * n + node) * st + i];
    double s = *ps, f = *pf, v = *pv, q = *pq;
    double s1 = s + h * (x - c[0] * s - c[1] * (f - 1.0));
    double v_pow = rf_exp(rf_log(v) * inv_alpha);
    double extraction = 1.0 - rf_exp(log_1m_rho / f);
    *pv = v + h_tau * (f - v_pow);
    *pq = q + h_tau * (f * extraction * inv_rho - v_pow * q / v);
    *pf = f + h * s1;
    *ps = s1;
}

/* The FC of the window of samples start .. start + window (all in the ring), centred, with its
   squared norm, as window number `done`. */
RF_DEVICE void rf_obs_close_window(double* o, unsigned long long st, unsigned long long i, unsigned long long n, unsigned long long w, const RfObsLayout* L, unsigned long long start) {
    unsigned long long pairs = n * (n - 1ULL) / 2ULL;
    unsigned long long done = (unsigned long long)o[L->done * st + i];
    for (unsigned long long a = 0; a < n; ++a) {
        double m = 0.0;
        for (unsigned long long k = 0; k < w; ++k) m += o[(L->ring + ((start + k) % w) * n + a) * st + i];
        o[(L->wmean + a) * st + i] = m / (double)w;
    }
    for (unsigned long long a = 0; a < n; ++a) {
        double ma = o[(L->wmean + a) * st + i];
        double cc = 0.0;
        for (unsigned long long k = 0; k < w; ++k) {
            double ca = o[(L->ring + ((start + k) % w) * n + a) * st + i] - ma;
            cc += ca * ca;
        }
        o[(L->wdiag + a) * st + i] = cc;
    }
    unsigned long long base = L->windows + done * pairs;
    unsigned long long kk = 0;
    for (unsigned long long a = 0; a < n; ++a) {
        double ma = o[(L->wmean + a) * st + i];
        for (unsigned long long b = a + 1ULL; b < n; ++b) {
            double mb = o[(L->wmean + b) * st + i];
            double cab = 0.0;
            for (unsigned long long k = 0; k < w; ++k) {
                unsigned long long r = L->ring + ((start + k) % w) * n;
                cab += (o[(r + a) * st + i] - ma) * (o[(r + b) * st + i] - mb);
            }
            o[(base + kk) * st + i] = cab / RF_SQRT(o[(L->wdiag + a) * st + i] * o[(L->wdiag + b) * st + i]);
            kk += 1ULL;
        }
    }
    double m = 0.0;
    for (unsigned long long k = 0; k < pairs; ++k) m += o[(base + k) * st + i];
    m /= (double)pairs;
    double norm = 0.0;
    for (unsigned long long k = 0; k < pairs; ++k) {
        double v = o[(base + k) * st + i] - m;
        o[(base + k) * st + i] = v;
        norm += v * v;
    }
    o[(L->norms + done) * st + i] = norm;
    o[L->done * st + i] = (double)(done + 1ULL);
}

/* TR sample j: every node's BOLD (kept when asked), then, after the transient, the running
   means and co-moments of FC and the FCD window ring. */
RF_DEVICE void rf_obs_tr(const RfCudaArgs* a, unsigned long long i, unsigned long long j) {
    double* o = (double*)a->observe_state;
    unsigned long long st = a->stride, n = a->n_nodes, w = a->fcd_window;
    RfObsLayout L = rf_obs_layout(n, w, a->fcd_windows);
    const double* c = a->hemodynamics;
    for (unsigned long long node = 0; node < n; ++node) {
        double v = o[(2ULL * n + node) * st + i], q = o[(3ULL * n + node) * st + i];
        double b = 100.0 * c[5] * (c[6] * (1.0 - q) + c[7] * (1.0 - q / v) + c[8] * (1.0 - v));
        o[(L.x + node) * st + i] = b;
        if (a->bold != RF_NULL) ((double*)a->bold)[(j * n + node) * st + i] = b;
    }
    if (j < a->bold_transient) return;
    unsigned long long count_i = (unsigned long long)o[L.count * st + i] + 1ULL;
    o[L.count * st + i] = (double)count_i;
    double count = (double)count_i;
    for (unsigned long long p = 0; p < n; ++p) {
        double d = o[(L.x + p) * st + i] - o[(L.mean + p) * st + i];
        o[(L.d + p) * st + i] = d;
        o[(L.mean + p) * st + i] += d / count;
    }
    for (unsigned long long p = 0; p < n; ++p) {
        double dp = o[(L.d + p) * st + i];
        for (unsigned long long q = p; q < n; ++q) {
            o[(L.co + rf_tri(p, q, n)) * st + i] += dp * (o[(L.x + q) * st + i] - o[(L.mean + q) * st + i]);
        }
    }
    if (w == 0ULL) return;
    unsigned long long k = count_i - 1ULL;
    for (unsigned long long p = 0; p < n; ++p) o[(L.ring + (k % w) * n + p) * st + i] = o[(L.x + p) * st + i];
    unsigned long long done = (unsigned long long)o[L.done * st + i];
    if (count_i >= w && (count_i - w) % a->fcd_step == 0ULL && done < a->fcd_windows) {
        rf_obs_close_window(o, st, i, n, w, &L, k + 1ULL - w);
    }
}
