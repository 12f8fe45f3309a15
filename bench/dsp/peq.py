"""Six-band parametric EQ (low shelf, four peaks, high shelf) as in DeepAFx-ST, bugs fixed.

Ranges follow reference/deepafx-st.md §2.1 with one range per band for every implementation
(band 2 starts at 800 Hz) and cutoffs capped below Nyquist for the running sample rate: band 4
and the high shelf reach 0.45·sr (10.8 kHz at 24 kHz, as the reference), every other cutoff
max is min(declared, 0.45·sr).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bench.dsp import ops, rbj
from bench.dsp._xp import namespace
from bench.dsp.spec import DspEffect, Param

NYQUIST_CAP = 0.45
"""Highest cutoff as a fraction of the sample rate."""

BANDS = (  # (parameter prefix, RBJ kind, cutoff min, cutoff max or None = 0.45·sr, default)
    ("low_shelf", "low_shelf", 20.0, 200.0, 100.0),
    ("band1", "peak", 200.0, 2000.0, 400.0),
    ("band2", "peak", 800.0, 4000.0, 1000.0),
    ("band3", "peak", 2000.0, 8000.0, 4000.0),
    ("band4", "peak", 4000.0, None, 8000.0),
    ("high_shelf", "high_shelf", 4000.0, None, 8000.0),
)


def cutoff_param(name: str, lo: float, hi: float | None, default: float, sr: int) -> Param:
    """A log-scale cutoff in Hz whose max is capped at 0.45·sr (None: exactly 0.45·sr)."""
    cap = NYQUIST_CAP * sr
    top = cap if hi is None else min(hi, cap)
    return Param(name, "Hz", lo, top, min(default, top), "log")


class Peq(DspEffect):
    """Six-band RBJ parametric EQ: low shelf, four peaking bands, high shelf (18 params)."""

    name = "peq"
    version = "1"
    chain_selection_rank = 1
    linear = True
    matching_rule = "eq"
    takes_float32 = True

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Gain (dB, lin), cutoff (Hz, log) and Q (log) per band, low shelf first."""
        out: list[Param] = []
        for prefix, _, lo, hi, default in BANDS:
            out += [
                Param(f"{prefix}_gain", "dB", -24.0, 24.0, 0.0, "lin"),
                cutoff_param(f"{prefix}_cutoff", lo, hi, default, sample_rate),
                Param(f"{prefix}_q", "", 0.1, 10.0, 0.707, "log"),
            ]
        return tuple(out)

    def sos(self, xp: ModuleType, v: dict[str, Any], sample_rate: int) -> Any:
        """The cascade's coefficients (batch, 6, 5) from physical values."""
        gain, cutoff, q = (
            xp.stack([v[f"{prefix}_{what}"] for prefix, *_ in BANDS], axis=-1)
            for what in ("gain", "cutoff", "q")
        )
        return rbj.biquads(xp, [kind for _, kind, *_ in BANDS], gain, cutoff, q, sample_rate)

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Filter through the six biquads (exact recursion)."""
        return ops.sos_filter(x, self.sos(xp, v, sample_rate))

    def torch_process(self, x: Any, p: Any, sample_rate: int, method: str = "exact") -> Any:
        """Differentiable EQ; ``method="freqsamp"`` is the approximate DeepAFx-ST FFT option."""
        if method == "exact":
            return super().torch_process(x, p, sample_rate)
        if method != "freqsamp":
            raise ValueError(f"peq: method must be 'exact' or 'freqsamp', not {method!r}")
        signal, v = self.torch_inputs(x, p, sample_rate)
        sos = self.sos(namespace(x), v, sample_rate)
        return ops.sos_filter_freqsamp(signal.to(sos.dtype), sos).to(x.dtype)
