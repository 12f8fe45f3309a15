"""Filter hypernetwork proxy ``(x (B, N), c (B, P)) -> y (B, N)`` for linear time-invariant
effects: MLPs map the parameters to a log-magnitude response, a minimum-phase FIR is built
from it through the real cepstrum, and the input is filtered by FFT convolution.

Structural prior (declared, not learned): the effect is LTI, minimum phase and a cascade of
sections whose parameters share a name prefix, so the proxy output is exactly linear in x, a
fixed causal FIR of ``taps`` samples per parameter setting, and its log-magnitude a sum of one
term per section. Everything else — which response each section's parameters give — is learned
from (input, DSP output) pairs like the other proxies. The conditional TCN has to learn the
same map through FiLM of its activations, which it does not manage for the EQ (see
``EffectProxy``); here the networks' output *is* the response, on a log-frequency grid
where shelves and peaks of every cutoff are equally well resolved.
"""

from __future__ import annotations

import itertools
import math

import torch
from scipy.fft import next_fast_len
from torch import nn

from strategies._proxy_config import FirConfig

CEPSTRUM_OVERSAMPLING = 2
"""FFT size of the cepstrum as a multiple of ``taps``: the real cepstrum of a sharp response
is long and aliases in time at a small FFT size."""


def minimum_phase(log_magnitude: torch.Tensor, taps: int) -> torch.Tensor:
    """The first ``taps`` samples of the minimum-phase impulse response whose magnitude is
    ``exp(log_magnitude)``, given on the ``n_fft // 2 + 1`` bins of an even-sized real FFT.

    Homomorphic method: the real cepstrum folded onto positive quefrencies (c₀, 2c₁ … 2c_{n/2−1},
    c_{n/2}) is the cepstrum of the minimum-phase filter with that magnitude; the FFTs and exp
    keep it differentiable.
    """
    n_fft = 2 * (log_magnitude.shape[-1] - 1)
    cepstrum = torch.fft.irfft(log_magnitude, n=n_fft)
    fold = torch.zeros(n_fft, dtype=cepstrum.dtype, device=cepstrum.device)
    fold[0] = fold[n_fft // 2] = 1
    fold[1:n_fft // 2] = 2
    spectrum = torch.exp(torch.fft.rfft(cepstrum * fold))
    return torch.fft.irfft(spectrum, n=n_fft)[..., :taps]


def fft_convolve(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Causal convolution of each row of x (B, N) with its filter h (B, taps), first N samples
    (zero initial state, as a recursive filter's)."""
    n = x.shape[-1]
    size = next_fast_len(n + h.shape[-1] - 1, real=True)
    spectrum = torch.fft.rfft(x, n=size) * torch.fft.rfft(h, n=size)
    return torch.fft.irfft(spectrum, n=size)[..., :n]


def sections(names: list[str]) -> tuple[tuple[int, ...], ...]:
    """Indices of ``names`` grouped by prefix (the name up to its last ``_``): the parameters
    of one section of a cascade (``band1_gain``, ``band1_cutoff``, ``band1_q``)."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name.rsplit("_", 1)[0], []).append(i)
    return tuple(tuple(g) for g in groups.values())


def response_mlp(n_in: int, cfg: FirConfig) -> nn.Sequential:
    """SiLU MLP from ``n_in`` parameters to ``cfg.bins`` log-magnitudes, last layer small.

    SiLU: its input Jacobian, the proxy's gradient w.r.t. the parameters, is smooth.
    """
    widths = [n_in] + [cfg.hidden] * cfg.layers
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.SiLU()]
    out = nn.Linear(widths[-1], cfg.bins)
    with torch.no_grad():
        out.weight.mul_(0.1)
        out.bias.zero_()
    return nn.Sequential(*layers, out)


class FilterHypernetwork(nn.Module):
    """Minimum-phase FIR proxy of an LTI effect that is a cascade of sections: y = x ∗ h(c).

    The log-magnitude of a cascade is the sum of its sections' log-magnitudes, so one MLP per
    section (``groups``: the indices of its parameters in c, see :func:`sections`) maps that
    section's parameters to log-magnitudes (nepers) at ``bins`` log-spaced frequencies from
    ``min_hz`` to Nyquist, and the sum is the response. Each MLP learns a function of a few
    parameters, not of all of them: fitting the exact EQ response directly (3000 Adam steps of
    4 settings), one MLP of all 18 parameters reaches a mean error of 2.9 dB, six of 3 reach
    1.8 dB. The sum is interpolated linearly in log frequency onto the cepstrum's FFT grid
    (bins below ``min_hz``, DC included, take the lowest value), made into a minimum-phase FIR
    of ``taps`` samples and applied by FFT convolution. Last layers start small, so the proxy
    starts near the identity (log-magnitude 0 is a unit impulse).
    """

    def __init__(self, groups: tuple[tuple[int, ...], ...], cfg: FirConfig,
                 sample_rate: int) -> None:
        super().__init__()
        self.taps = cfg.taps
        self.groups = [torch.tensor(g) for g in groups]
        self.mlps = nn.ModuleList(response_mlp(len(g), cfg) for g in groups)
        n_fft = CEPSTRUM_OVERSAMPLING * cfg.taps
        freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
        span = math.log(sample_rate / 2 / cfg.min_hz)
        pos = (torch.log(freqs.clamp_min(cfg.min_hz) / cfg.min_hz) / span * (cfg.bins - 1))
        pos = pos.clamp(0, cfg.bins - 1)
        lower = pos.floor().long().clamp(max=cfg.bins - 2)
        self.register_buffer("lower", lower, persistent=False)
        self.register_buffer("frac", (pos - lower).float(), persistent=False)

    def grid_log_magnitude(self, c: torch.Tensor) -> torch.Tensor:
        """Log-magnitude (B, bins) on the log-frequency grid: the sum over sections."""
        return sum(mlp(c[:, g]) for g, mlp in zip(self.groups, self.mlps, strict=True))

    def log_magnitude(self, c: torch.Tensor) -> torch.Tensor:
        """Log-magnitude (B, n_fft/2 + 1) on the cepstrum's linear FFT grid."""
        grid = self.grid_log_magnitude(c)
        frac = self.frac.to(grid.dtype)
        return grid[:, self.lower] * (1 - frac) + grid[:, self.lower + 1] * frac

    def impulse_response(self, c: torch.Tensor) -> torch.Tensor:
        """The FIR (B, taps) for parameters c (B, P)."""
        return minimum_phase(self.log_magnitude(c), self.taps)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """y = x ∗ h(c), causal, the input's length."""
        return fft_convolve(x, self.impulse_response(c).to(x.dtype))
