"""How the reports write numbers: three significant digits, positional for ordinary magnitudes
(exponents only below 0.001 or from 100000 on), so tables read without ``5.429e-06`` noise."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

SIGNIFICANT = 3
POSITIONAL = (1e-3, 1e5)  # |x| in [low, high): written without an exponent


def number(x: float, digits: int = SIGNIFICANT) -> str:
    """``x`` rounded to ``digits`` significant digits, trailing zeros dropped; "" for NaN."""
    if math.isnan(x):
        return ""
    if x == 0:
        return "0"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    rounded = float(f"{x:.{digits - 1}e}")
    if not POSITIONAL[0] <= abs(rounded) < POSITIONAL[1]:
        return f"{rounded:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell(x: Any) -> str:
    """A table entry: ``number(x)``, or "—" when ``x`` is missing or not a finite number."""
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        return "—"
    return number(x)


def finite_mean(values: Iterable[Any]) -> float:
    """The mean of the finite numbers among ``values`` (NaN when there are none)."""
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan
