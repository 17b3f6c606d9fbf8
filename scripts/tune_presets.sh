#!/usr/bin/env bash
# Re-derives the tuned hyperparameters of the theory presets (paper Appendix C.1 protocol, see
# scripts/tune.py) and writes them, with the sweep record, into presets/*.json. Needs a built
# ./build/adamgn; rebuild afterwards so the binary embeds the new values.
set -euo pipefail
cd "$(dirname "$0")/.."
# Score: mean log10 loss over the curve (most arms of these convex problems reach float precision
# within the run, where the final loss no longer ranks anything).
T="scripts/tune.py --metric log-auc"
ADAM="--grid beta2=0,0.9,0.95,0.99 --grid schedule=constant,step:10%"
SCHED="--grid schedule=constant,step:10%"

# fig1-left: block quadratic, identity basis, full batch
$T --preset fig1-left --arm adam    --lr-min 1e-4 --lr-max 10 $ADAM --write
$T --preset fig1-left --arm gn^-1   --lr-min 1e-4 --lr-max 10 $SCHED --write
$T --preset fig1-left --arm gn^-1/2 --lr-min 1e-4 --lr-max 10 $SCHED --write

# fig1-right: logistic, eigenbasis, full batch (deterministic: one tuning seed suffices)
$T --preset fig1-right --arm adam    --seeds 1 --lr-min 1e-5 --lr-max 10 $ADAM --write
$T --preset fig1-right --arm gn^-1   --seeds 1 --lr-min 1e-5 --lr-max 100 $SCHED --grid alpha=0,1e-9,1e-8,1e-7,1e-6,1e-5,1e-4,1e-3,1e-2 --write
$T --preset fig1-right --arm gn^-1/2 --seeds 1 --lr-min 1e-5 --lr-max 100 $SCHED --grid alpha=0,1e-9,1e-8,1e-7,1e-6,1e-5,1e-4,1e-3,1e-2 --write

# fig2 / fig8: Sigma_half / Sigma_one, identity basis, full batch and batch 1
for p in fig2 fig8; do
  for arm in "gn^-1 full" "gn^-1/2 full" "gn^-1 b1" "gn^-1/2 b1"; do
    $T --preset $p --arm "$arm" --lr-min 1e-5 --lr-max 10 $SCHED --write
  done
done

# sec3-stochastic: batch 1, identity and eigenbasis
for b in identity eigen; do
  $T --preset sec3-stochastic --arm "adam $b"    --lr-min 1e-5 --lr-max 10 $ADAM --write
  $T --preset sec3-stochastic --arm "gn^-1/2 $b" --lr-min 1e-5 --lr-max 10 $SCHED --write
  $T --preset sec3-stochastic --arm "gn^-1 $b"   --lr-min 1e-5 --lr-max 10 $SCHED --write
done
