"""Input checks shared by the metrics: every invalid input raises MetricError with one line."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


class MetricError(ValueError):
    """A metric cannot be computed for these inputs; ``safe_metric`` records it as failed."""


def audio_batch(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a finite float64 array of shape (batch, samples); (samples,) becomes batch 1."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise MetricError(f"{name} must have shape (samples,) or (batch, samples), got {a.shape}")
    if not np.isfinite(a).all():
        raise MetricError(f"{name} contains NaN or inf")
    return a


def audio_pair(estimate: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Checked (batch, samples) arrays of an estimate and its target, which must match in shape."""
    est, tgt = audio_batch(estimate, "estimate"), audio_batch(target, "target")
    if est.shape != tgt.shape:
        raise MetricError(f"estimate shape {est.shape} differs from target shape {tgt.shape}")
    return est, tgt


def checked_rate(sr: int, what: str, minimum: int = 1) -> int:
    """``sr`` as an integer rate of at least ``minimum`` Hz, which ``what`` needs."""
    if int(sr) != sr or sr < minimum:
        raise MetricError(f"{what} needs an integer sample rate >= {minimum} Hz, got {sr}")
    return int(sr)


def not_silent(x: np.ndarray, name: str, metric: str) -> None:
    """Raise when a row of ``x`` is all zeros, for metrics undefined on digital silence."""
    silent = np.flatnonzero(~x.any(axis=-1))
    if silent.size:
        raise MetricError(f"{metric} undefined: {name} example {silent[0]} is silent")
