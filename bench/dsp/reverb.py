"""Deterministic noise reverb: seeded two-band noise under exponential decays, by FFT convolution.

IR h[n] = onset(τ) · (low[n]·e^(-κτ/T) + high[n]·e^(-κτ/T_high)) · norm, with τ = n/sr - pre_delay,
κ = 3·ln 10 (60 dB per decay time T), T_high = T / (1 + 9·damping) and a raised-cosine onset of
ONSET_S seconds (continuously differentiable in the pre-delay). ``low``/``high`` are a fixed
complementary split (at CROSSOVER_HZ) of white noise from a fixed seed, so the IR is a smooth
function of the parameters and the convolution is exact (FFT of length >= N + L - 1).
"""

from __future__ import annotations

import functools
import math
from types import ModuleType
from typing import Any

import numpy as np

from bench.dsp import ops
from bench.dsp._xp import column, constant, is_tensor
from bench.dsp.spec import DspEffect, Param

SEED = 0
KAPPA = 3 * math.log(10.0)
ONSET_S = 0.002
CROSSOVER_HZ = 3000.0


@functools.lru_cache(maxsize=8)
def noise_bands(sample_rate: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded white noise split into complementary low/high bands (read-only arrays)."""
    noise = np.random.default_rng(SEED).standard_normal(length)
    freqs = np.fft.rfftfreq(length, 1 / sample_rate)
    low = np.fft.irfft(np.fft.rfft(noise) / (1 + (freqs / CROSSOVER_HZ) ** 4), n=length)
    bands = (low, noise - low)
    for band in bands:
        band.flags.writeable = False
    return bands


class Reverb(DspEffect):
    """Seeded noise reverb: decay time, damping, pre-delay, mix (4 params)."""

    name = "reverb"
    version = "1"
    neutral = {"mix": 0.0}
    memory_seconds = 4.2  # the longest tail

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Decay time T60 (s, log), high-band damping (lin), pre-delay (s, log), wet mix (lin)."""
        return (
            Param("decay", "s", 0.1, 4.0, 1.0, "log"),
            Param("damping", "", 0.0, 1.0, 0.5, "lin"),
            Param("pre_delay", "s", 1e-3, 0.1, 0.01, "log"),
            Param("mix", "", 0.0, 1.0, 0.25, "lin"),
        )

    @classmethod
    def ir_length(cls, sample_rate: int) -> int:
        """Samples needed for the longest IR: max pre-delay + onset + max decay time."""
        decay, _, pre_delay, _ = cls.params(sample_rate)
        return math.ceil(sample_rate * (pre_delay.max + ONSET_S + decay.max))

    def impulse_response(self, xp: ModuleType, v: dict[str, Any], sample_rate: int, n: int) -> Any:
        """The first min(n, ir_length) IR samples per batch item, shape (batch, length)."""
        length = min(n, self.ir_length(sample_rate))
        low, high = noise_bands(sample_rate, self.ir_length(sample_rate))
        t = np.arange(length) / sample_rate
        if is_tensor(v["decay"]):
            low, high, t = (constant(xp, a[:length].copy(), v["decay"]) for a in (low, high, t))
        else:
            low, high = low[:length], high[:length]
        decay = column(v["decay"])
        tau = t - column(v["pre_delay"])
        onset = 0.5 - 0.5 * xp.cos(math.pi * xp.clip(tau / ONSET_S, min=0.0, max=1.0))
        late = xp.clip(tau, min=0.0)
        bright_decay = decay / (1 + 9 * column(v["damping"]))
        tail = low * xp.exp(-KAPPA * late / decay) + high * xp.exp(-KAPPA * late / bright_decay)
        return onset * tail * xp.sqrt(2 * KAPPA / (sample_rate * decay))

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Dry/wet mix of the input convolved with its IR."""
        wet = ops.fft_convolve(xp, x, self.impulse_response(xp, v, sample_rate, x.shape[-1]))
        mix = column(v["mix"])
        return (1 - mix) * x + mix * wet
