#!/usr/bin/env bash
# Times every arm of fig4 (parity) into results/bench-network.md and, when ADAMGN_DATA points at
# the CIFAR-10 binaries, every arm of fig6 into results/bench-cifar.md; quick and paper scale.
# Run it on an otherwise idle machine: the tables are wall-clock times. About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ADAMGN_BIN:-./build/adamgn}
commit=$(git rev-parse --short HEAD)
phases() {
  echo "\`adamgn bench\`, one run per arm (seed 0), on 2 cores with nothing else running (commit $commit)."
  echo "The split: gradient (batch forward and backward), curvature (GN batch forward and"
  echo "pseudo-gradients), basis (Gram products of the Kronecker factors and their eigendecompositions;"
  echo "eig is the decompositions alone, summed over the threads that ran them side by side), diagonal"
  echo "(the GN arms' GN diagonal in the basis, re-estimated every step), update (rotations, Adam's"
  echo "second moment and the rest of the elementwise work). A run that diverges stops there: its"
  echo "\`steps\` column is the step it diverged at. The first step, where every buffer is allocated and"
  echo "faulted in, is left out of the times (\`--warmup 1\`, the default), so the step counts below are"
  echo "one more than a multiple of the basis refresh interval: the timed steps hold refreshes in the"
  echo "preset's proportion."
}
{
  echo "# fig4 (parity) milliseconds per step by phase"
  echo
  phases
  echo
  echo "## Quick scale (width 256, GN batch 1024, basis every 5 steps), 200 timed steps: \`adamgn bench --preset fig4 --steps 201\`"
  echo
  "$bin" bench --preset fig4 --steps 201
  echo
  echo "## Paper scale (width 512, GN batch 4096, basis every step), 19 timed steps: \`adamgn bench --preset fig4 --scale paper --steps 20\`"
  echo
  "$bin" bench --preset fig4 --scale paper --steps 20
} > results/bench-network.md
if [ -n "${ADAMGN_DATA:-}" ]; then
  {
    echo "# fig6 (CIFAR-10) milliseconds per step by phase"
    echo
    phases
    echo
    echo "## Quick scale (width 64, GN batch 512, basis every 50 steps), 100 timed steps"
    echo
    echo "    ADAMGN_DATA=DIR adamgn bench --preset fig6 --steps 101"
    echo
    "$bin" bench --preset fig6 --steps 101
    echo
    echo "## Paper scale (width 512, large batch 4096, GN batch 4096 with the exact sum over the 10 output directions, basis every step), 2 timed steps"
    echo
    echo "    ADAMGN_DATA=DIR adamgn bench --preset fig6 --scale paper --steps 3"
    echo
    "$bin" bench --preset fig6 --scale paper --steps 3
  } > results/bench-cifar.md
fi
