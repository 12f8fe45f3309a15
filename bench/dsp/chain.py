"""Ordered effect chains: their parameter vector is the concatenation of their effects'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.dsp.spec import Effect, NotDifferentiable, Param


def get_effect(name: str) -> Effect:
    """An instance of the registered effect ``name`` (one-line error naming close names)."""
    from bench.registry import registry

    return registry("effect").get(name)()


class Chain:
    """Effects applied in order; every strategy controls the same normalized vector."""

    def __init__(self, names: Sequence[str]) -> None:
        if not names:
            raise ValueError("a chain needs at least one effect, e.g. Chain(['peq'])")
        self.effects: list[Effect] = [get_effect(n) for n in names]
        self.names: tuple[str, ...] = tuple(names)
        self.n_params = sum(e.n_params for e in self.effects)

    @classmethod
    def parse(cls, spec: str) -> Chain:
        """``"peq>compressor"`` → Chain(["peq", "compressor"])."""
        return cls([s.strip() for s in spec.split(">") if s.strip()])

    def __repr__(self) -> str:
        return f"Chain({'>'.join(self.names)})"

    def params(self, sample_rate: int) -> tuple[Param, ...]:
        """The concatenated specs (names as declared by each effect, in chain order)."""
        return tuple(p for e in self.effects for p in e.params(sample_rate))

    def defaults(self, sample_rate: int) -> np.ndarray:
        """The concatenated normalized defaults."""
        return np.concatenate([e.defaults(sample_rate) for e in self.effects])

    def split(self, p: Any) -> list[Any]:
        """Per-effect slices of (batch, n_params) parameters (arrays or tensors)."""
        if p.shape[-1] != self.n_params:
            raise ValueError(f"{self!r} takes {self.n_params} parameters, got {p.shape[-1]}")
        out, start = [], 0
        for e in self.effects:
            out.append(p[..., start:start + e.n_params])
            start += e.n_params
        return out

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """Reference rendering through every effect in order."""
        for effect, q in zip(self.effects, self.split(np.asarray(p)), strict=True):
            x = effect.process(x, q, sample_rate)
        return x

    def torch_process(self, x: Any, p: Any, sample_rate: int) -> Any:
        """Exact differentiable rendering; raises NotDifferentiable for black-box effects."""
        reason = self.why_not_differentiable()
        if reason:
            raise NotDifferentiable(reason)
        for effect, q in zip(self.effects, self.split(p), strict=True):
            x = effect.torch_process(x, q, sample_rate)
        return x

    @property
    def differentiable(self) -> bool:
        """True when every effect has an exact differentiable implementation."""
        return all(e.differentiable for e in self.effects)

    def why_not_differentiable(self) -> str | None:
        """None, or which effects lack a differentiable implementation."""
        missing = [e.name for e in self.effects if not e.differentiable]
        return (f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no "
                f"differentiable implementation") if missing else None
