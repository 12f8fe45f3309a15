"""Searches report their progress in percent of their budget, and Hyperband prunes over it."""

from pathlib import Path

import numpy as np
import optuna
import pytest

from bench.base import Counters, RunContext
from bench.budgets import get_budget
from bench.dsp import Chain
from bench.search import PROGRESS, SearchProblem
from bench.study import make_pruner
from strategies.autodiff import Autodiff
from strategies.cmaes import CmaEs


def test_cmaes_reports_increasing_progress_that_ends_at_the_whole_budget(tmp_path: Path) -> None:
    """Every generation reports once; the steps rise and the last is 100 %."""
    heard: list[tuple[int, float]] = []
    ctx = RunContext(budget=get_budget("smoke"), seed=0, split="val", results_dir=tmp_path,
                     cache_dir=tmp_path, progress=False,
                     report=lambda step, value: heard.append((step, value)) is not None)
    chain = Chain(["peq"])
    x = np.random.default_rng(0).standard_normal((2, 1600)) * 0.1
    target = Counters().render(chain, x, np.full((2, chain.n_params), 0.7), 16000)

    def score(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.abs(y - target[idx]).mean(axis=1)

    CmaEs(popsize=6).solve(SearchProblem(chain, 16000, x, score, Counters()), ctx)
    steps = [s for s, _ in heard]
    assert steps == sorted(set(steps)) and steps[-1] == PROGRESS
    assert len(steps) == (ctx.budget.dsp_evals - 1) // 6
    assert heard[-1][1] <= heard[0][1]  # the best loss never rises


def test_standard_prunes_by_halving_searches_over_progress_and_learners_over_steps() -> None:
    """One successive-halving bracket from 3 % of a search's evaluations and from ``val_every``
    training steps; ``full`` keeps Hyperband up to its whole step budget."""
    budget = get_budget("standard")
    search, learner = make_pruner(budget, CmaEs), make_pruner(budget, Autodiff)
    assert isinstance(search, optuna.pruners.SuccessiveHalvingPruner)
    assert search._min_resource == 3 and learner._min_resource == budget.val_every
    full = make_pruner(get_budget("full"), Autodiff)
    assert isinstance(full, optuna.pruners.HyperbandPruner)
    assert (full._min_resource, full._max_resource) == (1000, 100_000)


def test_tuning_trials_run_at_lower_fidelity_and_the_protocol_is_in_the_keys() -> None:
    """At standard a learner's trial trains a third of the steps, a search's trial solves a
    third of the validation examples at the full evaluation budget; final runs keep both.
    The budget's version is in its tag, so older studies are never resumed as current."""
    budget = get_budget("standard")
    learner, search = budget.tuning(Autodiff.tuning_fidelity), budget.tuning(CmaEs.tuning_fidelity)
    assert (learner.steps, learner.eval_examples) == (1000, budget.eval_examples)
    assert (search.steps, search.eval_examples, search.dsp_evals) == (
        budget.steps, 16, budget.dsp_evals)
    assert budget.tag == "standard@3" and get_budget("quick").tag == "quick"
    assert get_budget("quick").tuning("steps") == get_budget("quick")
    with pytest.raises(ValueError, match="fidelity"):
        budget.tuning("seconds")
