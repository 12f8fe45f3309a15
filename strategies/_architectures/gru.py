"""GRU: a frame-rate recurrent network whose recurrent layer is conditioned (with the
hypernetwork it is the HyperGRU) and whose state drives a time-varying gain and filter at the
sample rate (:class:`~strategies._proxy_nets.ConditionalGru`)."""

from __future__ import annotations

from typing import Any

from torch import nn

from strategies._architectures.base import Architecture
from strategies._proxy_config import GruConfig, ProxyConfig
from strategies._proxy_nets import ConditionalGru


class Gru(Architecture):
    """The conditional GRU (the ``hypergru`` proxy with a hypernetwork)."""

    name = "gru"

    @classmethod
    def config(cls, cfg: ProxyConfig) -> GruConfig:
        """The budget's GRU sizes (those of the ``hypergru`` proxy)."""
        return cfg.gru

    @classmethod
    def build(cls, n_cond: int, cfg: ProxyConfig, effect: Any, sample_rate: int,
              conditioning: str) -> nn.Module:
        """A conditional GRU."""
        return ConditionalGru(n_cond, cfg.gru, sample_rate, conditioning)
