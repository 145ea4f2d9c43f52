"""Derive the minimax polynomial coefficients used in ../vmath.rs.

Usage:  python3 fit.py            (needs mpmath; about a minute)
        python3 fit.py --scan     (also print the minimax error per degree)

Each fit is a weighted Remez exchange (remez.py) in high precision; the
weight makes the minimised quantity the *relative* error of the final
function value contributed by the polynomial.  The coefficients are then
rounded to f64 (or f32) and the weighted error is re-measured with the
rounded coefficients.  The printed Rust constants are pasted into vmath.rs.
"""

import struct
import sys

from mpmath import mp, mpf, exp, sin, cos, atanh, sqrt, log, pi, ln2

from remez import remez, max_weighted_error

mp.dps = 60


def f32(x):
    return struct.unpack("f", struct.pack("f", float(x)))[0]


# --- targets and weights --------------------------------------------------

# exp / expm1:  e^r - 1 = r + r^2 * Q(r).  Weight = r^2 / |e^r - 1| makes the
# error the relative error of expm1(r) (which is stricter than that of e^r).
def g_exp(r):
    if r == 0:
        return mpf(1) / 2
    return (exp(r) - 1 - r) / r**2


def w_exp(r):
    return mpf(0) if abs(r) < mpf("1e-30") else r**2 / abs(exp(r) - 1)


# log: log1p(f) = 2 atanh(s), s = f/(2+f); 2 atanh(s) = 2 s + s * R(s^2).
# The code evaluates f - (hfsq - s*(hfsq + R)); the error of log1p(f) is
# s * dR, i.e. a relative error of dR / 2.
def g_log(z):
    if z == 0:
        return mpf(0)
    s = sqrt(z)
    return 2 * atanh(s) / s - 2


def w_log(z):
    return mpf("0.5")


# sin(r) = r + r^3 * S(r^2); relative error weight r^3 / sin r.
def g_sin(z):
    if z == 0:
        return -mpf(1) / 6
    r = sqrt(z)
    return (sin(r) - r) / (z * r)


def w_sin(z):
    return mpf(0) if z < mpf("1e-30") else z * sqrt(z) / sin(sqrt(z))


# cos(r) = 1 - r^2/2 + r^4 * C(r^2); relative error weight r^4 / cos r.
def g_cos(z):
    if z == 0:
        return mpf(1) / 24
    return (cos(sqrt(z)) - 1 + z / 2) / z**2


def w_cos(z):
    return mpf(0) if z < mpf("1e-30") else z**2 / cos(sqrt(z))


H_EXP = ln2 / 2 * mpf("1.002")  # |r| bound after reduction by ln2, plus margin
S_LOG = (sqrt(2) - 1) / (sqrt(2) + 1)
Z_LOG = S_LOG**2 * mpf("1.002")
Z_TRIG = (pi / 4 * mpf("1.002")) ** 2


FITS = [
    # name, g, w, powers, a, b, rounding, rust type
    ("RF_EXP_Q", g_exp, w_exp, list(range(0, 11)), -H_EXP, H_EXP, float, "f64"),
    ("RF_LOG_R", g_log, w_log, list(range(1, 8)), 0, Z_LOG, float, "f64"),
    ("RF_SIN_S", g_sin, w_sin, list(range(0, 7)), 0, Z_TRIG, float, "f64"),
    ("RF_COS_C", g_cos, w_cos, list(range(0, 6)), 0, Z_TRIG, float, "f64"),
    ("RF_EXP_Q_F32", g_exp, w_exp, list(range(0, 5)), -H_EXP, H_EXP, f32, "f32"),
    ("RF_LOG_R_F32", g_log, w_log, list(range(1, 4)), 0, Z_LOG, f32, "f32"),
    # f32 sin/cos are evaluated in f64 (see vmath.rs), so f64 coefficients.
    ("RF_SIN_S_F32", g_sin, w_sin, list(range(0, 3)), 0, Z_TRIG, float, "f64"),
    ("RF_COS_C_F32", g_cos, w_cos, list(range(0, 3)), 0, Z_TRIG, float, "f64"),
]


def fit_rounded(g, w, powers, a, b, rnd):
    """Remez fit whose coefficients are rounded one at a time (lowest power
    first); after each rounding the remaining coefficients are refitted to
    absorb the rounding error of the ones already fixed."""
    fixed = []
    e0 = None
    for j in range(len(powers)):
        done = list(fixed)

        def gj(z, done=done):
            return g(z) - sum(cf * z**p for cf, p in zip(done, powers))

        c, e = remez(gj, w, powers[j:], a, b)
        if e0 is None:
            e0 = e
        fixed.append(mpf(rnd(c[0])))
    return fixed, e0


def rust_lit(v, ty):
    s = repr(v)
    if ty == "f32":
        # shortest decimal that rounds back to the same f32
        for d in range(6, 10):
            t = f"{v:.{d}g}"
            if f32(float(t)) == v:
                s = t
                break
    if "e" not in s and "." not in s:
        s += ".0"
    return s


def main():
    scan = "--scan" in sys.argv
    for name, g, w, powers, a, b, rnd, ty in FITS:
        if scan:
            for d in range(max(1, len(powers) - 3), len(powers) + 2):
                p = [powers[0] + k for k in range(d)]
                _, e = remez(g, w, p, a, b, grid=800)
                print(f"# {name}: {d} terms -> weighted minimax error {mp.nstr(e, 4)}"
                      f" (2^{mp.nstr(log(e, 2), 4)})")
        # Plain fit with all coefficients rounded at the end, and the
        # sequentially rounded fit; keep whichever is better after rounding.
        c, e = remez(g, w, powers, a, b)
        cr = [mpf(rnd(x)) for x in c]
        er = max_weighted_error(cr, powers, g, w, a, b)
        cs, _ = fit_rounded(g, w, powers, a, b, rnd)
        es = max_weighted_error(cs, powers, g, w, a, b)
        if es < er:
            cr, er = cs, es
        print(f"// {name}: powers {powers[0]}..{powers[-1]} on [{mp.nstr(a, 6)}, {mp.nstr(b, 6)}],"
              f" minimax error {mp.nstr(e, 3)}, with rounded coefficients {mp.nstr(er, 3)}"
              f" (2^{mp.nstr(log(er, 2), 4)})")
        print(f"const {name}: [{ty}; {len(c)}] = [")
        for x in cr:
            print(f"    {rust_lit(rnd(x), ty)},")
        print("];")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
