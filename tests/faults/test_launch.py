"""`bench launch`: workers submitted through submitit. Its local executor starts real processes
on one journal; one worker is SIGKILLed mid-trial and the sweep still completes, each run key
once. The SLURM submission is checked as the sbatch script submitit writes (no cluster here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from bench.cli import build_parser
from bench.errors import BenchError
from bench.launch import Launch, check_storage, executor, launch
from bench.launch import run_command as checked
from bench.optuna_storage import open_storage
from tests.conftest import ROOT, bench_cmd
from tests.faults.test_workers import FAST_HEARTBEAT, RUN, STUDY, check_sweep


def run_command(command: list[str]) -> tuple[list[str], object]:
    return checked(command, build_parser().parse_args)


submitit = pytest.importorskip("submitit", reason="submitit not installed: pip install "
                                                  "-c .venv/constraints.txt '.[cluster]'")


def kill_a_worker_mid_trial(storage: object) -> int:
    """SIGKILL the `bench run` process holding the first running trial that has its run key
    (a grandchild of the launcher: submitit's job runs it); return the trial number."""
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            study = optuna.load_study(study_name=STUDY, storage=storage)
        except KeyError:
            time.sleep(0.1)
            continue
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            pid = t.user_attrs.get("worker", {}).get("pid")
            if pid and "run_key" in t.user_attrs:
                os.kill(pid, signal.SIGKILL)
                return t.number
        time.sleep(0.1)
    raise AssertionError("no launched worker started a trial within 180 s")


def test_local_workers_survive_a_sigkill_and_the_sweep_completes(tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, **FAST_HEARTBEAT, "PYTHONPATH": str(ROOT),
           "BENCH_PLUGINS": "tests.plugins.flaky"}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "bench", "launch", "--executor", "local", "--workers", "2",
         "--", *RUN, "--results-dir", str(results)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    storage = open_storage(None, results)
    victim = kill_a_worker_mid_trial(storage)
    out, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 1, out + err  # one worker died …
    assert "1 of 2 workers finished" in out and "failed" in err
    before = check_sweep(storage, [results], victim)  # … and the other finished its work
    again = bench_cmd(*RUN, "--results-dir", str(results), cwd=tmp_path)
    assert again.returncode == 0 and "done: 0 runs" in again.stdout, again.stderr
    assert len(before) == len(check_sweep(storage, [results], victim))
    assert any((results / "launch").glob("*_log.out"))  # submitit's per-worker logs


@pytest.mark.parametrize("command, message", [
    (["report"], "launch submits a `run` command"),
    (["--", "run", "--workers", "2"], "not to the run command"),
    (["run", "--budget", "huge"], "does not parse"),
])
def test_only_a_plain_run_command_is_launched(command, message):
    with pytest.raises(BenchError, match=message):
        run_command(command)


def test_slurm_workers_need_a_database_storage():
    for storage in (None, "journal:/shared/optuna.journal"):
        with pytest.raises(BenchError, match="postgresql"):
            check_storage("slurm", storage)
    check_storage("slurm", "postgresql://afx@db/afx_bench")
    check_storage("local", None)  # one machine: the journal is safe
    with pytest.raises(BenchError, match="postgresql"):
        launch(Launch(["run", "--task", "toy"], workers=2), build_parser().parse_args)


def test_without_slurm_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun
    command, args = run_command(["run", "--storage", "postgresql://x"])
    with pytest.raises(BenchError, match=r"no SLURM here.*--executor local"):
        executor(Launch(command, workers=2, folder=tmp_path), args)


def test_the_slurm_script_asks_for_partition_gpus_and_time(tmp_path, monkeypatch):
    """The sbatch script submitit would submit for our parameters; an ``srun`` that does
    nothing stands in for the cluster only so that submitit builds its SLURM executor."""
    from submitit.slurm.slurm import _make_sbatch_string

    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text("#!/bin/sh\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{srun.parent}:{os.environ['PATH']}")
    command, args = run_command(["--", "run", "--device", "cuda", "--storage", "postgresql://x"])
    spec = Launch(command, workers=4, partition="gpu", timeout_min=120, folder=tmp_path)
    ex = executor(spec, args)
    script = _make_sbatch_string(command="python -m bench run", folder=tmp_path,
                                 **ex._executor.parameters)  # what submitit would submit
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=120",
                 "#SBATCH --ntasks-per-node=1", "#SBATCH --cpus-per-task=1"):
        assert line in script, script
    assert ex._executor.parameters["array_parallelism"] == 4
