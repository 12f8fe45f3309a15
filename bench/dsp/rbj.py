"""RBJ Audio-EQ-Cookbook biquad coefficients, batched, on NumPy arrays or torch tensors.

One formula serves the reference and the differentiable implementations (``xp`` is numpy or
torch); coefficients are returned normalized by a0 as rows ``[b0, b1, b2, a1, a2]``.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

KINDS = ("low_shelf", "peak", "high_shelf", "lowpass")


def biquad(xp: ModuleType, kind: str, gain_db: Any, freq: Any, q: Any, sample_rate: int) -> Any:
    """Coefficients (batch, 5) of one RBJ section of ``kind`` from per-item gain, cutoff and Q."""
    w0 = 2 * math.pi * freq / sample_rate
    cos, alpha = xp.cos(w0), xp.sin(w0) / (2 * q)
    a = 10 ** (gain_db / 40)
    if kind == "peak":
        b = (1 + alpha * a, -2 * cos, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cos, 1 - alpha / a)
    elif kind in ("low_shelf", "high_shelf"):
        s = 1 if kind == "low_shelf" else -1  # the high shelf is the low shelf with cos -> -cos
        root = 2 * xp.sqrt(a) * alpha
        b = (
            a * ((a + 1) - s * (a - 1) * cos + root),
            s * 2 * a * ((a - 1) - s * (a + 1) * cos),
            a * ((a + 1) - s * (a - 1) * cos - root),
        )
        den = (
            (a + 1) + s * (a - 1) * cos + root,
            -s * 2 * ((a - 1) + s * (a + 1) * cos),
            (a + 1) + s * (a - 1) * cos - root,
        )
    elif kind == "lowpass":
        b = ((1 - cos) / 2, 1 - cos, (1 - cos) / 2)
        den = (1 + alpha, -2 * cos, 1 - alpha)
    else:
        raise ValueError(f"unknown biquad kind {kind!r}; known: {', '.join(KINDS)}")
    return xp.stack([b[0], b[1], b[2], den[1], den[2]], axis=-1) / den[0][..., None]
