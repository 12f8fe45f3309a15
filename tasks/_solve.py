"""The one dispatch every single-chain task uses: learn-and-predict, or search per example."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.base import RunContext, Strategy
from bench.gradient import GradientStrategy
from bench.parallel import render
from bench.search import SearchProblem, SearchStrategy


def estimate(strategy: Strategy, ctx: RunContext, chain: Any, x: np.ndarray,
             trained: Callable[[], tuple[Any, Any]], predict: Callable[[Any], np.ndarray],
             problem: Callable[[], SearchProblem]) -> tuple[np.ndarray, np.ndarray]:
    """(parameters, rendered output) for the rows of ``x``.

    A gradient strategy gets its learner from ``trained()`` (timed by the task) and renders
    ``predict(model)`` with its inference renderer; a search strategy solves ``problem()``
    and the reference DSP renders the result.
    """
    sr = ctx.budget.sample_rate
    if isinstance(strategy, GradientStrategy):
        model, layer = trained()
        with ctx.timed("solve"):
            p = predict(model)
            return p, strategy.render(layer, chain, x, p, sr, ctx)
    if isinstance(strategy, SearchStrategy):
        with ctx.timed("solve"):
            p = strategy.solve(problem(), ctx)
            ctx.counters.dsp_evals += len(x)
            return p, render(chain, x, p, sr)
    raise TypeError(f"{strategy.name} is neither a gradient nor a search strategy")
