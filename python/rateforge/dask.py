"""Sweeps on a Dask cluster: the sweep cut into shards, one task each, merged when all are done.

>>> from dask.distributed import Client, LocalCluster
>>> import rateforge.dask
>>> with Client(LocalCluster(n_workers=2)) as client:
...     r = rateforge.dask.sweep("examples/models/montbrio.yaml/qif",
...                              {"p/qif_op/eta": "-6:-4:64"}, shards=4, client=client,
...                              time=10, dt=1e-3, record="p/qif_op/r")
>>> r["mean/p/qif_op/r"].shape
(64,)

Each task loads the model by its reference (``rateforge.load``) in its worker and runs
``Model.sweep(..., shard=(k, shards))``: the noise and the initial values drawn from ranges are
those the instances have in the whole sweep, so the merged result equals a sweep in one process
bit for bit. The shards are written as ``.npz`` files to ``directory``, which every worker and
the client must see (a shared file system on a cluster, e.g. with ``dask_jobqueue.SLURMCluster``),
and merged there by :func:`rateforge.merge` with its checks.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

import rateforge as rf

__all__ = ["sweep"]


def _shard(model: str, model_path: Optional[list[str]], grid: Mapping[str, Any], k: int, n: int,
           directory: str, options: dict) -> str:
    """One task: shard ``k`` of ``n``, written to ``directory``; returns the file's path."""
    import rateforge

    m = rateforge.load(model, model_path)
    r = m.sweep(grid, shard=(k, n), progress=False, **options)
    path = os.path.join(directory, f"shard_{k:05d}_of_{n:05d}.npz")
    r.write(path)
    return path


def sweep(model: Union[str, os.PathLike], grid: Mapping[str, Any], *, shards: int, client: Any,
          directory: Union[None, str, os.PathLike] = None,
          model_path: Optional[Sequence[Union[str, os.PathLike]]] = None,
          **options: Any) -> dict[str, Any]:
    """Run ``Model.sweep(grid, **options)`` as ``shards`` tasks on ``client`` (a
    ``distributed.Client``) and merge their results.

    model: the model's reference as :func:`rateforge.load` takes it (each worker loads it).
    directory: where the shards and ``merged.npz`` go (default: a new temporary directory; on a
    cluster, a directory every worker can write and the client read). Returns the merged
    arrays by name (as :class:`rateforge.Result` names them) and ``metadata`` (a dict).
    """
    if shards < 1:
        raise rf.ModelError("error: a sweep needs at least one shard\n  = help: e.g. shards=8")
    out = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="rateforge-dask-"))
    out.mkdir(parents=True, exist_ok=True)
    paths = None if model_path is None else [str(p) for p in model_path]
    options = dict(options)
    options.pop("progress", None)
    futures = [client.submit(_shard, str(model), paths, dict(grid), k, shards, str(out), options,
                             pure=False) for k in range(1, shards + 1)]
    files = client.gather(futures)
    merged = out / "merged.npz"
    rf.merge(files, merged)
    with np.load(merged) as f:
        arrays = {name: f[name] for name in f.files if name != "metadata"}
        metadata = json.loads(str(f["metadata"]))
    arrays["metadata"] = metadata
    return arrays
