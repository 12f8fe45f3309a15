"""Deterministic seeds derived from a base seed and named axes, and global seeding."""

from __future__ import annotations

import hashlib
import random


def derive_seed(base: int, *axes: object) -> int:
    """A 31-bit seed that depends only on ``base`` and the axes (strings, ints …)."""
    text = "/".join([str(base), *map(str, axes)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if already imported) torch."""
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
