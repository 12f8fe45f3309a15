"""Feedback delay: a damped feedback comb with a C1 fractional read, mixed with the dry signal.

Echo k (k = 1, 2, …) arrives k·time after the input with DC gain feedback^(k-1); a fixed
one-pole low-pass (cutoff DAMPING_HZ, capped at 0.45·sr) in the loop darkens later echoes.
y = (1 - mix)·x + mix·echoes.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from bench.dsp import ops
from bench.dsp._xp import column
from bench.dsp.peq import NYQUIST_CAP
from bench.dsp.spec import DspEffect, Param

DAMPING_HZ = 6000.0


def damping_coefficient(sample_rate: int) -> float:
    """Pole of the in-loop one-pole low-pass at DAMPING_HZ (capped below Nyquist)."""
    return math.exp(-2 * math.pi * min(DAMPING_HZ, NYQUIST_CAP * sample_rate) / sample_rate)


class Delay(DspEffect):
    """Feedback delay with damped repeats: time, feedback, mix (3 params)."""

    name = "delay"
    version = "1"
    neutral = {"mix": 0.0}
    memory_seconds = 1.0  # the longest delay time

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Delay time (s, log), feedback (lin), wet mix (lin)."""
        return (
            Param("time", "s", 0.02, 1.0, 0.25, "log"),
            Param("feedback", "", 0.0, 0.9, 0.35, "lin"),
            Param("mix", "", 0.0, 1.0, 0.3, "lin"),
        )

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Dry/wet mix of the damped feedback comb."""
        damping = damping_coefficient(sample_rate)
        echoes = ops.comb(x, v["time"] * sample_rate, v["feedback"], damping)
        mix = column(v["mix"])
        return (1 - mix) * x + mix * echoes
