"""One cell of the matrix a ``--task all --strategy all`` run executes, and its work."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MatrixCell:
    """One (task, strategy) pair of the matrix and the work it asks for."""

    task: str
    strategy: str
    runs: dict[str, int]  # phase ("tune", "final") -> number of runs
    kind: str             # "gradient" (trains through the strategy), "search", "reuse" or
    #                       "measure" (a gradient strategy measured, nothing trained)
    steps: int            # most training steps per run at the budget, as the task sizes it
    family: str = ""      # the task's family (style, blind, gradient, modeling …)
