"""`python -m bench launch … -- run …`: the same `run` command as N workers submitted through
submitit (benchopt's launcher): to SLURM, or as local processes.

Every worker runs the `run` command unchanged against one Optuna storage, so claims, heartbeats,
stale-trial reclaim and resuming work exactly as with workers started by hand (README, "Running
on several machines"): each trial and each final run happens once whichever worker gets it, and
a worker that dies (preemption, time limit, SIGKILL) is found by its stopped heartbeat (or, on
one machine, its missing process) and its work redone by another. Workers on several machines
need a database storage: a journal file is safe on one machine only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError

EXECUTORS = ("slurm", "local")


@dataclass(frozen=True)
class Launch:
    """What `bench launch` was asked: the run command and where and how to submit it."""

    command: list[str]
    workers: int
    executor: str = "slurm"
    partition: str | None = None
    timeout_min: int = 24 * 60
    gpus_per_worker: int | None = None
    cpus_per_worker: int = 1
    mem_gb: float | None = None
    folder: Path | None = None


def run_command(command: list[str], parse: Callable[[list[str]], Any]) -> tuple[list[str], Any]:
    """The `run` command after ``--`` and its arguments as ``parse`` (the CLI's parser) reads
    them; anything else is an error."""
    command = command[1:] if command[:1] == ["--"] else command
    if command[:1] != ["run"]:
        raise BenchError("launch submits a `run` command: `python -m bench launch [options] -- "
                         f"run …`, got {' '.join(command) or 'nothing'} after the options")
    try:
        args = parse(command)
    except SystemExit as exc:
        raise BenchError(f"the run command does not parse (see above): {' '.join(command)}") \
            from exc
    if args.workers != 1:
        raise BenchError("give the number of workers to launch (`launch --workers N`), not to "
                         "the run command: each launched worker is one process")
    return command, args


def check_storage(executor: str, storage: str | None) -> None:
    """SLURM workers may land on several machines: they need a database storage."""
    if executor == "slurm" and (not storage or storage.startswith("journal:")):
        raise BenchError("SLURM workers may run on several machines, and a journal file is "
                         "safe on one only: give the run command `--storage postgresql://…` "
                         "(README, \"Running on several machines\")")


def executor(spec: Launch, args: Any) -> Any:
    """A submitit executor for ``spec`` (one task per worker, its GPUs, CPUs and memory); the
    logs go to ``spec.folder``, default ``<results>/launch``."""
    import submitit

    folder = spec.folder or Path(args.results_dir) / "launch"
    gpus = spec.gpus_per_worker
    if gpus is None:  # a worker asked to run on CUDA gets a GPU
        gpus = 1 if str(args.device).startswith("cuda") else 0
    try:
        ex = submitit.AutoExecutor(folder=folder, cluster=spec.executor)
    except RuntimeError as exc:  # submitit finds no srun
        raise BenchError(f"no SLURM here ({exc}): launch from the cluster's login node, or "
                         "run the workers on this machine with --executor local") from exc
    params: dict[str, Any] = {"name": "afx-bench", "timeout_min": spec.timeout_min,
                              "nodes": 1, "tasks_per_node": 1, "gpus_per_node": gpus,
                              "cpus_per_task": spec.cpus_per_worker}
    if spec.mem_gb is not None:
        params["mem_gb"] = spec.mem_gb
    if spec.executor == "slurm":
        params["slurm_array_parallelism"] = spec.workers
        if spec.partition:
            params["slurm_partition"] = spec.partition
    ex.update_parameters(**params)
    return ex


def launch(spec: Launch, parse: Callable[[list[str]], Any], wait: bool = True) -> int:
    """Submit the workers (``parse``: the CLI's parser, which checks the run command first);
    with ``wait``, wait for them and return 1 if any failed (the sweep may still be complete:
    the others redo a dead worker's work)."""
    if spec.executor not in EXECUTORS:
        raise BenchError(f"--executor {spec.executor!r}: choose one of {', '.join(EXECUTORS)}")
    if spec.workers < 1:
        raise BenchError(f"--workers {spec.workers}: give at least 1")
    command, args = run_command(spec.command, parse)
    check_storage(spec.executor, args.storage)
    try:
        import submitit
    except ImportError as exc:
        raise BenchError("launch needs submitit: .venv/bin/pip install -c .venv/constraints.txt "
                         "'.[cluster]'") from exc
    ex = executor(spec, args)
    argv = [sys.executable, "-m", "bench", *command]
    if "--no-progress" not in argv:
        argv.append("--no-progress")
    worker = submitit.helpers.CommandFunction(argv, cwd=os.getcwd(), env=dict(os.environ))
    with ex.batch():
        jobs = [ex.submit(worker) for _ in range(spec.workers)]
    print(f"submitted {len(jobs)} workers ({spec.executor}): {' '.join(argv[3:])}; "
          f"logs in {ex.folder}/", flush=True)
    if not wait:
        print("job ids: " + " ".join(str(j.job_id) for j in jobs))
        return 0
    failed = 0
    for i, job in enumerate(jobs, 1):
        try:
            job.result()
            print(f"worker {i} ({job.job_id}) finished")
        except Exception as exc:  # noqa: BLE001 - reported, the other workers carry on
            failed += 1
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            print(f"worker {i} ({job.job_id}) failed: {reason}; log {job.paths.stdout}",
                  file=sys.stderr)
    print(f"{len(jobs) - failed} of {len(jobs)} workers finished; run the same `run` command "
          "again to check that the sweep is complete (it resumes: only what is missing runs)")
    return 1 if failed else 0
