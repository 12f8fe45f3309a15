"""Summary statistics for reports: mean and Student-t 95% confidence half-width."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% CI); the half-width is NaN for fewer than two values."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan
    from scipy.stats import t

    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, float(t.ppf(0.975, n - 1)) * math.sqrt(var / n)
