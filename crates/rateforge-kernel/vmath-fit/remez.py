"""Small weighted linear Remez exchange (minimax) fitter built on mpmath.

Finds coefficients c_0..c_{n-1} minimising

    max_{z in [a, b]} | w(z) * (g(z) - sum_j c_j * z**powers[j]) |

for a target function g, a positive weight w and a list of monomial powers.
Used by fit.py to derive the polynomial coefficients in ../vmath.rs.
Only mpmath is needed (python3 -m pip install mpmath).
"""

from mpmath import mp, mpf, cos, pi, matrix, lu_solve


def _poly(c, powers, z):
    s = mpf(0)
    for cj, pj in zip(c, powers):
        s += cj * z**pj
    return s


def _err(c, powers, g, w, z):
    return w(z) * (g(z) - _poly(c, powers, z))


def _golden_max(f, lo, hi, iters=60):
    """Maximise |f| on [lo, hi] (unimodal assumed) by golden-section search."""
    gr = (mpf(5) ** mpf("0.5") - 1) / 2
    x1 = hi - gr * (hi - lo)
    x2 = lo + gr * (hi - lo)
    f1 = abs(f(x1))
    f2 = abs(f(x2))
    for _ in range(iters):
        if f1 > f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - gr * (hi - lo)
            f1 = abs(f(x1))
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + gr * (hi - lo)
            f2 = abs(f(x2))
    return x1 if f1 > f2 else x2


def remez(g, w, powers, a, b, grid=3000, iters=30, tol=mpf("1e-7"), verbose=False):
    """Return (coefficients, max weighted error) of the weighted minimax fit."""
    a = mpf(a)
    b = mpf(b)
    n = len(powers)
    m = n + 1  # reference size
    # Chebyshev-clustered sample grid; nudge away from exact zeros of the weight.
    pts = []
    for k in range(grid + 1):
        z = (a + b) / 2 - (b - a) / 2 * cos(pi * k / grid)
        if w(z) == 0:
            z += (b - a) * mpf("1e-9")
        pts.append(z)
    ref = []
    for k in range(m):
        z = (a + b) / 2 - (b - a) / 2 * cos(pi * (k + mpf("0.5")) / m)
        if w(z) == 0:
            z += (b - a) * mpf("1e-6")
        ref.append(z)
    c = None
    best = None
    best_c = None
    for it in range(iters):
        # Solve sum_j c_j z_i^p_j + (-1)^i E / w(z_i) = g(z_i)
        A = matrix(m, m)
        rhs = matrix(m, 1)
        for i, z in enumerate(ref):
            for j, p in enumerate(powers):
                A[i, j] = z**p
            A[i, n] = (-1) ** i / w(z)
            rhs[i] = g(z)
        sol = lu_solve(A, rhs)
        c = [sol[j] for j in range(n)]
        lev = abs(sol[n])
        # Locate the extrema of the weighted error: one per sign run.
        f = lambda z: _err(c, powers, g, w, z)
        vals = [f(z) for z in pts]
        runs = []  # (sign, index of max |e| in run)
        for k, v in enumerate(vals):
            s = 1 if v >= 0 else -1
            if runs and runs[-1][0] == s:
                if abs(v) > abs(vals[runs[-1][1]]):
                    runs[-1][1] = k
            else:
                runs.append([s, k])
        ext = []
        for s, k in runs:
            lo = pts[max(k - 1, 0)]
            hi = pts[min(k + 1, len(pts) - 1)]
            z = _golden_max(f, lo, hi) if 0 < k < len(pts) - 1 else pts[k]
            if abs(f(z)) < abs(vals[k]):
                z = pts[k]
            ext.append((z, f(z)))
        while len(ext) > m:
            if abs(ext[0][1]) < abs(ext[-1][1]):
                ext.pop(0)
            else:
                ext.pop()
        emax = max(abs(e) for _, e in ext)
        emin = min(abs(e) for _, e in ext)
        # The exchange can cycle when the weighted system is not Haar (e.g.
        # a weight with a zero inside the interval): keep the best iterate.
        if best is None or emax < best:
            best, best_c = emax, c
        if verbose:
            print(f"  it {it}: levelled {mp.nstr(lev, 5)} max {mp.nstr(emax, 5)} "
                  f"min {mp.nstr(emin, 5)} (#ext {len(ext)})")
        if len(ext) < m:
            # Not enough alternations (can happen when the fit is already at
            # rounding level); keep the current solution.
            break
        ref = [z for z, _ in ext]
        if emax / emin - 1 < tol:
            break
    return best_c, best


def max_weighted_error(c, powers, g, w, a, b, grid=20000):
    a = mpf(a)
    b = mpf(b)
    e = mpf(0)
    for k in range(grid + 1):
        z = (a + b) / 2 - (b - a) / 2 * cos(pi * k / grid)
        if w(z) == 0:
            continue
        e = max(e, abs(_err(c, powers, g, w, z)))
    return e
