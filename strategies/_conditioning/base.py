"""The conditioning interface: how a parameter embedding changes one layer of a network.

A conditioning is one linear map from the embedding ``e`` of the effect's parameters (a
:func:`~strategies._proxy_nets.cond_mlp` of them) whose output changes a layer ``y = W ⋆ x + b``
for each example of a batch (:class:`Modulation`): through per-example weights (a
hypernetwork), an output scale and shift (FiLM) or an output shift alone (concatenation: a
constant vector appended to a linear map's input adds a linear function of it to the output).
The layer stays the architecture's; the conditioning only says how ``e`` enters it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from bench.errors import BenchError

REGISTRY: dict[str, type[Conditioning]] = {}


@dataclass
class Modulation:
    """A layer as one batch sees it: its weight tensors, shared (the layer's own) or per example
    (a leading batch axis), and an optional output scale (the output is multiplied by
    ``1 + scale``) and shift, both (batch, out)."""

    weights: list[torch.Tensor]
    scale: torch.Tensor | None = None
    shift: torch.Tensor | None = None
    per_example: bool = False

    def gamma_beta(self, out: int, like: torch.Tensor) -> torch.Tensor:
        """``[scale, shift]`` (batch, 2·out) with zeros where this modulation has none (the
        layout of the fused FiLM kernel)."""
        zeros = like.new_zeros(len(like), out)
        return torch.cat([zeros if self.scale is None else self.scale,
                          zeros if self.shift is None else self.shift], 1)

    def apply(self, y: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """``y·(1 + scale) + shift`` with the (batch, out) terms along ``dim`` of ``y``."""
        shape = [1] * y.dim()
        shape[0], shape[dim] = y.shape[0], y.shape[dim]
        if self.scale is not None:
            y = y * (1 + self.scale.view(shape))
        return y if self.shift is None else y + self.shift.view(shape)


class Conditioning(nn.Linear, ABC):
    """One linear map from the embedding to what changes a layer whose weight tensors have
    ``shapes`` (the first one's leading size is the layer's output width). ``bound`` is the
    scale of the layer's own initial weights (a hypernetwork starts at a tenth of it).

    Subclasses declare ``name`` and register; the module is an ``nn.Linear``, so a layer's
    state dict holds it as ``<name>.weight`` and ``<name>.bias``.
    """

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            REGISTRY[cls.name] = cls

    def __init__(self, shapes: Sequence[Sequence[int]], cond_dim: int, bound: float) -> None:
        self.shapes = [tuple(s) for s in shapes]
        super().__init__(cond_dim, self.width(self.shapes))
        self.initialise(bound)

    @classmethod
    @abstractmethod
    def width(cls, shapes: list[tuple[int, ...]]) -> int:
        """Output size of the linear map for a layer of these weight shapes."""

    @abstractmethod
    def initialise(self, bound: float) -> None:
        """Start near no change (the networks start near the identity)."""

    @abstractmethod
    def modulate(self, weights: list[torch.Tensor], emb: torch.Tensor) -> Modulation:
        """The layer with weights ``weights`` as the batch with embeddings ``emb`` sees it."""


def get(name: str) -> type[Conditioning]:
    """The conditioning registered as ``name``; an unknown one is a one-line error."""
    if name not in REGISTRY:
        raise BenchError(f"unknown conditioning {name!r}; choose one of "
                         f"{', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def attach(owner: nn.Module, name: str, shapes: Sequence[Sequence[int]], cond_dim: int,
           bound: float) -> None:
    """Give ``owner`` the conditioning ``name`` for a layer of weight ``shapes``, as the
    attribute of that name (``owner.film`` …); :func:`conditioning` finds it again."""
    owner.conditioning_name = name
    setattr(owner, name, get(name)(shapes, cond_dim, bound))


def conditioning(owner: nn.Module) -> Conditioning:
    """The conditioning :func:`attach` gave ``owner``."""
    return getattr(owner, owner.conditioning_name)
