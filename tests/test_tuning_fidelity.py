"""Tuning trials run at the budget's lower fidelity, final runs at the full one: a learner's
trials train ``tune_steps``, a search's trials solve ``tune_examples`` validation examples, and
the study carries the budget's protocol version."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench import budgets
from bench.data import default_cache_dir
from bench.results import read_results
from bench.runner import run
from bench.sweep import RunOptions


@pytest.fixture
def low_fidelity_smoke(monkeypatch: pytest.MonkeyPatch) -> budgets.Budget:
    smoke = dataclasses.replace(budgets.BUDGETS["smoke"], tune_steps=6, tune_examples=2,
                                pruner="halving", val_every=3, version=2)
    monkeypatch.setitem(budgets.BUDGETS, "smoke", smoke)
    return smoke


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache with the built corpora but no trained models (a cached model trains no steps)."""
    root = tmp_path / "cache"
    root.mkdir()
    for part in ("corpora", "indexes"):
        if (default_cache_dir() / part).exists():
            (root / part).symlink_to(default_cache_dir() / part)
    return root


def _main_rows(results: Path, strategy: str):
    frame = read_results(results)
    rows = frame[(frame.strategy == strategy) & frame.is_main_metric.astype(bool)]
    return rows[rows.phase == "tune"], rows[rows.phase == "final"]


def test_learner_trials_train_the_tuning_steps_and_finals_the_full_steps(
        low_fidelity_smoke: budgets.Budget, cache: Path, tmp_path: Path) -> None:
    summary = run(RunOptions(strategies="autodiff", tasks="synthetic_speech", budget="smoke",
                             trials=2, final_seeds=1, results_dir=tmp_path / "results",
                             cache_dir=cache, progress=False))
    assert summary.failed == 0
    tune, final = _main_rows(tmp_path / "results", "autodiff")
    assert len(tune) == 2 and tune.n_steps.max() == 6  # defaults first: never pruned
    pruned = tune[tune.status == "pruned"]
    assert (pruned.n_steps < 6).all()  # halving stops the worse trial at its first rung
    assert final.n_steps.iloc[0] == low_fidelity_smoke.steps
    assert set(tune.study_name) == {"synthetic_speech@2/autodiff@1/smoke@2/seed0"}


def test_search_trials_solve_the_tuning_examples_with_the_full_evaluation_budget(
        low_fidelity_smoke: budgets.Budget, tmp_path: Path) -> None:
    summary = run(RunOptions(strategies="cmaes", tasks="synthetic_speech", budget="smoke",
                             trials=1, final_seeds=1, results_dir=tmp_path, progress=False))
    assert summary.failed == 0
    tune, final = _main_rows(tmp_path, "cmaes")
    per_example = low_fidelity_smoke.dsp_evals
    assert tune.n_dsp_evals.iloc[0] <= 2 * per_example
    assert final.n_dsp_evals.iloc[0] > 2 * per_example
