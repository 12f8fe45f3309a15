"""Render the reference DSP over a batch on several threads (the Numba kernels release the GIL)."""

from __future__ import annotations

import functools
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np


def default_workers() -> int:
    """Threads for DSP rendering: ``$AFX_BENCH_DSP_THREADS`` or the number of CPUs."""
    return max(1, int(os.environ.get("AFX_BENCH_DSP_THREADS", os.cpu_count() or 1)))


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="afx-dsp")


def render(chain: Any, x: np.ndarray, p: np.ndarray, sample_rate: int,
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
