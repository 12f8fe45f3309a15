"""Render the reference DSP over a batch on several threads (the Numba kernels release the GIL).

Strategies and task solvers render through :meth:`bench.base.Counters.render`, which counts
every evaluation and calls :func:`render`; only work that is no strategy's (making examples,
reference rows, proxy pre-training and its fidelity checks) calls :func:`render` directly.
"""

from __future__ import annotations

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np


class Renderable(Protocol):
    """What the renderer runs: an effect or a chain of effects (the reference DSP)."""

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """Reference rendering of ``x`` (batch, samples) with normalized parameters ``p``."""
        ...


def default_workers() -> int:
    """Threads for DSP rendering: ``$AFX_BENCH_DSP_THREADS`` or the number of CPUs."""
    return max(1, int(os.environ.get("AFX_BENCH_DSP_THREADS", os.cpu_count() or 1)))


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="afx-dsp")


def render(chain: Renderable, x: np.ndarray, p: np.ndarray, sample_rate: int,
           workers: int | None = None) -> np.ndarray:
    """``chain.process(x, p)`` split into contiguous chunks rendered concurrently."""
    workers = min(workers or default_workers(), len(x))
    if workers <= 1:
        return chain.process(x, p, sample_rate)
    bounds = np.linspace(0, len(x), workers + 1).astype(int)
    parts = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    futures = [_pool(workers).submit(chain.process, x[a:b], p[a:b], sample_rate)
               for a, b in parts]
    return np.concatenate([f.result() for f in futures])
