"""IIR gray-box: parallel cascades of biquads whose coefficients the conditioning sets, run by
the exact differentiable recursion of the reference EQ (:func:`bench.dsp.ops.sos_filter`, Numba
forward and adjoint), after a learned waveshaper for a Hammerstein effect (Nercessian et al.'s
hyper-conditioned differentiable biquads; DDSP components inside a learned model).

Only a filter, or a waveshaper then a filter, so it models the effects that are one
(``Effect.linear``, ``Effect.hammerstein``). The coefficients of each of ``channels`` cascades
of ``sections`` biquads are kept inside the stability triangle (a₁ = 2·tanh(α₁),
a₂ = ((2 − |a₁|)·tanh(α₂) + |a₁|)/2, slightly shrunk), and the cascades' outputs are weighted
and summed. With a
hypernetwork every example gets its own coefficients and weights; with FiLM the cascades are one
shared filter bank and the parameters set each channel's gain (a scale) and offset.
Concatenation only adds a constant to a linear filter's output, so it cannot condition one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.dsp.ops import sos_filter
from strategies._architectures.base import Architecture
from strategies._conditioning.base import attach, conditioning
from strategies._proxy_config import ProxyConfig, ShaperConfig
from strategies._proxy_nets import cond_mlp
from strategies._proxy_shaper import Waveshaper

SECTIONS = 2
"""Biquads per cascade."""
COEFFICIENTS = 5
"""b₀, b₁, b₂, α₁, α₂ per biquad (a₁, a₂ from α through the stability triangle)."""


@dataclass(frozen=True)
class IirConfig:
    """Sizes: ``channels`` parallel cascades of ``sections`` biquads, the embedding width, and
    the waveshaper of a Hammerstein effect (:class:`~strategies._proxy_shaper.Waveshaper`)."""

    channels: int
    sections: int
    cond_dim: int
    shaper: ShaperConfig


MARGIN = 1e-3
"""The stability triangle is shrunk by this much, so that saturated tanh (exactly ±1 in
floating point) still leaves the poles inside the unit circle."""


def stable_sos(raw: torch.Tensor) -> torch.Tensor:
    """Biquad rows [b₀, b₁, b₂, a₁, a₂] (a₀ = 1) from raw rows [b₀, b₁, b₂, α₁, α₂]: every
    (α₁, α₂) gives poles strictly inside the unit circle."""
    a1 = 2 * (1 - MARGIN) * torch.tanh(raw[..., 3])
    a2 = ((2 - a1.abs()) * (1 - MARGIN) * torch.tanh(raw[..., 4]) + a1.abs()) / 2
    return torch.cat([raw[..., :3], a1[..., None], a2[..., None]], -1)


class IirGrayBox(nn.Module):
    """[waveshaper →] Σ_k g_k · cascade_k(x), coefficients and gains conditioned on p."""

    def __init__(self, n_cond: int, cfg: IirConfig, conditioning_name: str,
                 hammerstein: bool) -> None:
        super().__init__()
        k, s = cfg.channels, cfg.sections
        self.channels, self.sections = k, s
        self.cond = cond_mlp(n_cond, cfg.cond_dim)
        self.shaper = Waveshaper(n_cond, cfg.shaper) if hammerstein else None
        raw = 0.05 * torch.randn(k, s, COEFFICIENTS)
        raw[..., 0] += 1.0  # every biquad starts near the identity, so the sum starts near x
        self.coefficients = nn.Parameter(raw.view(k, s * COEFFICIENTS))
        self.gains = nn.Parameter(torch.full((k,), 1.0 / k))
        attach(self, conditioning_name, [self.coefficients.shape, self.gains.shape],
               cfg.cond_dim, 1.0)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The model's output for x (B, N) and parameters c (B, n_cond)."""
        if self.shaper is not None:
            x = self.shaper(x, c)
        bank = conditioning(self).modulate([self.coefficients, self.gains], self.cond(c))
        raw, gains = (w if bank.per_example else w.expand(len(x), *w.shape)
                      for w in bank.weights)
        b, k = len(x), self.channels
        sos = stable_sos(raw.reshape(b * k, self.sections, COEFFICIENTS)).double()
        y = sos_filter(x.repeat_interleave(k, 0), sos).view(b, k, -1) * gains[..., None]
        return bank.apply(y).sum(1)


class Iir(Architecture):
    """The IIR gray-box (linear and Hammerstein effects only)."""

    name = "iir"
    conditionings = ("film", "hyper")
    unsupported_why = ("concatenating the parameters to a linear filter's input only adds a "
                       "constant to its output: it cannot set a filter")

    @classmethod
    def why_not(cls, effect: Any) -> str | None:
        """A gray-box filter models a linear effect or a waveshaper followed by one."""
        if effect.linear or effect.hammerstein:
            return None
        return (f"the iir gray-box is a filter (after a waveshaper for a Hammerstein effect); "
                f"{effect.name!r} is neither linear nor Hammerstein")

    @classmethod
    def config(cls, cfg: ProxyConfig) -> IirConfig:
        """As many cascades as the TCN has channels, its embedding width, the shaper's sizes."""
        return IirConfig(cfg.tcn.channels, SECTIONS, cfg.tcn.cond_dim, cfg.shaper)

    @classmethod
    def build(cls, n_cond: int, cfg: ProxyConfig, effect: Any, sample_rate: int,
              conditioning: str) -> nn.Module:
        """The gray-box, with a waveshaper for a Hammerstein effect."""
        return IirGrayBox(n_cond, cls.config(cfg), conditioning, effect.hammerstein)
