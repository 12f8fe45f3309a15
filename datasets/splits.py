"""Group-disjoint train/validation/test assignment: a speaker or a song is in exactly one split."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from bench.data import SPLITS

FRACTIONS = (0.7, 0.15, 0.15)


def stable_seed(*parts: object) -> int:
    """A 31-bit seed from the text of ``parts`` (the same on every machine and run)."""
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def assign_splits(groups: Iterable[str], *, seed: int,
                  fractions: tuple[float, float, float] = FRACTIONS) -> dict[str, str]:
    """Map each distinct group to a split: a seeded shuffle cut by ``fractions``.

    With three or more groups every split with a non-zero fraction gets at least one group;
    fewer groups all go to train.
    """
    names = sorted(set(groups))
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    n = len(order)
    n_val = round(n * fractions[1])
    n_test = round(n * fractions[2])
    if n >= 3:
        n_val, n_test = (max(k, 1 if f > 0 else 0) for k, f in zip((n_val, n_test), fractions[1:],
                                                                   strict=True))
    else:
        n_val, n_test = 0, 0
    n_train = n - n_val - n_test
    sizes = dict(zip(SPLITS, (n_train, n_val, n_test), strict=True))
    out: dict[str, str] = {}
    start = 0
    for split in SPLITS:
        for name in order[start:start + sizes[split]]:
            out[name] = split
        start += sizes[split]
    return out


def check_disjoint(pairs: Iterable[tuple[str, str]]) -> None:
    """Raise ValueError if any group appears in two splits (``pairs`` of (group, split))."""
    seen: dict[str, str] = {}
    for group, split in pairs:
        if seen.setdefault(group, split) != split:
            raise ValueError(f"group {group!r} is in both {seen[group]!r} and {split!r}")
