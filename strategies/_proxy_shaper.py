"""Waveshaper + filter proxy ``(x (B, N), c (B, P)) -> y (B, N)`` for Hammerstein effects: a
memoryless nonlinearity followed by a linear time-invariant filter (a distortion's waveshaper
and tone control).

Structural prior (declared by ``Effect.hammerstein``, not learned): the output at each sample
is a learned function of the input at that sample alone, then filtered by a learned causal
FIR. The waveshaper is a SiLU MLP whose input is the sample's log-level and whose output is
a gain in nepers, so y = x · exp(r(log|x|, c)): odd, sign-preserving, silence stays silent,
and what a clipper does over a hundred decibels of input level (output level following the
input up to a knee that the drive moves, flat above it) is a smooth, nearly piecewise-linear
curve of the log-level that a small MLP fits at every level alike. The same MLP of the raw
sample value had to resolve a knee anywhere from 0.01 to 1 in amplitude and stalled at over
seven times the MR-STFT (see ``SHAPER_STANDARD``). The filter is the filter hypernetwork of
the linear effects (:class:`FilterHypernetwork`). Which curve and which response each parameter
setting gives is learned from (input, DSP output) pairs like every other proxy; nothing of the
effect's formula is inside. The input level is kept, never normalized away: a waveshaper's
output depends on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from strategies._proxy_config import ShaperConfig
from strategies._proxy_filters import FilterHypernetwork

LEVEL_RANGE = (-6.0, 1.0)
"""log10 |x| from the lowest to the highest level of the waveshaper's grid (−120 … +20 dBFS).
Below the lowest, the gain is the lowest level's (the shaper is exactly linear there, and
log 0 never occurs); above the highest, the log-gain continues the last segment's slope (a
clipper's flat top stays flat)."""

KNEE_RANGE = (-5.0, 0.5)
"""log10 |x| range over which the first layer's knees start spread (−100 … +10 dBFS)."""


class Waveshaper(nn.Module):
    """Memoryless, parameter-conditioned gain of the log-level: y = x · exp(r(ℓ, c)) with
    ℓ = log10 |x|.

    r is a SiLU MLP of ℓ (``cfg.hidden`` wide, ``cfg.layers`` layers). The parameters enter
    through an embedding (a SiLU MLP of c) that scales the first layer's per-unit slopes, shifts
    its biases (where each unit's knee sits on the level axis: a drive moves the clipping point)
    and sets an output offset (the small-signal gain). SiLU everywhere: the gradient w.r.t. c is
    smooth. The output layer starts small and the conditioning corrections at zero, so the
    shaper starts near the identity.

    The MLP runs on a grid of ``cfg.knots`` levels per example, not on every sample: each
    sample's log-gain is interpolated linearly between the two grid levels around it (at
    1 dB spacing, within 0.013 dB of the MLP's own curve in the committed music proxy), which
    costs two look-ups per sample instead of ``hidden`` × ``layers`` activations.
    """

    def __init__(self, n_cond: int, cfg: ShaperConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.cond = nn.Sequential(nn.Linear(n_cond, cfg.cond_dim), nn.SiLU(),
                                  nn.Linear(cfg.cond_dim, cfg.cond_dim), nn.SiLU())
        gen = torch.Generator().manual_seed(0)  # the knee layout; the caller seeds the rest
        slope = (1 + 2 * torch.rand(h, generator=gen)) * torch.where(
            torch.arange(h) % 2 == 0, 1.0, -1.0)
        knee = KNEE_RANGE[0] + (KNEE_RANGE[1] - KNEE_RANGE[0]) * torch.rand(h, generator=gen)
        self.slope = nn.Parameter(slope)
        self.bias = nn.Parameter(-slope * knee)
        self.modulation = nn.Linear(cfg.cond_dim, 2 * h + 1)  # Δslope, Δbias, output offset
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.hidden = nn.ModuleList(nn.Linear(h, h) for _ in range(cfg.layers - 1))
        self.out = nn.Linear(h, 1, bias=False)
        with torch.no_grad():
            self.out.weight.mul_(0.1)
        low, high = LEVEL_RANGE
        self.register_buffer("grid", torch.linspace(low, high, cfg.knots), persistent=False)
        self.low = float(self.grid[0])  # read once: on a GPU each read would wait for it
        self.spacing = (high - low) / (cfg.knots - 1)

    def curve(self, c: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """r (B, L) at log-levels ``level`` (L,) or (B, L), for parameters c (B, P)."""
        mod = self.modulation(self.cond(c))
        h = self.slope.shape[0]
        slope = self.slope * (1 + mod[:, :h])
        bias = self.bias + mod[:, h:2 * h]
        level = level.expand(len(c), -1)
        z = F.silu(torch.addcmul(bias[:, None], level[..., None], slope[:, None]))
        for layer in self.hidden:
            z = F.silu(layer(z))
        return self.out(z)[..., 0] + mod[:, -1:]

    def log_gain(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """r (B, N): the gain in nepers the shaper applies at each sample."""
        table = self.curve(c, self.grid)
        low = self.low
        pos = (torch.log10(x.abs().clamp_min(10 ** low)) - low) / self.spacing
        lower = pos.detach().floor().clamp(0, len(self.grid) - 2).long()
        below = table.gather(1, lower)
        return below + (table.gather(1, lower + 1) - below) * (pos - lower)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """y = x · exp(r), sample by sample."""
        return x * torch.exp(self.log_gain(x, c))


class HammersteinProxy(nn.Module):
    """:class:`Waveshaper` then :class:`FilterHypernetwork`, both conditioned on all of c:
    y = h(c) ∗ (x · exp(r(log|x|, c)))."""

    def __init__(self, groups: tuple[tuple[int, ...], ...], cfg: ShaperConfig,
                 sample_rate: int) -> None:
        super().__init__()
        n_cond = sum(len(g) for g in groups)
        self.shaper = Waveshaper(n_cond, cfg)
        self.filter = FilterHypernetwork(groups, cfg.fir, sample_rate)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The filtered waveshaper output, the input's length (causal)."""
        return self.filter(self.shaper(x, c), c)
