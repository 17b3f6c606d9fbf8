#!/usr/bin/env python3
"""Writes a Markdown report (stdout) of the theory presets from adamgn result files.

Usage: scripts/theory_report.py DIR   (DIR holds PRESET.json files written by adamgn run -o)

Verdict rules (each stated next to its row):
  fig1-left   Adam's final loss + 2 se < both GN arms' final loss - 2 se.
  fig1-right  Adam reaches run.target_loss in fewer steps than GN^-1 (all seeds reach it).
  fig2 / fig8 at each batch size the favoured power reaches the target in fewer mean steps than
              the other (fig2: GN^-1/2, fig8: GN^-1 or within 10%), every seed reaching it.
  sec3        Adam ≈ GN^-1/2 in a basis: final losses (floored at 1e-30) within a factor of 10;
              GN^-1 best in the eigenbasis: fewest mean steps to the target among eigen arms.
"""
import json
import math
import os
import sys


def load(d, name):
    with open(os.path.join(d, name + ".json")) as f:
        return json.load(f)


def arms(doc):
    return {a["name"]: a["summary"] for a in doc["arms"]}


def fmt(s):
    if s["final_loss_mean"] is None:
        return "all diverged"
    return "%.3g ± %.2g" % (s["final_loss_mean"], s["final_loss_se"])


def steps(s):
    if "n_reached_target" not in s:
        return "–"
    if s["n_reached_target"] == 0:
        return "not reached (0/%d)" % (s["n_ok"] + s["n_diverged"])
    return "%.0f (%d/%d)" % (s["steps_to_target_mean"], s["n_reached_target"], s["n_ok"] + s["n_diverged"])


def reached_all(s):
    return s.get("n_reached_target", 0) == s["n_ok"] + s["n_diverged"] and s["n_diverged"] == 0


def faster(a, b, slack=1.0):
    """a reaches the target in fewer mean steps than b (b not reaching counts as slower)."""
    if not reached_all(a):
        return False
    if not reached_all(b):
        return True
    return a["steps_to_target_mean"] <= slack * b["steps_to_target_mean"]


def verdict(ok):
    return "**holds**" if ok else "**does not hold**"


def main():
    d = sys.argv[1]
    out = []
    for name in ["fig1-left", "fig1-right", "fig2", "fig8", "sec3-stochastic"]:
        doc = load(d, name)
        a = arms(doc)
        run = doc["config"]["run"]
        out.append("### %s\n\n%s\n\nMeasure: %s. %d steps, %d seeds, target loss %g.\n"
                   % (name, doc["claim"], doc["measure"], run["steps"], run["seeds"], run["target_loss"]))
        out.append("| arm | ok/diverged | final loss (mean ± se) | steps to target (reached) |\n|---|---|---|---|")
        for n, s in a.items():
            out.append("| %s | %d/%d | %s | %s |" % (n, s["n_ok"], s["n_diverged"], fmt(s), steps(s)))
        out.append("")
        if name == "fig1-left":
            ad = a["adam"]
            ok = all(ad["final_loss_mean"] + 2 * ad["final_loss_se"] < a[g]["final_loss_mean"] - 2 * a[g]["final_loss_se"]
                     for g in ("gn^-1", "gn^-1/2"))
            same = a["gn^-1"]["final_loss_mean"] == a["gn^-1/2"]["final_loss_mean"]
            out.append("Verdict: Adam below both GN arms by more than 2 se each: %s. GN^-1 and GN^-1/2 "
                       "identical (both are gradient descent here): %s.\n" % (verdict(ok), "yes" if same else "no"))
        elif name == "fig1-right":
            out.append("Verdict: Adam reaches the target in fewer steps than GN^-1: %s.\n"
                       % verdict(faster(a["adam"], a["gn^-1"])))
        elif name in ("fig2", "fig8"):
            for b in ("full", "b1"):
                if name == "fig2":
                    ok = faster(a["gn^-1/2 " + b], a["gn^-1 " + b])
                    out.append("Verdict (%s): GN^-1/2 reaches the target first: %s." % (b, verdict(ok)))
                else:
                    ok = faster(a["gn^-1 " + b], a["gn^-1/2 " + b], slack=1.1)
                    out.append("Verdict (%s): GN^-1 reaches the target first or within 10%%: %s." % (b, verdict(ok)))
            out.append("")
        else:
            for b in ("identity", "eigen"):
                x, y = a["adam " + b]["final_loss_mean"], a["gn^-1/2 " + b]["final_loss_mean"]
                x, y = max(x, 1e-30), max(y, 1e-30)  # losses below 1e-30 are float precision
                ratio = max(x, y) / min(x, y)
                out.append("Verdict (%s): Adam within a factor of 10 of GN^-1/2 (ratio %.3g): %s."
                           % (b, ratio, verdict(ratio <= 10)))
            eig = {n: s for n, s in a.items() if n.endswith("eigen")}
            best = all(faster(eig["gn^-1 eigen"], s) for n, s in eig.items() if n != "gn^-1 eigen")
            out.append("Verdict: GN^-1 reaches the target first among eigenbasis arms: %s.\n" % verdict(best))
    print("\n".join(out))


if __name__ == "__main__":
    main()
