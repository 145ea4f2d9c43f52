#!/usr/bin/env python3
"""Fitting the reduced Wong-Wang model on the 68-region connectome to a synthetic FC and FCD:
the cost over global coupling G x recurrent excitation w, with a CMA-ES search on it.

    .venv/bin/python examples/figures/fit_landscape.py [--quick] [--out DIR]

Writes fit_landscape.png. The target is made by rateforge from G = 6, w = 0.6 (noise 0.01 on S,
60 s of BOLD with Stephan et al. 2007's constants, TR 0.72 s, a 10 s transient, FCD windows of 20
samples every 2). Every simulation draws the target's noise (same_noise=True), so the cost,
-FC correlation + |FC mean difference| + FCD KS distance, is a deterministic function of (G, w)
that reaches -1 at the target. Left: the cost over a grid of (G, w), one launch, with the points
CMA-ES evaluated on it; right: CMA-ES's costs, 12 generations of 8 points, one launch each.
"""

import numpy as np

import rateforge as rf
from _common import MODELS, ROOT, arguments, pyplot

RWW = str(MODELS / "library/reduced_wong_wang.yaml/reduced_wong_wang")
CONNECTIVITY = str(ROOT / "examples/data/connectivity_68")
G = "reduced_wong_wang_op/S->reduced_wong_wang_op/c_pop0/a"
W = "reduced_wong_wang_op/w"


def main(quick=False, out=None):
    plt = pyplot()
    time = 20_000.0 if quick else 60_000.0
    bold = dict(driver="reduced_wong_wang_op/S", tr=0.72, transient=5.0 if quick else 10.0,
                fcd_window=10 if quick else 20, fcd_step=2)
    common = dict(time=time, dt=0.5, solver="heun", noise={"reduced_wong_wang_op/S": 0.01},
                  same_noise=True, connectivity=CONNECTIVITY, bold=bold, progress=False)
    m = rf.load(RWW)
    # w = 0.6 as the grid below computes it (lo + u (hi - lo), u = 1/2): the same bits, so the
    # grid holds the target exactly.
    w_target = 0.4 + 0.5 * (0.8 - 0.4)
    target = m.run(set={G: 6.0, W: w_target}, trace=False, **common)
    fc = {"fc": target["fc"], "fcd": target["fcd"]}
    n = 5 if quick else 17
    g_values = np.linspace(0.0, 12.0, n) if quick else np.linspace(0.0, 16.0, n)
    w_values = np.linspace(0.4, 0.8, n)
    grid = m.fit({G: (g_values[0], g_values[-1]), W: (w_values[0], w_values[-1])}, fc,
                 method="grid", points=n, progress=False, **{k: v for k, v in common.items()
                                                               if k != "progress"})
    cost = grid["fit/cost"].reshape(n, n)
    search = m.fit({G: (0.0, 15.0), W: (0.3, 0.9)}, fc, method="cmaes", population=8,
                   generations=3 if quick else 12, progress=False,
                   **{k: v for k, v in common.items() if k != "progress"})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    ax = axes[0]
    im = ax.pcolormesh(w_values, g_values, cost, shading="nearest", cmap="viridis")
    fig.colorbar(im, ax=ax, label="cost")
    ax.plot(search[f"grid/{W}"], search[f"grid/{G}"], ".", color="white", ms=3, alpha=0.7,
            label="CMA-ES evaluations")
    ax.plot([0.6], [6.0], "x", color="red", ms=9, mew=2, label="target (G = 6, w = 0.6)")
    ax.plot([search["best"][W]], [search["best"][G]], "+", color="orange", ms=11, mew=2,
            label="CMA-ES best")
    ax.set_xlim(w_values[0], w_values[-1])
    ax.set_ylim(g_values[0], g_values[-1])
    ax.set_xlabel("recurrent excitation w")
    ax.set_ylabel("global coupling G")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(f"cost over {n} x {n} simulations (one launch)")
    ax = axes[1]
    generation = search["generation"]
    best_so_far = np.minimum.accumulate(search["fit/cost"])
    ax.plot(np.arange(len(best_so_far)), best_so_far, color="C1", label="best so far")
    ax.scatter(np.arange(len(generation)), search["fit/cost"], c=generation, s=8, cmap="viridis",
               label="each evaluation (colour: generation)")
    ax.axhline(-1.0, color="red", lw=0.8, ls="--", label="perfect fit")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("cost")
    ax.legend(fontsize=7)
    ax.set_title("CMA-ES, 8 points per generation")
    fig.suptitle("Reduced Wong-Wang on the 68-region connectome fitted to a synthetic FC + FCD")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "fit_landscape.png")
    plt.close(fig)
    i, j = np.unravel_index(np.argmin(cost), cost.shape)
    return {"cost": cost, "g": g_values, "w": w_values, "grid_best": (g_values[i], w_values[j]),
            "cmaes_best": (search["best"][G], search["best"][W]),
            "cmaes_cost": float(search["best/cost"][0])}


if __name__ == "__main__":
    args = arguments(__doc__)
    n = main(args.quick, args.out)
    print(f"grid best at G = {n['grid_best'][0]:.3f}, w = {n['grid_best'][1]:.3f} "
          f"(cost {n['cost'].min():.4f}); CMA-ES best at G = {n['cmaes_best'][0]:.4f}, "
          f"w = {n['cmaes_best'][1]:.4f} (cost {n['cmaes_cost']:.4f})")
