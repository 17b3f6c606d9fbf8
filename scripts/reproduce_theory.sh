#!/usr/bin/env bash
# Runs the theory presets at quick and paper scale into results/{quick,paper}/, writes
# results/theory-{quick,paper}.md with the verdicts, and results/bench.md with steps per second.
set -euo pipefail
cd "$(dirname "$0")/.."
presets=(fig1-left fig1-right fig2 fig8 sec3-stochastic)
for scale in quick paper; do
  mkdir -p results/$scale
  for p in "${presets[@]}"; do
    ./build/adamgn run --preset "$p" --scale $scale -q -o results/$scale/$p.json
  done
  scripts/theory_report.py results/$scale > results/theory-$scale.md
done
./build/adamgn bench $(printf -- '--preset %s ' "${presets[@]}") > results/bench.md
