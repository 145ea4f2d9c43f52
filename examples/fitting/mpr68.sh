#!/usr/bin/env bash
# Fitting the Montbrió–Pazó–Roxin model on the 68-region connectome (with delays) to a synthetic
# target.
#
# The target is made by rateforge from a known global coupling a = 20 (the linear coupling of r,
# examples/models/networks/mpr68.yaml), noise sigma = 0.3 on V, 60 s of BOLD driven by the firing
# rate r (Stephan et al. 2007's constants, TR 0.72 s) after a 20 s transient, and its FC. Near its
# low fixed point the network's fluctuations are noise-driven and the coupling shapes their
# correlations only slightly, so every fitted instance draws the target's noise (--same-noise,
# the same --seed): the cost is then a deterministic function of a, -1 at the target.
#
#   examples/fitting/mpr68.sh [OUT_DIR]        (default out/fitting; a few minutes on 2 cores)
#
# Writes mpr68_target.npz, mpr68_grid.npz (a on a grid of 9: found exactly) and
# mpr68_cmaes.npz (a by CMA-ES, 6 generations of 8).
set -euo pipefail
cd "$(dirname "$0")/../.."
RF=${RATEFORGE:-target/release/rateforge}
[ -x "$RF" ] || cargo build --release -q -p rateforge-cli
OUT=${1:-out/fitting}
mkdir -p "$OUT"
M=examples/models/networks/mpr68.yaml/mpr68
A="mpr_op/r->mpr_op/c_r/a"
COMMON=(--time 80000 --dt 0.1 --solver heun --noise mpr_op/V=0.3 --same-noise --seed 0
  --bold mpr_op/r --tr 0.72 --bold-transient 20)
"$RF" run $M "${COMMON[@]}" --set "$A=20" --no-trace -o "$OUT/mpr68_target.npz"
"$RF" fit $M "${COMMON[@]}" --target-fc "$OUT/mpr68_target.npz" --free "$A=0:40" \
  --method grid --points 9 -o "$OUT/mpr68_grid.npz"
"$RF" fit $M "${COMMON[@]}" --target-fc "$OUT/mpr68_target.npz" --free "$A=0:40" \
  --method cmaes --population 8 --generations 6 -o "$OUT/mpr68_cmaes.npz"
