"""RBJ Audio-EQ-Cookbook biquad coefficients, batched, on NumPy arrays or torch tensors.

One formula serves the reference and the differentiable implementations (``xp`` is numpy or
torch); coefficients are returned normalized by a0 as rows ``[b0, b1, b2, a1, a2]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from bench.dsp._xp import constant

KINDS = ("low_shelf", "peak", "high_shelf", "lowpass")


def biquads(xp: ModuleType, kinds: Sequence[str], gain_db: Any, freq: Any, q: Any,
            sample_rate: int) -> Any:
    """Coefficients (batch, K, 5) of K sections, section k of type kinds[k].

    gain_db, freq and q are (batch, K) (or broadcast to it); each distinct kind's formula is
    evaluated on the whole array and selected per section, which keeps the torch graph small.
    """
    w0 = 2 * math.pi * freq / sample_rate
    cos, alpha = xp.cos(w0), xp.sin(w0) / (2 * q)
    a = 10 ** (gain_db / 40)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown biquad kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    # The high shelf is the low shelf with cos -> -cos: one shelf formula with a sign per section.
    sign = constant(xp, [-1.0 if k == "high_shelf" else 1.0 for k in kinds], w0, xp.float64)
    family = ["shelf" if k.endswith("_shelf") else k for k in kinds]
    out = None
    for name in dict.fromkeys(family):
        coeffs = _formula(xp, name, a, cos, alpha, sign)
        if out is None:
            out = coeffs
        else:
            mask = constant(xp, [f == name for f in family], w0)
            out = xp.where(mask[:, None], coeffs, out)
    return out


def _formula(xp: ModuleType, family: str, a: Any, cos: Any, alpha: Any, s: Any) -> Any:
    if family == "peak":
        b = (1 + alpha * a, -2 * cos, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cos, 1 - alpha / a)
    elif family == "shelf":
        root = 2 * xp.sqrt(a) * alpha
        sc = s * cos
        b = (
            a * ((a + 1) - (a - 1) * sc + root),
            s * 2 * a * ((a - 1) - (a + 1) * sc),
            a * ((a + 1) - (a - 1) * sc - root),
        )
        den = ((a + 1) + (a - 1) * sc + root, -s * 2 * ((a - 1) + (a + 1) * sc),
               (a + 1) + (a - 1) * sc - root)
    else:  # lowpass
        b = ((1 - cos) / 2, 1 - cos, (1 - cos) / 2)
        den = (1 + alpha, -2 * cos, 1 - alpha)
    return xp.stack([b[0], b[1], b[2], den[1], den[2]], axis=-1) / den[0][..., None]
