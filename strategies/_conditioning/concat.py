"""Concatenation: the parameter embedding appended to a layer's input as constant channels.

For a linear map (a dense layer, a convolution over a constant channel) that is exactly a shift
of its output by a learned linear function of the embedding, ``W [x; e] = W_x x + W_e e``, which
is how it is computed. It cannot scale anything: a layer's gain is the same for every setting.
"""

from __future__ import annotations

import torch

from strategies._conditioning.base import Conditioning, Modulation


class Concat(Conditioning):
    """Output shift ``V e`` (zero at first)."""

    name = "concat"

    @classmethod
    def width(cls, shapes: list[tuple[int, ...]]) -> int:
        """One shift per output channel."""
        return shapes[0][0]

    def initialise(self, bound: float) -> None:
        """Zero: no shift until trained."""
        torch.nn.init.zeros_(self.weight)
        torch.nn.init.zeros_(self.bias)

    def modulate(self, weights: list[torch.Tensor], emb: torch.Tensor) -> Modulation:
        """The shared weights and the shift."""
        return Modulation(list(weights), shift=self(emb))
