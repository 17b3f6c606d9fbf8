#!/usr/bin/env bash
# Re-derives the tuned hyperparameters of the network presets (paper Appendix C.1 protocol, see
# scripts/tune.py) at their quick scale and writes them, with the sweep records, into
# presets/*.json. Needs a built ./build/adamgn; rebuild afterwards so the binary embeds the new
# values. Usage: scripts/tune_network_presets.sh [PRESET...] (default: fig3 fig4 fig5)
#
# Grids (kept small so a preset tunes in about a quarter of an hour on 2 cores): learning rate by
# factors of 3 over the range below, refined by factors of 2 around the best 2; Adam beta2 in
# {0.95, 0.99}; alpha by factors of 100 for GN. Score: final test loss over 2 tuning seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
T="scripts/tune.py --metric final-test --seeds 2 --refine 2 --write"
arms() {  # arms PRECOND: the preset's arm names for one preconditioner
  for b in id kron; do for s in small large; do printf -- '--arm\n%s %s %s\n' "$1" "$b" "$s"; done; done
}
[ $# -gt 0 ] || set -- fig3 fig4 fig5
for p in "$@"; do
  mapfile -t A < <(arms adam);    $T --preset "$p" "${A[@]}" --lr-min 1e-4 --lr-max 0.1 --grid beta2=0.95,0.99
  mapfile -t A < <(arms gn^-1);   $T --preset "$p" "${A[@]}" --lr-min 1e-3 --lr-max 1 --grid alpha=1e-2,1e-4
  mapfile -t A < <(arms gn^-1/2); $T --preset "$p" "${A[@]}" --lr-min 1e-3 --lr-max 1 --grid alpha=1e-3,1e-5
done
