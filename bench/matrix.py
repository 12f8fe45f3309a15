"""The matrix a ``--task all --strategy all`` run executes: which cells, how many runs."""

from __future__ import annotations

from dataclasses import dataclass

from bench.budgets import Budget


@dataclass(frozen=True)
class MatrixCell:
    """One (task, strategy) pair of the matrix and the work it asks for."""

    task: str
    strategy: str
    runs: dict[str, int]  # phase ("tune", "final") -> number of runs
    kind: str             # "gradient" (trains through the strategy), "search" or "reuse"
    steps: int            # most training steps per run at the budget, as the task sizes it


def matrix_cells(budget: Budget) -> list[MatrixCell]:
    """Every (task, strategy) pair a ``--task all --strategy all`` run would execute at
    ``budget``."""
    from bench.base import Strategy
    from bench.gradient import GradientStrategy
    from bench.registry import registry

    cells = []
    for task_cls in registry("task").classes():
        task = task_cls()
        if getattr(task_cls, "toy", False):
            continue
        for cls in registry("strategy").classes():
            if getattr(cls, "toy", False):
                continue
            strategy = cls()
            if strategy.skip_reason(task) or task.skip_reason(strategy):
                continue
            tunable = cls.search_space.__func__ is not Strategy.search_space.__func__
            reuse = bool(task.tuned_by)
            tune = 0 if reuse else (budget.trials if tunable else 1)
            gradient = issubclass(cls, GradientStrategy)
            kind = "reuse" if reuse and gradient else "gradient" if gradient else "search"
            cells.append(MatrixCell(task.name, cls.name, {"tune": tune,
                                                          "final": budget.final_seeds},
                                    kind, task.sized(budget).steps))
    return cells
