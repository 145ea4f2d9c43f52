#!/usr/bin/env python3
"""What calling rateforge from Python costs (a benchmark that prints figures; not a test).

    .venv/bin/python python/bench.py [RATEFORGE_BINARY]

1. A short run repeated with the kernel cached: the Python call's wall time minus the run's own
   time (``Result.run_seconds``), the median over 200 calls.
2. A 10^4-instance sweep from Python and with ``rateforge sweep`` (kernel cached, same options),
   best of 3 each, and their ratio.

Build the package in release mode for figures that mean something
(``cd python && maturin develop --release``) and pass a release binary
(``target/release/rateforge``).
"""

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rateforge as rf

ROOT = Path(__file__).resolve().parents[1]
QIF = str(ROOT / "examples/models/montbrio.yaml/qif")


def main():
    exe = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/release/rateforge")
    print(f"rateforge {rf.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    m = rf.load(QIF)
    m.run(time=0.1, dt=1e-3, record="p/qif_op/r", progress=False)  # build and cache the kernel
    overheads, walls = [], []
    for _ in range(200):
        start = time.perf_counter()
        r = m.run(time=0.1, dt=1e-3, record="p/qif_op/r", progress=False)
        wall = time.perf_counter() - start
        walls.append(wall)
        overheads.append(wall - r.run_seconds)
    print(f"short run (100 steps, cached kernel): {1e3 * statistics.median(walls):.3f} ms per call, "
          f"of which Python's part {1e3 * statistics.median(overheads):.3f} ms (median of 200)")

    grid = {"p/qif_op/eta": "-10:-2:100", "p/qif_op/Delta": "0.5:2:100"}
    options = dict(time=10, dt=1e-3, solver="rk4", record="p/qif_op/r", progress=False)
    m.sweep(grid, **options)  # build and cache
    py = min(_timed(lambda: m.sweep(grid, **options)) for _ in range(3))
    with tempfile.TemporaryDirectory() as d:
        args = [exe, "sweep", QIF, "--range", "p/qif_op/eta=-10:-2:100", "--range",
                "p/qif_op/Delta=0.5:2:100", "--time", "10", "--dt", "1e-3", "--solver", "rk4",
                "--record", "p/qif_op/r", "-q", "-o", str(Path(d) / "s.npz")]
        subprocess.run(args, check=True)  # build and cache
        cli = min(_timed(lambda: subprocess.run(args, check=True)) for _ in range(3))
    print(f"sweep of 10^4 instances x 10^4 steps: Python {py:.3f} s, rateforge sweep {cli:.3f} s "
          f"(process, load and .npz included), ratio {py / cli:.2f}")


def _timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
