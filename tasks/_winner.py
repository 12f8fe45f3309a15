"""Winner-takes-all rendering over candidate chains, for multiple-choice learners.

Imported lazily by the chain-selection task: this module imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.base import Counters
from bench.device import to_device, to_host
from bench.dsp import Chain


class WinnerTakesAll(nn.Module):
    """Renders each example through its best candidate chain only.

    Every head's setting is rendered by the reference DSP without a gradient and scored
    against the wet signal with ``loss(y, wet, target(wet))``; the head that scores best is
    the example's winner, and only the winners' chains then run through the strategy's
    layers. A step so trains through one chain per example instead of through every
    candidate. The winners are those of a pass through the strategies' own forward wherever
    that forward is the reference DSP (autodiff's exact chain agrees with it to float
    precision; SPSA and the hybrid render with it); a neural proxy's winners are the true
    effect's, not its proxy's.
    """

    def __init__(self, layers: list[nn.Module], chains: list[Chain], sample_rate: int,
                 loss: Callable[..., torch.Tensor], target: Callable[[torch.Tensor], Any],
                 counters: Counters) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.chains, self.sample_rate, self.counters = chains, sample_rate, counters
        self.loss, self.target = loss, target

    def winners(self, dry: torch.Tensor, wet: torch.Tensor,
                heads: list[torch.Tensor]) -> torch.Tensor:
        """Index of the best head for every row, judged on reference-DSP renders (on the CPU:
        the audio and each head's setting cross over, the renders come back)."""
        dry_np = to_host(dry, self.counters).astype(np.float64)

        def rendered(chain: Chain, p: torch.Tensor) -> torch.Tensor:
            setting = to_host(p.double().clamp(0, 1), self.counters)
            y = self.counters.render(chain, dry_np, setting, self.sample_rate)
            return to_device(y, wet.device, self.counters, wet.dtype)

        with torch.no_grad():
            target = self.target(wet)  # the wet side of the loss, computed once for all heads
            scores = torch.stack([self.loss(rendered(chain, p), wet, target)
                                  for chain, p in zip(self.chains, heads, strict=True)], dim=1)
        return scores.argmin(dim=1)

    def forward(self, dry: torch.Tensor, wet: torch.Tensor,
                heads: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(each row rendered through its winner's layer, the winners)."""
        winner = self.winners(dry, wet, heads)
        parts, order = [], []
        for c in winner.unique().tolist():
            rows = torch.nonzero(winner == c)[:, 0]
            parts.append(self.layers[c](dry[rows], heads[c][rows]))
            order.append(rows)
        y = torch.cat(parts)[torch.argsort(torch.cat(order))]
        return y, winner
