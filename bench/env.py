"""Facts about where a run happens: machine id, library versions, git revision."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import socket
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import bench

ROOT = Path(bench.__file__).resolve().parent.parent


@functools.cache
def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or "unknown-cpu"


@functools.cache
def machine_id(device: str = "cpu") -> str:
    """A readable id of the hardware and Python: timings never compare across different ids.
    Work on an accelerator adds it, by name (``bench.device.name``):
    ``…-py3.11+cuda_0_NVIDIA_H200``."""
    cpu = re.sub(r"[^A-Za-z0-9]+", "_", cpu_model()).strip("_")
    py = ".".join(platform.python_version_tuple()[:2])
    base = f"{platform.system()}-{platform.machine()}-{cpu}-{os.cpu_count()}cpu-py{py}"
    return base if device == "cpu" else f"{base}+{re.sub(r'[^A-Za-z0-9]+', '_', device).strip('_')}"


@functools.cache
def host_hash() -> str:
    """A short, privacy-preserving host identifier."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]


def package_version(name: str) -> str:
    """Installed version of ``name``, or an empty string."""
    try:
        return version(name)
    except PackageNotFoundError:
        return ""


@functools.cache
def versions() -> dict[str, str]:
    """Versions recorded with every result row."""
    return {
        "python_version": platform.python_version(),
        "torch_version": package_version("torch"),
        "numpy_version": package_version("numpy"),
        "optuna_version": package_version("optuna"),
        "bench_version": bench.__version__,
    }


@functools.cache
def git_state() -> tuple[str, bool]:
    """(sha, dirty) of the source tree; ('unknown', False) outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return sha, dirty


HELD_BYTES = 1 << 30
"""Freed heap memory a process keeps for its next allocations (glibc's mmap and trim
thresholds): a proxy's padded activations and their gradients are tens of MB each step."""


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and keep freed memory for the next ones.

    glibc maps every allocation above 32 MiB (dynamically, from 128 KiB) afresh and returns it
    on free, so each training step page-faults its large tensors in again: a reverb proxy's
    step at standard sizes spent 0.115 of its 0.23 CPU s in the kernel (54 000 page faults a
    step), 0.002 of 0.10 s with the memory kept. Returns whether the allocator took the
    setting (False where libc has no ``mallopt``: not glibc).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    return all(mallopt(option, value) for option, value in (
        (m_mmap_threshold, HELD_BYTES), (m_trim_threshold, HELD_BYTES), (m_arena_max, 1)))


def limit_threads() -> None:
    """One Numba thread and one torch thread, for timings comparable across runs.

    Numba's pool size is set through the environment only while Numba is not imported: once
    its threads exist, a changed ``NUMBA_NUM_THREADS`` makes every later compilation raise.
    """
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(1)
    else:
        os.environ["NUMBA_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
