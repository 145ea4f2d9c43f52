"""The figure scripts of examples/figures at reduced size: the numbers they plot are checked
against what the papers report and against independent calculations."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples/figures"))

pytest.importorskip("matplotlib")

import jansen_rit  # noqa: E402
import montbrio  # noqa: E402
import mpr68_sweep  # noqa: E402


def is_png(path):
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_jansen_rit_oscillates_in_the_alpha_band_at_c_135(tmp_path):
    n = jansen_rit.main(quick=True, out=tmp_path)
    # Jansen & Rit (1995): alpha-like activity for C = 135.
    assert 8.0 <= n["f135"] <= 12.0, n["f135"]
    assert n["a135"] > 1.0
    # No oscillation at low connectivity; larger spikes at high connectivity.
    assert n["frequency"][0] == 0.0 and n["amplitude"][0] < 1e-3
    assert n["amplitude"][-1] > 5 * n["a135"]
    # The band map at the standard time constants (10 ms, 20 ms) is alpha too.
    e = int(np.argmin(np.abs(n["tau_e"] - 10e-3)))
    i = int(np.argmin(np.abs(n["tau_i"] - 20e-3)))
    assert 8.0 <= n["band_frequency"][e, i] <= 12.0, n["band_frequency"]
    assert is_png(tmp_path / "jansen_rit_C.png") and is_png(tmp_path / "jansen_rit_bands.png")


def mpr_fixed_points(eta, delta=1.0, j=15.0):
    """Equilibria of the Montbrió equations (tau = 1): r' = 0 gives v = -Delta / (2 pi r), and
    v' = 0 then gives -pi^2 r^4 + J r^3 + eta r^2 + Delta^2 / (4 pi^2) = 0."""
    roots = np.roots([-np.pi**2, j, eta, 0.0, delta**2 / (4 * np.pi**2)])
    return np.sort([z.real for z in roots if abs(z.imag) < 1e-12 and z.real > 0])


def test_montbrio_settles_where_its_fixed_points_are(tmp_path):
    n = montbrio.main(quick=True, out=tmp_path)
    low, _, high = mpr_fixed_points(-5.0)
    assert abs(n["r_before"] - low) < 1e-3
    # The step (eta + 3 = -2) lifts it to the upper focus, and bistability keeps it up after.
    driven = mpr_fixed_points(-2.0)[-1]
    assert abs(n["r_during"] - driven) < 0.02 * driven, (n["r_during"], driven)
    assert abs(n["r_after"] - high) < 0.01 * high, (n["r_after"], high)
    assert n["r_peak"] > 2 * driven
    assert n["sine_r_max"] > 2.0 and n["sine_r_min"] < 0.1
    assert is_png(tmp_path / "montbrio.png")


def test_the_connectome_sweep_depends_on_coupling_and_speed(tmp_path):
    n = mpr68_sweep.main(quick=True, out=tmp_path)
    mean, var = n["mean"], n["var"]
    assert np.isfinite(mean).all() and np.isfinite(var).all()
    # Uncoupled regions settle whatever the speed; coupling raises the rate.
    assert np.ptp(mean[0]) < 1e-12 and var[0].max() < 1e-6
    assert (np.diff(mean[:, 2]) > 0).all()
    # At strong coupling the delays decide how much the rate fluctuates.
    assert var[-1].max() > 5 * var[-1].min()
    assert is_png(tmp_path / "mpr68_sweep.png")


def test_a_fit_finds_the_synthetic_targets_parameters(tmp_path):
    import fit_landscape

    n = fit_landscape.main(quick=True, out=tmp_path)
    # The grid holds the target (G = 6, w = 0.6): every simulation draws the target's noise, so
    # the cost there is that of a perfect fit, and nowhere else.
    # (The grid's w = 0.4 + 0.5 (0.8 - 0.4) is 0.6 to the last bit but one.)
    assert np.allclose(n["grid_best"], (6.0, 0.6), rtol=0, atol=1e-12), n["grid_best"]
    assert abs(n["cost"].min() + 1.0) < 1e-6
    assert (n["cost"] > -0.99).sum() == n["cost"].size - 1
    # CMA-ES after 3 generations of 8 points already fits better than every other grid point
    # (tests/tests/fit.rs checks that it converges to the target).
    second = np.sort(n["cost"].ravel())[1]
    assert n["cmaes_cost"] < second, (n["cmaes_cost"], second)
    assert is_png(tmp_path / "fit_landscape.png")
