"""How close an estimated gradient is to a reference one, and the finite-difference reference
used where no exact gradient exists (black-box effects).

Gradients are arrays of shape (..., n_params): one row per (point, draw). Every measure is
per row (or per entry) so tasks choose how to aggregate; none needs torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.metrics.checks import MetricError

SIGN_FLOOR = 1e-6
"""An entry of the reference gradient counts for sign agreement only if its magnitude exceeds
this fraction of its row's largest entry: smaller ones are numerically zero, their sign noise."""

FD_STEP = float(np.finfo(np.float32).eps) ** (1 / 3)
"""The finite-difference reference's step in normalized units: the cube root of the renderer's
relative precision (float32: 4.9e-3), which balances a central difference's O(h²) truncation
error against its O(ε/h) rounding error for derivatives of order one (Nocedal & Wright,
*Numerical Optimization*, §8.1). Its own error is estimated at twice this step."""


def _rows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 1 or a.shape[-1] == 0:
        raise MetricError(f"gradients must match in shape, got {a.shape} and {b.shape}")
    return a, b


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with the same row of ``b`` (0 where one of them
    is the zero vector)."""
    a, b = _rows(a, b)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(norms, 1e-30)


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """‖g − g*‖ / ‖g*‖ per row."""
    g, ref = _rows(estimate, reference)
    return np.linalg.norm(g - ref, axis=-1) / np.maximum(np.linalg.norm(ref, axis=-1), 1e-30)


def sign_counts(estimate: np.ndarray, reference: np.ndarray, floor: float = SIGN_FLOOR,
                where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(agreeing, counted) entries per parameter: signs of ``estimate`` equal to those of
    ``reference``, over the entries whose reference is not numerically zero (``floor``) and,
    if given, where the boolean mask ``where`` (same shape) is true."""
    g, ref = _rows(estimate, reference)
    g, ref = g.reshape(-1, g.shape[-1]), ref.reshape(-1, ref.shape[-1])
    counted = np.abs(ref) > floor * np.abs(ref).max(axis=-1, keepdims=True)
    if where is not None:
        counted &= np.asarray(where, dtype=bool).reshape(counted.shape)
    agree = counted & (np.sign(g) == np.sign(ref))
    return agree.sum(0), counted.sum(0)


def bias_variance(draws: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Bias and spread of repeated draws of a gradient estimate, relative to the reference.

    ``draws`` has shape (draws, points, n_params), ``reference`` (points, n_params). Per point,
    the variance is the trace of the draws' covariance and the squared bias ‖mean − g*‖² less
    its expected share of that variance (variance / draws: unbiased), both divided by ‖g*‖², so
    one draw's mean squared relative error there is bias² + variance. ``bias`` and ``std`` are
    the square roots of their medians over points (a point whose reference is nearly zero would
    dominate a mean).
    """
    draws = np.asarray(draws, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    r = len(draws)
    if r < 2 or draws.shape[1:] != ref.shape:
        raise MetricError(f"need at least 2 draws shaped like the reference {ref.shape}, "
                          f"got {draws.shape}")
    scale = np.maximum((ref ** 2).sum(-1), 1e-60)
    mean = draws.mean(0)
    variance = ((draws - mean) ** 2).sum(-1).sum(0) / (r - 1) / scale
    bias_sq = np.maximum(((mean - ref) ** 2).sum(-1) / scale - variance / r, 0.0)
    return {"bias": float(np.sqrt(np.median(bias_sq))),
            "std": float(np.sqrt(np.median(variance))), "draws": r,
            "cosine_of_mean": float(cosine(mean, ref).mean())}


def stencil(p: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of a second-order finite difference of every coordinate of ``p``.

    Returns ``points`` (1 + 2·n, n): ``p`` itself, then two points per coordinate, and
    ``weights`` (n, 1 + 2·n) so that ``weights @ f(points)`` is the gradient. A coordinate at
    least ``h`` from both ends of [0, 1] gets the central difference (f(p + h) − f(p − h)) / 2h;
    one closer to an end the one-sided (−3 f(p) + 4 f(p ± h) − f(p ± 2h)) / (±2h), which stays
    inside [0, 1] and is second-order accurate too.
    """
    p = np.asarray(p, dtype=np.float64)
    n = len(p)
    if not 0 < 2 * h <= 0.5:
        raise ValueError(f"finite-difference step {h} must be in (0, 0.25]")
    points, weights = [p], np.zeros((n, 1 + 2 * n))
    for j in range(n):
        e = np.eye(n)[j]
        if h <= p[j] <= 1 - h:
            points += [p + h * e, p - h * e]
            weights[j, [1 + 2 * j, 2 + 2 * j]] = [1 / (2 * h), -1 / (2 * h)]
        else:
            side = 1.0 if p[j] < h else -1.0
            points += [p + side * h * e, p + side * 2 * h * e]
            weights[j, [0, 1 + 2 * j, 2 + 2 * j]] = np.array([-3, 4, -1]) / (side * 2 * h)
    return np.clip(np.array(points), 0.0, 1.0), weights


def finite_difference(f: Callable[[np.ndarray], np.ndarray], p: np.ndarray,
                      h: float = FD_STEP) -> np.ndarray:
    """The gradient of the scalar function ``f`` at ``p`` (n,) by :func:`stencil`; ``f`` maps
    points (m, n) to values (m,) and is called once, with 1 + 2·n points."""
    points, weights = stencil(p, h)
    return weights @ np.asarray(f(points), dtype=np.float64)
