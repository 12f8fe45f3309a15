"""Filter hypernetwork proxy ``(x (B, N), c (B, P)) -> y (B, N)`` for linear time-invariant
effects: coordinate networks map the parameters and a frequency to a log-magnitude, a
minimum-phase FIR is built from the response through the real cepstrum, and the input is
filtered by FFT convolution.

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


SCALE_RANGE = 100.0
"""The heads' initial scales of the log-frequency axis span 1 to this (a head at scale k
resolves features about 1/k of the axis wide: a Q-10 peak is about 1/70 of it)."""


class SectionResponse(nn.Module):
    """One section's log-magnitude as a coordinate network: ``(c (B, n_in), u (F,)) -> (B, F)``,
    the log-magnitude at the normalized log-frequencies ``u`` for the section's parameters c.

    A SiLU MLP of c gives ``heads`` shifts s and log-scales l of the log-frequency axis, an
    embedding e and a modulation g; at every frequency, z_k = (u − s_k)·exp(l_k) are the
    coordinates in those moving frames, and h = SiLU(W z + e) → ``layers`` − 1 SiLU layers
    → h ⊙ g → linear → the log-magnitude. A feature at a parameter-dependent frequency (a
    peak that slides with its cutoff, whose width follows its Q) is then a fixed function of
    z, and its size, a product h ⊙ g, follows the gain. SiLU everywhere keeps the input
    Jacobian, the proxy's gradient w.r.t. the parameters, smooth.
    """

    def __init__(self, n_in: int, cfg: FirConfig) -> None:
        super().__init__()
        k, h = cfg.heads, cfg.hidden
        self.heads, self.hidden = k, h
        self.cond = nn.Sequential(nn.Linear(n_in, cfg.cond_hidden), nn.SiLU(),
                                  nn.Linear(cfg.cond_hidden, cfg.cond_hidden), nn.SiLU(),
                                  nn.Linear(cfg.cond_hidden, 2 * k + 2 * h))
        self.warp = nn.Linear(k, h, bias=False)
        layers: list[nn.Module] = []
        for _ in range(cfg.layers - 1):
            layers += [nn.Linear(h, h), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(h, 1)
        with torch.no_grad():  # frames spread over the axis at scales 1 … SCALE_RANGE
            last = self.cond[-1]
            last.weight[:2 * k].mul_(0.1)
            last.bias[:k] = torch.linspace(0, 1, k)
            last.bias[k:2 * k] = torch.linspace(0, math.log(SCALE_RANGE), k)
            self.out.weight.mul_(0.1)  # starts near log-magnitude 0
            self.out.bias.zero_()

    def forward(self, c: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Log-magnitudes (B, F) at the F normalized log-frequencies u."""
        k, h = self.heads, self.hidden
        shift, log_scale, embed, gate = self.cond(c).split((k, k, h, h), dim=-1)
        z = (u[None, :, None] - shift[:, None, :]) * torch.exp(log_scale)[:, None, :]
        hidden = self.body(nn.functional.silu(self.warp(z) + embed[:, None, :]))
        return self.out(hidden * gate[:, None, :])[..., 0]


class FilterHypernetwork(nn.Module):
    """Minimum-phase FIR proxy of an LTI effect that is a cascade of sections: y = x ∗ h(c).

    The log-magnitude of a cascade is the sum of its sections' log-magnitudes, so one
    coordinate network per section (:class:`SectionResponse`; ``groups``: the indices of its
    parameters in c, see :func:`sections`) gives that section's log-magnitude (nepers) at each
    of ``bins`` log-spaced frequencies from ``min_hz`` to Nyquist, and the sum is the response.
    The sum is interpolated linearly in log frequency onto the cepstrum's FFT grid (bins below
    ``min_hz``, DC included, take the lowest value), made into a minimum-phase FIR of ``taps``
    samples and applied by FFT convolution. Output layers start small, so the proxy starts
    near the identity (log-magnitude 0 is a unit impulse).

    Why coordinate networks: fitting the exact EQ response directly (a diagnostic, never the
    proxy's training: Adam at 3e-3, 4 random settings a step, mean absolute error over the log
    grid), per-section MLPs that emit every bin from their last layer — the previous design,
    one basis of ``hidden`` = 128 output vectors per section, 994 k weights — reach 2.5 dB after
    1500 steps and 1.2 dB after 5500; these networks (width 32, 8 frames, 72 k weights) reach
    1.0 dB after 1500. A plain coordinate MLP of (parameters, frequency) does worse than either
    (2.1 dB after 1500 steps of 16 settings, where the per-bin MLPs reach 1.45): a Q-10 peak is
    about 1/70 of the axis wide and SiLU units of unit-scale inputs learn so sharp a feature
    slowly. The learned frames fix that (width 64 without the modulation: 0.71 dB after 1500
    steps of 16, 0.52 after 5500 of 4), and the modulation h ⊙ g took width 32 from 2.3 to
    1.1 dB.
    """

    def __init__(self, groups: tuple[tuple[int, ...], ...], cfg: FirConfig,
                 sample_rate: int) -> None:
        super().__init__()
        self.taps = cfg.taps
        for i, g in enumerate(groups):  # buffers: they follow the module to its device
            self.register_buffer(f"group{i}", torch.tensor(g), persistent=False)
        self.nets = nn.ModuleList(SectionResponse(len(g), cfg) for g in groups)
        self.register_buffer("u", torch.linspace(0, 1, cfg.bins), persistent=False)
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
        return sum(net(c[:, g], self.u.to(c.dtype))
                   for g, net in zip(self.groups, self.nets, strict=True))

    @property
    def groups(self) -> list[torch.Tensor]:
        """Each section's parameter indices (buffers: on the module's device)."""
        return [getattr(self, f"group{i}") for i in range(len(self.nets))]

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
