"""Shared fixtures: the repository root, a subprocess runner for the CLI, registry isolation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench_cmd(*args: str, cwd: Path, plugins: str = "tests.plugins.flaky",
              timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m bench ARGS`` in ``cwd`` with the test plugins importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_PLUGINS": plugins}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture
def isolated_registry():
    """Let a test register classes freely; restore every registry afterwards."""
    from bench import registry as reg

    reg.discover()
    saved = {k: dict(r._classes) for k, r in reg.REGISTRIES.items()}
    failures = list(reg.FAILURES)
    yield reg
    for k, r in reg.REGISTRIES.items():
        r._classes = saved[k]
    reg.FAILURES[:] = failures
