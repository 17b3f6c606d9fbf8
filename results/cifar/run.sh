#!/usr/bin/env bash
# CIFAR-10 test accuracy after 400 steps (paper C.2: about 47% for large-batch eigenbasis runs),
# following the PyTorch reference's training check (../shared/reference, P4): identity-basis Adam
# at batch 4096 for learning rates {1e-4, 3e-4, 1e-3, 3e-3}, then Kronecker-basis Adam (batch and
# GN batch 4096, basis refreshed every 10 steps) at the best of those rates and a third of it.
# One seed each. Usage: results/cifar/run.sh DATA_DIR  (writes results/cifar/*.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?usage: results/cifar/run.sh DATA_DIR}
mkdir -p results/cifar
common=(--data-dir "$data" --batch 4096 --steps 400 --seeds 1 --log-every 100 --beta2 0.99 --alpha 1e-16 -q)
best=""; best_acc=-1
for lr in 1e-4 3e-4 1e-3 3e-3; do
  ./build/adamgn cifar "${common[@]}" --precond adam --lr $lr -o results/cifar/identity-adam-lr$lr.json
  acc=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['arms'][0]['runs'][0]['test_accuracy'][-1])" results/cifar/identity-adam-lr$lr.json)
  echo "identity adam lr $lr: test accuracy $acc" >&2
  if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$acc" "$best_acc"; then best=$lr; best_acc=$acc; fi
done
for lr in $best $(python3 -c "print('%.3g' % ($best / 3))"); do
  ./build/adamgn cifar "${common[@]}" --precond adam --basis kronecker --gn-batch 4096 --basis-every 10 --lr $lr \
    -o results/cifar/kronecker-adam-lr$lr.json
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['arms'][0]['runs'][0]; print('kronecker adam lr', sys.argv[2], 'test accuracy', r['test_accuracy'], 'wall', r['wall_seconds'])" results/cifar/kronecker-adam-lr$lr.json "$lr" >&2
done
