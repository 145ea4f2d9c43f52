"""BOLD, FC, FCD, goodness of fit and fitting from Python: the same numbers as the library."""

from pathlib import Path

import numpy as np
import pytest

import rateforge as rf

ROOT = Path(__file__).resolve().parents[2]
RWW4 = str(ROOT / "examples/models/networks/rww4.yaml/rww4")
A = "rww_op/S->rww_op/c_0/a"
BOLD = dict(driver="rww_op/S", tr=0.1, transient=2.0, fcd_window=20, fcd_step=10)
COMMON = dict(time=20_000.0, dt=0.5, solver="heun", noise={"rww_op/S": 0.01}, same_noise=True,
              progress=False)


def test_bold_fc_and_fcd_arrays():
    m = rf.load(RWW4)
    r = m.sweep({A: [1.0, 2.0, 3.0]}, bold=dict(BOLD, keep_bold=True), **COMMON)
    assert r["fc"].shape == (4, 4, 3)
    assert r["fcd"].shape == (17, 17, 3)
    assert r["bold"].shape == (200, 4, 3)
    assert np.allclose(r["bold_time"], 0.1 * np.arange(1, 201))
    # FC from the kept BOLD samples after the transient, as numpy computes it.
    for i in range(3):
        want = np.corrcoef(r["bold"][20:, :, i].T)
        assert np.allclose(r["fc"][:, :, i], want, rtol=0, atol=1e-12)
    meta = r.metadata["bold"]
    assert meta["hemodynamics"] == "stephan2007" and meta["samples"] == 200


def test_goodness_of_fit_and_a_grid_fit():
    m = rf.load(RWW4)
    target = m.run(set={A: 2.0}, bold=BOLD, trace=False, **COMMON)
    t = dict(fc=target["fc"], fcd=target["fcd"])
    r = m.sweep({A: [1.0, 2.0, 3.0]}, bold=BOLD, target=t, **COMMON)
    cost = r["fit/cost"]
    assert cost.shape == (3,) and abs(cost[1] + 1.0) < 1e-12 and cost[0] > -1 and cost[2] > -1
    f = m.fit({A: (0.0, 4.0)}, t, bold=BOLD, method="grid", points=5,
              **{k: v for k, v in COMMON.items() if k != "progress"}, progress=False)
    assert f["best"] == {A: 2.0}
    assert np.allclose(f["fit/cost"], m.sweep({A: [0.0, 1.0, 2.0, 3.0, 4.0]}, bold=BOLD, target=t,
                                               **COMMON)["fit/cost"], rtol=0, atol=0)
    assert not f["interrupted"]


def test_cmaes_is_reproducible_and_reports_each_generation():
    m = rf.load(RWW4)
    target = m.run(set={A: 2.0}, bold=BOLD, trace=False, **COMMON)
    t = dict(fc=target["fc"])
    seen = []
    options = {k: v for k, v in COMMON.items() if k != "progress"}
    a = m.fit({A: (0.0, 4.0)}, t, bold=BOLD, population=6, generations=3, seed=0,
              progress=lambda g, of, cost, point: seen.append((g, of, cost)), **options)
    b = m.fit({A: (0.0, 4.0)}, t, bold=BOLD, population=6, generations=3, seed=0,
              progress=False, **options)
    assert [s[0] for s in seen] == [1, 2, 3] and all(s[1] == 3 for s in seen)
    assert np.array_equal(a[f"grid/{A}"], b[f"grid/{A}"]) and a[f"grid/{A}"].shape == (18,)
    assert np.array_equal(a["generation"], np.repeat([0.0, 1.0, 2.0], 6))


def test_bad_bold_options_are_explained():
    m = rf.load(RWW4)
    with pytest.raises(rf.ModelError, match="driver"):
        m.run(bold=dict(tr=0.1), **COMMON)
    with pytest.raises(rf.ModelError, match="unknown `bold` option"):
        m.run(bold=dict(driver="rww_op/S", window=3), **COMMON)
    with pytest.raises(rf.ModelError, match="not a whole number of BOLD steps"):
        m.run(bold=dict(driver="rww_op/S", tr=0.1005), **COMMON)
    with pytest.raises(rf.ModelError, match="balloon"):
        m.run(bold=dict(driver="rww_op/S", balloon="x"), **COMMON)
