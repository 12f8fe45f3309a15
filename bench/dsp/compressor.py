"""Feed-forward soft-knee compressor with attack AND release ballistics (DeepAFx-ST, fixed).

Level detection is per sample, L = max(20·log10(|x| + 1e-8), -96) dB as in the DeepAFx-ST DSP
compressor, but with the textbook (Giannoulis et al. 2012) knee, which is continuous with
continuous slope, and the release time honoured by both implementations. The gain reduction
L - curve(L) is smoothed by a one-pole whose coefficient switches between attack (reduction
rising) and release (falling); coefficients exp(-ln 9 / (t·sr)) make t the 10–90 % time.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from bench.dsp import ops
from bench.dsp._xp import column
from bench.dsp.spec import DspEffect, Param

FLOOR_DB = -96.0
EPS = 1e-8
LN9 = math.log(9.0)


def reduction_db(xp: ModuleType, level: Any, threshold: Any, ratio: Any, knee: Any) -> Any:
    """Static gain reduction (dB, >= 0) = level - curve(level) of the soft-knee curve.

    curve(L) = L below the knee, T + (L - T)/R above it, and inside (|L - T| < W/2) the
    quadratic L + (1/R - 1)(L - T + W/2)^2 / (2W); with W = 0 the knee vanishes.
    """
    over = level - threshold
    in_knee = 2 * xp.abs(over) < knee
    knee_part = (over + knee / 2) ** 2 / (2 * xp.where(knee > 0, knee, 1.0))
    return (1 - 1 / ratio) * xp.where(in_knee, knee_part, xp.clip(over, min=0.0))


def coefficient(xp: ModuleType, seconds: Any, sample_rate: int) -> Any:
    """One-pole coefficient whose step response has a 10–90 % time of ``seconds``."""
    return xp.exp(-LN9 / (seconds * sample_rate))


class Compressor(DspEffect):
    """Feed-forward soft-knee compressor with attack/release ballistics (6 params)."""

    name = "compressor"
    version = "1"

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Threshold, ratio, attack, release, knee, makeup (ranges of DeepAFx-ST §2.2)."""
        return (
            Param("threshold", "dB", -80.0, 0.0, -12.0, "lin"),
            Param("ratio", ":1", 1.0, 20.0, 2.0, "lin"),
            Param("attack", "s", 1e-4, 0.1, 1e-3, "log"),
            Param("release", "s", 5e-3, 1.0, 0.045, "log"),
            Param("knee", "dB", 0.0, 12.0, 6.0, "lin"),
            Param("makeup", "dB", -48.0, 48.0, 0.0, "lin"),
        )

    def gain_reduction(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Smoothed gain reduction in dB (>= 0), shape (batch, samples)."""
        level = xp.clip(20 * xp.log10(xp.abs(x) + EPS), min=FLOOR_DB)
        static = reduction_db(xp, level, column(v["threshold"]), column(v["ratio"]),
                              column(v["knee"]))
        attack = coefficient(xp, v["attack"], sample_rate)
        release = coefficient(xp, v["release"], sample_rate)
        return ops.smooth(static, attack, release)

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Apply the smoothed gain reduction and the makeup gain."""
        reduction = self.gain_reduction(xp, x, v, sample_rate)
        return x * 10 ** ((column(v["makeup"]) - reduction) / 20)
