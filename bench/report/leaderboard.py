"""Leaderboard tables (Markdown, CSV, LaTeX): per task, strategies × metrics over final seeds."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.report.stats import mean_ci95
from bench.results import SCHEMA_VERSION

UP, DOWN = "$\\uparrow$", "$\\downarrow$"


@dataclass
class Cell:
    """One strategy × metric entry: mean and 95% CI over ok final runs, plus failures."""

    mean: float
    ci: float
    n: int
    failed: int

    def text(self, bold: bool = False) -> str:
        """``mean ± ci (n=…)`` with failures spelled out, never averaged in."""
        if self.n == 0:
            return f"failed ({self.failed})" if self.failed else "—"
        body = f"{_fmt(self.mean)}" + (f" ± {_fmt(self.ci)}" if not math.isnan(self.ci) else "")
        body = f"**{body}**" if bold else body
        tail = f" (n={self.n}" + (f", {self.failed} failed)" if self.failed else ")")
        return body + tail


@dataclass
class Table:
    """The leaderboard of one task."""

    task: str
    main_metric: str
    metrics: list[tuple[str, bool, str]]              # (name, higher_is_better, unit)
    rows: dict[str, dict[str, Cell]] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

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
        """Best mean among strategies (reference rows excluded)."""
        means = [self.rows[s][metric].mean for s in self.strategies()
                 if metric in self.rows[s] and self.rows[s][metric].n]
        return (max(means) if higher else min(means)) if means else None


def build_tables(frame: pd.DataFrame) -> list[Table]:
    """Leaderboard tables from final-phase rows; only runs in the results are shown."""
    final = frame[frame["phase"] == "final"]
    tables = []
    for task, rows in sorted(final.groupby("task"), key=lambda kv: kv[0]):
        mains = rows.loc[rows.is_main_metric, "metric"].unique()
        main = sorted(mains)[0] if len(mains) else sorted(rows.metric.unique())[0]
        metrics = sorted(
            {(m, bool(g.higher_is_better.iloc[0]), str(g.unit.iloc[0] or ""))
             for m, g in rows.groupby("metric")},
            key=lambda t: (t[0] != main, t[0]),
        )
        table = Table(task, main, metrics)
        for (strategy, metric), g in rows.groupby(["strategy", "metric"]):
            if (g.status == "skipped").all():
                table.skipped[strategy] = str(g.error.iloc[0])
                continue
            ok = sorted(g.loc[g.status == "ok", "value"].tolist())
            mean, ci = mean_ci95(ok)
            table.rows.setdefault(strategy, {})[metric] = Cell(
                mean, ci, len(ok), int((g.status == "failed").sum()))
            if bool(g.is_reference.iloc[0]) and strategy not in table.references:
                table.references.append(strategy)
        table.references.sort(key=lambda r: (r != "input", r))
        tables.append(table)
    return tables


def overall_rank(tables: list[Table]) -> tuple[list[tuple[str, float]], list[str]]:
    """Mean rank on the main metric over tasks, only for strategies present in every task."""
    ranks: dict[str, list[int]] = {}
    everyone: set[str] = set()
    for table in tables:
        ranked = [s for s in table.strategies() if table.rows[s].get(table.main_metric)
                  and table.rows[s][table.main_metric].n]
        everyone.update(table.strategies(), table.skipped)
        for i, s in enumerate(ranked, start=1):
            ranks.setdefault(s, []).append(i)
    complete = {s: r for s, r in ranks.items() if len(r) == len(tables)}
    ordered = sorted(((s, sum(r) / len(r)) for s, r in complete.items()),
                     key=lambda t: (t[1], t[0]))
    return ordered, sorted(everyone - set(complete))


def header_lines(frame: pd.DataFrame) -> list[str]:
    """Provenance: git revisions, schema version, machines, library versions, run dates."""
    if frame.empty:
        return ["_No results yet: run `python -m bench run` first._"]

    def values(col: str) -> str:
        return ", ".join(sorted({str(v) for v in frame[col].dropna()})) or "—"

    shas = sorted({f"{s[:10]}{'+dirty' if d else ''}"
                   for s, d in zip(frame.git_sha, frame.git_dirty, strict=True)})
    first, last = frame.started_at.min(), frame.finished_at.max()
    return [
        f"- git: {', '.join(shas)}; results schema v{SCHEMA_VERSION}",
        f"- machines: {values('machine_id')}",
        f"- python {values('python_version')}, torch {values('torch_version')}, "
        f"numpy {values('numpy_version')}, optuna {values('optuna_version')}, "
        f"afx-bench {values('bench_version')}",
        f"- runs from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC",
    ]


def render_markdown(frame: pd.DataFrame, tables: list[Table]) -> str:
    """The Markdown leaderboard: header, overall rank, then one table per task."""
    out = ["# Leaderboard", "", *header_lines(frame), "",
           "Mean ± 95% CI (Student t) over final test runs, n = runs; ↑ higher is better, "
           "↓ lower is better; **bold** = best strategy (input/oracle rows excluded). "
           "Failed runs are counted, never averaged in.", ""]
    ranked, incomplete = overall_rank(tables)
    if tables:
        out += ["## Overall rank", "", "| rank | strategy | mean rank over tasks |",
                "|---|---|---|"]
        out += [f"| {i} | {s} | {r:.2f} |" for i, (s, r) in enumerate(ranked, start=1)]
        if incomplete:
            out += ["", f"Incomplete (not ranked): {', '.join(incomplete)}."]
        out.append("")
    for table in tables:
        head = [f"{m} {'↑' if h else '↓'}" + (f" ({u})" if u else "")
                for m, h, u in table.metrics]
        out += [f"## {table.task}", "", f"Main metric: {table.main_metric}.", "",
                "| strategy | " + " | ".join(head) + " |",
                "|---" * (len(head) + 1) + "|"]
        for name in [*table.strategies(), *table.references]:
            cells = []
            for m, h, _ in table.metrics:
                cell = table.rows[name].get(m)
                best = table.best(m, h)
                bold = (cell is not None and cell.n > 0 and name not in table.references
                        and best is not None and cell.mean == best)
                cells.append(cell.text(bold) if cell else "—")
            label = f"_{name}_" if name in table.references else name
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        for name, reason in sorted(table.skipped.items()):
            out.append(f"| {name} | skipped: {reason} |" + " |" * (len(head) - 1))
        out.append("")
    return "\n".join(out)


def render_csv(tables: list[Table]) -> str:
    """Long-format CSV: one line per task × strategy × metric."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", "strategy", "is_reference", "metric", "higher_is_better", "unit",
                "mean", "ci95", "n", "n_failed", "status"])
    for t in tables:
        for name in [*t.strategies(), *t.references]:
            for m, h, u in t.metrics:
                if (c := t.rows[name].get(m)) is not None:
                    w.writerow([t.task, name, name in t.references, m, h, u, _fmt(c.mean),
                                _fmt(c.ci), c.n, c.failed, "ok" if c.n else "failed"])
        for name, reason in sorted(t.skipped.items()):
            w.writerow([t.task, name, False, t.main_metric, "", "", "", "", 0, 0,
                        f"skipped: {reason}"])
    return buf.getvalue()


def render_tex(tables: list[Table]) -> str:
    """One LaTeX tabular per task (booktabs), best strategy per column in bold."""
    out = ["% generated by `python -m bench report`; needs \\usepackage{booktabs}"]
    for t in tables:
        cols = "l" + "r" * len(t.metrics)
        head = " & ".join(f"{_tex(m)} {UP if h else DOWN}" for m, h, _ in t.metrics)
        out += [f"% {t.task}", f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
                f"{_tex(t.task)} & {head} \\\\", "\\midrule"]
        for name in [*t.strategies(), *t.references]:
            cells = []
            for m, h, _ in t.metrics:
                c = t.rows[name].get(m)
                if c is None or c.n == 0:
                    cells.append("--")
                    continue
                text = _fmt(c.mean) + ("" if math.isnan(c.ci) else f" $\\pm$ {_fmt(c.ci)}")
                best = t.best(m, h)
                if name not in t.references and best is not None and c.mean == best:
                    text = f"\\textbf{{{text}}}"
                cells.append(text)
            out.append(f"{_tex(name)} & " + " & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(out)


def write_leaderboard(frame: pd.DataFrame, reports_dir: Path) -> list[Path]:
    """Write leaderboard.md, .csv and .tex; returns their paths."""
    tables = build_tables(frame)
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


def _fmt(x: float) -> str:
    if math.isnan(x):
        return ""
    return f"{x:.4g}"


def _tex(text: str) -> str:
    return text.replace("_", "\\_").replace("%", "\\%")
