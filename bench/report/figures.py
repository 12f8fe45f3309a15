"""Report figures (matplotlib, Agg): the overall ranking with its intervals, quality against
cost, bar charts with 95% CIs, convergence curves, Optuna parameter importance, proxy fidelity,
spectrograms of the listening examples, step-time scaling.

Every function returns the PNG paths it wrote; PNGs are saved at a fixed DPI without the
software/date metadata so rebuilding from the same results gives the same files, as 256-colour
palette images (spectrograms shrink to a third, so committed reports stay small).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.audio import ListeningExamples
from bench.report.leaderboard import Table, by_budget, end_tasks, overall_rank, task_ranks
from bench.report.numbers import number
from bench.report.runs import final_runs, training_logs
from bench.report.runtime import proxy_facts
from bench.report.stats import mean_ci95

FIGURES_SUBDIR = "figures"
DPI = 100
REFERENCE_COLOR = "0.6"


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend with the reports' font sizes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.titlesize": 11})
    return plt


def save_png(fig: Any, path: Path) -> Path:
    """Save as a palette PNG without timestamps or software version, then free the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    image = Image.open(buffer).convert("RGB").quantize(256, dither=Image.Dither.NONE)
    image.save(path, optimize=True)
    return path


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _grid(plt: Any, n: int, ncols: int, size: tuple[float, float]) -> tuple[Any, list[Any]]:
    """A figure with ``n`` subplots on a grid; unused axes are hidden."""
    nrows = max(1, math.ceil(n / ncols))
    ncols = min(ncols, max(n, 1))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False, layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def decades(ax: Any) -> None:
    """A log x axis over whole decades, labelled at the decades only."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    if lo > 0:
        ax.set_xlim(10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def strategy_colors(tables: list[Table]) -> dict[str, str]:
    """One colour per strategy (reference rows excluded), the same in every figure."""
    names = sorted({s for t in tables for s in t.strategies()})
    return {s: f"C{i}" for i, s in enumerate(names)}


def ranking(tables: list[Table], out: Path) -> list[Path]:
    """Per budget: each complete strategy's mean rank on the tasks' main metrics with a 95% CI
    (Student t over tasks), and its rank on every task as dots; best on top."""
    plt = pyplot()
    colors = strategy_colors(tables)
    paths = []
    for budget, group in by_budget(end_tasks(tables)).items():
        ranks, incomplete = task_ranks(group)
        ordered = overall_rank(group)[0]
        if not ordered:
            continue
        fig, ax = plt.subplots(figsize=(7.5, 1.4 + 0.5 * len(ordered)), layout="constrained")
        for y, (strategy, mean) in enumerate(ordered):
            ci = mean_ci95(ranks[strategy])[1]
            ax.scatter(ranks[strategy], y + np.linspace(-0.2, 0.2, len(ranks[strategy])), s=14,
                       color=colors[strategy], alpha=0.35, linewidths=0)
            ax.errorbar(mean, y, xerr=_rank_interval(mean, ci, len(ordered)), fmt="o", ms=8,
                        capsize=5, color=colors[strategy])
            ax.annotate(f"{mean:.2f}", (mean, y), xytext=(0, 9), textcoords="offset points",
                        ha="center", fontsize=8)
        ax.set_yticks(range(len(ordered)), [s for s, _ in ordered])
        ax.set_ylim(len(ordered) - 0.5, -0.6)
        ax.set_xlim(0.5, len(ordered) + 0.5)
        ax.set_xlabel("rank on a task's main metric (1 = best; ties share the averaged rank)")
        ax.grid(axis="x", alpha=0.3)
        note = f"\nnot ranked (not run on every task): {', '.join(incomplete)}" * bool(incomplete)
        ax.set_title(f"Overall rank ({budget} budget): mean over {len(group)} tasks ± 95% CI "
                     f"over tasks; dots: each task{note}")
        paths.append(save_png(fig, out / f"ranking_{slug(budget)}.png"))
    return paths


def _rank_interval(mean: float, ci: float, places: int) -> list[list[float]] | None:
    """Lower and upper error-bar lengths of a mean rank's CI, clipped to the possible ranks
    1…``places`` (few tasks give intervals wider than the scale); None without a CI."""
    if not math.isfinite(ci):
        return None
    return [[mean - max(1.0, mean - ci)], [min(float(places), mean + ci) - mean]]


def run_seconds(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(task, budget, strategy) → mean setup + solve seconds of its ok final runs: the cost of
    producing the result, evaluation excluded."""
    runs = final_runs(frame)
    runs = runs[runs.status == "ok"]
    cost = (runs.setup_s + runs.solve_s).groupby([runs.task, runs.budget, runs.strategy]).mean()
    return {key: float(v) for key, v in cost.items()}


def quality_cost(frame: pd.DataFrame, tables: list[Table], out: Path) -> list[Path]:
    """Per budget, a panel per task: each strategy's main metric (mean ± 95% CI over seeds)
    against its setup + solve seconds per final run, the unprocessed input as a dashed line."""
    plt = pyplot()
    colors = strategy_colors(tables)
    seconds = run_seconds(frame)
    paths = []
    for budget, group in by_budget(tables).items():
        fig, axes = _grid(plt, len(group), 5, (3.3, 2.8))
        for ax, table in zip(axes, group, strict=True):
            _quality_cost_panel(ax, table, seconds, colors)
        _shared_seconds_axis(axes, [v for (_, b, _), v in seconds.items() if b == budget])
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=s)
                   for s, c in colors.items()]
        handles.append(plt.Line2D([], [], ls="--", color=REFERENCE_COLOR, label="input"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
        fig.suptitle(f"Quality against cost ({budget} budget)")
        paths.append(save_png(fig, out / f"quality_cost_{slug(budget)}.png"))
    return paths


def _quality_cost_panel(ax: Any, table: Table, seconds: dict[tuple[str, str, str], float],
                        colors: dict[str, str]) -> None:
    """One task's points: main metric against seconds, failures written next to the point."""
    main = table.main_metric
    higher, unit = next((h, u) for m, h, u in table.metrics if m == main)
    for strategy in table.strategies():
        cell = table.rows[strategy].get(main)
        cost = seconds.get((table.task, table.budget, strategy))
        if cell is None or cell.n == 0 or cost is None:
            continue
        ax.errorbar(cost, cell.mean, yerr=cell.ci if math.isfinite(cell.ci) else None, fmt="o",
                    capsize=3, color=colors[strategy])
        if cell.failed:
            ax.annotate(f"{cell.failed} failed", (cost, cell.mean), xytext=(4, 4),
                        textcoords="offset points", fontsize=7)
    reference = table.rows.get("input", {}).get(main)
    if reference is not None and reference.n:
        ax.axhline(reference.mean, ls="--", color=REFERENCE_COLOR)
    ax.set_title(table.task)
    ax.set_xlabel("setup + solve s per run")
    ax.set_ylabel(f"{main} {'↑' if higher else '↓'}" + (f" ({unit})" if unit else ""))
    ax.grid(alpha=0.3, which="both")


def _shared_seconds_axis(axes: list[Any], seconds: list[float]) -> None:
    """One logarithmic seconds axis for every panel, so costs compare across tasks too; ticks
    written like the tables' numbers."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    positive = [s for s in seconds if s > 0]
    for ax in axes:
        ax.set_xscale("log")
        if positive:
            ax.set_xlim(min(positive) / 1.5, max(positive) * 1.5)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())


def bar_charts(tables: list[Table], out: Path) -> list[Path]:
    """One figure per task: a panel per metric, a bar per strategy (reference rows grey and
    hatched) with its 95% CI; failed cells are labelled, not drawn, and partly failed ones
    carry their failure count in the axis label."""
    plt = pyplot()
    palette = strategy_colors(tables)
    paths = []
    for table in tables:
        names = [*table.strategies(), *table.references]
        fig, axes = _grid(plt, len(table.metrics), 3, (4.2, 3.2))
        for ax, (metric, higher, unit) in zip(axes, table.metrics, strict=True):
            cells = [table.rows[n].get(metric) for n in names]
            x = np.arange(len(names))
            means = [c.mean if c is not None and c.n else 0.0 for c in cells]
            errs = [c.ci if c is not None and c.n and math.isfinite(c.ci) else 0.0
                    for c in cells]
            colors = [REFERENCE_COLOR if n in table.references else palette[n] for n in names]
            bars = ax.bar(x, means, yerr=errs, color=colors, capsize=3)
            for bar, n, c in zip(bars, names, cells, strict=True):
                if n in table.references:
                    bar.set_hatch("//")
                if c is None or c.n == 0:
                    ax.annotate("failed" if c is not None and c.failed else "n/a",
                                (bar.get_x() + bar.get_width() / 2, 0), ha="center",
                                va="bottom", rotation=90, fontsize=8)
            labels = [f"{n} ({c.failed} failed)" if c is not None and c.n and c.failed else n
                      for n, c in zip(names, cells, strict=True)]
            ax.set_xticks(x, labels, rotation=30, ha="right")
            ax.set_title(f"{metric} {'↑' if higher else '↓'}")
            ax.set_ylabel(unit or "value")
        fig.suptitle(f"{table.title}: mean ± 95% CI over final seeds (grey: reference rows)")
        paths.append(save_png(fig, out / f"bars_{slug(table.task)}_{slug(table.budget)}.png"))
    return paths


def convergence(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Validation loss against training steps and against reference-DSP evaluations, one
    colour per strategy (a line per final seed), for every task that trained models."""
    plt = pyplot()
    runs = final_runs(frame)
    runs = runs[runs.status == "ok"]
    paths = []
    for (task, budget), g in runs.groupby(["task", "budget"], sort=True):
        curves = [(s, log["curve"]) for s, extra in zip(g.strategy, g.extra, strict=True)
                  for log in training_logs(extra) if log.get("curve") and not log.get("reused")]
        if not curves:
            continue
        fig, (by_step, by_dsp) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        colors = {s: f"C{i}" for i, s in enumerate(sorted({s for s, _ in curves}))}
        labelled: set[str] = set()
        for strategy, curve in curves:
            label = None if strategy in labelled else strategy
            labelled.add(strategy)
            loss = [c["val_loss"] for c in curve]
            by_step.plot([c["step"] for c in curve], loss, marker=".", color=colors[strategy],
                         label=label)
            by_dsp.plot([c["dsp_evals"] for c in curve], loss, marker=".",
                        color=colors[strategy], label=label)
        by_step.set_xlabel("training step")
        by_dsp.set_xlabel("reference-DSP evaluations (symlog; 0 = none used)")
        by_dsp.set_xscale("symlog", linthresh=1)
        for ax in (by_step, by_dsp):
            ax.set_ylabel("validation loss (task loss)")
            ax.grid(alpha=0.3)
        by_step.legend(title="strategy")
        fig.suptitle(f"{task} ({budget} budget): convergence of final runs, one line per seed")
        paths.append(save_png(fig, out / f"convergence_{slug(task)}_{slug(budget)}.png"))
    return paths


def importance_evaluator() -> tuple[Any, str]:
    """PED-ANOVA: deterministic and needs no scikit-learn, so the importance figures are the
    same bytes whichever optional packages are installed. Returns (evaluator, name)."""
    from optuna.importance import PedAnovaImportanceEvaluator

    return PedAnovaImportanceEvaluator(), "PED-ANOVA"


def study_importances(results_dirs: Iterable[Path]) -> dict[str, dict[str, dict[str, float]]]:
    """strategy → "task (budget)" → parameter → importance (see `importance_evaluator`),
    averaged over the seeds' studies; studies with fewer than 2 complete trials or one
    parameter are skipped."""
    import optuna
    from optuna.importance import get_param_importances
    from optuna.trial import TrialState

    from bench.optuna_storage import JOURNAL_NAME, open_storage

    collected: dict[str, dict[str, list[dict[str, float]]]] = {}
    for results in results_dirs:
        path = Path(results) / JOURNAL_NAME
        if not path.exists():
            continue
        storage = open_storage(f"journal:{path}", path.parent)
        for summary in sorted(optuna.get_all_study_summaries(storage),
                              key=lambda s: s.study_name):
            parts = summary.study_name.split("/")
            if len(parts) < 3:
                continue
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            params = {k for t in complete for k in t.params}
            if len(complete) < 2 or len(params) < 2:
                continue
            try:
                imp = get_param_importances(study, evaluator=importance_evaluator()[0])
            except (RuntimeError, ValueError):
                continue
            strategy, task = parts[1].split("@")[0], parts[0].split("@")[0]
            collected.setdefault(strategy, {}).setdefault(f"{task} ({parts[2]})", []).append(
                {k: float(v) for k, v in imp.items()})
    return {s: {t: {p: float(np.mean([d.get(p, 0.0) for d in runs]))
                    for p in sorted({p for d in runs for p in d})}
                for t, runs in sorted(tasks.items())}
            for s, tasks in sorted(collected.items())}


def importance(results_dirs: Iterable[Path], out: Path) -> list[Path]:
    """Per strategy: Optuna parameter importance per task (horizontal bars)."""
    plt = pyplot()
    paths = []
    for strategy, tasks in study_importances(results_dirs).items():
        params = sorted({p for imp in tasks.values() for p in imp})
        fig, ax = plt.subplots(figsize=(6.5, 1.0 + 0.5 * len(params) * max(1, len(tasks)) / 2),
                               layout="constrained")
        height = 0.8 / len(tasks)
        y = np.arange(len(params))
        for i, (task, imp) in enumerate(tasks.items()):
            ax.barh(y + i * height, [imp.get(p, 0.0) for p in params], height=height,
                    label=task)
        ax.set_yticks(y + height * (len(tasks) - 1) / 2, params)
        ax.set_xlabel(f"{importance_evaluator()[1]} importance (normalized to sum 1)")
        ax.set_title(f"{strategy}: hyperparameter importance (mean over seeds' studies)")
        ax.legend(title="task", fontsize=8)
        paths.append(save_png(fig, out / f"importance_{slug(strategy)}.png"))
    return paths


def proxy_fidelity(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Fidelity of every pre-trained proxy against the reference DSP and its CPU speed."""
    facts = [f for _, f in proxy_facts(frame)]
    if not facts:
        return []
    plt = pyplot()
    labels = [f"{f['effect']}/{f.get('arch', '?')} ({f['budget']})" for f in facts]
    panels = [("mrstft", "MR-STFT distance ↓", ""), ("lufs_error", "LUFS error ↓", "LU"),
              ("rtf", "CPU real-time factor ↓", "s per s of audio"),
              ("pretrain_s", "pre-training time", "s")]
    fig, axes = _grid(plt, len(panels), 2, (4.5, 3.2))
    x = np.arange(len(facts))
    for ax, (key, title, unit) in zip(axes, panels, strict=True):
        values = [float(f[key]) if isinstance(f.get(key), (int, float)) else math.nan
                  for f in facts]
        ax.bar(x, values, color=[f"C{i}" for i in range(len(facts))])
        ax.set_xticks(x, labels, rotation=30, ha="right")
        ax.set_title(title)
        ax.set_ylabel(unit or "value")
    fig.suptitle("Neural proxies against the reference DSP (held-out clips)")
    return [save_png(fig, out / "proxy_fidelity.png")]


def spectrograms(examples: list[ListeningExamples], out: Path) -> list[Path]:
    """Log-magnitude spectrograms of the first example of every task: input, reference,
    target (when known) and each strategy's output, on one colour scale."""
    import soundfile as sf

    plt = pyplot()
    paths = []
    for ex in examples:
        first = ex.files[min(ex.files)]
        columns = [c for c in ex.columns() if c in first]
        specs = []
        for column in columns:
            audio, sr = sf.read(first[column], dtype="float64")
            specs.append((ex.label(column), *_spectrogram(audio, sr)))
        top = max(float(s[1].max()) for s in specs)
        fig, axes = _grid(plt, len(specs), 3, (3.8, 2.8))
        for ax, (label, db, extent) in zip(axes, specs, strict=True):
            image = ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma",
                              vmin=top - 80, vmax=top)
            ax.set_title(label)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("frequency (kHz)")
        fig.colorbar(image, ax=axes, label="magnitude (dB)")
        fig.suptitle(f"{ex.task} ({ex.budget} budget, {ex.seed}, example 0)")
        paths.append(save_png(fig, out / f"spectrogram_{slug(ex.task)}_{slug(ex.budget)}.png"))
    return paths


def _spectrogram(audio: np.ndarray, sr: int, n_fft: int = 512,
                 hop: int = 128) -> tuple[np.ndarray, list[float]]:
    """dB magnitude (freq × frames) with a Hann window, and the imshow extent."""
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    audio = np.pad(audio, (0, max(0, n_fft - len(audio))))
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop]
    mag = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T
    return 20 * np.log10(mag + 1e-8), [0.0, len(audio) / sr, 0.0, sr / 2000]


def scaling(latest: dict[str, dict[str, Any]], out: Path) -> dict[str, Path]:
    """Per machine: step time against clip length (log-log), one line per strategy."""
    plt = pyplot()
    paths = {}
    for machine, data in sorted(latest.items()):
        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
        for name, entry in sorted(data["strategies"].items()):
            if entry.get("step_s"):
                ax.plot(data["lengths_s"], [1e3 * t for t in entry["step_s"]], marker="o",
                        label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("clip length (s)")
        ax.set_ylabel("training-step time (ms)")
        ax.set_title(f"Step time against clip length\n{machine}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(title="strategy")
        paths[machine] = save_png(fig, out / f"scaling_{slug(machine)}.png")
    return paths
