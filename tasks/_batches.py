"""Training batches for the learners: one fixed set, or fresh examples every step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from bench.budgets import Budget

E = TypeVar("E")


def training_batches(make: Callable[[int, int | None], E], size: Callable[[E], int],
                     budget: Budget, rng: np.random.Generator
                     ) -> Callable[[int], tuple[E, np.ndarray]]:
    """``step -> (examples, rows)`` for the shared training loop.

    ``make(n, draw)`` builds ``n`` training examples; ``draw`` is None for the fixed set and the
    step number for a fresh batch. With ``budget.fresh_examples`` every step gets its own newly
    drawn batch (new excerpts and chain settings), so longer training cannot overfit a fixed set;
    otherwise the set of ``budget.train_examples`` is built once (now) and every step takes
    random rows of it.
    """
    if budget.fresh_examples:
        rows = np.arange(budget.batch_size)
        return lambda step: (make(budget.batch_size, step), rows)
    fixed = make(budget.train_examples, None)
    n = size(fixed)
    return lambda step: (fixed, rng.choice(n, size=min(budget.batch_size, n), replace=False))
