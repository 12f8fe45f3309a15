"""Shared fixtures for the effects-library tests."""

from __future__ import annotations

import numpy as np
import pytest

SR = 44100


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, fresh per test."""
    return np.random.default_rng(1234)


def impulse(batch: int, n: int) -> np.ndarray:
    """Unit impulses, shape (batch, n), float64."""
    x = np.zeros((batch, n))
    x[:, 0] = 1.0
    return x


def normalized(effect, sample_rate: int, **physical: float) -> np.ndarray:
    """The effect's defaults with some parameters set from physical values, shape (1, n)."""
    specs = {p.name: (i, p) for i, p in enumerate(effect.params(sample_rate))}
    p = effect.defaults(sample_rate)
    for name, value in physical.items():
        i, spec = specs[name]
        p[i] = spec.to_normalized(value)
    return p[None]
