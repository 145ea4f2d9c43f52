#!/usr/bin/env python3
"""RateML's example (van der Vlag et al. 2022): the Montbrió-Pazó-Roxin model on TVB's
68-region connectome, swept over the global coupling and the conduction speed, with a summary
statistic of each simulation as a heat map.

    .venv/bin/python examples/figures/mpr68_sweep.py [--quick] [--out DIR]

Writes mpr68_sweep.png. Model: examples/models/networks/mpr68.xml (TVB's MontbrioPazoRoxin,
eta = -5, J = 15, Delta = 1, linear coupling of r) on examples/data/connectivity_68, heun with
dt = 0.01 ms for 100 ms; every region starts from its own random (r, V) (seeded), so the delays
shape how the network settles. Statistics after 20 ms, averaged over the regions: the mean firing
rate and its variance over time. All grid points run as instances of one kernel.
"""

import numpy as np

import rateforge as rf
from _common import MODELS, ROOT, arguments, pyplot

MPR68 = str(MODELS / "networks/mpr68.xml")
CONNECTIVITY = str(ROOT / "examples/data/connectivity_68")


def main(quick=False, out=None):
    plt = pyplot()
    n = 5 if quick else 32
    coupling = np.linspace(0.0, 30.0, n)
    speed = np.linspace(0.5, 10.0, n)
    rng = np.random.default_rng(3)
    start = {"r": rng.uniform(0.0, 2.0, 68), "V": rng.uniform(-2.0, 0.0, 68)}
    m = rf.load(MPR68)
    r = m.sweep({"global_coupling": coupling, "global_speed": speed}, time=100.0, dt=0.01,
                solver="heun", transient=20.0, record="r", connectivity=CONNECTIVITY,
                node_values=start, progress=False)
    mean = r["mean/r"].mean(axis=0).reshape(n, n)
    var = r["var/r"].mean(axis=0).reshape(n, n)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.9))
    for ax, values, title in [(axes[0], mean, "mean firing rate r"),
                              (axes[1], var, "variance of r over time")]:
        im = ax.pcolormesh(speed, coupling, values, shading="nearest", cmap="magma")
        fig.colorbar(im, ax=ax)
        ax.set_xlabel("conduction speed (mm/ms)")
        ax.set_ylabel("global coupling")
        ax.set_title(title)
    fig.suptitle(f"MPR on the 68-region connectome: {n * n} simulations in one sweep")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "mpr68_sweep.png")
    plt.close(fig)
    return {"coupling": coupling, "speed": speed, "mean": mean, "var": var}


if __name__ == "__main__":
    args = arguments(__doc__)
    n = main(args.quick, args.out)
    print(f"mean r from {n['mean'].min():.3f} to {n['mean'].max():.3f}; "
          f"variance from {n['var'].min():.2e} to {n['var'].max():.2e}")
