"""Thread limits for timings must not break Numba compilation later in the same process."""

from __future__ import annotations

import os
import subprocess
import sys

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
