"""Gradient quality against cost: how close each strategy's gradients came to the reference and
what one cost, per effect and per setting, with the proxies' output fidelity beside it.

Reads the rows of the tasks that report both :data:`QUALITY` and :data:`COST` (the gradient
tasks); every ok run counts, tuning trials and final runs, so a sweep over a strategy's
hyperparameters (SPSA's perturbations and ε) shows as one point per setting.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.figures import decades, pyplot, save_png, slug
from bench.report.leaderboard import (
    GRADIENT_COST,
    GRADIENT_QUALITY,
    measures_gradients,
    ok_runs,
)
from bench.report.numbers import cell, finite_mean, number
from bench.report.provenance import header_lines

QUALITY, COST = GRADIENT_QUALITY, GRADIENT_COST
COLUMNS = (("cosine_mean", "↑"), ("cosine_p10", "↑"), ("rel_error", "↓"),
           ("sign_agreement", "↑"), ("ms_per_gradient", "↓"), ("dsp_evals_per_gradient", ""))
FIGURE_PREFIX = "gradient_quality_cost_"
REFERENCE_COLOR = "0.5"


def gradient_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ok run of the gradient tasks (strategies and reference rows, every phase):
    task, budget, strategy, is_reference, params_json, phase, extra (parsed) and one column
    per metric."""
    if frame.empty:
        return pd.DataFrame()
    metrics = frame.groupby("task").metric.agg(set)
    tasks = [t for t, m in metrics.items() if measures_gradients(m)]
    runs = ok_runs(frame, tasks)
    if runs.empty:
        return runs
    runs["extra"] = [json.loads(t) if isinstance(t, str) else {} for t in runs.extra_json]
    return runs.sort_values(["budget", "task", "is_reference", "strategy", "params_json",
                             "run_key"], kind="stable")


def settings(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per (task, budget, strategy, hyperparameters): means of its runs' metrics,
    bias and spread over draws, and the proxies it used with their fidelity."""
    out = []
    for (task, budget, strategy, params), g in runs.groupby(
            ["task", "budget", "strategy", "params_json"], sort=True):
        grad = [e.get("gradient", {}) for e in g.extra]
        entry = {"task": task, "budget": budget, "strategy": strategy, "params": params,
                 "reference": bool(g.is_reference.iloc[0]), "runs": len(g),
                 "phases": dict(sorted(g.phase.value_counts().items())),
                 **{m: finite_mean(g[m]) if m in g else math.nan for m, _ in COLUMNS},
                 "bias": finite_mean(f.get("bias") for f in grad),
                 "std": finite_mean(f.get("std") for f in grad),
                 "proxies": _proxies(g.extra)}
        out.append(entry)
    return out


def _proxies(extras: Any) -> dict[str, dict[str, float]]:
    """Proxy (per effect and domain) → its mean output and gradient fidelity over the runs."""
    facts: dict[str, list[dict[str, Any]]] = {}
    for extra in extras:
        for name, f in extra.get("proxies", {}).items():
            facts.setdefault(name, []).append(f)
    return {name: {k: finite_mean(f.get(k) for f in fs)
                   for k in ("mrstft", "lufs_error", "grad_cosine_median")}
            for name, fs in sorted(facts.items())}


def setting_label(params: str, others: list[str]) -> str:
    """The hyperparameters that tell this setting from the strategy's others in the table (all
    of them when it has no other); floats to 3 significant digits."""
    mine = json.loads(params)
    theirs = [json.loads(o) for o in others if o != params]
    keys = [k for k in sorted(mine) if any(t.get(k) != mine[k] for t in theirs)] or sorted(mine)
    def text(value: Any) -> str:
        return number(value) if isinstance(value, float) else str(value)

    return ", ".join(f"{k}={text(mine[k])}" for k in keys) or "—"


RELIABLE_REL = 0.1
"""A finite-difference reference whose two steps differ by at least this much (relative, median
over points) is flagged as unreliable."""


def _fact(extra: dict[str, Any], *keys: str) -> Any:
    """``extra[k1][k2]…``, or None where a level is missing."""
    for k in keys:
        extra = extra.get(k) if isinstance(extra, dict) else None
    return extra


def reference_line(runs: pd.DataFrame) -> str:
    """What one task's reference gradient is and how accurate it is: for a finite difference,
    its own error estimate (the rule at twice the step against it); for the exact gradient, how
    the black-box rule scores against it (the ``finite_difference`` reference row) next to that
    rule's own estimate, so the estimate can be judged where the truth is known."""
    rules = [r for e in runs.extra if (r := _fact(e, "gradient", "reference"))]
    if not rules:
        return "Reference: not recorded."
    if rules[0].get("kind") == "exact":
        line = ("Reference: the exact gradient (the differentiable chain through autograd, "
                "float64).")
        fd = runs[runs.is_reference]
        if len(fd):
            step = finite_mean(_fact(e, "gradient", "reference", "scored_rule", "step")
                               for e in fd.extra)
            estimate = finite_mean(_fact(e, "gradient", "estimated_error", "check_rel_error")
                                   for e in fd.extra)
            line += (f" The black boxes' finite-difference rule (step {cell(step)}) against "
                     f"it: cosine {cell(finite_mean(fd[QUALITY]))}, relative error "
                     f"{cell(finite_mean(fd['rel_error']))}; the rule's own error estimate (at "
                     f"twice the step): relative difference {cell(estimate)}.")
        return line
    rel = finite_mean(r.get("check_rel_error") for r in rules)

    def mean(key: str) -> str:
        return cell(finite_mean(r.get(key) for r in rules))

    return (f"Reference: a second-order finite difference through the black box, step "
            f"{mean('step')} (central; one-sided within a step of 0 or 1). Its own error, "
            f"estimated by the same rule at step {mean('check_step')}: cosine "
            f"{mean('check_cosine_mean')}, relative difference {cell(rel)} (median over points)"
            + (" — **the reference is unreliable here**." if not rel < RELIABLE_REL else "."))


def render_markdown(frame: pd.DataFrame, figures: dict[str, str]) -> str | None:
    """The section's Markdown (None without gradient results); ``figures`` maps a budget to its
    figure's path relative to the reports directory."""
    runs = gradient_runs(frame)
    if runs.empty:
        return None
    entries = settings(runs)
    out = ["# Gradient quality against cost", "", *header_lines(frame), "",
           "Each gradient strategy's gradient of the task loss (MR-STFT + L1 to a target "
           "rendered by the reference DSP at another setting) with respect to the normalized "
           "parameters, at random points of speech and music excerpts (a share of the "
           "coordinates at or near 0 and 1), against the reference gradient. One row per "
           "strategy and setting: every ok run with those hyperparameters (tuning trials on "
           "validation points, final runs on test points), metrics averaged over the runs; "
           "a sweep's other settings, which only tuning trials ran, fold into one row of "
           "ranges under the chosen one; "
           "_italic_ rows are the task's reference rows. Cosine: mean and 10th percentile over "
           "points and draws; rel_error: median ‖g − g*‖ / ‖g*‖; sign_agreement: share of "
           "entries whose sign matches. Bias and std: of repeated draws of each point's "
           "gradient, relative to ‖g*‖ (std 0: deterministic). Cost: wall milliseconds of the "
           "effect layer's forward and backward, and reference-DSP evaluations, per example "
           "gradient. Proxies: the output fidelity of the proxies the run used (MR-STFT, LUFS "
           "error in LU against the reference DSP on held-out clips) and the gradient cosine "
           "measured when they were built, beside the gradient quality measured here: "
           "fidelity of outputs and fidelity of gradients are different things.", ""]
    for budget in sorted({e["budget"] for e in entries}):
        if budget in figures:
            out += [f"![Gradient quality against cost ({budget} budget)]({figures[budget]})",
                    ""]
    head = ["strategy", "setting", "runs",
            *(f"{m} {arrow}".strip() for m, arrow in COLUMNS), "bias", "std",
            "proxies: MR-STFT, LUFS error, gradient cosine at build"]
    for (task, budget), rows in runs.groupby(["task", "budget"], sort=True):
        mine = [e for e in entries if e["task"] == task and e["budget"] == budget]
        out += [f"## {task} ({budget} budget)", "", reference_line(rows), "",
                "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        folded = foldable(mine)
        hidden = {id(e) for group in folded.values() for e in group}
        for e in sorted(mine, key=lambda e: (e["reference"], -_key(e[QUALITY]), e["strategy"],
                                             e["params"])):
            if id(e) in hidden:
                continue
            others = [o["params"] for o in mine if o["strategy"] == e["strategy"]]
            name = f"_{e['strategy']}_" if e["reference"] else e["strategy"]
            label = "—" if e["reference"] else setting_label(e["params"], others)
            runs_text = ", ".join(f"{n} {p}" for p, n in e["phases"].items())
            proxies = "; ".join(
                f"{k}: {cell(v['mrstft'])}, {cell(v['lufs_error'])} LU, "
                f"{cell(v['grad_cosine_median'])}" for k, v in e["proxies"].items()) or "—"
            out.append("| " + " | ".join([name, label, runs_text,
                                          *(cell(e[m]) for m, _ in COLUMNS), cell(e["bias"]),
                                          cell(e["std"]), proxies]) + " |")
            if e["strategy"] in folded and "final" in e["phases"]:
                out.append(_folded_row(e["strategy"], folded.pop(e["strategy"])))
        out.append("")
    return "\n".join(out)


def foldable(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per strategy with final runs, its settings that only tuning trials ran, where there are
    several: a sweep's other trials, shown as one row of ranges beside the chosen setting."""
    out = {}
    for strategy in sorted({e["strategy"] for e in entries if not e["reference"]}):
        mine = [e for e in entries if e["strategy"] == strategy and not e["reference"]]
        tuned = [e for e in mine if set(e["phases"]) == {"tune"}]
        if len(tuned) > 1 and any("final" in e["phases"] for e in mine):
            out[strategy] = tuned
    return out


def _folded_row(strategy: str, group: list[dict[str, Any]]) -> str:
    """One table row for a strategy's other tuning settings: each metric's range over them."""
    def span(key: str) -> str:
        values = [e[key] for e in group if math.isfinite(e[key])]
        if not values:
            return "—"
        low, high = cell(min(values)), cell(max(values))
        return low if low == high else f"{low} – {high}"

    return "| " + " | ".join([strategy, f"{len(group)} other settings tried (ranges)",
                              f"{sum(e['runs'] for e in group)} tune",
                              *(span(m) for m, _ in COLUMNS), span("bias"), span("std"),
                              "—"]) + " |"


def _key(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def figures(frame: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Per budget, one figure: a panel per gradient task, each strategy setting's cosine_mean
    against its ms_per_gradient (log scale), reference rows in grey; the chosen settings (those
    with final runs) drawn large, a sweep's other settings small and faint; chosen proxy
    settings are labelled with their proxies' mean MR-STFT (output fidelity)."""
    runs = gradient_runs(frame)
    if runs.empty:
        return {}
    plt = pyplot()
    entries = settings(runs)
    strategies = sorted({e["strategy"] for e in entries if not e["reference"]})
    colors = {s: f"C{i}" for i, s in enumerate(strategies)}
    paths = {}
    for budget in sorted({e["budget"] for e in entries}):
        tasks = sorted({e["task"] for e in entries if e["budget"] == budget})
        ncols = min(4, len(tasks))
        nrows = math.ceil(len(tasks) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.9 * nrows + 0.6),
                                 squeeze=False, layout="constrained")
        flat = list(axes.flat)
        for ax in flat[len(tasks):]:
            ax.set_visible(False)
        for ax, task in zip(flat, tasks, strict=False):
            for e in (e for e in entries if e["task"] == task and e["budget"] == budget):
                x, y = e[COST], e[QUALITY]
                if not (math.isfinite(x) and math.isfinite(y) and x > 0):
                    continue
                if e["reference"]:
                    ax.scatter(x, y, marker="x", color=REFERENCE_COLOR, s=30)
                    ax.annotate(e["strategy"], (x, y), xytext=(-3, -9), ha="right",
                                textcoords="offset points", fontsize=6, color=REFERENCE_COLOR)
                    continue
                chosen = "final" in e["phases"] or not any(
                    "final" in o["phases"] for o in entries
                    if (o["task"], o["budget"], o["strategy"]) == (task, budget, e["strategy"]))
                ax.scatter(x, y, color=colors[e["strategy"]], s=26 if chosen else 9,
                           alpha=0.9 if chosen else 0.35, zorder=3 if chosen else 2)
                fidelity = finite_mean(v["mrstft"] for v in e["proxies"].values())
                if chosen and math.isfinite(fidelity):
                    ax.annotate(f"MR-STFT {number(fidelity)}", (x, y), xytext=(3, 3),
                                textcoords="offset points", fontsize=6)
            decades(ax)
            ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.05)
            ax.axhline(1.0, color="0.8", lw=0.8, zorder=0)
            ax.set_title(task)
            ax.set_xlabel("ms per gradient (log)")
            ax.set_ylabel("cosine_mean ↑")
            ax.grid(alpha=0.3)
        handles = [plt.Line2D([], [], marker="o", ls="", color=colors[s], label=s)
                   for s in strategies]
        handles.append(plt.Line2D([], [], marker="x", ls="", color=REFERENCE_COLOR,
                                  label="reference row"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
        fig.suptitle(f"Gradient quality against cost ({budget} budget)\none point per strategy "
                     "and setting (large: the chosen one; faint: the sweep's others); proxies "
                     "labelled with their output fidelity")
        paths[budget] = save_png(fig, out / f"{FIGURE_PREFIX}{slug(budget)}.png")
    return paths


def write_gradients(frame: pd.DataFrame, reports_dir: Path,
                    figures_by_budget: dict[str, str]) -> Path | None:
    """Write gradients.md when there are gradient results (and remove a stale one when there
    are none); returns its path or None."""
    path = Path(reports_dir) / "gradients.md"
    text = render_markdown(frame, figures_by_budget)
    if text is None:
        path.unlink(missing_ok=True)
        return None
    path.write_text(text + "\n")
    return path
