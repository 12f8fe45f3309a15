"""The strategy contract: every strategy runs every task at the smoke budget (or says why not),
deterministically, with finite metrics and honest counters. Used by the test suite and by
`python -m bench verify --strategies` for people who add a strategy.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.base import MetricFailure, Outcome, RunContext, Strategy, Task
from bench.budgets import Budget, get_budget
from bench.data import default_cache_dir
from bench.gradient import GradientStrategy
from bench.seeding import seed_everything


@dataclass
class Verdict:
    """What the contract found for one (strategy, task) cell."""

    strategy: str
    task: str
    skipped: str | None = None
    problems: list[str] = field(default_factory=list)
    main: float | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (a stated skip is fine)."""
        return not self.problems


def run_once(strategy: Strategy, task: Task, artefacts: Path, seed: int = 0,
             budget: Budget | None = None) -> Outcome:
    """One run (smoke budget by default) on the validation split; corpora stay cached."""
    ctx = RunContext(budget=task.sized(budget or get_budget("smoke")), seed=seed, split="val",
                     results_dir=artefacts / "results", cache_dir=default_cache_dir(),
                     artefacts=artefacts, progress=False)
    seed_everything(seed)
    return task.run(strategy, ctx)


def check(strategy_cls: type[Strategy], task_cls: type[Task], determinism: bool = True,
          artefacts: Path | None = None) -> Verdict:
    """Run the contract for one cell; problems are collected, not raised.

    ``artefacts`` shares trained models between cells (fresh ones when None); the determinism
    check always runs twice from fresh artefacts.
    """
    strategy, task = strategy_cls(), task_cls()
    verdict = Verdict(strategy_cls.name, task_cls.name)
    reason = strategy.skip_reason(task) or task.skip_reason(strategy)
    if reason is not None:
        if not reason.strip():
            verdict.problems.append("skip reason is empty")
        verdict.skipped = reason
        return verdict
    runs = []
    for attempt in range(2 if determinism else 1):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                where = Path(tmp) if determinism or artefacts is None else artefacts
                runs.append(run_once(strategy_cls(), task_cls(), where))
            except Exception as exc:  # noqa: BLE001 - reported as a contract problem
                verdict.problems.append(f"run {attempt} raised {type(exc).__name__}: {exc}")
                return verdict
    first = runs[0]
    for m in task.metrics:
        value = first.metrics.get(m.name)
        if value is None and m.name == task.main_metric:
            verdict.problems.append(f"main metric {m.name} missing")
        elif isinstance(value, MetricFailure) and m.name == task.main_metric:
            verdict.problems.append(f"main metric {m.name} failed: {value.error}")
        elif isinstance(value, float) and not math.isfinite(value):
            verdict.problems.append(f"metric {m.name} is not finite")
    main = first.metrics.get(task.main_metric)
    verdict.main = main if isinstance(main, float) else None
    c = first.counters
    reused = first.extra.get("training", {}).get("reused", False)
    if isinstance(strategy, GradientStrategy) and not reused and task.capabilities.trains_learner:
        if c.steps <= 0 or c.grad_estimates <= 0:
            verdict.problems.append(f"gradient strategy counted steps={c.steps}, "
                                    f"grad_estimates={c.grad_estimates}")
    if min(c.steps, c.dsp_evals, c.grad_estimates) < 0:
        verdict.problems.append("negative counters")
    if determinism and len(runs) == 2:
        other = runs[1].metrics.get(task.main_metric)
        if isinstance(main, float) and isinstance(other, float) and not math.isclose(
                main, other, rel_tol=1e-5, abs_tol=1e-8):
            verdict.problems.append(f"not deterministic: {main} vs {other}")
    return verdict


def verify_strategies(spec: str = "all") -> bool:
    """Print the contract table for the selected strategies on every task; True if all hold."""
    from bench.registry import registry

    strategies = registry("strategy").select(spec)
    tasks = registry("task").select("all")
    ok = True
    print(f"{'strategy':<16} {'task':<20} verdict")
    for s in strategies:
        for t in tasks:
            v = check(s, t)
            ok &= v.ok
            text = (f"skipped: {v.skipped}" if v.skipped else
                    f"ok ({t.main_metric}={v.main:.4g})" if v.ok and v.main is not None else
                    "FAIL: " + "; ".join(v.problems))
            print(f"{s.name:<16} {t.name:<20} {text}", flush=True)
    return ok
