"""Process settings for timings: thread limits must not break Numba compilation later in the
same process, and kept heap memory spares large allocations their page faults."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = """
import numba, numpy as np
numba.get_num_threads()                    # launch Numba's pool at its default size
from bench.env import limit_threads
limit_threads()
limit_threads()                            # twice: the second call must change nothing
f = numba.njit(lambda x: x * 2.0)          # a fresh compilation re-reads Numba's config
print(f(np.float64(1.5)), numba.get_num_threads())
"""


def test_limit_threads_after_numba_started_keeps_compilation_working():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["3.0", "1"]


FAULTS = """
import resource, sys
import torch
from bench.env import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def step():                                # two 41-MB tensors: past glibc's largest threshold
    return (torch.ones(4, 16, 160_000) * 2).sum()
for _ in range(5):                         # the heap settles
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_kept_memory_spares_large_allocations_their_page_faults():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    faults = {}
    for mode in ("plain", "keep"):
        out = subprocess.run([sys.executable, "-c", FAULTS, mode], env=env, capture_output=True,
                             text=True, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        faults[mode] = int(out.stdout)
    assert faults["plain"] > 10 * 10_000  # each step faults its tensors in afresh (20 000 pages)
    assert faults["keep"] < faults["plain"] / 10
