"""Metrics of estimated effect parameters and chains (blind and chain-identification tasks)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike

from bench.metrics.checks import MetricError

Chain = Sequence[str]


def param_mae(
    predicted: ArrayLike, true: ArrayLike, segments: Sequence[tuple[str, int]]
) -> dict[str, float]:
    """Mean absolute error of normalized ([0, 1]) parameters per effect.

    ``predicted`` and ``true`` have shape (n_params,) or (batch, n_params); ``segments`` lists
    (effect name, number of its parameters) in vector order and must cover it exactly.
    """
    p = np.atleast_2d(np.asarray(predicted, dtype=np.float64))
    t = np.atleast_2d(np.asarray(true, dtype=np.float64))
    if p.ndim != 2 or p.shape != t.shape or p.size == 0:
        raise MetricError(f"parameter arrays must match in shape, got {p.shape} and {t.shape}")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise MetricError("parameters contain NaN or inf")
    if t.min() < 0 or t.max() > 1:
        raise MetricError("true parameters must be normalized to [0, 1]")
    names = [name for name, _ in segments]
    if len(set(names)) != len(names):
        raise MetricError(f"effect names in segments must be unique, got {names}")
    sizes = [n for _, n in segments]
    if min(sizes, default=0) < 1 or sum(sizes) != p.shape[1]:
        raise MetricError(f"segment sizes {sizes} do not cover {p.shape[1]} parameters")
    bounds = np.cumsum([0, *sizes])
    err = np.abs(p - t)
    return {
        name: float(err[:, lo:hi].mean())
        for name, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True)
    }


def _checked_chains(predicted: Sequence[Chain], true: Sequence[Chain]) -> None:
    """Raise unless there are equally many (>0) chains, each without a repeated effect."""
    if len(predicted) != len(true) or not true:
        raise MetricError(f"need equally many chains, got {len(predicted)} and {len(true)}")
    for chain in (*predicted, *true):
        if len(set(chain)) != len(chain):
            raise MetricError(f"chain {list(chain)} repeats an effect")


def exact_chain_accuracy(predicted: Sequence[Chain], true: Sequence[Chain]) -> float:
    """Fraction of examples whose predicted ordered chain equals the true one."""
    _checked_chains(predicted, true)
    return float(np.mean([list(p) == list(t) for p, t in zip(predicted, true, strict=True)]))


def effect_set_f1(predicted: Sequence[Chain], true: Sequence[Chain]) -> float:
    """F1 between predicted and true effect sets, 2|P∩T| / (|P|+|T|), averaged over examples.

    Two empty sets agree perfectly (1.0).
    """
    _checked_chains(predicted, true)
    scores = [
        2 * len(set(p) & set(t)) / (len(p) + len(t)) if p or t else 1.0
        for p, t in zip(predicted, true, strict=True)
    ]
    return float(np.mean(scores))


def order_accuracy(predicted: Sequence[Chain], true: Sequence[Chain]) -> float:
    """Fraction of effect pairs, over all examples, whose true relative order is predicted.

    Only pairs of effects present in both chains count (missing or extra effects are
    effect-set F1's business), pooled over the batch so every pair weighs the same. With no
    such pair in the whole batch the order is unobserved and the metric raises.
    """
    _checked_chains(predicted, true)
    kept = total = 0
    for p, t in zip(predicted, true, strict=True):
        where = {name: i for i, name in enumerate(p)}
        shared = [name for name in t if name in where]
        for a, b in combinations(shared, 2):  # a precedes b in the true chain
            total += 1
            kept += where[a] < where[b]
    if total == 0:
        raise MetricError("order accuracy undefined: no example shares two effects with its truth")
    return kept / total
