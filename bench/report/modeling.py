"""Effect modeling: each model of an effect (a cell of the architecture × conditioning grid, or a
strategy's default proxy) against the reference DSP, fidelity against cost, the best one per
effect, and the steering experiment's heatmaps (`python -m bench steer`).

Reads the rows of the tasks that report :data:`MODEL_FIDELITY` and :data:`MODEL_COST` (the
modeling tasks); every ok run counts, tuning trials (one per grid cell, on validation clips)
and final runs (the best cell and each strategy's default, on the test clips all strategies
share). A model is named by the facts its run recorded (``extra["proxies"]``: the architecture
each effect got, and the ``model`` asked for: ``auto`` for a strategy's default proxies).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.compare import change
from bench.report.figures import decades, pyplot, save_png, slug
from bench.report.leaderboard import modeling_tasks, ok_runs
from bench.report.numbers import cell, finite_mean
from bench.report.provenance import header_lines
from bench.results import STEER_SUBDIR

COLUMNS = (("mrstft", "↓", ""), ("esr", "↓", ""), ("lufs", "↓", "LU"), ("aliasing", "↓", ""),
           ("rtf", "↓", "s/s"), ("parameters", "↓", ""), ("train_s", "↓", "s"))
MAIN = "mrstft"
SWITCH_ALPHA = 0.05  # a best model replaces the default only when its gap is this significant
FIGURE_PREFIX, STEER_PREFIX = "fidelity_cost_", "steer_"
BEST_FILE = "modeling_best.json"
AUTO = "auto"
REFERENCE_COLOR = "0.5"


def modeling_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ok run of the modeling tasks (strategies and the ``dsp`` reference, every
    phase): task, budget, strategy, is_reference, params_json, phase, model (what its run
    recorded) and one column per metric."""
    runs = ok_runs(frame, modeling_tasks(frame))
    if runs.empty:
        return runs
    runs["model"] = [model_name(json.loads(t) if isinstance(t, str) else {}, ref)
                     for t, ref in zip(runs.extra_json, runs.is_reference, strict=True)]
    return runs.sort_values(["budget", "task", "is_reference", "strategy", "params_json",
                             "run_key"], kind="stable")


def model_name(extra: dict[str, Any], reference: bool) -> str:
    """A run's model as its facts name it: the architecture each effect got (``gain``,
    ``tcn-film`` …; ``auto:`` before a strategy's default proxies), ``dsp`` for the
    reference."""
    if reference:
        return "dsp"
    facts = extra.get("proxies", {})
    archs = "+".join(str(f.get("arch", "?")) for _, f in sorted(facts.items())) or "?"
    auto = any(f.get("model", AUTO) == AUTO for f in facts.values())
    return f"{AUTO}: {archs}" if auto else archs


def settings(runs: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per (task, budget, strategy, model): runs by phase and the mean of each metric
    over its tuning runs and over its final runs (hyperparameters that leave the model as it
    is, such as a learner's rate, do not split it; ``params`` are its first run's)."""
    out = []
    for (task, budget, strategy, model), g in runs.groupby(
            ["task", "budget", "strategy", "model"], sort=True):
        entry = {"task": task, "budget": budget, "strategy": strategy, "model": model,
                 "params": str(g.params_json.iloc[0]), "reference": bool(g.is_reference.iloc[0]),
                 "phases": dict(sorted(g.phase.value_counts().items()))}
        entry["values"] = {}
        for name, part in (("tune", g[g.phase == "tune"]), ("final", g[g.phase == "final"])):
            entry[name] = {m: finite_mean(part[m]) if m in part else math.nan
                           for m, _, _ in COLUMNS}
            main = part[MAIN] if MAIN in part else pd.Series(dtype=float)
            entry["values"][name] = sorted(float(v) for v in main if math.isfinite(v))
        out.append(entry)
    return out


def shown(entry: dict[str, Any]) -> dict[str, float]:
    """The figures a model is shown with: its tuning runs' (validation clips, the same for
    every model), or its final runs' where it has no tuning runs (the reference row)."""
    return entry["tune"] if math.isfinite(entry["tune"][MAIN]) else entry["final"]


def best_models(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per ``task (budget)``: the best model on the main metric and the default it would
    replace. Final runs decide (every strategy's final runs share their test clips), tuning
    runs where a task has no final runs; fewer parameters break ties. A switch is asked for
    only when the best model beats the default by more than the spread over seeds (Welch
    t-test over their runs, p < :data:`SWITCH_ALPHA`); ``verdict`` says why or why not."""
    out = {}
    for key in sorted({(e["task"], e["budget"]) for e in entries}):
        mine = [e for e in entries if (e["task"], e["budget"]) == key and not e["reference"]]
        phase = "final" if any(math.isfinite(e["final"][MAIN]) for e in mine) else "tune"
        ranked = sorted((e for e in mine if math.isfinite(e[phase][MAIN])),
                        key=lambda e: (e[phase][MAIN], e[phase]["parameters"], e["model"]))
        if not ranked:
            continue
        defaults = [e for e in ranked if _auto(e)]
        best = ranked[0]
        switch, verdict, p = _switch(best, defaults[0] if defaults else None, phase)
        out[f"{key[0]} ({key[1]})"] = {
            "task": key[0], "budget": key[1], "decided_on": phase,
            "best": _summary(best, phase),
            "default": _summary(defaults[0], phase) if defaults else None,
            "switch": switch, "verdict": verdict, "p": p}
    return out


def _switch(best: dict[str, Any], default: dict[str, Any] | None,
            phase: str) -> tuple[bool, str, float | None]:
    """(switch?, why, Welch p) for replacing ``default`` by ``best`` on ``phase``'s runs."""
    if default is None:
        return False, "no default proxy measured", None
    if best is default:
        return False, "the default is best", None
    mark, p = change(default["values"][phase], best["values"][phase], higher=False,
                     alpha=SWITCH_ALPHA)
    if math.isnan(p):
        return False, "too few runs to tell (two a side needed)", None
    if mark == "+":
        return True, f"better beyond the seed spread (Welch p = {p:.2g})", p
    return False, f"a tie within the seed spread (Welch p = {p:.2g})", p


def _summary(entry: dict[str, Any], phase: str) -> dict[str, Any]:
    return {"strategy": entry["strategy"], "model": entry["model"],
            "params": json.loads(entry["params"]), "runs": len(entry["values"][phase]),
            **{m: (v if math.isfinite(v) else None) for m, v in entry[phase].items()}}


def read_steering(results_dirs: list[Path]) -> list[dict[str, Any]]:
    """Every readable ``<results>/steer/*.json`` (unreadable ones are named and skipped),
    sorted by effect, budget and seed."""
    found = []
    for path in sorted(p for d in results_dirs for p in (Path(d) / STEER_SUBDIR).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            print(f"skipping unreadable steering file {path}: {exc}")
            continue
        if data.get("kind") == "steer":
            found.append(data)
    return sorted(found, key=lambda d: (d["effect"], d["budget"], d["seed"]))


def render_markdown(frame: pd.DataFrame, steering: list[dict[str, Any]],
                    figures: dict[str, str], listening: dict[str, list[str]]) -> str | None:
    """The section's Markdown (None with neither modeling results nor steering files).
    ``figures`` maps a task-and-budget title (and ``steer <effect> (<budget>)``) to its figure
    relative to the reports directory; ``listening`` a task (or ``steer_<effect>``) to lines
    linking its listening examples."""
    runs = modeling_runs(frame)
    if runs.empty and not steering:
        return None
    out = ["# Effect modeling", "", *header_lines(frame), ""]
    if not runs.empty:
        out += _grid_markdown(runs, figures, listening)
    if steering:
        out += _steering_markdown(steering, figures, listening)
    return "\n".join(out)


def _grid_markdown(runs: pd.DataFrame, figures: dict[str, str],
                   listening: dict[str, list[str]]) -> list[str]:
    """The tables, figures, best models and listening examples of the modeling tasks."""
    entries = settings(runs)
    best = best_models(entries)
    out = ["Each model of an effect, pre-trained on reference-DSP renders of the domain's "
           "training clips, against the reference DSP on held-out clips at random levels and "
           "parameters (analytic output gains at 0 dB). One row per model: the cells of the "
           "architecture × conditioning grid (`modeling`), a strategy's default proxies "
           "(`auto:`, what `neural_proxy` and `proxy_hybrid` use today) and the reference DSP "
           "(_dsp_). Metrics are means over the model's tuning runs, on validation clips that "
           "are the same for every model (the reference: its final runs); test mrstft is the "
           "mean over its final runs, on the test clips every strategy's final runs share, "
           "where it has any. Aliasing is the share of a stepped "
           "sine sweep's output energy at non-harmonic frequencies; rtf is CPU seconds of the "
           "forward pass per second of audio; train_s CPU seconds of pre-training.", "",
           "## Best model per effect", "",
           f"The lowest {MAIN} (final runs: every strategy's share their test clips; tuning "
           f"runs where there are none). A switch is asked for only when the best model beats "
           f"the default by more than the spread over seeds (Welch t-test, p < "
           f"{SWITCH_ALPHA}); it becomes the default proxy of `neural_proxy` and "
           f"`proxy_hybrid` only once measured at the standard budget (README, \"Effect "
           f"modeling\"); `{BEST_FILE}` holds this table.", "",
           "| task | best model | strategy | mrstft ↓ | rtf ↓ | parameters | default today "
           "| its mrstft | switch? |", "|---" * 9 + "|"]
    for title, b in best.items():
        d = b["default"] or {}
        out.append(f"| {title} | {b['best']['model']} | {b['best']['strategy']} | "
                   f"{cell(b['best'][MAIN])} | {cell(b['best']['rtf'])} | "
                   f"{cell(b['best']['parameters'])} | {d.get('model', '—')} | "
                   f"{cell(d.get(MAIN))} | {'yes' if b['switch'] else 'no'}: {b['verdict']} |")
    out.append("")
    head = ["model", "strategy", "runs", *(f"{m} {a}" + (f" ({u})" if u else "")
                                          for m, a, u in COLUMNS), f"test {MAIN} ↓"]
    for (task, budget), _ in runs.groupby(["task", "budget"], sort=True):
        title = f"{task} ({budget} budget)"
        mine = [e for e in entries if e["task"] == task and e["budget"] == budget]
        out += [f"## {title}", ""]
        if title in figures:
            out += [f"![Fidelity against cost: {title}]({figures[title]})", ""]
        out += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for e in sorted(mine, key=lambda e: (e["reference"], _key(shown(e)[MAIN]), e["model"])):
            name = f"_{e['model']}_" if e["reference"] else e["model"]
            runs_text = ", ".join(f"{n} {p}" for p, n in e["phases"].items())
            out.append("| " + " | ".join([name, e["strategy"], runs_text,
                                          *(cell(shown(e)[m]) for m, _, _ in COLUMNS),
                                          cell(e["final"][MAIN])]) + " |")
        out += ["", *listening.get(task, [])]
    return out


def _steering_markdown(steering: list[dict[str, Any]], figures: dict[str, str],
                       listening: dict[str, list[str]]) -> list[str]:
    """The steering experiments: what was trained, the heatmaps and the fidelity at c = 0."""
    out = ["## Steering from one example", "",
           "A conditional TCN with FiLM trained on one input/output pair of the effect (one "
           "music clip, one setting) with its 2-D control held at 0, then swept over [−5, 5]² "
           "(Steinmetz & Reiss 2021). Structure of each heatmap: its range, the share of its "
           "variance a plane in the two controls explains (R²) and the median step between "
           "grid neighbours as a share of the range (near 0: smooth; about 1/3: noise). "
           "Fidelity: the steered effect at c = 0 against the target effect on the training "
           "clip and on a held-out clip.", "",
           "| effect | budget | measure | steps | CPU s | range | plane R² | neighbour step | "
           "input | target | model at c = 0 | MR-STFT train / held-out | ESR train / held-out "
           "| LUFS error train / held-out (LU) |", "|---" * 14 + "|"]
    for s in steering:
        st, f = s["structure"], s["fidelity_at_zero"]
        pair = {k: " / ".join(cell(f[c].get(k)) for c in ("train_clip", "heldout_clip"))
                for k in ("mrstft", "esr", "lufs")}
        out.append(f"| {s['effect']} | {s['budget']} | {s['measure']} | "
                   f"{s['training']['steps']} | {cell(s['training']['cpu_s'])} | "
                   f"{cell(st['range'])} | {cell(st['plane_r2'])} | "
                   f"{cell(st['neighbour_step'])} | {cell(s.get('input_value'))} | "
                   f"{cell(s['target_value'])} | "
                   f"{cell(s['model_at_zero'])} | {pair['mrstft']} | {pair['esr']} | "
                   f"{pair['lufs']} |")
    out.append("")
    for s in steering:
        title = steer_title(s)
        if title in figures:
            out += [f"![{title}]({figures[title]})", ""]
        out += listening.get(f"steer_{s['effect']}", [])
    return out


def _key(x: float) -> float:
    return x if math.isfinite(x) else math.inf


def steer_title(data: dict[str, Any]) -> str:
    """The title (and figure key) of one steering experiment."""
    return f"steer {data['effect']} ({data['budget']} budget, seed {data['seed']})"


def figures(frame: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Per modeling task and budget, fidelity against cost: MR-STFT against the real-time factor
    and against the parameters (log scales), one point per model, colour by architecture;
    strategies' default proxies as stars, the reference DSP's real-time factor as a dashed
    line (its error is zero)."""
    runs = modeling_runs(frame)
    if runs.empty:
        return {}
    plt = pyplot()
    entries = settings(runs)
    archs = sorted({_arch(e) for e in entries if not (e["reference"] or _auto(e))})
    colors = {a: f"C{i}" for i, a in enumerate(archs)}
    paths = {}
    for task, budget in sorted({(e["task"], e["budget"]) for e in entries}):
        mine = [e for e in entries if (e["task"], e["budget"]) == (task, budget)]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
        for ax, cost, label in ((axes[0], "rtf", "CPU real-time factor (s per s, log) ↓"),
                                (axes[1], "parameters", "trained parameters (log) ↓")):
            for e in mine:
                x, y = shown(e)[cost], shown(e)[MAIN]
                if e["reference"]:
                    if cost == "rtf" and math.isfinite(x) and x > 0:  # its error is 0
                        ax.axvline(x, color=REFERENCE_COLOR, ls="--", lw=1)
                    continue
                if not (math.isfinite(x) and math.isfinite(y) and x > 0 and y > 0):
                    continue
                ax.scatter(x, y, color="0.15" if _auto(e) else colors[_arch(e)],
                           marker="*" if _auto(e) else "o", s=90 if _auto(e) else 28,
                           alpha=0.85)
                ax.annotate(e["model"], (x, y), xytext=(3, 3), textcoords="offset points",
                            fontsize=6)
            decades(ax)
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(f"{MAIN} (log) ↓")
            ax.grid(alpha=0.3, which="both")
        handles = [plt.Line2D([], [], marker="o", ls="", color=colors[a], label=a)
                   for a in archs]
        handles += [plt.Line2D([], [], marker="*", ls="", color="0.15", markersize=10,
                               label="default proxy (auto)"),
                    plt.Line2D([], [], ls="--", color=REFERENCE_COLOR, label="reference DSP")]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
        fig.suptitle(f"{task} ({budget} budget): fidelity against cost, one point per model "
                     "(validation clips)")
        paths[f"{task} ({budget} budget)"] = save_png(
            fig, out / f"{FIGURE_PREFIX}{slug(task)}_{slug(budget)}.png")
    return paths


def _arch(entry: dict[str, Any]) -> str:
    """The architecture part of a model's name (``tcn`` of ``tcn-film``)."""
    return entry["model"].split("-")[0]


def _auto(entry: dict[str, Any]) -> bool:
    """Whether a model is a strategy's default proxies."""
    return entry["model"].startswith(f"{AUTO}:")


def steering_figures(steering: list[dict[str, Any]], out: Path) -> dict[str, Path]:
    """One heatmap per steering experiment: the measure over the control grid, c = 0 marked,
    with the target effect's value and the model's at c = 0 in the title."""
    if not steering:
        return {}
    plt = pyplot()
    paths = {}
    for s in steering:
        grid = np.array([[math.nan if v is None else v for v in row] for row in s["values"]])
        lo, hi = s["controls"][0], s["controls"][-1]
        fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
        image = ax.imshow(grid.T, origin="lower", extent=(lo, hi, lo, hi), cmap="viridis",
                          aspect="equal", interpolation="nearest")
        ax.scatter([0], [0], marker="+", color="white", s=80)
        fig.colorbar(image, ax=ax, label=s["measure_what"])
        ax.set_xlabel("control c₁")
        ax.set_ylabel("control c₂")
        f = s["fidelity_at_zero"]["train_clip"]
        given = (f"input {cell(s['input_value'])}, "
                 if isinstance(s.get("input_value"), (int, float)) else "")
        ax.set_title(f"{s['effect']}: {s['measure']} over the controls ({s['budget']}, "
                     f"{s['training']['steps']} steps)\n{given}target "
                     f"{cell(s['target_value'])}, model at c = 0 "
                     f"{cell(s['model_at_zero'])}; MR-STFT at c = 0 "
                     f"{cell(f.get('mrstft'))}", fontsize=9)
        name = f"{STEER_PREFIX}{slug(s['effect'])}_{slug(s['budget'])}_seed{s['seed']}.png"
        paths[steer_title(s)] = save_png(fig, out / name)
    return paths


def listening_lines(examples: list[Any], where: dict[Path, str]) -> dict[str, list[str]]:
    """Per task (or ``steer_<effect>``), Markdown links to its listening examples in the
    reports: ``signal (who)`` per file, target and input first."""
    out: dict[str, list[str]] = {}
    for ex in examples:
        links = [f"[{i} {ex.label(c)}]({where[row[c]]})" for i, row in sorted(ex.files.items())
                 for c in ex.columns() if c in row]
        if links:
            out[ex.task] = [f"Listening ({ex.budget} budget, {ex.seed}): " + ", ".join(links),
                            ""]
    return out


def write_modeling(frame: pd.DataFrame, steering: list[dict[str, Any]], reports_dir: Path,
                   figures_by_title: dict[str, str],
                   listening: dict[str, list[str]]) -> list[Path]:
    """Write modeling.md and modeling_best.json when there are modeling results or steering
    files (removing stale ones when there are none); returns what was written."""
    md, best = Path(reports_dir) / "modeling.md", Path(reports_dir) / BEST_FILE
    text = render_markdown(frame, steering, figures_by_title, listening)
    if text is None:
        md.unlink(missing_ok=True)
        best.unlink(missing_ok=True)
        return []
    md.write_text(text + "\n")
    runs = modeling_runs(frame)
    if runs.empty:
        best.unlink(missing_ok=True)
        return [md]
    best.write_text(json.dumps(best_models(settings(runs)), indent=1, sort_keys=True) + "\n")
    return [md, best]
