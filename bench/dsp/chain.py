"""An ordered chain of effects whose parameter vector is the concatenation of theirs.

The DeepAFx-ST chain is ``Chain(["peq", "compressor"])`` (18 + 6 = 24 parameters). Parameter
names are prefixed with the effect name (``peq.band1_gain``); a repeated effect gets its
position as a suffix (``peq#2.band1_gain``).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from bench.dsp.spec import Effect, NotDifferentiable, Param

SEPARATOR = ">"


def get_effect(name: str) -> Effect:
    """A new instance of the effect registered as ``name`` (unknown names list close ones);
    effects come from plugin discovery, so a plugin package may add one."""
    from bench.registry import registry

    return registry("effect").get(name)()


def effect_names() -> list[str]:
    """Names of every registered effect, sorted."""
    from bench.registry import registry

    return registry("effect").names()


class Chain:
    """Effects applied in order; parameters concatenated in the same order."""

    def __init__(self, names: Sequence[str]) -> None:
        if not names:
            raise ValueError("a chain needs at least one effect, e.g. Chain(['peq', 'compressor'])")
        self.names: tuple[str, ...] = tuple(names)
        self.effects: list[Effect] = [get_effect(n) for n in self.names]
        counts = Counter(self.names)
        seen: Counter[str] = Counter()
        self.prefixes: list[str] = []
        for n in self.names:
            seen[n] += 1
            self.prefixes.append(n if counts[n] == 1 else f"{n}#{seen[n]}")

    @classmethod
    def parse(cls, spec: str) -> Chain:
        """Build from ``"peq>compressor"``."""
        return cls([n.strip() for n in spec.split(SEPARATOR) if n.strip()])

    def __repr__(self) -> str:
        return f"Chain({SEPARATOR.join(self.names)!r})"

    @property
    def n_params(self) -> int:
        """Total number of normalized parameters."""
        return sum(e.n_params for e in self.effects)

    @property
    def differentiable(self) -> bool:
        """True if every effect has an exact torch implementation."""
        return self.why_not_differentiable() is None

    def why_not_differentiable(self) -> str | None:
        """None if differentiable, else which effects are not and why."""
        reasons = [str(e.why_not_differentiable()) for e in self.effects if not e.differentiable]
        return "; ".join(reasons) or None

    def why_unavailable(self) -> str | None:
        """None if every effect can run here, else which cannot and why (a missing plugin or
        package, with its fix)."""
        reasons = [f"{e.name}: {why}" for e in self.effects if (why := e.available())]
        return "; ".join(reasons) or None

    def params(self, sample_rate: int) -> tuple[Param, ...]:
        """Concatenated specs with names prefixed ``effect.param``."""
        return tuple(
            replace(p, name=f"{prefix}.{p.name}")
            for prefix, effect in zip(self.prefixes, self.effects, strict=True)
            for p in effect.params(sample_rate)
        )

    def defaults(self, sample_rate: int) -> np.ndarray:
        """Concatenated normalized defaults, shape (n_params,)."""
        return np.concatenate([e.defaults(sample_rate) for e in self.effects])

    def neutral(self, sample_rate: int) -> np.ndarray:
        """Concatenated normalized settings closest to bypass (``Effect.neutral_setting``)."""
        return np.concatenate([e.neutral_setting(sample_rate) for e in self.effects])

    def split(self, p: Any) -> list[Any]:
        """Slice p (..., n_params) into one block per effect (views, differentiable)."""
        if p.shape[-1] != self.n_params:
            raise ValueError(f"{self!r} takes {self.n_params} parameters, got {p.shape[-1]}")
        bounds = np.cumsum([0] + [e.n_params for e in self.effects])
        return [p[..., a:b] for a, b in itertools.pairwise(bounds)]

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """Reference rendering through every effect in order."""
        for effect, block in zip(self.effects, self.split(np.asarray(p)), strict=True):
            x = effect.process(x, block, sample_rate)
        return x

    def torch_process(self, x: Any, p: Any, sample_rate: int) -> Any:
        """Differentiable rendering; raises NotDifferentiable naming the black-box effects."""
        reason = self.why_not_differentiable()
        if reason is not None:
            raise NotDifferentiable(f"{self!r} is not differentiable: {reason}")
        for effect, block in zip(self.effects, self.split(p), strict=True):
            x = effect.torch_process(x, block, sample_rate)
        return x
