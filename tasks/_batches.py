"""Training batches for the learners (one fixed set, or fresh examples every step) and the size
of the fixed validation set they stop on."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from bench.budgets import Budget

E = TypeVar("E")

VALIDATION_EXAMPLES = 32
"""Most examples of the fixed validation set that early stopping and the pruner read. With 8, a
standard run's validation noise stopped one final seed at step 800 with its best at step 200
(autodiff, synthetic_speech: test MR-STFT 1.30) while another seed improved until step 2600
(1.22)."""


def validation_size(budget: Budget) -> int:
    """Examples in the validation set of a learner trained at ``budget``."""
    return min(budget.eval_examples, VALIDATION_EXAMPLES)


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
