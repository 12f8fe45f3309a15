"""The effect-model grid: architectures × conditionings (:mod:`strategies._conditioning`).

A cell is named ``<architecture>-<conditioning>`` (``tcn-film``, ``gru-hyper``: the HyperGRU,
``iir-hyper`` …). One file per architecture: an
:class:`~strategies._architectures.base.Architecture` subclass that declares ``name`` registers
itself when its module is imported, and this package imports every module in it, so adding an
architecture is adding one file here. :func:`cells` lists the cells that can model an effect;
:func:`build` makes one.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import asdict
from typing import Any

from torch import nn

from bench.errors import BenchError
from strategies import _conditioning
from strategies._architectures.base import REGISTRY, Architecture
from strategies._proxy_config import ProxyConfig

for _info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
    importlib.import_module(_info.name)

SEPARATOR = "-"


def names() -> tuple[str, ...]:
    """The registered architectures, sorted."""
    return tuple(sorted(REGISTRY))


def cell(arch: str, conditioning: str) -> str:
    """The name of the grid cell ``arch`` × ``conditioning``."""
    return f"{arch}{SEPARATOR}{conditioning}"


def is_cell(name: str) -> bool:
    """Whether ``name`` names a grid cell (a registered architecture and conditioning)."""
    arch, _, cond = name.partition(SEPARATOR)
    return arch in REGISTRY and cond in _conditioning.REGISTRY


def parse(name: str) -> tuple[type[Architecture], str]:
    """The architecture and conditioning of cell ``name``; a bad name is a one-line error."""
    if not is_cell(name):
        raise BenchError(f"unknown effect-model cell {name!r}: name one as ARCH-CONDITIONING "
                         f"with ARCH in {', '.join(names())} and CONDITIONING in "
                         f"{', '.join(_conditioning.names())} (e.g. tcn-film, gru-hyper)")
    arch, _, cond = name.partition(SEPARATOR)
    return REGISTRY[arch], cond


def why_not(name: str, effect: Any) -> str | None:
    """Why cell ``name`` cannot model ``effect`` (None: it can)."""
    arch, cond = parse(name)
    if arch.conditionings is not None and cond not in arch.conditionings:
        return f"{name}: {arch.unsupported_why}"
    return arch.why_not(effect)


def cells(effect: Any) -> list[str]:
    """Every cell that can model ``effect``, architectures then conditionings sorted."""
    every = [cell(a, c) for a in names() for c in _conditioning.names()]
    return [n for n in every if why_not(n, effect) is None]


def checked(name: str, effect: Any) -> str:
    """``name`` when it can model ``effect``; else a one-line error naming the cells that can."""
    reason = why_not(name, effect)
    if reason is not None:
        raise BenchError(f"cell {name} cannot model {effect.name}: {reason}; cells that can: "
                         f"{', '.join(cells(effect))}")
    return name


def key_parts(name: str, cfg: ProxyConfig) -> dict[str, Any]:
    """The cache-key parts cell ``name`` contributes: its name, its sizes and its pre-training
    (``cfg`` as made for the cells, ``ProxyConfig.for_cells``)."""
    arch, _ = parse(name)
    return {"arch": name, "arch_config": asdict(arch.config(cfg)), "train": asdict(cfg.train)}


def build(name: str, effect: Any, sample_rate: int, cfg: ProxyConfig, n_cond: int) -> nn.Module:
    """A freshly initialised network of cell ``name`` for ``effect`` (seeded by the caller)."""
    arch, cond = parse(checked(name, effect))
    return arch.build(n_cond, cfg, effect, sample_rate, cond)
