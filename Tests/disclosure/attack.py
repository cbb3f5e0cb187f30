#!/usr/bin/env python3
"""The differencing attacker of issue #16, as a linear program (scipy's HiGHS).

Reads every pull a role made (JSON outcome reports: a cross report by product and institution at
several as-of dates, each institution's report by product, each product's report by institution)
and the exact truth (an administrator's unsuppressed cross report at each date). The unknowns are
the true counts of the finest cells, as-of date x product x institution, of each measure (patients,
deaths); counts only grow with the date. Every published figure bounds the sum of the cells it
covers:

  perturbed (cell-key, at most D):  shown v -> v - D .. v + D, at least 1 (0 only for 0)
                                    withheld -> 1 .. K - 1 + D
  exact (classic suppression):      shown v -> exactly v;   withheld -> 1 .. K - 1

For every finest cell whose true count is small (1 to K - 1), and every small change of a cell
between consecutive as-of dates (a patient first treated, or dying, in between), the attacker
minimises and maximises it over everything published. It is disclosed when a single whole number
is left.

    attack.py MODE K D TRUTH.json[,TRUTH.json...] PULL.json...     MODE: perturbed or exact
Prints one JSON line: {"mode", "small_counts", "disclosed", "examples"}.
"""
import json
import math
import sys

from scipy.optimize import linprog
from scipy.sparse import csr_matrix

MEASURES = ["patients", "deaths"]


def groups(report):
    """(as_of, product, institution, figures) of the total and every group, with the report's filters applied."""
    p = report["parameters"]
    fixed = {"product": p.get("product"), "institution": p.get("institution")}
    out = [(report["as_of"], fixed["product"], fixed["institution"], report["total"])]
    for g in report["groups"]:
        key = g["group"]
        out.append((report["as_of"], key.get("product", fixed["product"]), key.get("institution", fixed["institution"]), g))
    return out


def sparse(rows, width):
    """Rows given as {column: coefficient} as a CSR matrix."""
    data, cols, starts = [], [], [0]
    for r in rows:
        for c, x in r.items():
            cols.append(c)
            data.append(x)
        starts.append(len(cols))
    return csr_matrix((data, cols, starts), shape=(len(rows), width))


def solve(objective, a_ub, b_ub):
    low = linprog(objective, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    high = linprog([-x for x in objective], A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if low.status != 0 or high.status != 0:
        print(json.dumps({"error": f"LP not solved: {low.message} / {high.message}"}))
        sys.exit(2)
    return low.fun, -high.fun


def main():
    mode, k, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    truths = [json.load(open(f)) for f in sys.argv[4].split(",")]
    pulls = [json.load(open(f)) for f in sys.argv[5:]]
    cells = sorted({(a, pr, ins) for t in truths for a, pr, ins, _ in groups(t) if pr is not None and ins is not None})
    index = {c: i for i, c in enumerate(cells)}
    dates = sorted({c[0] for c in cells})
    true = {m: {} for m in MEASURES}
    for t in truths:
        for a, pr, ins, g in groups(t):
            if (a, pr, ins) in index:
                for m in MEASURES:
                    true[m][(a, pr, ins)] = g[m]
    small, disclosed, examples = 0, 0, []
    for m in MEASURES:
        rows, bounds_hi, lower_rows, lower = [], [], [], []
        for report in pulls:
            for a, pr, ins, g in groups(report):
                covered = [i for (ca, cp, ci), i in index.items() if ca == a and (pr is None or cp == pr) and (ins is None or ci == ins)]
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
                if hi is not None:
                    rows.append({i: 1.0 for i in covered})
                    bounds_hi.append(hi)
                lower_rows.append({i: -1.0 for i in covered})
                lower.append(-lo)
        # Counts of patients and deaths only grow with the as-of date: x(earlier) - x(later) <= 0.
        for (a, pr, ins), i in index.items():
            later = [dd for dd in dates if dd > a]
            if later and (later[0], pr, ins) in index:
                rows.append({i: 1.0, index[(later[0], pr, ins)]: -1.0})
                bounds_hi.append(0)
        a_ub = sparse(rows + lower_rows, len(cells))
        b_ub = bounds_hi + lower
        # What must stay hidden: every small count, and every small change between consecutive
        # as-of dates (how many were first treated, or died, between them).
        targets = []
        for c, i in index.items():
            n = true[m][c]
            if 1 <= n < k:
                targets.append(({i: 1.0}, n, {"cell": list(c)}))
            later = [dd for dd in dates if dd > c[0]]
            if later and (later[0], c[1], c[2]) in index:
                j = index[(later[0], c[1], c[2])]
                change = true[m][(later[0], c[1], c[2])] - n
                if 1 <= change < k:
                    targets.append(({j: 1.0, i: -1.0}, change, {"change": [c[0], later[0], c[1], c[2]]}))
        for coefficients, n, where in targets:
            small += 1
            objective = [0.0] * len(cells)
            for i, x in coefficients.items():
                objective[i] = x
            lo, hi = solve(objective, a_ub, b_ub)
            if math.ceil(lo - 1e-6) == math.floor(hi + 1e-6):
                disclosed += 1
                if len(examples) < 5:
                    examples.append({"measure": m, **where, "true": n, "range": [round(lo, 3), round(hi, 3)]})
    print(json.dumps({"mode": mode, "small_counts": small, "disclosed": disclosed, "examples": examples}))


if __name__ == "__main__":
    main()
