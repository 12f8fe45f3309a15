"""`python -m bench report --compare A B`: metric ratios between two result sets, asv-style.

Each (task, budget, strategy, metric) of the final runs gets mean A, mean B and B/A; the change
column says whether B is better (+) or worse (-), and "~" marks differences that are not
significant over seeds (Welch t-test p ≥ alpha, or fewer than two seeds on a side). "x" = B
only failed where A succeeded, "*" = B succeeded where A only failed, "?" = only in one set.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench.report.provenance import header_lines
from bench.results import label_data, read_results

Key = tuple[str, str, str, str]


def collect(frame: pd.DataFrame) -> dict[Key, tuple[list[float], int, bool]]:
    """(task, budget, strategy, metric) → (sorted ok values, failed count, higher_is_better)."""
    final = frame[(frame.phase == "final") & frame.status.isin(["ok", "failed"])]
    out = {}
    for key, g in final.groupby(["task", "budget", "strategy", "metric"], sort=True):
        out[key] = (sorted(g.loc[g.status == "ok", "value"].tolist()),
                    int((g.status == "failed").sum()), bool(g.higher_is_better.iloc[0]))
    return out


def change(a: list[float], b: list[float], higher: bool, alpha: float) -> tuple[str, float]:
    """(mark, p-value) of B against A: "+" better, "-" worse, "~" not significant, " " same."""
    from scipy.stats import ttest_ind

    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    if mean_a == mean_b:
        return " ", 1.0
    if len(a) < 2 or len(b) < 2:
        return "~", math.nan
    p = float(ttest_ind(a, b, equal_var=False).pvalue)
    if math.isnan(p):  # both constant and different: the difference is exact
        p = 0.0
    if p >= alpha:
        return "~", p
    return ("+" if (mean_b > mean_a) == higher else "-"), p


def compare(a_dir: Path, b_dir: Path, alpha: float = 0.05) -> str:
    """The comparison table of result set ``b_dir`` against ``a_dir`` as text."""
    frame_a, frame_b = (label_data(read_results(Path(d))) for d in (a_dir, b_dir))
    a, b = collect(frame_a), collect(frame_b)
    rows = [("", "task", "budget", "strategy", "metric", "A", "B", "B/A", "p", "n A/B")]
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            here = a.get(key) or b[key]
            mean = _mean(here[0])
            rows.append(("?", *key, mean if key in a else "", mean if key in b else "",
                         "", "", "only A" if key in a else "only B"))
            continue
        (va, fa, higher), (vb, fb, _) = a[key], b[key]
        n = f"{len(va)}/{len(vb)}" + (f" ({fa}/{fb} failed)" if fa or fb else "")
        if not va or not vb:
            mark = "x" if va else ("*" if vb else " ")
            rows.append((mark, *key, _mean(va) or "failed", _mean(vb) or "failed", "", "", n))
            continue
        mark, p = change(va, vb, higher, alpha)
        ma, mb = sum(va) / len(va), sum(vb) / len(vb)
        ratio = f"{mb / ma:.3f}" if ma else "—"
        rows.append((mark, *key, f"{ma:.4g}", f"{mb:.4g}", ratio,
                     "" if math.isnan(p) else f"{p:.3g}", n))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    legend = (f"+ B better, - B worse (Welch t-test p < {alpha}), ~ not significant over seeds, "
              "x newly failing, * fixed, ? only in one set")
    return "\n".join([f"A = {a_dir}", *_indent(header_lines(frame_a)), f"B = {b_dir}",
                      *_indent(header_lines(frame_b)), "", *table, "", legend])


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.4g}" if values else ""


def _indent(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]
