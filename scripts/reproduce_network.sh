#!/usr/bin/env bash
# Runs the network presets at the quick scale (or the scale given as $1) into results/SCALE/,
# writes results/network-SCALE.md with the per-cell verdicts, and times every arm of fig4 into
# results/bench-network.md (quick and paper scale; scripts/bench_network.sh, which also times fig6 into
# results/bench-cifar.md when ADAMGN_DATA is set). About 40 minutes on 2 cores at the quick scale.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-quick}
presets=(fig3 fig4 fig5 fig9 fig10-parity fig10-staircase)
mkdir -p results/$scale
for p in "${presets[@]}"; do
  ./build/adamgn run --preset "$p" --scale "$scale" -q -o results/$scale/$p.json
done
scripts/network_report.py results/$scale "${presets[@]}" > results/network-$scale.md
if [ "$scale" = quick ]; then scripts/bench_network.sh; fi
