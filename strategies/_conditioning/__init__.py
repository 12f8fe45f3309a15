"""How an effect model's parameters enter its layers: the conditioning axis of the effect-model
grid (architectures × conditionings, :mod:`strategies._architectures`).

One file per conditioning. A :class:`~strategies._conditioning.base.Conditioning` subclass that
declares ``name`` registers itself when its module is imported, and this package imports every
module in it, so adding a conditioning is adding one file here.
"""

from __future__ import annotations

import importlib
import pkgutil

from strategies._conditioning.base import REGISTRY, Conditioning, Modulation, attach

for _info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
    importlib.import_module(_info.name)


def names() -> tuple[str, ...]:
    """The registered conditionings, sorted."""
    return tuple(sorted(REGISTRY))


__all__ = ["REGISTRY", "Conditioning", "Modulation", "attach", "names"]
