"""GCN: the gated convolutional network (WaveNet's gated activation; NablAFx's GCN backbone):
each dilated convolution, conditioned, gives 2·C channels a, b and the block outputs
tanh(a)·σ(b) mixed by a 1×1 convolution, plus a residual. Same sizes and receptive field as
the TCN, twice its dilated-convolution weights."""

from __future__ import annotations

import torch
from torch import nn

from strategies._architectures.tcn import Tcn
from strategies._conditioning.base import attach, conditioning
from strategies._proxy_nets import conditioned_conv, conv, init_bound


class GatedBlock(nn.Module):
    """Dilated conv to 2·C channels, conditioned on p → tanh(a)·σ(b) → 1×1 mix, plus a cropped
    1×1 residual (the :class:`~strategies._proxy_nets.TcnBlock` signature)."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, cond_dim: int,
                 conditioning_name: str) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, 2 * cout, kernel, dilation=dilation)
        attach(self, conditioning_name, [self.conv.weight.shape, self.conv.bias.shape],
               cond_dim, init_bound(self.conv))
        self.mix = nn.Conv1d(cout, cout, 1)
        self.res = nn.Conv1d(cin, cout, 1, bias=False)
        self.fast = True

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Shortens the sequence by (kernel − 1)·dilation samples."""
        mod = conditioning(self).modulate([self.conv.weight, self.conv.bias], emb)
        a, b = mod.apply(conditioned_conv(self.conv, x, mod, self.fast)).chunk(2, dim=1)
        r = conv(self.res, x[..., x.shape[-1] - a.shape[-1]:], self.fast)
        return conv(self.mix, torch.tanh(a) * torch.sigmoid(b), self.fast) + r


class Gcn(Tcn):
    """The TCN with gated blocks."""

    name = "gcn"
    block = GatedBlock
