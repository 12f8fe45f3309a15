"""Projected wall time of a whole budget's matrix, from the runs measured so far.

Every (task, strategy) cell costs ``trials`` tuning runs (none where the task reuses another
task's trained models) plus ``final_seeds`` test runs. A cell's seconds per run come, in this
order of preference, from:

1. **measured**: its own rows at the budget (mean wall per run, per phase);
2. **steps**: a measured gradient cell at the budget (the anchor), scaled by the ratio of the two
   cells' training-step times in the latest step profile (``bench perf --steps``), which assumes
   the same number of steps per run as the anchor;
3. **sizes**: its rows at another budget, scaled by the ratio between the budgets that a cell
   of the same strategy measured at both shows, else by the sizes that bound its work:
   evaluation examples × reference-DSP evaluations for gradient-free strategies, evaluation
   examples for runs that train nothing.

A cell with none of these is listed as unknown and the total says it is incomplete. A run's
seconds are its CPU seconds where the results record them (:func:`run_walls`), less any setup
it computed for the runs after it (:data:`bench.base.SHARED_SETUP`: a gradient task's points
and reference gradients), which a measured cell counts once per study and once per final run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.base import SHARED_SETUP
from bench.budgets import Budget
from bench.matrix import MatrixCell
from bench.report.numbers import number
from bench.results import budget_version

PHASES = ("tune", "final")


@dataclass(frozen=True)
class CellCost:
    """Projected cost of one (task, strategy) cell of the matrix."""

    task: str
    strategy: str
    runs: dict[str, int]              # phase -> number of runs
    seconds: dict[str, float | None]  # phase -> seconds per run (None: unknown)
    basis: str
    family: str = ""
    setup: dict[str, float] = field(default_factory=dict)
    """Shared setup seconds per phase: once for the study (tune), once per run (final)."""

    @property
    def total(self) -> float | None:
        """Seconds for all the cell's runs, or None when a needed per-run cost is unknown."""
        parts = [(n, self.seconds.get(p)) for p, n in self.runs.items() if n]
        if any(s is None for _, s in parts):
            return None
        once = self.setup.get("tune", 0.0) if self.runs.get("tune") else 0.0
        per_final = self.runs.get("final", 0) * self.setup.get("final", 0.0)
        return float(sum(n * s for n, s in parts) + once + per_final)


def newest_protocol(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of each (task, strategy, budget) at its newest (budget version, task version,
    strategy version): a protocol change makes the older runs' costs stale."""
    if frame.empty:
        return frame
    order = (budget_version(frame.study_name) * 1e12
             + pd.to_numeric(frame.task_version, errors="coerce").fillna(0) * 1e6
             + pd.to_numeric(frame.strategy_version, errors="coerce").fillna(0))
    newest = order.groupby([frame.task, frame.strategy, frame.budget]).transform("max")
    return frame[order == newest]


def run_walls(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: task, strategy, budget, its protocol version, phase, its
    seconds (``wall``) and the shared setup it computed for later runs (``shared``, not in
    ``wall``).

    A run's seconds are its CPU seconds where recorded: a busy machine does not inflate them,
    and a worker with a core to itself spends them as wall time. A run without them whose cell
    has CPU-timed runs costs its steps at that cell's CPU seconds per step; any other run costs
    its wall time.
    """
    main = frame[frame.is_main_metric.astype(bool) & frame.status.isin(["ok", "pruned"])]
    main = newest_protocol(main[~main.is_reference.astype(bool)]).copy()
    main["budget_version"] = budget_version(main.study_name).astype(int)
    main["wall"] = (pd.to_datetime(main.finished_at)
                    - pd.to_datetime(main.started_at)).dt.total_seconds()
    main["shared"] = [_shared_setup(extra) for extra in main.extra_json]
    main["cpu"] = main.cpu_s.astype(float) - main.shared
    timed = main[main.cpu.notna() & (main.n_steps > 0)]
    rate = (timed.groupby(["task", "strategy", "budget"]).cpu.sum()
            / timed.groupby(["task", "strategy", "budget"]).n_steps.sum())
    cells = pd.MultiIndex.from_frame(main[["task", "strategy", "budget"]])
    from_steps = (main.n_steps * rate.reindex(cells).to_numpy()).where(main.n_steps > 0)
    main["wall"] = main.cpu.fillna(from_steps).fillna(main.wall).clip(lower=0)
    return main[["task", "task_version", "strategy", "budget", "budget_version", "phase", "wall",
                 "shared"]]


def _shared_setup(extra: Any) -> float:
    """A run's :data:`SHARED_SETUP` seconds from its extra facts (0 where it has none)."""
    facts = json.loads(extra) if isinstance(extra, str) else {}
    return float(facts.get(SHARED_SETUP) or 0.0)


def step_seconds(profile: dict[str, Any] | None) -> dict[tuple[str, str], float]:
    """(task, strategy) -> median training-step seconds from a step-profile JSON."""
    if not profile:
        return {}
    return {(task, strategy): entry["median_s"]
            for task, by in profile.get("steps", {}).items() for strategy, entry in by.items()}


def _twin(task: str) -> str:
    """The same task in the other domain (music <-> speech)."""
    for a, b in (("_music", "_speech"), ("_speech", "_music")):
        if task.endswith(a):
            return task[: -len(a)] + b
    return task


def _step(steps: dict[tuple[str, str], float], task: str, strategy: str) -> float | None:
    """A cell's step seconds from the profile, or its twin task's where the profile lacks it."""
    return steps.get((task, strategy)) or steps.get((_twin(task), strategy))


def _per_run(known: dict[str, float], needed: list[str], scale: float = 1.0) -> dict[str, float]:
    """Seconds per run of every needed phase from the phases known (a missing phase takes the
    final runs', else the first known), times ``scale``."""
    fallback = known.get("final", next(iter(known.values())))
    return {p: known.get(p, fallback) * scale for p in needed}


def project(budget: Budget, matrix: list[MatrixCell], walls: pd.DataFrame,
            steps: dict[tuple[str, str], float], sizes: dict[str, Budget]) -> list[CellCost]:
    """Cost of every cell of ``matrix`` at ``budget``, from the measured ``walls``."""
    walls = walls[(walls.budget != budget.name) | (walls.budget_version == budget.version)]
    here = walls[walls.budget == budget.name]  # an older protocol of the budget is stale
    means = here.groupby(["task", "strategy", "phase"]).wall.mean().to_dict()
    setups = here[here.shared > 0].groupby(["task", "strategy", "phase"]).shared.mean()
    anchors = [c for c in matrix if c.kind == "gradient" and _measured(c, means)]
    cells = []
    for cell in matrix:
        needed = [p for p, n in cell.runs.items() if n]
        own = _measured(cell, means)
        if own:
            basis = "measured" if len(own) == len(needed) else f"measured ({'/'.join(own)})"
            if "final" in needed and "final" not in own and (
                    sibling := _sibling_final(cell, matrix, means)):
                own, basis = own | sibling, f"{basis}; final: the family's other tasks"
            setup = {p: float(setups[(cell.task, cell.strategy, p)]) for p in needed
                     if (cell.task, cell.strategy, p) in setups}
            if setup:
                basis += "; shared setup " + ", ".join(
                    f"{number(v)} s {'a study' if p == 'tune' else 'a run'} ({p})"
                    for p, v in setup.items())
            cells.append(CellCost(cell.task, cell.strategy, cell.runs, _per_run(own, needed),
                                  basis, cell.family, setup))
        elif cell.kind == "gradient":
            cells.append(_from_steps(cell, needed, anchors, means, steps))
        else:
            cells.append(_from_sizes(cell, needed, budget, walls, sizes))
    return cells


def _sibling_final(cell: MatrixCell, matrix: list[MatrixCell], means: dict) -> dict[str, float]:
    """The mean final run of the same strategy on the cell's family's other tasks, for a cell
    whose tuning alone was measured (a modeling cell's final re-uses its tuned model: seconds,
    where its trials took minutes); empty where none was measured."""
    finals = [means[(c.task, c.strategy, "final")] for c in matrix
              if c.strategy == cell.strategy and c.family == cell.family and c.task != cell.task
              and (c.task, c.strategy, "final") in means]
    return {"final": sum(finals) / len(finals)} if finals else {}


def _measured(cell: MatrixCell, means: dict) -> dict[str, float]:
    """The cell's mean wall seconds per run of each phase measured at the budget."""
    return {p: means[(cell.task, cell.strategy, p)] for p, n in cell.runs.items()
            if n and (cell.task, cell.strategy, p) in means}


def _from_steps(cell: MatrixCell, needed: list[str], anchors: list[MatrixCell], means: dict,
                steps: dict[tuple[str, str], float]) -> CellCost:
    """Per-run seconds of the closest measured anchor (same task first), scaled by the ratio of
    step times and of the most steps per run."""
    mine = _step(steps, cell.task, cell.strategy)
    ranked = sorted(anchors, key=lambda a: (a.task != cell.task, a.task != _twin(cell.task),
                                            a.strategy != cell.strategy))
    for anchor in ranked if mine else []:
        theirs = _step(steps, anchor.task, anchor.strategy)
        if theirs:
            scale = mine / theirs * cell.steps / anchor.steps
            return CellCost(cell.task, cell.strategy, cell.runs,
                            _per_run(_measured(anchor, means), needed, scale),
                            f"steps: {anchor.task}/{anchor.strategy} × {number(scale)}",
                            cell.family)
    return CellCost(cell.task, cell.strategy, cell.runs, dict.fromkeys(needed),
                    "unknown: no step time or no measured gradient cell", cell.family)


def _from_sizes(cell: MatrixCell, needed: list[str], budget: Budget, walls: pd.DataFrame,
                sizes: dict[str, Budget]) -> CellCost:
    """Per-run seconds at another budget, scaled phase by phase by the ratio a cell of the same
    strategy measured at both budgets shows, else by the sizes that bound the work."""
    other = walls[(walls.task == cell.task) & (walls.strategy == cell.strategy)
                  & (walls.budget != budget.name)]
    for name, rows in other.groupby("budget"):
        base = _per_run(rows.groupby("phase").wall.mean().to_dict(), needed)
        seconds, bases = {}, []
        for phase in needed:
            measured = _measured_ratio(cell.strategy, str(name), budget.name, phase, walls)
            if measured is not None:
                scale = measured[1]
                bases.append(f"{name} × {number(scale)} (the ratio measured on {measured[0]})")
            else:
                scale = _size_scale(cell.kind, phase, budget, sizes[str(name)])
                bases.append(f"sizes: {name} × {number(scale)}")
            seconds[phase] = base[phase] * scale
        labelled = [f"{p} {b}" for p, b in zip(needed, bases, strict=True)]
        basis = bases[0] if len(set(bases)) == 1 else "; ".join(labelled)
        return CellCost(cell.task, cell.strategy, cell.runs, seconds, basis, cell.family)
    return CellCost(cell.task, cell.strategy, cell.runs, dict.fromkeys(needed),
                    "unknown: no run of this cell", cell.family)


def _size_scale(kind: str, phase: str, budget: Budget, base: Budget) -> float:
    """How much more work a run of ``phase`` does at ``budget`` than at ``base``: evaluation
    examples (a search's tuning trials solve fewer, :meth:`Budget.tuning`), and effect
    evaluations per example for a search."""
    if kind == "search" and phase == "tune":
        budget, base = budget.tuning("examples"), base.tuning("examples")
    scale = budget.eval_examples / base.eval_examples
    return scale * budget.dsp_evals / base.dsp_evals if kind == "search" else scale


def _measured_ratio(strategy: str, base: str, target: str, phase: str,
                    walls: pd.DataFrame) -> tuple[str, float] | None:
    """(task, seconds per ``phase`` run at ``target`` ÷ at ``base``) of the first task where
    ``strategy`` ran that phase at both budgets under one task version (a newer version may do
    other work: realistic v4 also scores a second set of pairs), or None."""
    mine = walls[(walls.strategy == strategy) & (walls.phase == phase)]
    means = mine.groupby(["task", "task_version", "budget"]).wall.mean()
    for task, version in sorted(set(zip(mine.task, mine.task_version, strict=True))):
        if (task, version, base) in means and (task, version, target) in means:
            return task, float(means[(task, version, target)] / means[(task, version, base)])
    return None


def render_projection(cells: list[CellCost], budget: Budget, workers: int,
                      limit_hours: float | None = None, excluded: list[str] | None = None) -> str:
    """Markdown: one row per cell, then the total in core-hours and in wall hours."""
    left_out = (f" Left out: the {', '.join(excluded)} task "
                f"{'family' if len(excluded) == 1 else 'families'}." if excluded else "")
    lines = [f"# Projected `{budget.tag}` matrix", "",
             f"{budget.trials} trials per tuned study, {budget.final_seeds} final seeds, at most "
             f"{budget.steps} steps per run. Seconds per run: CPU seconds where recorded, else "
             f"wall seconds; see `bench/report/projection.py` for the three bases.{left_out}",
             "",
             "| task | strategy | tune runs | final runs | s/run (tune) | s/run (final) | "
             "hours | basis |", "|---|---|---|---|---|---|---|---|"]
    known = 0.0
    unknown = []
    for c in sorted(cells, key=lambda c: -(c.total or 0)):
        total = c.total
        if total is None:
            unknown.append(f"{c.task}/{c.strategy}")
        else:
            known += total
        lines.append(f"| {c.task} | {c.strategy} | {c.runs.get('tune', 0)} | "
                     f"{c.runs.get('final', 0)} | {_s(c.seconds.get('tune'))} | "
                     f"{_s(c.seconds.get('final'))} | "
                     f"{'?' if total is None else number(total / 3600)} | {c.basis} |")
    wall = known / 3600 / workers
    lines += ["", f"**Total: {number(known / 3600)} core-hours; {number(wall)} h of wall time "
              f"with {workers} workers** (workers share studies trial by trial, so the wall "
              "time is the core-hours divided by the workers)."]
    families: dict[str, float] = {}
    for c in cells:
        family = c.family or "other"
        families[family] = families.get(family, 0.0) + (c.total or 0)
    if len(families) > 1:
        parts = sorted(families.items(), key=lambda kv: -kv[1])
        lines.append("By task family (core-hours): " + ", ".join(
            f"{name} {number(seconds / 3600)}" for name, seconds in parts) + ".")
    if limit_hours is not None:
        verdict = "fits" if wall <= limit_hours and not unknown else "does not fit"
        lines.append(f"Against the {number(limit_hours)} h limit: {verdict}.")
    if unknown:
        lines.append(f"Incomplete: no basis for {', '.join(unknown)}.")
    return "\n".join(lines) + "\n"


def _s(value: float | None) -> str:
    return "" if value is None else number(value)
