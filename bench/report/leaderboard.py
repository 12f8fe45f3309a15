"""Leaderboard tables (Markdown, CSV, LaTeX): per task, strategies × metrics over final seeds."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report.convergence import convergence_markdown
from bench.report.numbers import number
from bench.report.provenance import header_lines
from bench.report.stats import mean_ci95

UP, DOWN = "$\\uparrow$", "$\\downarrow$"
REFERENCE_ORDER = {"input": 0, "oracle": 1}  # other reference rows (baselines) follow, sorted
MIN_RUNS_FOR_BEST = 2  # one lucky seed is not "best": bold needs this many ok runs


@dataclass
class MeanCI:
    """One strategy × metric entry: mean and 95% CI over ok final runs, plus failures."""

    mean: float
    ci: float
    n: int
    failed: int

    @classmethod
    def of(cls, values: list[float], failed: int) -> MeanCI:
        """Summarize the ok values (sorted first, so the sum is order-independent)."""
        ok = sorted(values)
        mean, ci = mean_ci95(ok)
        return cls(mean, ci, len(ok), failed)

    def text(self, bold: bool = False) -> str:
        """``mean ± ci (n=…)`` with failures spelled out, never averaged in."""
        if self.n == 0:
            return f"failed ({self.failed})" if self.failed else "—"
        body = number(self.mean) + (f" ± {number(self.ci)}" if not math.isnan(self.ci) else "")
        body = f"**{body}**" if bold else body
        tail = f" (n={self.n}" + (f", {self.failed} failed)" if self.failed else ")")
        return body + tail


@dataclass
class Table:
    """The leaderboard of one task at one budget."""

    task: str
    budget: str
    main_metric: str
    metrics: list[tuple[str, bool, str]]              # (name, higher_is_better, unit)
    rows: dict[str, dict[str, MeanCI]] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    per_pair: dict[str, dict[str, MeanCI]] = field(default_factory=dict)  # strategy → pair → main

    @property
    def title(self) -> str:
        """Heading of the table: task and budget."""
        return f"{self.task} ({self.budget} budget)"

    def strategies(self) -> list[str]:
        """Non-reference rows, best main metric first."""
        higher = dict((m, h) for m, h, _ in self.metrics)[self.main_metric]

        def key(name: str) -> tuple[float, str]:
            cell = self.rows[name].get(self.main_metric)
            if cell is None or cell.n == 0:
                return math.inf, name
            return (-cell.mean if higher else cell.mean), name

        return sorted((s for s in self.rows if s not in self.references), key=key)

    def best(self, metric: str, higher: bool) -> float | None:
        """Best mean among strategies (reference rows excluded) with at least
        ``MIN_RUNS_FOR_BEST`` ok runs."""
        means = [self.rows[s][metric].mean for s in self.strategies()
                 if metric in self.rows[s] and self.rows[s][metric].n >= MIN_RUNS_FOR_BEST]
        return (max(means) if higher else min(means)) if means else None

    def is_best(self, name: str, metric: str, higher: bool) -> bool:
        """Whether ``name``'s cell of ``metric`` is bolded: a strategy (not a reference row)
        with enough ok runs whose mean equals the best."""
        cell = self.rows[name].get(metric)
        return (cell is not None and cell.n >= MIN_RUNS_FOR_BEST
                and name not in self.references and cell.mean == self.best(metric, higher))


def build_tables(frame: pd.DataFrame) -> list[Table]:
    """Leaderboard tables from final-phase rows, one per (task, budget); only runs in the
    results are shown, and budgets are never mixed."""
    final = frame[frame["phase"] == "final"]
    tables = []
    for (task, budget), rows in sorted(final.groupby(["task", "budget"]), key=lambda kv: kv[0]):
        mains = rows.loc[rows.is_main_metric, "metric"].unique()
        main = sorted(mains)[0] if len(mains) else sorted(rows.metric.unique())[0]
        metrics = sorted(
            {(m, bool(g.higher_is_better.iloc[0]), str(g.unit.iloc[0] or ""))
             for m, g in rows.groupby("metric")},
            key=lambda t: (t[0] != main, t[0]),
        )
        table = Table(task, budget, main, metrics)
        for (strategy, metric), g in rows.groupby(["strategy", "metric"]):
            if (g.status == "skipped").all():
                table.skipped[strategy] = str(g.error.iloc[0])
                continue
            table.rows.setdefault(strategy, {})[metric] = MeanCI.of(
                g.loc[g.status == "ok", "value"].tolist(), int((g.status == "failed").sum()))
            if bool(g.is_reference.iloc[0]) and strategy not in table.references:
                table.references.append(strategy)
        table.references.sort(key=lambda r: (REFERENCE_ORDER.get(r, len(REFERENCE_ORDER)), r))
        table.per_pair = per_pair_cells(rows, main)
        tables.append(table)
    return tables


def per_pair_cells(rows: pd.DataFrame, metric: str) -> dict[str, dict[str, MeanCI]]:
    """Per style pair cells of ``metric`` from the extra "per_pair" tables of ok final runs
    (realistic style transfer); a pair whose metric failed counts as failed."""
    runs = rows[(rows.status == "ok") & rows.extra_json.notna()].drop_duplicates("run_key")
    values: dict[str, dict[str, list[float | None]]] = {}
    for strategy, text in zip(runs.strategy, runs.extra_json, strict=True):
        for pair, row in json.loads(text).get("per_pair", {}).items():
            values.setdefault(strategy, {}).setdefault(pair, []).append(row.get(metric))
    return {s: {pair: MeanCI.of([v for v in vs if _finite(v)], sum(not _finite(v) for v in vs))
                for pair, vs in pairs.items()}
            for s, pairs in values.items()}


def task_ranks(tables: list[Table]) -> tuple[dict[str, list[float]], list[str]]:
    """Each complete strategy's rank on the main metric of every table (one budget), ties
    sharing their averaged rank; a strategy is complete when it has a result in every task,
    and the others are returned as incomplete, never ranked over gaps (MTEB's leaderboard did,
    and rewarded models with fewer tasks)."""
    from scipy.stats import rankdata

    def has_main(table: Table, s: str) -> bool:
        cell = table.rows.get(s, {}).get(table.main_metric)
        return cell is not None and cell.n > 0

    everyone = {s for t in tables for s in [*t.strategies(), *t.skipped]}
    complete = sorted(s for s in everyone if all(has_main(t, s) for t in tables))
    ranks: dict[str, list[float]] = {s: [] for s in complete}
    for table in tables:
        higher = dict((m, h) for m, h, _ in table.metrics)[table.main_metric]
        means = [table.rows[s][table.main_metric].mean for s in complete]
        for s, r in zip(complete, rankdata([-m if higher else m for m in means]), strict=True):
            ranks[s].append(float(r))
    return ranks, sorted(everyone - set(complete))


GRADIENT_QUALITY, GRADIENT_COST = "cosine_mean", "ms_per_gradient"
"""The metrics every gradient-fidelity task reports: a task with both measures gradients."""


def measures_gradients(metrics: set[str]) -> bool:
    """Whether a task reporting ``metrics`` is a gradient-fidelity measurement."""
    return {GRADIENT_QUALITY, GRADIENT_COST} <= metrics


MODEL_FIDELITY, MODEL_COST = "esr", "rtf"
"""The metrics every effect-modeling task reports: a task with both measures models."""


def models_effects(metrics: set[str]) -> bool:
    """Whether a task reporting ``metrics`` is an effect-modeling measurement."""
    return {MODEL_FIDELITY, MODEL_COST} <= metrics


def modeling_tasks(frame: pd.DataFrame) -> list[str]:
    """The tasks of ``frame`` that are effect-modeling measurements."""
    if frame.empty:
        return []
    return [t for t, m in frame.groupby("task").metric.agg(set).items() if models_effects(m)]


def measurement_kind(table: Table) -> str | None:
    """``gradient-fidelity`` or ``effect-modeling`` for a table of measurements, else None."""
    metrics = {m for m, _, _ in table.metrics}
    if measures_gradients(metrics):
        return "gradient-fidelity"
    return "effect-modeling" if models_effects(metrics) else None


def ok_runs(frame: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """One row per ok run of ``tasks`` (every phase, references included), indexed by run key:
    task, budget, strategy, is_reference, params_json, phase, extra_json and one column per
    metric; empty when there is none."""
    rows = frame[frame.task.isin(tasks) & (frame.status == "ok")]
    if rows.empty:
        return pd.DataFrame()
    values = rows.pivot_table(index="run_key", columns="metric", values="value",
                              aggfunc="first")
    meta = rows.sort_values("run_key", kind="stable").drop_duplicates("run_key").set_index(
        "run_key")[["task", "budget", "strategy", "is_reference", "params_json", "phase",
                    "extra_json"]]
    return meta.join(values)


def end_tasks(tables: list[Table]) -> list[Table]:
    """The tables the overall rank is over: every task but the gradient-fidelity and
    effect-modeling measurements. Those rank in their own family only: searches supply no
    gradient and no model, autodiff, the reference itself, cannot run on the black boxes and
    has no model, so ranking over them would leave out most strategies."""
    return [t for t in tables if measurement_kind(t) is None]


def left_out_note(tables: list[Table]) -> str:
    """What the overall rank of ``tables`` leaves out, e.g. " (the 13 gradient-fidelity tasks
    rank in their family only)"; empty when nothing is left out."""
    kinds = [k for t in tables if (k := measurement_kind(t))]
    if not kinds:
        return ""
    parts = [f"{kinds.count(k)} {k}" for k in ("gradient-fidelity", "effect-modeling")
             if k in kinds]
    return f" (the {' and '.join(parts)} tasks rank in their family only)"


def overall_rank(tables: list[Table]) -> tuple[list[tuple[str, float]], list[str]]:
    """Mean rank on the main metric over ``tables`` (see `task_ranks`), best first, and the
    incomplete strategies."""
    ranks, incomplete = task_ranks(tables)
    ordered = sorted(((s, math.fsum(r) / len(r)) for s, r in ranks.items()),
                     key=lambda t: (t[1], t[0]))
    return ordered, incomplete


def rank_positions(means: list[float]) -> list[float]:
    """Places of sorted mean ranks, equal means sharing their averaged place (2.5, 2.5)."""
    from scipy.stats import rankdata

    return [float(p) for p in rankdata(means)]


def family_ranks(tables: list[Table], families: dict[str, str]) -> list[str]:
    """Markdown: mean rank per task family (tables of one budget), each family ranked like the
    overall rank — only among the strategies with a result on every task of that family."""
    grouped: dict[str, list[Table]] = {}
    for table in tables:
        grouped.setdefault(families.get(table.task, ""), []).append(table)
    ranks = {f: dict(overall_rank(ts)[0]) for f, ts in sorted(grouped.items())}
    strategies = sorted({s for r in ranks.values() for s in r},
                        key=lambda s: (sum(s not in r for r in ranks.values()),
                                       sum(r.get(s, 0.0) for r in ranks.values()), s))
    if not strategies:
        return []
    head = [f"{f} ({len(grouped[f])} tasks)" for f in ranks]
    out = ["Mean rank per task family (— = not run on every task of the family):", "",
           "| strategy | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    out += [f"| {s} | " + " | ".join(f"{r[s]:.2f}" if s in r else "—" for r in ranks.values())
            + " |" for s in strategies]
    return out


def rank_lines(tables: list[Table], note: str = "") -> list[str]:
    """Markdown: the overall rank over ``tables`` (one budget) and who is left unranked."""
    ranked, incomplete = overall_rank(tables)
    out = [f"Mean rank on each task's main metric over {len(tables)} tasks{note}.", ""]
    if ranked:
        out += ["| rank | strategy | mean rank over tasks |", "|---|---|---|"]
        out += [f"| {p:g} | {s} | {r:.2f} |" for p, (s, r) in zip(
            rank_positions([r for _, r in ranked]), ranked, strict=True)]
    else:
        out.append("_No strategy has a result on every task._")
    if incomplete:
        out += ["", f"Incomplete (not ranked): {', '.join(incomplete)}."]
    return out


def by_budget(tables: list[Table]) -> dict[str, list[Table]]:
    """Tables grouped by budget (sorted), for ranks that never mix budgets."""
    groups: dict[str, list[Table]] = {}
    for table in tables:
        groups.setdefault(table.budget, []).append(table)
    return dict(sorted(groups.items()))


def render_markdown(frame: pd.DataFrame, tables: list[Table]) -> str:
    """The Markdown leaderboard: header, overall rank per budget, one table per task, then how
    converged the trained strategies were."""
    families = dict(zip(frame.task, frame.task_family, strict=True))
    out = ["# Leaderboard", "", *header_lines(frame), "",
           "Mean ± 95% CI (Student t) over final test runs, n = runs, 3 significant digits; "
           "↑ higher is better, ↓ lower is better; **bold** = best strategy among those with "
           f"at least {MIN_RUNS_FOR_BEST} ok runs. Reference rows in _italics_ (input, oracle "
           "and baselines such as random_encoder, mel_stats, supervised) are not ranked and "
           "never bold. Failed runs are counted where the numbers are, never averaged in. "
           "Strategies that tie on a task share their averaged rank.", ""]
    for budget, group in by_budget(tables).items():
        ends = end_tasks(group)
        out += [f"## Overall rank ({budget} budget)", ""]
        if ends:
            out += rank_lines(ends, left_out_note(group))
        else:
            kinds = " and ".join(dict.fromkeys(str(measurement_kind(t)) for t in group))
            out.append(f"_Only {kinds} tasks: they rank in their family only._")
        out += ["", *family_ranks(group, families), ""]
    for table in tables:
        out += markdown_table(table)
        if table.per_pair:
            out += markdown_per_pair(table)
    return "\n".join(out + convergence_markdown(frame))


def markdown_table(table: Table) -> list[str]:
    """One task's strategies × metrics table, reference rows last, skipped rows explained."""
    head = [f"{m} {'↑' if h else '↓'}" + (f" ({u})" if u else "") for m, h, u in table.metrics]
    out = [f"## {table.title}", "", f"Main metric: {table.main_metric}.", "",
           "| strategy | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for name in [*table.strategies(), *table.references]:
        cells = []
        for m, h, _ in table.metrics:
            cell = table.rows[name].get(m)
            cells.append(cell.text(table.is_best(name, m, h)) if cell else "—")
        label = f"_{name}_" if name in table.references else name
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    for name, reason in sorted(table.skipped.items()):
        out.append(f"| {name} | skipped: {reason} |" + " |" * (len(head) - 1))
    out.append("")
    return out


def markdown_per_pair(table: Table) -> list[str]:
    """Per style pair (input style → reference style) table of the main metric."""
    names = [n for n in [*table.strategies(), *table.references] if n in table.per_pair]
    pairs = sorted({p for n in names for p in table.per_pair[n]})
    arrow = "↑" if dict((m, h) for m, h, _ in table.metrics)[table.main_metric] else "↓"
    out = [f"### {table.task}: {table.main_metric} {arrow} per style pair ({table.budget} budget)",
           "", "| pair | " + " | ".join(f"_{n}_" if n in table.references else n
                                       for n in names) + " |",
           "|---" * (len(names) + 1) + "|"]
    for pair in pairs:
        cells = [table.per_pair[n][pair].text() if pair in table.per_pair[n] else "—"
                 for n in names]
        out.append(f"| {pair} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def render_csv(tables: list[Table]) -> str:
    """Long-format CSV: one line per task × strategy × metric."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", "budget", "strategy", "is_reference", "metric", "higher_is_better",
                "unit", "mean", "ci95", "n", "n_failed", "status"])
    for t in tables:
        for name in [*t.strategies(), *t.references]:
            for m, h, u in t.metrics:
                if (c := t.rows[name].get(m)) is not None:
                    w.writerow([t.task, t.budget, name, name in t.references, m, h, u,
                                _fmt(c.mean), _fmt(c.ci), c.n, c.failed,
                                "ok" if c.n else "failed"])
        for name, reason in sorted(t.skipped.items()):
            w.writerow([t.task, t.budget, name, False, t.main_metric, "", "", "", "", 0, 0,
                        f"skipped: {reason}"])
    return buf.getvalue()


def render_tex(tables: list[Table]) -> str:
    """One LaTeX tabular per task (booktabs), best strategy per column in bold."""
    out = ["% generated by `python -m bench report`; needs \\usepackage{booktabs}"]
    for t in tables:
        cols = "l" + "r" * len(t.metrics)
        head = " & ".join(f"{_tex(m)} {UP if h else DOWN}" for m, h, _ in t.metrics)
        out += [f"% {t.title}", f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
                f"{_tex(t.task)} & {head} \\\\", "\\midrule"]
        for name in [*t.strategies(), *t.references]:
            cells = []
            for m, h, _ in t.metrics:
                c = t.rows[name].get(m)
                if c is None or c.n == 0:
                    cells.append("failed" if c is not None and c.failed else "--")
                    continue
                text = number(c.mean) + ("" if math.isnan(c.ci) else f" $\\pm$ {number(c.ci)}")
                if t.is_best(name, m, h):
                    text = f"\\textbf{{{text}}}"
                cells.append(text + (f" ({c.failed} failed)" if c.failed else ""))
            label = f"\\textit{{{_tex(name)}}}" if name in t.references else _tex(name)
            out.append(f"{label} & " + " & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(out)


def write_leaderboard(frame: pd.DataFrame, tables: list[Table], reports_dir: Path) -> list[Path]:
    """Write leaderboard.md, .csv and .tex from ``build_tables(frame)``; returns their paths."""
    outputs = {
        "leaderboard.md": render_markdown(frame, tables),
        "leaderboard.csv": render_csv(tables),
        "leaderboard.tex": render_tex(tables),
    }
    paths = []
    for name, text in outputs.items():
        path = reports_dir / name
        path.write_text(text if text.endswith("\n") else text + "\n")
        paths.append(path)
    return paths


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _fmt(x: float) -> str:
    if math.isnan(x):
        return ""
    return f"{x:.4g}"


def _tex(text: str) -> str:
    return text.replace("_", "\\_").replace("%", "\\%")
