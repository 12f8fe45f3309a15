"""Memoryless tanh distortion followed by a tone low-pass and an output gain.

y = 10^(out/20) · lowpass_tone(tanh(10^(drive/20) · x)); the tone filter is an RBJ low-pass
(Q = 1/√2) run by the same exact biquad kernel as the EQ, its cutoff capped at 0.45·sr.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from bench.dsp import ops, rbj
from bench.dsp._xp import column
from bench.dsp.peq import cutoff_param
from bench.dsp.spec import DspEffect, Param

BUTTERWORTH_Q = 1 / math.sqrt(2)


class Distortion(DspEffect):
    """tanh waveshaper with drive, a low-pass tone control and output gain (3 params)."""

    name = "distortion"
    version = "1"
    chain_selection_rank = 3
    neutral = {"drive": 0.0, "output_gain": 0.0}
    memory_seconds = 0.02  # memoryless waveshaper; the tone filter rings briefly
    analytic_gain = "output_gain"
    hammerstein = True  # tanh is memoryless, odd and sign-preserving; then the LTI tone filter

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Drive (dB), tone cutoff (Hz, log, capped below Nyquist), output gain (dB)."""
        return (
            Param("drive", "dB", 0.0, 40.0, 12.0, "lin"),
            cutoff_param("tone", 500.0, 16000.0, 6000.0, sample_rate),
            Param("output_gain", "dB", -40.0, 12.0, -6.0, "lin"),
        )

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Shape, filter, scale."""
        shaped = xp.tanh(10 ** (column(v["drive"]) / 20) * x)
        sos = rbj.biquads(xp, ["lowpass"], 0.0, column(v["tone"]), BUTTERWORTH_Q, sample_rate)
        return 10 ** (column(v["output_gain"]) / 20) * ops.sos_filter(shaped, sos)
