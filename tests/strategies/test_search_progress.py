"""Searches report their progress in percent of their budget, and Hyperband prunes over it."""

from pathlib import Path

import numpy as np

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


def test_hyperband_prunes_searches_over_progress_and_learners_over_steps() -> None:
    """The same four brackets: learners from ``val_every`` to ``steps``, searches from 3 % to
    100 % of their evaluations."""
    budget = get_budget("standard")
    search, learner = make_pruner(budget, CmaEs), make_pruner(budget, Autodiff)
    assert (search._min_resource, search._max_resource) == (3, PROGRESS)
    assert (learner._min_resource, learner._max_resource) == (budget.val_every, budget.steps)
