"""`python -m bench run --workers N`: N − 1 more processes of the same command on this machine.

Every worker runs the same matrix against the same storage; the runner's claims give each trial
and final run to exactly one of them (see README, "Running on several machines"), so N workers
finish a matrix in about 1/N of the wall time on N free cores. The extra workers run without
progress bars and log to ``<results>/workers/worker-<i>.log``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Worker:
    """One extra worker process and where its output goes."""

    process: subprocess.Popen
    log: Path

    @property
    def failed(self) -> bool:
        """Whether it exited with a non-zero status."""
        return self.process.returncode not in (0, None)


def worker_argv(argv: list[str]) -> list[str]:
    """The command line of an extra worker: ``argv`` without ``--workers`` and its value, with
    ``--no-progress`` (one progress display per terminal)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out if "--no-progress" in out else [*out, "--no-progress"]


DSP_THREADS = "AFX_BENCH_DSP_THREADS"
"""The environment variable of the reference DSP's render threads (:mod:`bench.parallel`)."""


def share_cores(workers: int) -> None:
    """Give each of ``workers`` processes its share of the cores for DSP rendering (unless
    :data:`DSP_THREADS` is set): each rendering on every core oversubscribes the machine. On
    this 2-core machine one CMA-ES blind_music trial and final run alone spent 44 s of system
    time rendering on two threads and 32 s on one, at the same user time."""
    if workers > 1 and DSP_THREADS not in os.environ:
        os.environ[DSP_THREADS] = str(max(1, (os.cpu_count() or 1) // workers))


@contextlib.contextmanager
def extra_workers(argv: list[str], count: int, results_dir: Path) -> Iterator[list[Worker]]:
    """Start ``count`` extra workers of ``argv`` (a ``bench`` command line); on leaving, wait
    for them, or stop them if the caller failed or was interrupted."""
    workers = []
    share_cores(count + 1)  # before the extra workers start: they inherit it
    if count > 0:
        logs = Path(results_dir) / "workers"
        logs.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "bench", *worker_argv(argv)]
        for i in range(1, count + 1):
            log = logs / f"worker-{i}.log"
            with open(log, "w") as handle:
                process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
            workers.append(Worker(process, log))
        print(f"{count} more worker{'s' * (count > 1)} started (logs in {logs}/)")
    try:
        yield workers
    except BaseException:
        for w in workers:
            w.process.terminate()
        for w in workers:
            w.process.wait()
        raise
    for w in workers:
        w.process.wait()
