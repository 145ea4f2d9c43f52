#!/usr/bin/env bash
# Fitting the reduced Wong–Wang model on the 68-region connectome to a synthetic target.
#
# The target is made by rateforge itself from known parameters: global coupling G = 6 (the
# scaling of S through the connectome) and recurrent excitation w = 0.6, noise sigma = 0.01 on S,
# 60 s of BOLD (Stephan et al. 2007 constants, TR 0.72 s), FC and FCD (windows of 20 samples
# every 2) after a 10 s transient. Every fitted instance draws the target's noise (--same-noise,
# the same --seed), so the cost is a deterministic function of the parameters, -1 at the target.
#
#   examples/fitting/rww68.sh [OUT_DIR]        (default out/fitting; about 1 minute on 2 cores)
#
# Writes target.npz, grid.npz (G alone: found exactly) and cmaes.npz (G and w by CMA-ES).
set -euo pipefail
cd "$(dirname "$0")/../.."
RF=${RATEFORGE:-target/release/rateforge}
[ -x "$RF" ] || cargo build --release -q -p rateforge-cli
OUT=${1:-out/fitting}
mkdir -p "$OUT"
M=examples/models/library/reduced_wong_wang.yaml/reduced_wong_wang
G="reduced_wong_wang_op/S->reduced_wong_wang_op/c_pop0/a"
COMMON=(--connectivity examples/data/connectivity_68 --time 60000 --dt 0.5 --solver heun
  --noise reduced_wong_wang_op/S=0.01 --same-noise --seed 0
  --bold reduced_wong_wang_op/S --tr 0.72 --bold-transient 10 --fcd-window 20 --fcd-step 2)
"$RF" run $M "${COMMON[@]}" --set "$G=6" --no-trace -o "$OUT/target.npz"
TARGET=(--target-fc "$OUT/target.npz" --target-fcd "$OUT/target.npz")
"$RF" fit $M "${COMMON[@]}" "${TARGET[@]}" --free "$G=0:15" --method grid --points 16 \
  -o "$OUT/grid.npz"
"$RF" fit $M "${COMMON[@]}" "${TARGET[@]}" --free "$G=0:15" --free reduced_wong_wang_op/w=0.3:0.9 \
  --method cmaes --generations 12 -o "$OUT/cmaes.npz"
