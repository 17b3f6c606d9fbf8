#!/usr/bin/env python3
"""Tune arms of a preset with the paper's protocol (Appendix C.1) by running adamgn.

Stage 1 sweeps the learning rate by factors of 3 over [--lr-min, --lr-max] crossed with every
value of the other swept keys (alpha by factors of 10, beta2, schedule, ...). Stage 2 refines the
learning rate by factors of 2 around the --refine (default 3) best stage-1 settings. A setting's
score (--metric) is the mean over the tuning seeds of
  final       the final training-curve loss (the paper's rule),
  final-test  the final test loss (network tasks: held-out loss after the last step),
  log-auc     the mean of log10(loss) over the logged curve, clipped below at 1e-30, which ranks
              by speed and stays meaningful when several settings reach float precision early.
A setting with any diverged seed scores +inf. Ties go to the smaller learning rate. Tuning seeds
start at --seed (default 1000) so that they are disjoint from the preset's evaluation seeds (0..9).

Every arm named by --arm (repeatable) is tuned with the same grid. All settings of a stage run
as the arms of one adamgn experiment, so arms x settings x seeds fill every core.

With --write the winners are stored in the preset's arms and the sweep records under
"tuning"/ARM, so every preset says how its numbers were found.

Example:
  scripts/tune.py --preset fig1-left --arm adam --lr-min 1e-3 --lr-max 10 \\
      --grid beta2=0,0.9,0.95,0.99 --grid schedule=constant,step:20:0.5 --write
"""
import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lr_grid(lo, hi):
    values, x = [], lo
    while x <= hi * (1 + 1e-9):
        values.append(float("%.6g" % x))
        x *= 3.0
    return values


def typed(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_preset(name):
    path = name if name.endswith(".json") else os.path.join(ROOT, "presets", name + ".json")
    with open(path) as f:
        return path, json.load(f)


def score_runs(runs, metric):
    if any(r["status"] != "ok" for r in runs):
        return math.inf
    if metric == "final":
        vals = [r["loss"][-1] for r in runs]
    elif metric == "final-test":
        vals = [r["test_loss"][-1] for r in runs]
    else:
        vals = [sum(math.log10(max(x, 1e-30)) for x in r["loss"]) / len(r["loss"]) for r in runs]
    return sum(vals) / len(vals)


def run_settings(a, doc, candidates):
    """candidates: list of (arm name, settings). Returns one score per candidate."""
    by_name = {arm["name"]: arm for arm in doc["arms"]}
    trial = {k: v for k, v in doc.items() if k not in ("arms", "tuning", "scales")}
    trial["name"] = doc["name"] + "-tuning"
    trial["arms"] = []
    for i, (arm, settings) in enumerate(candidates):
        entry = dict(by_name[arm])
        entry.update(settings)
        entry["name"] = "%s #%d" % (arm, i)
        trial["arms"].append(entry)
    trial["run"] = dict(trial.get("run", {}), seeds=a.seeds, seed=a.seed)
    for s in a.set:
        key, value = s.split("=", 1)
        node = trial
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = typed(value)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(trial, f)
        path = f.name
    try:
        out = subprocess.run([a.binary, "run", "--preset", path, "-q"], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    result = json.loads(out)
    scores = [score_runs(arm["runs"], a.metric) for arm in result["arms"]]
    for (arm, settings), s in zip(candidates, scores):
        print("%-24s %-12s %s" % (arm, "inf" if math.isinf(s) else "%.4e" % s, settings), file=sys.stderr)
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", required=True, help="a preset name (presets/NAME.json) or a path")
    ap.add_argument("--arm", action="append", required=True, help="arm to tune (repeatable)")
    ap.add_argument("--lr-min", type=float, required=True)
    ap.add_argument("--lr-max", type=float, required=True)
    ap.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... swept together with lr")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE set in the tuning runs (e.g. run.steps=500)")
    ap.add_argument("--metric", choices=["final", "final-test", "log-auc"], default="final")
    ap.add_argument("--refine", type=int, default=3, help="refine around this many best stage-1 settings")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "adamgn"))
    ap.add_argument("--write", action="store_true", help="store the winners and the records in the preset file")
    a = ap.parse_args()

    path, doc = load_preset(a.preset)
    names = {arm["name"] for arm in doc["arms"]}
    for arm in a.arm:
        if arm not in names:
            sys.exit("tune.py: preset %s has no arm %r" % (a.preset, arm))
    keys, choices = [], []
    for g in a.grid:
        k, v = g.split("=", 1)
        keys.append(k)
        choices.append([typed(x) for x in v.split(",")])

    stage1 = []
    for arm in a.arm:
        for combo in itertools.product(*choices):
            for lr in lr_grid(a.lr_min, a.lr_max):
                settings = dict(zip(keys, combo))
                settings["lr"] = lr
                stage1.append((arm, settings))
    scores1 = run_settings(a, doc, stage1)
    tried = {arm: [] for arm in a.arm}
    for (arm, settings), s in zip(stage1, scores1):
        tried[arm].append((s, settings))

    # Stage 2: factors of 2 around the REFINE best finite stage-1 settings of each arm (the loss
    # landscape in lr can be jumpy, so refining only the single best can miss a better neighbour).
    stage2 = []
    for arm in a.arm:
        ranked = sorted([e for e in tried[arm] if not math.isinf(e[0])], key=lambda e: (e[0], e[1]["lr"]))
        for _, settings1 in ranked[: a.refine]:
            for factor in (0.5, 2.0):
                settings = dict(settings1)
                settings["lr"] = float("%.6g" % (settings1["lr"] * factor))
                if all(settings != t[1] for t in tried[arm]) and (arm, settings) not in stage2:
                    stage2.append((arm, settings))
    if stage2:
        for (arm, settings), s in zip(stage2, run_settings(a, doc, stage2)):
            tried[arm].append((s, settings))

    records = {}
    for arm in a.arm:
        best = min(tried[arm], key=lambda e: (e[0], e[1]["lr"]))
        metric_text = {"final": "final loss", "final-test": "final test loss",
                       "log-auc": "mean log10 loss over the logged curve, clipped at 1e-30"}[a.metric]
        records[arm] = {
            "protocol": "lr by factors of 3 in [%g, %g], refined by factors of 2 around the best %d settings; "
                        "score = %s averaged over tuning seeds (any divergence = inf); ties to smaller lr"
                        % (a.lr_min, a.lr_max, a.refine, metric_text),
            "grid": {k: c for k, c in zip(keys, choices)},
            "extra_sets": a.set,
            "tuning_seeds": list(range(a.seed, a.seed + a.seeds)),
            "settings_tried": len(tried[arm]),
            "winner": None if math.isinf(best[0]) else best[1],
            "metric": a.metric,
            "winner_score": None if math.isinf(best[0]) else best[0],
        }
    print(json.dumps(records, indent=2))
    if a.write:
        with open(path) as f:
            doc = json.load(f)  # reread: another tuning process may have written other arms
        for arm in doc["arms"]:
            rec = records.get(arm.get("name"))
            if rec and rec["winner"]:
                arm.update(rec["winner"])
        for arm, rec in records.items():
            doc.setdefault("tuning", {})[arm] = rec
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
