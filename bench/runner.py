"""The sweep: for each (task, strategy, seed) tune on validation, then re-run the best on test.

Every unit of work has a run key; work whose key already has rows in ``results/`` is skipped,
so re-running the same command resumes. Failures are recorded as rows, never raised. One
(task, strategy, seed) is a :class:`bench.study.StudyRun`; this module selects the matrix and
opens what its studies share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from bench import artefacts, device
from bench.base import Strategy, Task
from bench.budgets import Budget, get_budget
from bench.data import default_cache_dir
from bench.data_choice import DataPlan, data_plan
from bench.errors import BenchError, first_line
from bench.matrix import MatrixCell
from bench.optuna_storage import open_storage, storage_errors
from bench.params import best_params, check_params
from bench.registry import discover, registry
from bench.results import ResultWriter
from bench.run_once import Claims
from bench.study import StudyRun, tuning_trials
from bench.sweep import RunOptions, Summary, Sweep, done_keys


def run(opts: RunOptions) -> Summary:
    """Run the selected matrix; returns a summary (failures are in the results, not raised)."""
    set_threads()
    budget = get_budget(opts.budget)
    tasks = registry("task").select(opts.tasks)
    strategies = registry("strategy").select(opts.strategies)
    if opts.seeds < 1:
        raise BenchError(f"--seeds must be at least 1, got {opts.seeds}")
    for flag, value in (("--trials", opts.trials), ("--final-seeds", opts.final_seeds)):
        if value is not None and value < 1:
            raise BenchError(f"{flag} must be at least 1, got {value}")
    params = check_params(strategies, opts.params)
    fixed = {(t.name, s.name): {k: v for k, v in params.items() if k in s.defaults}
             for t in tasks for s in strategies}
    if opts.best_from:  # checked for every pair before anything runs
        best = best_params(opts.best_from, budget.name)
        fixed = {(task.name, s.name): {**best_setting(best, task, s, opts),
                                       **fixed[task.name, s.name]}
                 for task in (t() for t in tasks) for s in strategies}
    where = device.resolve(opts.device)
    plan = data_plan(opts.data, opts.test_data, opts.test_rate,
                     cache_dir=Path(opts.cache_dir) if opts.cache_dir else default_cache_dir(),
                     data_root=opts.data_root)
    announce_selection(opts)
    announce_data(plan, [t() for t in tasks])
    results_dir = Path(opts.results_dir)
    writer = ResultWriter(results_dir)
    done = done_keys(results_dir)
    storage = open_storage(opts.storage, results_dir)
    summary = Summary()
    rebuilt_before = len(artefacts.REBUILT)
    try:
        sweep = Sweep(opts, budget, writer, done, Claims(storage), summary, where)
        for task_cls in tasks:
            task = task_cls()
            for strategy_cls in strategies:
                overrides = fixed[task.name, strategy_cls.name]
                for i in range(opts.seeds):
                    for data in plan.choices(task.domains):
                        StudyRun(sweep, task, strategy_cls, overrides, opts.seed + i,
                                 data).run()
    except storage_errors() as exc:
        raise BenchError(f"Optuna storage failed: {type(exc).__name__}: {first_line(exc)}; "
                         f"finished runs are saved: fix the storage and run the same command "
                         f"again to resume") from exc
    summary.artefacts_rebuilt = len(artefacts.REBUILT) - rebuilt_before
    return summary


def best_setting(best: dict[tuple[str, str], dict[str, Any]], task: Task,
                 strategy_cls: type[Strategy], opts: RunOptions) -> dict[str, Any]:
    """The hyperparameters ``--best-from`` gives ``strategy_cls`` on ``task`` (empty where the
    pair does not run); a pair that runs but has no best configuration there is an error."""
    if (task.name, strategy_cls.name) in best:
        return best[(task.name, strategy_cls.name)]
    strategy = strategy_cls()
    if strategy.skip_reason(task) or task.skip_reason(strategy) or not strategy_cls.tunable():
        return {}
    raise BenchError(f"--best-from {opts.best_from} has no final runs of {strategy_cls.name} "
                     f"on {task.name} at the {opts.budget} budget: run that sweep there first, "
                     f"or leave {strategy_cls.name} out of --strategy")


def announce_selection(opts: RunOptions) -> None:
    """Name every plugin module that failed to import, and what each ``all`` leaves out, so
    that nothing drops out of a run silently."""
    for failure in discover():
        print(f"warning: plugin module {failure.module} failed to import and is not loaded: "
              f"{failure.error.splitlines()[0]}", file=sys.stderr, flush=True)
    for kind, spec in (("strategy", opts.strategies), ("task", opts.tasks)):
        notes = registry(kind).left_out_of_all() if spec == "all" else []
        if notes:
            print(f"--{kind} all leaves out {'; '.join(notes)}", flush=True)


def announce_data(plan: DataPlan, tasks: list[Task]) -> None:
    """Say what data each chosen domain reads, and name a flag no selected task reads, so that
    nothing is silently ignored."""
    read = {d for t in tasks for d in t.domains}
    for domain in sorted(plan.domains()):
        if domain not in read:
            print(f"warning: no selected task reads {domain} data: --data/--test-data "
                  f"{domain}=… has no effect", file=sys.stderr, flush=True)
            continue
        train = ", ".join(plan.train.get(domain, (domain,)))
        test = ", ".join(plan.test.get(domain, ("the training data",)))
        print(f"{domain}: training on {train}; testing on {test}"
              + (f" at {plan.test_rate} Hz" if plan.test_rate else ""), flush=True)
    if plan.test_rate and not plan.domains():
        print(f"testing at {plan.test_rate} Hz", flush=True)


def set_threads() -> None:
    """One torch thread unless ``AFX_BENCH_TORCH_THREADS`` says otherwise: on a small shared
    CPU two intra-op threads stall badly, and the DSP renders use their own thread pool."""
    import torch

    torch.set_num_threads(int(os.environ.get("AFX_BENCH_TORCH_THREADS", "1")))


def matrix_cells(budget: Budget) -> list[MatrixCell]:
    """Every (task, strategy) pair a ``--task all --strategy all`` run would execute at
    ``budget``."""
    from bench.gradient import GradientStrategy

    cells = []
    for task_cls in registry("task").classes():
        if getattr(task_cls, "toy", False):
            continue
        task = task_cls()
        for cls in registry("strategy").classes():
            if getattr(cls, "toy", False):
                continue
            strategy = cls()
            if strategy.skip_reason(task) or task.skip_reason(strategy):
                continue
            reuse = bool(task.reuses_model_of)
            tune = 0 if reuse else tuning_trials(cls, task, budget, {})
            gradient = issubclass(cls, GradientStrategy)
            kind = ("search" if not gradient else "reuse" if reuse else
                    "gradient" if task.capabilities.trains_learner else "measure")
            cells.append(MatrixCell(task.name, cls.name, {"tune": tune,
                                                          "final": budget.final_seeds},
                                    kind, task.sized(budget).steps, task.family))
    return cells
