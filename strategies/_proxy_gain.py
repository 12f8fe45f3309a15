"""Gain-computer proxy for dynamics effects: ``y = x · 10^(g(t)/20)``.

A compressor only ever multiplies its input by a slowly varying gain. This proxy keeps that
structure and learns the rest: a causal conditional TCN (:class:`ConditionalTcn`) runs at the
frame rate on the input's frame levels in dB and predicts the gain in dB per frame, linearly
interpolated to the sample rate. It costs a few percent of the sample-rate TCN (one frame per
``hop`` samples), and it cannot add or remove anything but level, so its loudness follows the
effect's by construction. The interpolation looks at most half a frame ahead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from strategies._proxy_config import GainConfig, TcnConfig
from strategies._proxy_nets import ConditionalTcn, matched_dilations

LEVEL_SCALE_DB = 20.0
"""Frame levels and gains are divided by this on the way into the TCN and multiplied back on the
way out, so the network works on values of order one."""


class GainComputer(nn.Module):
    """Frame levels (dB) → causal conditional TCN → gain (dB) per frame → ``x · gain``."""

    def __init__(self, n_cond: int, cfg: GainConfig, sample_rate: int,
                 memory_seconds: float) -> None:
        super().__init__()
        self.hop = max(1, round(cfg.hop_seconds * sample_rate))
        frames = math.ceil(memory_seconds * sample_rate / self.hop)
        tcn = TcnConfig(cfg.channels, cfg.kernel, cfg.blocks, cfg.growth, cfg.cond_dim)
        self.tcn = ConditionalTcn(n_cond, tcn, matched_dilations(cfg.kernel, cfg.blocks,
                                                                 cfg.growth, frames))

    def levels(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-square level of each ``hop``-sample frame in dB (B, frames); the last frame is
        zero-padded."""
        n_frames = -(-x.shape[-1] // self.hop)
        padded = F.pad(x, (0, n_frames * self.hop - x.shape[-1]))
        power = padded.view(len(x), n_frames, self.hop).square().mean(-1)
        return 10 * torch.log10(power + 1e-10)

    def gain_db(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The gain in dB the proxy applies at every sample (B, N)."""
        level = self.levels(x) / LEVEL_SCALE_DB
        frames = (self.tcn(level, c) - level) * LEVEL_SCALE_DB  # the TCN's learned correction
        return F.interpolate(frames[:, None], scale_factor=self.hop, mode="linear",
                             align_corners=False)[:, 0, : x.shape[-1]]

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """y = x · 10^(g/20) for x (B, N) and conditioning parameters c (B, P)."""
        return x * torch.pow(10.0, self.gain_db(x, c) / 20)
