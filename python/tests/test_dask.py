"""A sweep on a Dask LocalCluster of two worker processes, and on two dask_jobqueue SLURMCluster
workers running as jobs of a private single-node Slurm, equals the sweep in one process, bit for
bit (noise and drawn initial values keyed by the global instance). Without dask (or Slurm) the
tests are reported as skipped, with the reason."""

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


@pytest.fixture
def slurm(tmp_path_factory):
    """A private single-node Slurm (scripts/slurm-local), stopped afterwards; skipped, saying
    why, where it cannot be started (no Slurm and no root to install it)."""
    import os
    import subprocess

    directory = tmp_path_factory.mktemp("slurm")
    script = ROOT / "scripts/slurm-local"
    started = subprocess.run([str(script), "start", str(directory)], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"no Slurm here: {started.stderr.strip()}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(directory / "slurm.conf")
    try:
        yield directory
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def test_a_dask_sweep_on_slurm_workers_equals_the_sweep_in_one_process(tmp_path, slurm):
    """dask_jobqueue's SLURMCluster: the workers are Slurm jobs of the private cluster."""
    import sys

    import rateforge.dask

    jobqueue = pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed (scripts/setup installs it)")
    whole = rf.load(G2DO4).sweep(GRID, progress=False, **OPTIONS)
    with jobqueue.SLURMCluster(cores=1, processes=1, memory="1GB", walltime="00:10:00",
                               queue="debug", python=sys.executable,
                               log_directory=str(slurm / "dask-logs"),
                               scheduler_options={"dashboard_address": None}) as cluster, \
            distributed.Client(cluster) as client:
        cluster.scale(jobs=2)
        client.wait_for_workers(2, timeout=120)
        merged = rateforge.dask.sweep(G2DO4, GRID, shards=3, client=client,
                                      directory=tmp_path, **OPTIONS)
    for name in (n for n in whole.keys() if n != "metadata"):
        assert np.array_equal(merged[name], whole[name]), name
