"""The architecture interface of the effect-model grid: a network family that takes any
conditioning it supports (:mod:`strategies._conditioning`) and is sized by the budget's
:class:`~strategies._proxy_config.ProxyConfig`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from torch import nn

from strategies._proxy_config import ProxyConfig

REGISTRY: dict[str, type[Architecture]] = {}


class Architecture(ABC):
    """A network family: which effects and conditionings it can take, its sizes and how to
    build it. A subclass that declares ``name`` registers itself."""

    name: ClassVar[str]
    conditionings: ClassVar[tuple[str, ...] | None] = None
    """The conditionings it supports (None: every registered one)."""
    unsupported_why: ClassVar[str] = ""
    """Why the other conditionings cannot condition it (when ``conditionings`` is set)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            REGISTRY[cls.name] = cls

    @classmethod
    def why_not(cls, effect: Any) -> str | None:
        """Why this architecture cannot model ``effect`` (None: it can)."""
        return None

    @classmethod
    @abstractmethod
    def config(cls, cfg: ProxyConfig) -> Any:
        """The sizes it takes from ``cfg`` (a dataclass: part of the cache key)."""

    @classmethod
    @abstractmethod
    def build(cls, n_cond: int, cfg: ProxyConfig, effect: Any, sample_rate: int,
              conditioning: str) -> nn.Module:
        """A freshly initialised network ``(x (B, N), c (B, n_cond)) -> y (B, N)``."""
