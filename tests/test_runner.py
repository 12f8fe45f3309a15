"""Runner end to end on the toy task: tuning, final runs, failures, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import optuna
import pandas as pd

from bench.base import Metric
from bench.optuna_storage import open_storage
from bench.results import read_results, result_files
from bench.run_once import CLAIMS_STUDY
from bench.sweep import compared
from tests.conftest import ROOT, bench_cmd

SMOKE = ("run", "--task", "toy", "--budget", "smoke", "--no-progress")


def load_study(results, name):
    return optuna.load_study(study_name=name, storage=open_storage(None, results))


def test_sweep_tunes_then_runs_final_and_reference_rows(tmp_path):
    out = bench_cmd(*SMOKE, "--strategy", "toy_search", "--trials", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    frame = read_results(tmp_path / "results")
    tune = frame[frame.phase == "tune"]
    assert sorted(tune.trial_number.unique()) == [0, 1, 2]
    assert set(tune.split) == {"val"} and set(tune.status) <= {"ok", "pruned"}
    assert tune[tune.status == "pruned"].error.str.startswith("pruned at step").all()
    final = frame[(frame.phase == "final") & (frame.strategy == "toy_search")]
    assert set(final.split) == {"test"} and set(final.metric) == {"param_mae", "l1"}
    assert final.n_dsp_evals.iloc[0] > 0 and final.solve_s.iloc[0] > 0
    best = json.loads(final.params_json.iloc[0])
    refs = frame[frame.is_reference]
    assert set(refs.strategy) == {"input", "oracle"}
    assert refs[(refs.strategy == "oracle") & (refs.metric == "param_mae")].value.iloc[0] == 0
    study = load_study(tmp_path / "results", "toy@1/toy_search@2/smoke/seed0")
    assert study.trials[0].params == {"n_candidates": 16, "shrink": 0.5}  # defaults first
    assert best == study.best_trial.user_attrs["resolved"]
    # fresh seeds on test: the final seed differs from the tuning seed
    assert final.seed.iloc[0] not in set(tune.seed)


def test_final_seeds_overrides_the_budget_and_more_resume_the_missing_ones(tmp_path):
    args = (*SMOKE, "--strategy", "toy_search", "--trials", "1")
    assert bench_cmd(*args, "--final-seeds", "2", cwd=tmp_path).returncode == 0
    finals = lambda: read_results(tmp_path / "results").query("phase == 'final'")  # noqa: E731
    first = set(finals().seed)
    assert len(first) == 2
    out = bench_cmd(*args, "--final-seeds", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert len(set(finals().seed)) == 3 and first < set(finals().seed)
    bad = bench_cmd(*args, "--final-seeds", "0", cwd=tmp_path)
    assert bad.returncode != 0 and "--final-seeds must be at least 1, got 0" in bad.stderr


def test_best_from_fixes_each_cell_to_its_tuned_setting_in_one_trial(tmp_path):
    """`--best-from A` retrains A's best configuration without tuning: one trial a study, with
    the hyperparameters A's final runs used; --param still wins; no sweep there is an error."""
    args = (*SMOKE, "--strategy", "toy_search")
    assert bench_cmd(*args, "--trials", "3", "--results-dir", "a", cwd=tmp_path).returncode == 0
    finals = lambda d: read_results(tmp_path / d).query(  # noqa: E731
        "phase == 'final' and strategy == 'toy_search'")
    tuned = json.loads(finals("a").params_json.iloc[0])
    out = bench_cmd(*args, "--best-from", "a", "--results-dir", "b", "--seed", "5",
                    cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    names = [n for n in optuna.get_all_study_names(open_storage(None, tmp_path / "b"))
             if n.startswith("toy@1/toy_search@2/smoke/seed5/")]  # fixed settings: own study
    assert len(names) == 1
    study = load_study(tmp_path / "b", names[0])
    assert len(study.trials) == 1 and study.trials[0].user_attrs["resolved"] == tuned
    assert json.loads(finals("b").params_json.iloc[0]) == tuned
    out = bench_cmd(*args, "--best-from", "a", "--param", "shrink=0.9", "--results-dir", "c",
                    cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(finals("c").params_json.iloc[0]) == {**tuned, "shrink": 0.9}
    (tmp_path / "empty").mkdir()
    for source, needle in (("empty", "no final runs at the smoke budget"),
                           ("nope", "no such results directory")):
        bad = bench_cmd(*args, "--best-from", source, "--results-dir", "d", cwd=tmp_path)
        assert bad.returncode != 0 and needle in bad.stderr
    assert not (tmp_path / "d" / "runs").exists()


def test_closing_line_puts_the_result_next_to_its_reference_rows(tmp_path):
    out = bench_cmd(*SMOKE, "--strategy", "toy_search", "--trials", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "toy_search@2/smoke/seed0: final" in x)
    assert " final param_mae=" in line and "(oracle 0)" in line  # input has no param_mae


def test_closing_verdict_follows_the_metric_direction():
    msd, acc = Metric("msd", higher_is_better=False), Metric("acc", higher_is_better=True)
    assert compared(msd, [41.31], {"input": [37.36], "oracle": []}) == (
        "msd=41.31 (input 37.36, worse than input)")
    assert compared(acc, [0.5, 0.7], {"input": [0.2, None], "oracle": [1.0],
                                      "supervised": [0.9]}) == (
        "acc=0.5, 0.7 (input 0.2, oracle 1, supervised 0.9, better than input, "
        "worse than supervised)")
    assert compared(msd, [2.0], {"input": [2.0]}) == "msd=2 (input 2, same as input)"
    assert compared(msd, [None], {"input": [3.0]}) == "msd=failed (input 3)"
    assert compared(msd, [1.5], {"input": [None]}) == "msd=1.5"


def test_a_reference_row_the_task_cannot_produce_is_a_recorded_skip(tmp_path):
    args = ("run", "--task", "toy_unreferenced", "--strategy", "toy_search_loud",
            "--budget", "smoke", "--trials", "1", "--no-progress")
    out = bench_cmd(*args, cwd=tmp_path, plugins="tests.plugins.loud")
    assert out.returncode == 0, out.stderr
    frame = read_results(tmp_path / "results")
    mystery = frame[frame.strategy == "mystery"]
    assert list(mystery.status) == ["skipped"] and bool(mystery.is_reference.iloc[0])
    assert mystery.error.iloc[0] == ("task 'toy_unreferenced' cannot produce a 'mystery' row "
                                     "(NotImplementedError: mystery)")
    assert "mystery reference skipped" in out.stdout
    assert set(frame[frame.strategy == "oracle"].status) == {"ok"}
    claims = load_study(tmp_path / "results", CLAIMS_STUDY).trials
    status = {c.user_attrs["claim"]: c.user_attrs["status"] for c in claims}
    assert status[mystery.run_key.iloc[0]] == "skipped"
    again = bench_cmd(*args, cwd=tmp_path, plugins="tests.plugins.loud")
    assert "done: 0 runs" in again.stdout and len(read_results(tmp_path / "results")) == len(
        frame)


def test_rerun_resumes_and_duplicates_nothing(tmp_path):
    args = (*SMOKE, "--strategy", "toy_search", "--trials", "2", "--seeds", "2")
    assert bench_cmd(*args, cwd=tmp_path).returncode == 0
    before = read_results(tmp_path / "results")
    again = bench_cmd(*args, cwd=tmp_path)
    assert again.returncode == 0 and "done: 0 runs" in again.stdout
    after = read_results(tmp_path / "results")
    assert len(after) == len(before)
    raw = pd.concat(pd.read_parquet(f) for f in result_files(tmp_path / "results"))
    assert not raw.duplicated(["run_key", "metric"]).any()


def test_raising_and_nan_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    out = bench_cmd(*SMOKE, "--strategy", "toy_flaky", "--trials", "8", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    tune = read_results(tmp_path / "results").query("phase == 'tune' and is_main_metric")
    assert len(tune) == 8
    modes = tune.params_json.map(lambda s: json.loads(s)["mode"])
    raised = tune[modes == "raise"]
    assert len(raised) >= 1 and (raised.status == "failed").all()
    assert raised.error.str.contains("RuntimeError: deliberate failure").all()
    assert raised.value.isna().all()
    nan = tune[modes == "nan"]
    assert (nan.status == "failed").all() and nan.error.str.contains("non-finite").all()
    assert set(tune[modes == "ok"].status) <= {"ok", "pruned"} and "ok" in set(tune.status)
    study = load_study(tmp_path / "results", "toy@1/toy_flaky@1/smoke/seed0")
    assert sum(t.state.is_finished() for t in study.trials) == 8


def test_sigkill_mid_trial_then_rerun_finishes_without_loss_or_duplicates(tmp_path):
    args = [sys.executable, "-m", "bench", *SMOKE, "--strategy", "toy_slow", "--trials", "4",
            "--param", "sleep_s=0.4"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_PLUGINS": "tests.plugins.flaky"}
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    results = tmp_path / "results"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until trial 0 is on disk, then kill inside trial 1
        if result_files(results) and len(read_results(results).query("phase=='tune'")):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = read_results(results)
    assert set(first.trial_number.dropna()) == {0}  # killed inside trial 1
    study = load_study(results, "toy@1/toy_slow@1/smoke/seed0/" + first.study_name.iloc[0][-8:])
    assert any(t.state.name == "RUNNING" for t in study.trials)

    out = bench_cmd(*SMOKE, "--strategy", "toy_slow", "--trials", "4", "--param",
                    "sleep_s=0.4", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    frame = read_results(results)
    tune = frame[(frame.phase == "tune") & frame.is_main_metric]
    assert len(tune) == 4 and tune.run_key.is_unique
    assert first.run_key.iloc[0] in set(tune.run_key)  # nothing lost
    trials = load_study(results, first.study_name.iloc[0]).trials
    stale = [t for t in trials if t.user_attrs.get("stale")]
    assert len(stale) == 1 and stale[0].state.name == "FAIL"
    retried = [t for t in trials if t.user_attrs.get("retry_of") == stale[0].number]
    assert len(retried) == 1 and retried[0].params == stale[0].params
    assert len(frame[(frame.phase == "final") & (frame.strategy == "toy_slow")]) == 2
    raw = pd.concat(pd.read_parquet(f) for f in result_files(results))
    assert not raw.duplicated(["run_key", "metric"]).any()


def test_two_workers_share_the_matrix_and_run_each_key_once(tmp_path):
    args = (*SMOKE, "--strategy", "toy_search", "--trials", "4", "--seeds", "2")
    for d in ("one", "two"):
        (tmp_path / d).mkdir()
    out = bench_cmd(*args, "--workers", "2", cwd=tmp_path / "two")
    assert out.returncode == 0, out.stderr
    assert "1 more worker started" in out.stdout
    # a fresh directory: what the other worker ran is its, not "already done"
    assert re.search(r"runs \(0 failed\), \d+ by 1 more worker, 0 already done", out.stdout)
    log = (tmp_path / "two" / "results" / "workers" / "worker-1.log").read_text()
    assert "done:" in log  # the extra worker ran to its own summary
    raw = pd.concat(pd.read_parquet(f) for f in result_files(tmp_path / "two" / "results"))
    assert not raw.duplicated(["run_key", "metric"]).any()
    assert bench_cmd(*args, cwd=tmp_path / "one").returncode == 0
    # the same work as one worker, each unit done once (a final run's key may differ: which
    # trial wins depends on the order in which parallel trials were sampled; which trials the
    # median pruner stops, and so which metrics a tuning trial has, depends on that order too)
    units = [read_results(tmp_path / d / "results").groupby(["phase", "strategy"]).run_key
             .nunique().to_dict() for d in ("one", "two")]
    assert units[0] == units[1] == {("final", "input"): 2, ("final", "oracle"): 2,
                                    ("final", "toy_search"): 2, ("tune", "toy_search"): 8}


def test_workers_share_the_cores_for_rendering_unless_told(monkeypatch):
    from bench import workers

    monkeypatch.setattr(workers.os, "cpu_count", lambda: 4)
    monkeypatch.delenv(workers.DSP_THREADS, raising=False)
    workers.share_cores(1)  # one worker renders on every core
    assert workers.DSP_THREADS not in workers.os.environ
    workers.share_cores(3)
    assert workers.os.environ[workers.DSP_THREADS] == "1"
    monkeypatch.setenv(workers.DSP_THREADS, "3")  # the user's choice stands
    workers.share_cores(2)
    assert workers.os.environ[workers.DSP_THREADS] == "3"
    monkeypatch.delenv(workers.DSP_THREADS)
    workers.share_cores(2)
    assert workers.os.environ[workers.DSP_THREADS] == "2"


def test_worker_command_line_drops_workers_and_hides_progress():
    from bench.workers import worker_argv

    assert worker_argv(["run", "--workers", "3", "--task", "toy"]) == [
        "run", "--task", "toy", "--no-progress"]
    assert worker_argv(["run", "--workers=2", "--no-progress"]) == ["run", "--no-progress"]
