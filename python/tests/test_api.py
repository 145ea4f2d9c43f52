"""The Python API against the command line: the same model and options give the same arrays, bit
for bit, and the same errors."""

import _thread
import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import rateforge as rf

ROOT = Path(__file__).resolve().parents[2]
QIF = str(ROOT / "examples/models/montbrio.yaml/qif")
KMO = str(ROOT / "examples/models/kuramoto_mean_field.yaml/kmo_mf")
MPR68 = str(ROOT / "examples/models/networks/mpr68.yaml/mpr68")


# A circuit `net` of one node `p` with the operator `op` the test writes before it.
ONE_NODE = """pop:
  base: NodeTemplate
  operators: [op]
net:
  base: CircuitTemplate
  nodes: {p: pop}
"""


def cli(*args, cwd=None):
    """Runs the rateforge command line (built by `cargo test` / `cargo build`)."""
    exe = os.environ.get("RATEFORGE_BIN", str(ROOT / "target/debug/rateforge"))
    out = subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_a_run_equals_the_command_lines_npz_bit_for_bit(tmp_path):
    out = tmp_path / "m.npz"
    cli("run", QIF, "--time", "20", "--dt", "1e-3", "--solver", "rk4", "--every", "0.01",
        "--input", "p/qif_op/I_ext=30*(t>=5)*(t<10)", "--record", "p/qif_op/r,p/qif_op/v",
        "-q", "-o", str(out))
    r = rf.load(QIF).run(time=20, dt=1e-3, solver="rk4", every=0.01,
                         inputs={"p/qif_op/I_ext": "30*(t>=5)*(t<10)"},
                         record=["p/qif_op/r", "p/qif_op/v"])
    f = np.load(out)
    names = [n for n in f.files if n != "metadata"]
    assert r.keys() == names
    for n in names:
        assert same_bits(r[n], f[n]), n
    assert r["p/qif_op/r"].shape == (2001,)
    # The rate responds to the step: a real run, not zeros.
    assert r["p/qif_op/r"].max() > 1.0
    # The same metadata, field for field.
    assert r.metadata == json.loads(str(f["metadata"]))
    assert r.metadata["solver"] == "rk4"


def test_an_input_array_equals_the_command_lines_npy_input(tmp_path):
    steps = 5000
    t = np.arange(steps) * 1e-3
    drive = 10.0 * np.sin(2 * np.pi * t)
    np.save(tmp_path / "drive.npy", drive)
    out = tmp_path / "m.npz"
    cli("run", QIF, "--time", "5", "--dt", "1e-3", "--solver", "euler", "--every", "0.01",
        "--input", f"p/qif_op/I_ext={tmp_path / 'drive.npy'}", "--record", "p/qif_op/r",
        "-q", "-o", str(out))
    r = rf.load(QIF).run(time=5, dt=1e-3, solver="euler", every=0.01,
                         inputs={"p/qif_op/I_ext": drive}, record="p/qif_op/r")
    assert same_bits(r["p/qif_op/r"], np.load(out)["p/qif_op/r"])


def test_a_sweep_equals_the_command_line_and_its_grid_is_the_xarray_coordinate(tmp_path):
    out = tmp_path / "s.npz"
    cli("sweep", QIF, "--range", "p/qif_op/eta=-6:-4:5", "--range", "p/qif_op/Delta=0.5,1,2",
        "--time", "5", "--dt", "1e-3", "--solver", "heun", "--every", "0.1", "--traces",
        "--record", "p/qif_op/r", "-q", "-o", str(out))
    r = rf.load(QIF).sweep({"p/qif_op/eta": "-6:-4:5", "p/qif_op/Delta": [0.5, 1, 2]},
                           time=5, dt=1e-3, solver="heun", every=0.1, traces=True,
                           record=["p/qif_op/r"])
    f = np.load(out)
    names = [n for n in f.files if n != "metadata"]
    assert r.keys() == names
    for n in names:
        assert same_bits(r[n], f[n]), n
    assert r.n_instances == 15
    ds = r.to_xarray()
    assert ds["p/qif_op/r"].dims == ("time", "instance")
    # Product order: the first axis slowest.
    eta = np.repeat(np.linspace(-6, -4, 5), 3)
    assert same_bits(ds.coords["p/qif_op/eta"].values, eta)
    assert same_bits(ds.coords["p/qif_op/Delta"].values, np.tile([0.5, 1.0, 2.0], 5))
    assert same_bits(ds["mean/p/qif_op/r"].values, f["mean/p/qif_op/r"])
    assert ds.attrs["solver"] == "heun"


def test_to_pandas_and_complex_variables():
    r = rf.load(KMO).run(time=1, dt=1e-3, every=0.1, record="p/kmo_op/z,p/kmo_op/R")
    assert r.recorded == ["p/kmo_op/z.re", "p/kmo_op/z.im", "p/kmo_op/R"]
    z = r["p/kmo_op/z"]
    assert z.dtype == np.complex128 and z.shape == (11,)
    assert z[0] == 0.5 + 0.1j
    np.testing.assert_allclose(np.abs(z), r["p/kmo_op/R"], rtol=1e-15)
    df = r.to_pandas()
    assert list(df.columns) == r.recorded
    assert same_bits(df.index.values, r.time)


def test_check_describes_the_model():
    info = rf.load(QIF).check()
    assert info["name"] == "qif"
    assert ("p/qif_op/r", 0.01) in info["states"]
    params = {p: (v, k) for p, v, k in info["parameters"]}
    assert params["p/qif_op/eta"] == (-5.0, "constant")
    assert "d/dt p/qif_op/r" in info["listing"]


def test_set_changes_the_run_and_copies_are_independent():
    m = rf.load(QIF)
    a = m.copy().set("p/qif_op/eta", -3.0).run(time=2, dt=1e-3, record="p/qif_op/r")
    b = m.run(time=2, dt=1e-3, record="p/qif_op/r")
    assert not same_bits(a["p/qif_op/r"], b["p/qif_op/r"])
    params = {p: v for p, v, _ in m.check()["parameters"]}
    assert params["p/qif_op/eta"] == -5.0


def test_errors_raise_model_error_with_the_location():
    text = """
op:
  base: OperatorTemplate
  equations:
    - "d/dt * x = -x/tau + undefined_name"
  variables:
    x: output(0.1)
    tau: 2.0
"""
    with pytest.raises(rf.ModelError) as e:
        rf.from_source(text + ONE_NODE, "yaml", "net").check()
    message = str(e.value)
    assert "<source>.yaml:5:" in message
    assert "unknown symbol `undefined_name`" in message
    assert isinstance(e.value, ValueError)
    with pytest.raises(rf.ModelError, match="cannot find model file"):
        rf.load("/nonexistent/model.yaml/net")
    m = rf.load(QIF)
    with pytest.raises(rf.ModelError, match="did you mean `p/qif_op/eta`"):
        m.set("p/qif_op/etta", 1.0)
    with pytest.raises(rf.ModelError, match="use solver"):
        m.run(time=1, dt=1e-3, solver="rk5")


def test_ctrl_c_stops_a_run_and_keeps_what_was_done():
    m = rf.load(MPR68)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as e:
            m.run(time=100000, dt=0.01, solver="heun", every=1.0, record="mpr_op/r",
                  backend="interp", progress=False)
    finally:
        timer.cancel()
    partial = e.value.result
    assert partial.partial
    done = partial["steps_done"]
    assert 0 < done[0] < 10_000_000
    r = partial["mpr_op/r"]
    kept = int(done[0] // 100)
    assert np.isfinite(r[:kept]).all() and np.isnan(r[-1]).all()


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README.md (Python)", "exec"), scope)
    assert scope["r"]["p/qif_op/r"].shape == (10001,)
    assert scope["s"]["mean/p/qif_op/r"].shape == (48,)
    assert (tmp_path / "qif.npz").is_file()


def test_a_rateml_sweep_of_declared_axes_equals_the_command_line(tmp_path):
    model = str(ROOT / "examples/models/networks/mpr68.xml")
    conn = str(ROOT / "examples/data/connectivity_68")
    out = tmp_path / "s.npz"
    cli("sweep", model, "--connectivity", conn, "--points", "global_coupling=3", "--time", "2",
        "--dt", "0.01", "--solver", "heun", "-q", "-o", str(out))
    r = rf.load(model).sweep(points={"global_coupling": 3}, time=2, dt=0.01, solver="heun",
                             connectivity=conn)
    f = np.load(out)
    names = [n for n in f.files if n != "metadata"]
    assert r.keys() == names and "grid/global_coupling" in names
    for n in names:
        assert same_bits(r[n], f[n]), n
    assert same_bits(r.grid["global_coupling"], np.linspace(20.0, 40.0, 3))
    with pytest.raises(rf.ModelError, match="not a swept parameter"):
        rf.load(model).sweep(points={"coupling": 3}, time=2, dt=0.01, connectivity=conn)


def test_units_the_model_gives_reach_the_metadata_xarray_and_plots(tmp_path):
    text = """
op:
  base: OperatorTemplate
  equations:
    - "d/dt * r = (r_0 - r)/tau"
  variables:
    r: {default: output(1.0), unit: Hz, description: rate}
    r_0: 5.0
    tau: {default: 0.01, unit: s}
"""
    r = rf.from_source(text + ONE_NODE, "yaml", "net").run(time=0.05, dt=1e-3, record="p/op/r")
    assert r.units == {"p/op/r": "Hz"}
    assert r.to_xarray()["p/op/r"].attrs["units"] == "Hz"
    r.write(tmp_path / "u.npz")
    cli("plot", str(tmp_path / "u.npz"), "-o", str(tmp_path / "u.svg"))
    assert "p/op/r [Hz]" in (tmp_path / "u.svg").read_text()


def test_kernels_run_without_the_gil_and_report_progress():
    m = rf.load(MPR68)
    seen = []
    done = threading.Event()
    count = 0

    def background():
        seen.append(m.run(time=200, dt=0.01, solver="heun", every=10.0, record="mpr_op/r",
                          progress=lambda d, t: seen.append((d, t))))
        done.set()

    worker = threading.Thread(target=background)
    worker.start()
    while not done.is_set():
        count += 1  # Python keeps running while the kernel does
    worker.join()
    result, calls = seen[-1], seen[:-1]
    assert result["mpr_op/r"].shape == (21, 68)
    assert count > 1000
    assert calls and all(0 <= d <= t == 20000 for d, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_sample_and_table_sweeps_equal_the_command_line(tmp_path):
    out = tmp_path / "lhs.npz"
    cli("sweep", QIF, "--range", "p/qif_op/eta=-6:-4", "--range", "p/qif_op/Delta=0.5:2",
        "--sample", "lhs", "--samples", "20", "--sample-seed", "7", "--time", "2", "--dt", "1e-3",
        "-q", "-o", str(out))
    r = rf.load(QIF).sweep({"p/qif_op/eta": "-6:-4", "p/qif_op/Delta": "0.5:2"}, mode="lhs",
                           samples=20, sample_seed=7, time=2, dt=1e-3)
    f = np.load(out)
    for n in f.files:
        if n != "metadata":
            assert same_bits(r[n], f[n]), n
    (tmp_path / "rows.csv").write_text("p/qif_op/eta,p/qif_op/Delta\n-5,0.5\n-4.5,1\n-4,2\n")
    cli("sweep", QIF, "--table", str(tmp_path / "rows.csv"), "--time", "2", "--dt", "1e-3",
        "--record", "p/qif_op/r", "-q", "-o", str(tmp_path / "t.npz"))
    t = rf.load(QIF).sweep(table={"p/qif_op/eta": [-5, -4.5, -4], "p/qif_op/Delta": [0.5, 1, 2]},
                           time=2, dt=1e-3, record="p/qif_op/r")
    assert same_bits(t["mean/p/qif_op/r"], np.load(tmp_path / "t.npz")["mean/p/qif_op/r"])
    assert same_bits(t.grid["p/qif_op/Delta"], np.array([0.5, 1.0, 2.0]))


def test_result_plot_draws_with_matplotlib():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    r = rf.load(QIF).run(time=5, dt=1e-3, every=0.01, record="p/qif_op/r,p/qif_op/v")
    fig = r.plot()
    axes = fig.get_axes()
    assert [a.get_ylabel() for a in axes] == ["p/qif_op/r", "p/qif_op/v"]
    assert same_bits(axes[0].lines[0].get_ydata(), r["p/qif_op/r"])


def test_a_blow_up_warns_and_says_which_instances():
    with pytest.warns(RuntimeWarning, match=r"1 instance\(s\) went NaN or infinite: 1 \(t = "):
        r = rf.load(QIF).run(time=1, dt=1e-3, every=0.01, record="p/qif_op/r",
                             instance_values={"p/qif_op/tau": [1.0, 0.0]})
    assert r.non_finite()[0][0] == 1
    assert np.isfinite(r["p/qif_op/r"][:, 0]).all()
