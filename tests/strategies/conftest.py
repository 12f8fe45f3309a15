"""Fixtures of the strategy tests: one torch thread, tiny audio, a small peq → compressor chain."""

from __future__ import annotations

import numpy as np
import pytest

SAMPLE_RATE = 16000


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run torch single-threaded: on a shared 2-core machine OpenMP barriers cost ~100×."""
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def audio() -> np.ndarray:
    """Six seeded 0.5 s clips (:func:`clips`)."""
    return clips()


def clips() -> np.ndarray:
    """Six seeded 0.5 s clips: gated tones plus noise, float32 (n_clips, samples)."""
    rng = np.random.default_rng(7)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    tones = np.sin(2 * np.pi * rng.uniform(80, 2000, (6, 3, 1)) * t).sum(1)
    gate = 0.1 + 0.9 * (np.sin(2 * np.pi * rng.uniform(1, 4, (6, 1)) * t) > 0)
    return (0.2 * tones * gate + 0.05 * rng.standard_normal((6, len(t)))).astype(np.float32)


@pytest.fixture
def chain():
    """The two-effect chain of the style-transfer tasks: PEQ then compressor."""
    from bench.dsp import Chain

    return Chain(["peq", "compressor"])
