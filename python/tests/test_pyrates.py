"""PyRates scripts run on rateforge: `CircuitTemplate.from_yaml` + `.run` and `grid_search`
reproduce PyRates 1.2.3's own Euler trajectories (tests/data/refs/pyrates, from PyRates itself)."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rateforge.pyrates import CircuitTemplate, grid_search

ROOT = Path(__file__).resolve().parents[2]
REFS = ROOT / "tests/data/refs/pyrates"


def reference(case):
    with open(REFS / case / "data.csv") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], np.array(rows[1:], dtype=float)
    spec = json.loads((REFS / case / "spec.json").read_text())
    return spec, pd.DataFrame(data[:, 1:], columns=header[1:], index=data[:, 0])


def relative(ours, theirs):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    return np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))


def test_montbrio_with_an_input_array_reproduces_pyrates():
    spec, ref = reference("b_montbrio_step_euler")
    dt, T = spec["step_size"], spec["simulation_time"]
    steps = int(round(T / dt))
    i = np.arange(steps)
    inp = np.where((i >= round(30 / dt)) & (i < round(60 / dt)), 30.0, 0.0)
    qif = CircuitTemplate.from_yaml(str(ROOT / "examples/models/montbrio.yaml/qif"))
    res = qif.run(simulation_time=T, step_size=dt, sampling_step_size=spec["sampling_step_size"],
                  inputs={"p/qif_op/I_ext": inp}, outputs=spec["outputs"], solver="euler")
    assert list(res.columns) == ["r", "v"]
    assert len(res) == spec["n_rows"] == len(ref)
    np.testing.assert_allclose(res.index.values, ref.index.values, rtol=0, atol=1e-9)
    for column in ["r", "v"]:
        assert relative(res[column], ref[column]) < 1e-9, column


def test_jansen_rit_reproduces_pyrates():
    spec, ref = reference("a_jansenrit_single")
    jrc = CircuitTemplate.from_yaml(str(ROOT / "examples/models/jansen_rit.yaml/JRC"))
    res = jrc.run(simulation_time=spec["simulation_time"], step_size=spec["step_size"],
                  sampling_step_size=spec["sampling_step_size"], outputs=spec["outputs"],
                  solver="euler", backend="numpy", vectorize=True)
    assert len(res) == len(ref)
    for column in spec["outputs"]:
        assert relative(res[column], ref[column]) < 1e-9, column


@pytest.mark.parametrize("case, model, changes", [
    ("c_kmo_mf_complex_euler", "kuramoto_mean_field.yaml/kmo_mf",
     {"edge_vars": [("p/kmo_op/z", "p/kmo_op/s_in", {"weight": 1.0})]}),
    ("d_kmo_theta_complex_euler", "theta_neurons.yaml/theta",
     {"node_vars": {"p/theta_op/z.re": -0.6, "p/theta_op/z.im": -0.8}}),
])
def test_complex_templates_reproduce_pyrates(case, model, changes):
    spec, ref = reference(case)
    c = CircuitTemplate.from_yaml(str(ROOT / "examples/models" / model)).update_var(**changes)
    z = spec["outputs"]["z"]
    res = c.run(simulation_time=spec["simulation_time"], step_size=spec["step_size"],
                sampling_step_size=spec["sampling_step_size"],
                outputs={"re": f"{z}.re", "im": f"{z}.im"}, solver="euler")
    assert relative(res["re"], ref["z.re"]) < 1e-9
    assert relative(res["im"], ref["z.im"]) < 1e-9


def test_grid_search_runs_each_row_as_the_single_run_would():
    qif = str(ROOT / "examples/models/montbrio.yaml/qif")
    param_map = {
        "eta": {"vars": ["qif_op/eta"], "nodes": ["p"]},
        "J": {"vars": ["weight"], "edges": [("p/qif_op/r", "p/qif_op/r_in")]},
    }
    res, grid = grid_search(qif, param_grid={"eta": [-6.0, -5.0, -4.0], "J": [10.0, 15.0]},
                            param_map=param_map, simulation_time=5.0, step_size=1e-3,
                            sampling_step_size=0.1, outputs={"r": "p/qif_op/r"},
                            permute_grid=True, solver="euler")
    # PyRates' order: numpy.meshgrid over the keys, the first key fastest.
    assert grid["eta"].tolist() == [-6.0, -5.0, -4.0] * 2
    assert grid["J"].tolist() == [10.0] * 3 + [15.0] * 3
    assert list(grid.index) == [f"qif_{i}" for i in range(6)]
    assert res.shape == (50, 6)
    assert list(res.columns) == [("r", f"qif_{i}") for i in range(6)]
    for name, row in grid.iterrows():
        single = CircuitTemplate.from_yaml(qif).update_var(
            node_vars={"p/qif_op/eta": row["eta"]},
            edge_vars=[("p/qif_op/r", "p/qif_op/r_in", {"weight": row["J"]})])
        one = single.run(simulation_time=5.0, step_size=1e-3, sampling_step_size=0.1,
                         outputs={"r": "p/qif_op/r"}, solver="euler")
        assert res["r"][name].to_numpy().tobytes() == one["r"].to_numpy().tobytes(), name
    # Different parameters, different trajectories.
    assert res["r"]["qif_0"].iloc[-1] != res["r"]["qif_5"].iloc[-1]


def test_dotted_template_paths_are_found_on_the_python_path(tmp_path, monkeypatch):
    package = tmp_path / "my_templates"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "qif.yaml").write_text((ROOT / "examples/models/montbrio.yaml").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    qif = CircuitTemplate.from_yaml("my_templates.qif.qif")
    res = qif.run(simulation_time=1.0, step_size=1e-3, outputs={"r": "p/qif_op/r"})
    assert len(res) == 1000
    assert res["r"].iloc[0] == 0.01


def test_grid_search_with_an_input_array_reproduces_pyrates():
    """PyRates' reference run is one row of a grid: eta and J at the template's values."""
    spec, ref = reference("b_montbrio_step_euler")
    dt, T = spec["step_size"], spec["simulation_time"]
    i = np.arange(int(round(T / dt)))
    inp = np.where((i >= round(30 / dt)) & (i < round(60 / dt)), 30.0, 0.0)
    param_map = {
        "eta": {"vars": ["qif_op/eta"], "nodes": ["p"]},
        "J": {"vars": ["weight"], "edges": [("p/qif_op/r", "p/qif_op/r_in")]},
    }
    res, grid = grid_search(str(ROOT / "examples/models/montbrio.yaml/qif"),
                            param_grid={"eta": [-5.0, -4.0], "J": [15.0, 15.0]},
                            param_map=param_map, simulation_time=T, step_size=dt,
                            sampling_step_size=spec["sampling_step_size"],
                            inputs={"p/qif_op/I_ext": inp}, outputs={"r": "p/qif_op/r"},
                            solver="euler")
    assert relative(res["r"]["qif_0"], ref["r"]) < 1e-9
    assert relative(res["r"]["qif_1"], ref["r"]) > 1e-3  # the other row is another run
