"""Feed-forward soft-knee compressor with attack AND release ballistics (DeepAFx-ST, fixed).

Level detection is per sample, L = max(20·log10(|x| + 1e-8), -96) dB as in the DeepAFx-ST DSP
compressor, but with the textbook (Giannoulis et al. 2012) knee, which is continuous with
continuous slope, and the release time honoured by both implementations. The gain reduction
L - curve(L) is smoothed by a one-pole whose coefficient switches between attack (reduction
rising) and release (falling); coefficients exp(-ln 9 / (t·sr)) make t the 10–90 % time.

Static curve: curve(L) = L below the knee, T + (L - T)/R above it, and inside (|L - T| < W/2)
the quadratic L + (1/R - 1)(L - T + W/2)^2 / (2W); with W = 0 the knee vanishes. The whole
effect is one op (:func:`bench.dsp.ops.compress`) with an exact fused adjoint.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from bench.dsp import ops
from bench.dsp.spec import DspEffect, Param

FLOOR_DB = -96.0
EPS = 1e-8
LN9 = math.log(9.0)


def coefficient(xp: ModuleType, seconds: Any, sample_rate: int) -> Any:
    """One-pole coefficient whose step response has a 10–90 % time of ``seconds``."""
    return xp.exp(-LN9 / (seconds * sample_rate))


class Compressor(DspEffect):
    """Feed-forward soft-knee compressor with attack/release ballistics (6 params)."""

    name = "compressor"
    version = "1"
    chain_selection_rank = 2
    neutral = {"threshold": 0.0, "ratio": 1.0}
    memory_seconds = 0.3  # DeepAFx-ST's compressor proxy (292.5 ms)
    analytic_gain = "makeup"
    dynamics = True
    matching_rule = "dynamics"
    takes_float32 = True

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

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Level detection, static curve, ballistics and makeup gain in one op."""
        params = xp.stack([v["threshold"], v["ratio"], v["knee"],
                           coefficient(xp, v["attack"], sample_rate),
                           coefficient(xp, v["release"], sample_rate), v["makeup"]], axis=-1)
        return ops.compress(x, params, FLOOR_DB, EPS)
