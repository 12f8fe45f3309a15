"""Every strategy runs every task at the smoke budget (or states why it skips), with finite
metrics and honest counters; every strategy is deterministic for a fixed seed; and the sanity
checks of the task protocols hold at smoke size."""

from __future__ import annotations

import dataclasses

import pytest

from bench.budgets import get_budget
from bench.contract import check, run_once
from bench.registry import registry

STRATEGIES = [c.name for c in registry("strategy").select("all")]
TASKS = [c.name for c in registry("task").select("all")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One artefact cache for the module: realistic tasks and probes reuse synthetic models."""
    return tmp_path_factory.mktemp("artefacts")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_contract(strategy, task, shared):
    verdict = check(registry("strategy").get(strategy), registry("task").get(task),
                    determinism=False, artefacts=shared)
    assert verdict.ok, verdict.problems
    if verdict.skipped is None:
        assert verdict.main is not None


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_seed_same_metrics(strategy):
    verdict = check(registry("strategy").get(strategy), registry("task").get("synthetic_speech"),
                    determinism=True)
    assert verdict.ok, verdict.problems


def reference(task_name, which, tmp_path, budget=None, seed=0):
    task = registry("task").get(task_name)()
    from bench.base import RunContext
    from bench.data import default_cache_dir

    ctx = RunContext(budget=budget or get_budget("smoke"), seed=seed, split="val",
                     results_dir=tmp_path, cache_dir=default_cache_dir(), artefacts=tmp_path,
                     progress=False)
    return task.reference(which, ctx).metrics[task.main_metric]


# 24 steps of batch 2 (the smoke budget) are noise for a freshly initialized encoder; this
# check keeps the smoke sizes (clips, rate, data) but trains 120 steps of batch 4 (~5 s).
SANITY = dataclasses.replace(get_budget("smoke"), steps=120, batch_size=4)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("task", ["synthetic_speech", "synthetic_music"])
def test_autodiff_beats_the_unprocessed_input(task, seed, tmp_path):
    trained = run_once(registry("strategy").get("autodiff")(), registry("task").get(task)(),
                       tmp_path, seed=seed, budget=SANITY).metrics["mrstft"]
    assert trained < reference(task, "input", tmp_path, SANITY, seed)


WITH_ORACLE = [t for t in TASKS if "oracle" in registry("task").get(t).references]


@pytest.mark.parametrize("task", WITH_ORACLE)
def test_oracle_scores_best_or_equal(task, shared):
    cls = registry("task").get(task)
    main = cls().metric(cls.main_metric)
    oracle = reference(task, "oracle", shared)
    for strategy in ("autodiff", "cmaes"):
        got = run_once(registry("strategy").get(strategy)(), cls(), shared).metrics[main.name]
        assert (oracle >= got) if main.higher_is_better else (oracle <= got)


@pytest.mark.parametrize("task", [t for t in TASKS if t.startswith("probe_")])
def test_trained_encoders_beat_chance(task, shared):
    chance = 1 / 5
    for strategy in ("autodiff", "spsa"):
        got = run_once(registry("strategy").get(strategy)(), registry("task").get(task)(),
                       shared).metrics["accuracy"]
        assert got > chance, f"{strategy} probe accuracy {got} at chance level"


def test_chain_search_reports_one_step_per_candidate(tmp_path):
    """The tuner hears the best-so-far re-render loss once per candidate chain, in step order:
    the percent of the candidates searched (CMA-ES's own per-generation reports would restart
    at step 0 for every candidate)."""
    from bench.base import RunContext
    from bench.data import default_cache_dir
    from bench.search import PROGRESS

    task = registry("task").get("chain_speech")()
    heard = []
    ctx = RunContext(budget=task.sized(get_budget("smoke")), seed=0, split="val",
                     results_dir=tmp_path, cache_dir=default_cache_dir(), artefacts=tmp_path,
                     progress=False, report=lambda step, value: heard.append((step, value)))
    task.run(registry("strategy").get("cmaes")(), ctx)
    steps, values = zip(*heard, strict=True)
    n = len(task.candidate_chains)
    assert list(steps) == [max(1, round(PROGRESS * (c + 1) / n)) for c in range(n)]
    assert list(values) == sorted(values, reverse=True)
    assert ctx.report is not None  # the caller's context is untouched
