"""FiLM (feature-wise linear modulation): a per-channel scale and shift of a layer's output,
``(1 + γ(e))·y + β(e)`` (Perez et al. 2018; the micro-TCN and steerable-NAFx blocks)."""

from __future__ import annotations

import torch

from strategies._conditioning.base import Conditioning, Modulation


class Film(Conditioning):
    """γ and β from one linear map of the embedding (zero at first: no modulation)."""

    name = "film"

    @classmethod
    def width(cls, shapes: list[tuple[int, ...]]) -> int:
        """A scale and a shift per output channel."""
        return 2 * shapes[0][0]

    def initialise(self, bound: float) -> None:
        """Zero weights and bias."""
        torch.nn.init.zeros_(self.weight)
        torch.nn.init.zeros_(self.bias)

    def modulate(self, weights: list[torch.Tensor], emb: torch.Tensor) -> Modulation:
        """The shared weights, scaled and shifted per channel."""
        gamma, beta = self(emb).chunk(2, dim=1)
        return Modulation(list(weights), scale=gamma, shift=beta)
