#!/usr/bin/env bash
# Runs the network presets at the quick scale (or the scale given as $1) into results/SCALE/,
# writes results/network-SCALE.md with the per-cell verdicts, and times every arm of fig4 into
# results/bench-network.md (quick and paper scale). About 40 minutes on 2 cores at the quick scale.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-quick}
presets=(fig3 fig4 fig5 fig9 fig10-parity fig10-staircase)
mkdir -p results/$scale
for p in "${presets[@]}"; do
  ./build/adamgn run --preset "$p" --scale "$scale" -q -o results/$scale/$p.json
done
scripts/network_report.py results/$scale "${presets[@]}" > results/network-$scale.md
if [ "$scale" = quick ]; then
  {
    echo "# fig4 (parity) milliseconds per step by phase"
    echo
    echo "\`adamgn bench\`, one run per arm (seed 0), on 2 cores with nothing else running. The split:"
    echo "gradient (batch forward and backward), curvature (GN batch forward and pseudo-gradients),"
    echo "basis (Gram products of the Kronecker factors and their eigendecompositions; eig is the"
    echo "decompositions alone, summed over the threads that ran them side by side), diagonal (for GN:"
    echo "the GN diagonal in the basis, re-estimated every step), update (rotations and elementwise work)."
    echo "A run that diverges stops there: its \`steps\` column is the step it diverged at."
    echo
    echo "## Quick scale, 200 steps: \`adamgn bench --preset fig4 --steps 200\`"
    echo
    ./build/adamgn bench --preset fig4 --steps 200
    echo
    echo "## Paper scale, 20 steps: \`adamgn bench --preset fig4 --scale paper --steps 20\`"
    echo
    ./build/adamgn bench --preset fig4 --scale paper --steps 20
  } > results/bench-network.md
fi
