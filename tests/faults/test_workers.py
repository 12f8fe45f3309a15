"""Several workers on one study (PostgreSQL, journal file): one is SIGKILLed mid-trial, the sweep
still finishes exactly the requested trials, each once, and every final run once."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from bench.optuna_storage import GRACE_ENV, HEARTBEAT_ENV, open_storage
from bench.results import read_results, result_files, run_key
from bench.run_once import CLAIMS_STUDY, HOST_ENV, Claims, slots
from tests.conftest import ROOT, bench_cmd

SLEEP_S = 0.5
TRIALS = 6
STUDY = f"toy@1/toy_slow@1/smoke/seed0/{run_key(sleep_s=SLEEP_S)[:8]}"
RUN = ("run", "--task", "toy", "--strategy", "toy_slow", "--budget", "smoke", "--trials",
       str(TRIALS), "--param", f"sleep_s={SLEEP_S}", "--no-progress")
FAST_HEARTBEAT = {HEARTBEAT_ENV: "2", GRACE_ENV: "5"}


def start_workers(cwd: Path, results_dirs: list[Path], storage: str | None,
                  machines: bool = False) -> list[subprocess.Popen]:
    """One `bench run` process per results directory, all on the same study; with
    ``machines`` each believes it is on its own host, so only heartbeats can reveal a death."""
    env = {**os.environ, **FAST_HEARTBEAT, "PYTHONPATH": str(ROOT),
           "BENCH_PLUGINS": "tests.plugins.flaky"}
    extra = ["--storage", storage] if storage else []
    return [subprocess.Popen([sys.executable, "-m", "bench", *RUN, *extra, "--results-dir",
                              str(d)], cwd=cwd, env={**env, HOST_ENV: d.name} if machines
                             else env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for d in results_dirs]


def kill_one_mid_trial(workers: list[subprocess.Popen], storage: object) -> int:
    """SIGKILL the worker of the first running trial that has its run key; its trial number."""
    by_pid = {w.pid: w for w in workers}
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            study = optuna.load_study(study_name=STUDY, storage=storage)
        except KeyError:
            time.sleep(0.1)
            continue
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            pid = t.user_attrs.get("worker", {}).get("pid")
            if pid in by_pid and "run_key" in t.user_attrs:
                by_pid[pid].send_signal(signal.SIGKILL)
                by_pid[pid].wait()
                return t.number
        time.sleep(0.1)
    raise AssertionError("no worker started a trial within 120 s")


def check_sweep(storage: object, results_dirs: list[Path], victim: int) -> pd.DataFrame:
    """The killed trial was retried once with its params and run key; exactly TRIALS trials
    count; Parquet holds one row set per trial and per final run, none twice."""
    trials = optuna.load_study(study_name=STUDY, storage=storage).trials
    stale = [t for t in trials if t.user_attrs.get("stale")]
    assert [t.number for t in stale] == [victim] and stale[0].state == TrialState.FAIL
    counted = slots(trials)
    retry = [t for t in counted if t.user_attrs.get("retry_of") == victim]
    assert len(retry) == 1 and retry[0].params == stale[0].params
    assert retry[0].user_attrs["run_key"] == stale[0].user_attrs["run_key"]
    assert len(counted) == TRIALS and all(t.state.is_finished() for t in counted)

    raw = pd.concat(pd.read_parquet(f) for d in results_dirs for f in result_files(d))
    assert not raw.duplicated(["run_key", "metric"]).any()
    tune = raw[(raw.phase == "tune") & raw.is_main_metric]
    assert sorted(tune.run_key) == sorted(t.user_attrs["run_key"] for t in counted)
    final = raw[(raw.phase == "final") & (raw.strategy == "toy_slow")]
    assert final.run_key.nunique() == 1 and len(final) == 2  # one repetition, two metrics
    refs = raw[raw.is_reference]
    assert refs.groupby("strategy").run_key.nunique().to_dict() == {"input": 1, "oracle": 1}
    claims = optuna.load_study(study_name=CLAIMS_STUDY, storage=storage).trials
    held = [c for c in claims if c.state == TrialState.COMPLETE]
    assert sorted(c.user_attrs["claim"] for c in held) == sorted(
        set(final.run_key) | set(refs.run_key))
    return raw


def test_three_workers_on_postgres_survive_a_sigkill(postgres_url, tmp_path, monkeypatch):
    machines = [tmp_path / f"machine{i}" for i in range(3)]  # one results dir per machine
    workers = start_workers(tmp_path, machines, postgres_url, machines=True)
    for name, value in FAST_HEARTBEAT.items():
        monkeypatch.setenv(name, value)
    storage = open_storage(postgres_url, tmp_path)
    victim = kill_one_mid_trial(workers, storage)
    survivors = [w for w in workers if w.returncode is None]
    for w in survivors:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    check_sweep(storage, machines, victim)
    # the killed worker may have written nothing, and report refuses an empty results directory
    dirs = [arg for d in machines if result_files(d) for arg in ("--results-dir", str(d))]
    out = bench_cmd("report", *dirs, "--reports-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "toy_slow" in (tmp_path / "reports" / "leaderboard.md").read_text()


def test_two_local_workers_on_the_journal_survive_a_sigkill_and_resume(tmp_path):
    results = tmp_path / "results"
    workers = start_workers(tmp_path, [results, results], None)
    storage = open_storage(None, results)
    victim = kill_one_mid_trial(workers, storage)
    survivor = next(w for w in workers if w.returncode is None)
    _, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    before = check_sweep(storage, [results], victim)
    again = bench_cmd(*RUN, cwd=tmp_path)  # the killed worker's command, run again
    assert again.returncode == 0 and "done: 0 runs" in again.stdout, again.stderr
    assert len(read_results(results)) == len(before)


def _contend(path: str, keys: list[str], queue: multiprocessing.Queue) -> None:
    """One worker: run each key once it holds the claim (see test below)."""
    claims = Claims(open_storage(f"journal:{path}", Path(path).parent))
    for key in keys:
        while True:
            state, got = claims.acquire(key)
            if state == Claims.RUN:
                queue.put(("ran", key, os.getpid()))
                time.sleep(0.05)
                claims.release(got, "ok", 1.0)
                break
            if state == Claims.DONE:
                break
            time.sleep(random.uniform(0.0, 0.05))


def test_concurrent_claims_run_each_key_exactly_once(tmp_path):
    keys = [f"key{i}" for i in range(6)]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(tmp_path / "j.log"), keys, queue))
             for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    ran = [queue.get(timeout=5) for _ in range(len(keys))]
    assert sorted(k for _, k, _ in ran) == keys and queue.empty()


def test_a_dead_workers_claim_is_taken_over_and_a_live_one_is_respected(tmp_path):
    storage = open_storage(None, tmp_path)
    claims = Claims(storage)
    state, mine = claims.acquire("k")
    assert state == Claims.RUN
    assert claims.acquire("k") == (Claims.BUSY, None)  # held by a live worker (this one)
    dead = subprocess.Popen(["true"])
    dead.wait()
    tag = storage.get_trial(mine).user_attrs["worker"]
    storage.set_trial_user_attr(mine, "worker", {**tag, "pid": dead.pid})
    state, taken = claims.acquire("k")
    assert state == Claims.RUN and taken != mine
    assert storage.get_trial(mine).state == TrialState.FAIL
    claims.release(taken, "ok", 0.5)
    assert claims.acquire("k") == (Claims.DONE, 0.5)


@pytest.mark.parametrize("status, resolved", [("ok", True), ("failed", False)])
def test_a_failed_final_run_is_retried_by_a_later_command_only(tmp_path, monkeypatch, status,
                                                               resolved):
    from bench import run_once

    claims = Claims(open_storage(None, tmp_path))
    _, claim = claims.acquire("k")
    claims.release(claim, status, None)
    assert claims.acquire("k")[0] == Claims.DONE  # same command: not run twice
    monkeypatch.setattr(run_once, "PROCESS_START", time.time() + 1)  # a later command
    assert (claims.acquire("k")[0] == Claims.DONE) is resolved
