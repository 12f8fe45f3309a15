"""Hypernetwork: the layer's weights themselves generated from the parameter embedding,
``W(e) = W₀ + ΔW(e)`` per example (Ha et al. 2017; the HyperGRU's recurrent layer)."""

from __future__ import annotations

import math

import torch

from strategies._conditioning.base import Conditioning, Modulation


class Hyper(Conditioning):
    """ΔW for every weight tensor of the layer, in order, from one linear map of the embedding;
    its weights start at N(0, (0.1·bound/√cond_dim)²), its bias at zero, so W(e) starts near
    W₀ for every setting."""

    name = "hyper"

    @classmethod
    def width(cls, shapes: list[tuple[int, ...]]) -> int:
        """Every weight of the layer."""
        return sum(math.prod(s) for s in shapes)

    def initialise(self, bound: float) -> None:
        """Small deltas."""
        torch.nn.init.normal_(self.weight, std=0.1 * bound / math.sqrt(self.in_features))
        torch.nn.init.zeros_(self.bias)

    def modulate(self, weights: list[torch.Tensor], emb: torch.Tensor) -> Modulation:
        """Per-example weights W₀ + ΔW(e)."""
        delta, start, out = self(emb), 0, []
        for w in weights:
            out.append(w + delta[:, start:start + w.numel()].view(len(emb), *w.shape))
            start += w.numel()
        return Modulation(out, per_example=True)
