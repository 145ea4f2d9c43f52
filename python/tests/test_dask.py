"""A sweep on a Dask LocalCluster of two worker processes equals the sweep in one process, bit
for bit (noise and drawn initial values keyed by the global instance). Without dask installed
the test is reported as skipped."""

from pathlib import Path

import numpy as np
import pytest

import rateforge as rf

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (scripts/setup installs it)")

ROOT = Path(__file__).resolve().parents[2]
G2DO4 = str(ROOT / "examples/models/networks/g2do4.yaml/g2do4")
GRID = {"g2do_op/V->g2do_op/c_0/a": "0:1:7"}
OPTIONS = dict(time=50.0, dt=0.1, solver="heun", noise={"g2do_op/V": 0.01}, seed=3,
               record="g2do_op/V")


def test_a_dask_sweep_equals_the_sweep_in_one_process(tmp_path):
    import rateforge.dask

    whole = rf.load(G2DO4).sweep(GRID, progress=False, **OPTIONS)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        merged = rateforge.dask.sweep(G2DO4, GRID, shards=3, client=client,
                                      directory=tmp_path, **OPTIONS)
    assert sorted(p.name for p in tmp_path.glob("shard_*.npz")) == [
        f"shard_0000{k}_of_00003.npz" for k in (1, 2, 3)]
    names = [n for n in whole.keys() if n != "metadata"]
    assert names and set(names) <= set(merged)
    for name in names:
        assert np.array_equal(merged[name], whole[name]), name
    assert merged["metadata"]["n_instances"] == 7


def test_merge_refuses_an_incomplete_set(tmp_path):
    m = rf.load(G2DO4)
    paths = []
    for k in (1, 3):
        path = tmp_path / f"s{k}.npz"
        m.sweep(GRID, shard=(k, 3), progress=False, **OPTIONS).write(path)
        paths.append(path)
    with pytest.raises(rf.ModelError, match="are missing"):
        rf.merge(paths, tmp_path / "all.npz")
