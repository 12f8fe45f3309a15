"""Gradient-free strategies and the per-example search problem tasks hand them."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from bench.base import Counters, RunContext, Solver, Strategy, Task
from bench.budgets import Budget

if TYPE_CHECKING:
    from bench.dsp import Chain

T = TypeVar("T")

PROGRESS = 100
"""A search reports its progress to the tuner in percent of its evaluation budget, whatever
the task, so one Hyperband pruner compares its trials at equal effort."""


def report_progress(ctx: RunContext, done: float, value: float) -> None:
    """Tell the tuner ``value`` (lower is better) after a fraction ``done`` of the search."""
    ctx.intermediate(max(1, round(PROGRESS * done)), value)


@dataclass
class SearchProblem:
    """Estimate chain parameters for each example by rendering ``x[i]`` and scoring the result.

    ``score(y, idx)`` returns one loss per rendered row (lower is better) against example
    ``idx``'s target — the style reference, or the wet signal in blind estimation.
    ``reference`` is the style reference audio when the task has one (rule-based DSP needs it).
    """

    chain: Chain
    sample_rate: int
    x: np.ndarray
    score: Callable[[np.ndarray, np.ndarray], np.ndarray]
    counters: Counters
    reference: np.ndarray | None = None

    @property
    def n_params(self) -> int:
        """Length of the chain's normalized parameter vector."""
        return self.chain.n_params

    def loss(self, idx: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Render ``x[idx]`` with ``p`` (rows aligned) on all threads and score each row."""
        idx = np.asarray(idx)
        y = self.counters.render(self.chain, self.x[idx], np.clip(p, 0.0, 1.0), self.sample_rate)
        return np.asarray(self.score(y, idx), dtype=np.float64)


class SearchStrategy(Strategy):
    """A strategy that needs no gradient: it maps a search problem to parameters directly."""

    tuning_fidelity = "examples"

    @classmethod
    def pruning_resource(cls, budget: Budget) -> tuple[int, int]:
        """Percent of the evaluation budget (:func:`report_progress`); the first rung at 1/27
        of it, so a search gets as many rungs as a learner."""
        return PROGRESS // 27, PROGRESS

    def skip_reason(self, task: Task) -> str | None:
        """A search has no gradient to measure, no model of the effect and trains no encoder
        to probe, so tasks that measure gradients or models or probe an encoder are out."""
        if task.capabilities.measures_gradients:
            return (f"{self.name} is a gradient-free search: it supplies no gradient to "
                    "measure")
        if task.capabilities.models_effect:
            return (f"{self.name} is a gradient-free search through the reference DSP: it has "
                    "no model of the effect to measure")
        if task.capabilities.probes_encoder:
            return f"{self.name} trains no encoder to probe"
        return None

    def accept(self, solver: Solver[T]) -> T:
        """A search strategy solves the task's per-example problem: ``solver.searched``."""
        return solver.searched(self)

    @abstractmethod
    def solve(self, problem: SearchProblem, ctx: RunContext) -> np.ndarray:
        """Normalized parameters (examples, n_params) for the examples of ``problem``."""
