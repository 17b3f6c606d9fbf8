#!/usr/bin/env python3
"""Tunes the fig10 presets (interpolated bases) with scripts/tune.py: for every arm, the learning
rate by factors of 3 over a 5-point window centred on the winner of the matching arm of the
endpoint preset (fig4 for parity, fig5 for staircase: same preconditioner and batch, identity
basis for gamma < 0.5, Kronecker otherwise), refined by factors of 2 around the best; alpha and
beta2 are taken from that arm. One tuning seed. Usage: scripts/tune_interp_presets.py [PRESET...]
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINT = {"fig10-parity": "fig4", "fig10-staircase": "fig5"}


def main():
    for name in sys.argv[1:] or sorted(ENDPOINT):
        with open(os.path.join(ROOT, "presets", name + ".json")) as f:
            doc = json.load(f)
        with open(os.path.join(ROOT, "presets", ENDPOINT[name] + ".json")) as f:
            ends = {a["name"]: a for a in json.load(f)["arms"]}
        groups = {}
        for arm in doc["arms"]:
            precond, g, batch = arm["name"].rsplit(" ", 2)
            gamma = float(g[1:])
            src = ends["%s %s %s" % (precond, "id" if gamma < 0.5 else "kron", batch)]
            fixed = tuple((k, src[k]) for k in ("alpha", "beta2") if k in src)
            groups.setdefault((src["lr"], fixed), []).append(arm["name"])
        for (lr, fixed), arms in groups.items():
            cmd = [sys.executable, os.path.join(ROOT, "scripts", "tune.py"), "--preset", name, "--metric", "final-test",
                   "--seeds", "1", "--refine", "1", "--write", "--lr-min", "%.6g" % (lr / 9.0), "--lr-max", "%.6g" % (lr * 9.0)]
            for k, v in fixed:
                cmd += ["--grid", "%s=%s" % (k, v)]
            for a in arms:
                cmd += ["--arm", a]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
