"""TCN: the conditional temporal convolutional network (micro-TCN / steerable-NAFx blocks: a
dilated convolution, conditioned, then PReLU, with a residual), receptive field matched to the
effect's memory (``Effect.memory_seconds``)."""

from __future__ import annotations

from typing import Any

from torch import nn

from strategies._architectures.base import Architecture
from strategies._proxy_config import ProxyConfig, TcnConfig
from strategies._proxy_nets import ConditionalTcn, TcnBlock, matched_dilations


def memory_dilations(cfg: TcnConfig, effect: Any, sample_rate: int) -> tuple[int, ...]:
    """Dilations whose receptive field covers the effect's memory at ``sample_rate``."""
    memory = round(effect.memory_seconds * sample_rate)
    return matched_dilations(cfg.kernel, cfg.blocks, cfg.growth, memory)


class Tcn(Architecture):
    """Dilated convolutions → conditioning → PReLU blocks (the ``tcn`` proxy with FiLM)."""

    name = "tcn"
    block: type[nn.Module] = TcnBlock

    @classmethod
    def config(cls, cfg: ProxyConfig) -> TcnConfig:
        """The budget's TCN sizes (those of the ``tcn`` proxy)."""
        return cfg.tcn

    @classmethod
    def build(cls, n_cond: int, cfg: ProxyConfig, effect: Any, sample_rate: int,
              conditioning: str) -> nn.Module:
        """A causal conditional TCN whose receptive field covers the effect's memory."""
        return ConditionalTcn(n_cond, cfg.tcn, memory_dilations(cfg.tcn, effect, sample_rate),
                              conditioning, cls.block)
