#!/usr/bin/env python3
"""Montbrió-Pazó-Roxin: the firing rate r and mean potential v of the QIF mean field driven by
a step and by a sinusoidal input (PyRates, Gast et al. 2019, Fig. 3B; Montbrió et al. 2015,
Fig. 2).

    .venv/bin/python examples/figures/montbrio.py [--quick] [--out DIR]

Writes montbrio.png. Model: examples/models/montbrio.yaml (Delta = 1, eta = -5, J = 15, tau = 1),
rk4 with dt = 1e-3. Inputs as in Montbrió et al.: I = 3 for 0 <= t < 30 after a run-in (the
step), and I = 3 sin(pi t / 20) (the sinusoid).
"""

import numpy as np

import rateforge as rf
from _common import MODELS, arguments, pyplot

QIF = str(MODELS / "montbrio.yaml/qif")
RUN_IN = 10.0


def simulate(drive, time):
    m = rf.load(QIF)
    return m.run(time=time, dt=1e-3, solver="rk4", every=0.01, t0=-RUN_IN,
                 inputs={"p/qif_op/I_ext": drive}, record=["p/qif_op/r", "p/qif_op/v"],
                 progress=False)


def main(quick=False, out=None):
    plt = pyplot()
    time = 60.0 if quick else 90.0
    step = simulate("3*(t>=0)*(t<30)", time + RUN_IN)
    sine = simulate("3*sin(pi*t/20)*(t>=0)", time + RUN_IN)
    fig, axes = plt.subplots(3, 2, sharex=True, figsize=(8, 5.2),
                             gridspec_kw={"height_ratios": [1, 2, 2]})
    for col, (result, title, drive) in enumerate([
        (step, "step input", lambda t: 3.0 * ((t >= 0) & (t < 30))),
        (sine, "sinusoidal input", lambda t: 3.0 * np.sin(np.pi * t / 20) * (t >= 0)),
    ]):
        t = result.time
        axes[0, col].plot(t, drive(t), color="k", lw=0.9)
        axes[0, col].set_title(title)
        axes[1, col].plot(t, result["p/qif_op/r"], color="tab:blue", lw=0.9)
        axes[2, col].plot(t, result["p/qif_op/v"], color="tab:red", lw=0.9)
        axes[2, col].set_xlabel("time (units of tau)")
    axes[0, 0].set_ylabel("I(t)")
    axes[1, 0].set_ylabel("firing rate r")
    axes[2, 0].set_ylabel("mean potential v")
    fig.suptitle("Montbrió-Pazó-Roxin QIF mean field (Delta = 1, eta = -5, J = 15)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "montbrio.png")
    plt.close(fig)
    t = step.time
    r = step["p/qif_op/r"]
    during = (t > 20) & (t < 30)
    return {
        "r_before": float(r[np.searchsorted(t, -0.01)]),
        "r_during": float(r[during].mean()),
        "r_after": float(r[-1]),
        "r_peak": float(r.max()),
        "sine_r_max": float(sine["p/qif_op/r"].max()),
        "sine_r_min": float(sine["p/qif_op/r"][sine.time > 0].min()),
    }


if __name__ == "__main__":
    args = arguments(__doc__)
    n = main(args.quick, args.out)
    print(", ".join(f"{k} = {v:.4f}" for k, v in n.items()))
