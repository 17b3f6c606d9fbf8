#!/usr/bin/env python3
"""Tune one arm of a preset with the paper's protocol (Appendix C.1) by running adamgn.

Stage 1 sweeps the learning rate by factors of 3 over [--lr-min, --lr-max] crossed with every
value of the other swept keys (alpha by factors of 10, beta2, schedule, ...). Stage 2 refines the
learning rate by factors of 2 around the --refine (default 3) best stage-1 settings. A setting's score
(--metric) is the mean over the tuning seeds of either the final loss (`final`, the paper's rule)
or the mean of log10(loss) over the logged curve, clipped below at 1e-30 (`log-auc`), which ranks
by speed and stays meaningful when several settings reach float precision before the last step. A
setting with any diverged seed scores +inf. Ties go to the smaller learning rate. Tuning seeds start at --seed (default 1000) so that they are disjoint
from the preset's evaluation seeds (0..9).

With --write the winner is stored in the preset's arm and the sweep record under
"tuning"/ARM, so every preset says how its numbers were found.

Example:
  scripts/tune.py --preset fig1-left --arm adam --lr-min 1e-3 --lr-max 10 \
      --grid beta2=0,0.9,0.95,0.99 --grid schedule=constant,step:20:0.5 --write
"""
import argparse
import itertools
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lr_grid(lo, hi):
    values, x = [], lo
    while x <= hi * (1 + 1e-9):
        values.append(float("%.6g" % x))
        x *= 3.0
    return values


def score(binary, preset, arm, settings, seeds, seed, extra_sets, metric):
    cmd = [binary, "run", "--preset", preset, "--arms", arm, "--seeds", str(seeds), "--seed", str(seed), "-q"]
    for s in extra_sets:
        cmd += ["--set", s]
    for k, v in settings.items():
        cmd += ["--set", "arms.%s.%s=%s" % (arm, k, v)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    runs = doc["arms"][0]["runs"]
    if any(r["status"] != "ok" for r in runs):
        return math.inf
    if metric == "final":
        return sum(r["loss"][-1] for r in runs) / len(runs)
    return sum(sum(math.log10(max(x, 1e-30)) for x in r["loss"]) / len(r["loss"]) for r in runs) / len(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", required=True)
    ap.add_argument("--arm", required=True)
    ap.add_argument("--lr-min", type=float, required=True)
    ap.add_argument("--lr-max", type=float, required=True)
    ap.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... swept together with lr")
    ap.add_argument("--set", action="append", default=[], help="extra --set passed to every run")
    ap.add_argument("--metric", choices=["final", "log-auc"], default="final")
    ap.add_argument("--refine", type=int, default=3, help="refine around this many best stage-1 settings")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "adamgn"))
    ap.add_argument("--write", action="store_true", help="store the winner and the record in presets/PRESET.json")
    a = ap.parse_args()

    keys, choices = [], []
    for g in a.grid:
        k, v = g.split("=", 1)
        keys.append(k)
        choices.append(v.split(","))
    tried = []

    def evaluate(settings):
        s = score(a.binary, a.preset, a.arm, settings, a.seeds, a.seed, a.set, a.metric)
        tried.append((s, settings))
        print("%-12s %s" % ("inf" if math.isinf(s) else "%.4e" % s, settings), file=sys.stderr)
        return s

    def better(x, y):  # lower score, then smaller lr
        return y is None or (x[0], x[1]["lr"]) < (y[0], y[1]["lr"])

    stage1 = []
    for combo in itertools.product(*choices):
        for lr in lr_grid(a.lr_min, a.lr_max):
            settings = dict(zip(keys, combo))
            settings["lr"] = lr
            stage1.append((evaluate(settings), settings))
    stage1.sort(key=lambda e: (e[0], e[1]["lr"]))
    best = stage1[0] if stage1 else None
    # Stage 2: factors of 2 around the REFINE best finite stage-1 settings (the loss landscape
    # in lr can be jumpy, so refining only the single best can miss a much better neighbour).
    for s1, settings1 in [e for e in stage1 if not math.isinf(e[0])][: a.refine]:
        for factor in (0.5, 2.0):
            settings = dict(settings1)
            settings["lr"] = float("%.6g" % (settings1["lr"] * factor))
            candidate = (evaluate(settings), settings)
            if better(candidate, best):
                best = candidate

    record = {
        "protocol": "lr by factors of 3 in [%g, %g], refined by factors of 2 around the best %d settings; "
                    "score = %s averaged over tuning seeds (any divergence = inf); ties to smaller lr"
                    % (a.lr_min, a.lr_max, a.refine, "final loss" if a.metric == "final"
                       else "mean log10 loss over the logged curve, clipped at 1e-30"),
        "grid": {k: c for k, c in zip(keys, choices)},
        "extra_sets": a.set,
        "tuning_seeds": list(range(a.seed, a.seed + a.seeds)),
        "settings_tried": len(tried),
        "winner": best[1] if best else None,
        "metric": a.metric,
        "winner_score": None if best is None or math.isinf(best[0]) else best[0],
    }
    print(json.dumps(record, indent=2))
    if a.write and best is not None and not math.isinf(best[0]):
        path = os.path.join(ROOT, "presets", a.preset + ".json")
        with open(path) as f:
            doc = json.load(f)
        for arm in doc["arms"]:
            if arm.get("name") == a.arm:
                for k, v in best[1].items():
                    arm[k] = json.loads(v) if isinstance(v, str) and _is_number(v) else v
        doc.setdefault("tuning", {})[a.arm] = record
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(path + ".tmp", path)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    main()
