#!/usr/bin/env bash
# End-to-end check of `adamgn sweep --emit-slurm` on a one-machine Slurm cluster: the emitted job
# arrays (grid, refine and rerun stages, 3 shards each, then a collect job) must store exactly the
# runs, and select exactly the winners, of the same sweep run locally.
#   scripts/test-slurm.sh PATH/TO/adamgn      (as root; installs slurm-wlm and munge if missing)
# Exit code 77 (skipped) when not root.
set -euo pipefail
adamgn=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "test-slurm: needs root to run the Slurm daemons; skipped" >&2; exit 77; }
work=$(mktemp -d /tmp/adamgn-slurm-XXXXXX)
cleanup() { bash "$here/slurm-single-node.sh" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
eval "$(bash "$here/slurm-single-node.sh" start "$work/cluster" | tail -1)"

args=(--preset fig1-left --grid lr=1e-3:1e-1:x3 --refine lr=2 --seeds 2 --rerun-seeds 4 --set run.steps=2000 -q)
"$adamgn" sweep "${args[@]}" --out "$work/slurm" --emit-slurm --shards 3 >/dev/null
bash "$work/slurm/slurm.sh"
for _ in $(seq 300); do
  [ -z "$(squeue -h)" ] && break
  sleep 1
done
[ -z "$(squeue -h)" ] || { echo "test-slurm: jobs still queued after 300 s" >&2; squeue >&2; exit 1; }
"$adamgn" sweep "${args[@]}" --out "$work/local"

"$adamgn" check "$work/slurm" >/dev/null || { echo "test-slurm: the Slurm sweep is incomplete" >&2; cat "$work"/slurm/slurm/*.out >&2; exit 1; }
# Every run's values (all columns but the source folder and the wall time) and the selection.
table() { "$adamgn" summarize "$1" --table runs --format csv | cut -d, -f2-12; }
diff <(table "$work/slurm") <(table "$work/local") >&2 || { echo "test-slurm: stored runs differ" >&2; exit 1; }
cmp "$work/slurm/selection.json" "$work/local/selection.json" || { echo "test-slurm: selections differ" >&2; exit 1; }
runs=$(table "$work/local" | tail -n +2 | wc -l)
echo "test-slurm: $runs runs from 3 job arrays and a collect job equal the local sweep"
