#!/usr/bin/env python3
"""The differencing attacker of issue #16, as a linear program (scipy's HiGHS).

Reads every pull a role made (JSON outcome reports: a cross report by product and institution,
each institution's report by product, each product's report by institution) and the exact truth
(an administrator's unsuppressed cross report). The unknowns are the true counts of the finest
cells, product x institution, of each measure (patients, deaths). Every published figure bounds
the sum of the cells it covers:

  perturbed (cell-key, at most D):  shown v -> v - D .. v + D, at least 1 (0 only for 0)
                                    withheld -> 1 .. K - 1 + D
  exact (classic suppression):      shown v -> exactly v;   withheld -> 1 .. K - 1

For every finest cell whose true count is small (1 to K - 1) the attacker minimises and maximises
it over everything published. A cell is disclosed when a single whole number is left.

    attack.py MODE K D TRUTH.json PULL.json...     MODE: perturbed or exact
Prints one JSON line: {"mode", "small_cells", "disclosed", "examples"}.
"""
import json
import math
import sys

from scipy.optimize import linprog

MEASURES = ["patients", "deaths"]


def groups(report):
    """(product, institution, figures) of the total and every group, with the report's filters applied."""
    p = report["parameters"]
    fixed = {"product": p.get("product"), "institution": p.get("institution")}
    out = [(fixed["product"], fixed["institution"], report["total"])]
    for g in report["groups"]:
        key = g["group"]
        out.append((key.get("product", fixed["product"]), key.get("institution", fixed["institution"]), g))
    return out


def main():
    mode, k, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    truth = json.load(open(sys.argv[4]))
    pulls = [json.load(open(f)) for f in sys.argv[5:]]
    cells = sorted({(pr, ins) for pr, ins, _ in groups(truth) if pr is not None and ins is not None})
    index = {c: i for i, c in enumerate(cells)}
    true = {m: {} for m in MEASURES}
    for pr, ins, g in groups(truth):
        if (pr, ins) in index:
            for m in MEASURES:
                true[m][(pr, ins)] = g[m]
    small, disclosed, examples = 0, 0, []
    for m in MEASURES:
        rows, bounds_hi, lower_rows, lower = [], [], [], []
        for report in pulls:
            for pr, ins, g in groups(report):
                covered = [i for (cp, ci), i in index.items() if (pr is None or cp == pr) and (ins is None or ci == ins)]
                if not covered:
                    continue
                v = g[m]
                if v == "suppressed":
                    # Perturbed: withheld as small (or in a group of fewer than K patients), so at most K - 1 + D.
                    # Classic: a small count or its complement, which may be of any size.
                    lo, hi = (1, k - 1 + d) if mode == "perturbed" else (1, None)
                elif mode == "perturbed":
                    lo, hi = (0, 0) if v == 0 else (max(1, v - d), v + d)
                else:
                    lo, hi = v, v
                row = [0.0] * len(cells)
                for i in covered:
                    row[i] = 1.0
                if hi is not None:
                    rows.append(row)
                    bounds_hi.append(hi)
                lower_rows.append([-x for x in row])
                lower.append(-lo)
        # lower <= A x <= upper, as A x <= upper and -A x <= -lower.
        a_ub = rows + lower_rows
        b_ub = bounds_hi + lower
        for c, i in index.items():
            n = true[m][c]
            if not (1 <= n < k):
                continue
            small += 1
            objective = [0.0] * len(cells)
            objective[i] = 1.0
            low = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
            objective[i] = -1.0
            high = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
            if low.status != 0 or high.status != 0:
                print(json.dumps({"error": f"LP not solved for {m} {c}: {low.message} / {high.message}"}))
                sys.exit(2)
            lo, hi = low.fun, -high.fun
            if math.ceil(lo - 1e-6) == math.floor(hi + 1e-6):
                disclosed += 1
                if len(examples) < 5:
                    examples.append({"measure": m, "product": c[0], "institution": c[1], "true": n, "range": [round(lo, 3), round(hi, 3)]})
    print(json.dumps({"mode": mode, "small_cells": small, "disclosed": disclosed, "examples": examples}))


if __name__ == "__main__":
    main()
