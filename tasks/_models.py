"""Learners the tasks train through a strategy: a log-mel CNN encoder, the style controller and
the blind-estimation analysis network. Small on purpose: the benchmark runs on a 2-core CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from bench.metrics.spectral import mel_filterbank

N_MELS = 64


def start_at(linear: nn.Linear, init: Sequence[float] | None) -> None:
    """Make a sigmoid head start near ``init`` (the chain's neutral setting, ``Chain.neutral``)
    instead of 0.5 everywhere, so training starts from sensible processing."""
    if init is None:
        return
    p = torch.as_tensor(init, dtype=torch.float32).clamp(0.02, 0.98)
    with torch.no_grad():
        linear.weight.mul_(0.01)
        linear.bias.copy_(torch.log(p / (1 - p)))


class LogMel(nn.Module):
    """Log-mel spectrogram (n_mels × frames) of (batch, samples) audio."""

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop: int = 256,
                 n_mels: int = N_MELS) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        fb = torch.as_tensor(mel_filterbank(sample_rate, n_fft, n_mels), dtype=torch.float32)
        self.register_buffer("fb", fb, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, n_mels, frames), natural-log magnitudes."""
        spec = torch.stft(x.float(), self.n_fft, self.hop, window=self.window,
                          return_complex=True).abs()
        return torch.log(self.fb @ spec + 1e-5)


class Encoder(nn.Module):
    """Log-mel → 4 strided conv blocks → mean and std pooling, concatenated with the clip's
    mean log-mel spectrum (absolute level and spectral balance, which the conv blocks' group
    normalization would otherwise remove) → ``dim``-d embedding."""

    def __init__(self, sample_rate: int, dim: int = 128, width: int = 32) -> None:
        super().__init__()
        self.frontend = LogMel(sample_rate)
        layers: list[nn.Module] = []
        channels = [1, width // 2, width, width * 2, width * 2]
        for c_in, c_out in itertools.pairwise(channels):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                       nn.GroupNorm(4, c_out), nn.GELU()]
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(2 * channels[-1] + N_MELS, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) → (batch, dim)."""
        mel = self.frontend(x)
        h = self.convs(mel[:, None]).flatten(2)
        return self.proj(torch.cat([h.mean(-1), h.std(-1), mel.mean(-1) / 10], dim=1))


class StyleModel(nn.Module):
    """DeepAFx-ST's learner: shared encoder for input and reference, MLP controller → p ∈ (0,1)."""

    def __init__(self, sample_rate: int, n_params: int, dim: int = 128, hidden: int = 256,
                 init: Sequence[float] | None = None) -> None:
        super().__init__()
        self.encoder = Encoder(sample_rate, dim)
        self.controller = nn.Sequential(
            nn.Linear(2 * dim, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.01), nn.Linear(hidden, n_params), nn.Sigmoid())
        start_at(self.controller[-2], init)

    def forward(self, x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Normalized parameters that should make x sound like the reference's production."""
        return self.controller(torch.cat([self.encoder(x), self.encoder(reference)], dim=1))


class AnalysisModel(nn.Module):
    """Blind estimation: sees only the wet signal and predicts the chain's parameters."""

    def __init__(self, sample_rate: int, n_params: int, dim: int = 128, hidden: int = 256,
                 init: Sequence[float] | None = None) -> None:
        super().__init__()
        self.encoder = Encoder(sample_rate, dim)
        self.head = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.01),
                                  nn.Linear(hidden, n_params), nn.Sigmoid())
        start_at(self.head[-2], init)

    def forward(self, wet: torch.Tensor) -> torch.Tensor:
        """Normalized parameter estimates (batch, n_params)."""
        return self.head(self.encoder(wet))


class MultipleChoiceModel(nn.Module):
    """One parameter head per candidate chain plus a selector over the heads (wet input only)."""

    def __init__(self, sample_rate: int, head_sizes: list[int], dim: int = 128,
                 hidden: int = 256, inits: Sequence[Sequence[float]] | None = None) -> None:
        super().__init__()
        self.encoder = Encoder(sample_rate, dim)
        self.trunk = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.01))
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(hidden, n), nn.Sigmoid())
                                   for n in head_sizes)
        for head, init in zip(self.heads, inits or [None] * len(head_sizes), strict=True):
            start_at(head[0], init)
        self.selector = nn.Linear(hidden, len(head_sizes))

    def forward(self, wet: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(per-head normalized parameters, selector logits)."""
        h = self.trunk(self.encoder(wet))
        return [head(h) for head in self.heads], self.selector(h)
