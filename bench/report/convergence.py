"""How far from converged each strategy is at a budget: the validation-loss drop over the last
quarter of training, read from the curves the final runs logged."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.report.runs import final_runs, training_logs


def late_drop(curve: list[dict[str, float]]) -> float:
    """Relative validation-loss drop (%) from the logged point nearest 75 % of the steps to the
    last one: near 0 = flat (converged or stuck), large = still learning when the budget ended."""
    if len(curve) < 2:
        return math.nan
    last = curve[-1]
    at = min(curve[:-1], key=lambda c: abs(c["step"] - 0.75 * last["step"]))
    if not at["val_loss"]:
        return math.nan
    return 100.0 * (at["val_loss"] - last["val_loss"]) / abs(at["val_loss"])


def convergence_markdown(frame: pd.DataFrame) -> list[str]:
    """A strategies × tasks table of the median late drop over final runs, per budget."""
    runs = final_runs(frame)
    runs = runs[runs.status == "ok"]
    drops: dict[tuple[str, str, str], list[float]] = {}
    for strategy, task, budget, extra in zip(runs.strategy, runs.task, runs.budget, runs.extra,
                                             strict=True):
        for log in training_logs(extra):
            if log.get("curve") and not log.get("reused"):
                drops.setdefault((budget, task, strategy), []).append(late_drop(log["curve"]))
    out = []
    for budget in sorted({b for b, _, _ in drops}):
        tasks = sorted({t for b, t, _ in drops if b == budget})
        strategies = sorted({s for b, _, s in drops if b == budget})
        out += [f"## Convergence ({budget} budget)", "",
                "Validation-loss drop over the last quarter of training, % (median over final "
                "runs): near 0 = flat at the end of the budget, large = still improving. See "
                "the convergence figures for the whole curves.", "",
                "| strategy | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
        for s in strategies:
            cells = []
            for t in tasks:
                values = [v for v in drops.get((budget, t, s), []) if math.isfinite(v)]
                cells.append(f"{np.median(values):.1f}" if values else "—")
            out.append(f"| {s} | " + " | ".join(cells) + " |")
        out.append("")
    return out
