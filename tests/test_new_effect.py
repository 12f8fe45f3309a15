"""An effect added in one file works everywhere: every strategy, proxies included, and every task
that takes a chain run with it (smoke budget), chain selection chooses among it, and no table
elsewhere has to name it."""

from __future__ import annotations

import importlib
import itertools
import sys

import pytest

from bench.base import Task
from bench.contract import run_once
from bench.registry import REGISTRIES, registry

PLUGIN = "tests.plugins.tilt"
TASKS = ("synthetic_music_tilt", "realistic_music_tilt", "blind_music_tilt")
CHAIN_TASK = "chain_music_tilt"
BUILT_IN = ("peq", "compressor", "distortion")
STRATEGIES = [c.name for c in registry("strategy").select("all")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plugin():
    """The plugin module, registered for this module's tests only."""
    module = importlib.import_module(PLUGIN)
    yield module
    for reg in REGISTRIES.values():
        reg.discard_module(PLUGIN)
    sys.modules.pop(PLUGIN, None)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One artefact cache: the realistic task reuses the synthetic task's trained models."""
    return tmp_path_factory.mktemp("artefacts")


def test_the_effect_declares_its_facts(plugin):
    from bench.dsp import Chain, get_effect

    tilt = get_effect("tilt")
    assert isinstance(tilt, plugin.Tilt)
    assert Chain(["tilt"]).neutral(16000).tolist() == [0.5, 0.5]
    assert tilt.linear and tilt.matching_rule == "eq" and tilt.analytic_gain == "gain"


def proxies_of_a_run(strategy: str, task: Task, shared, may_skip: bool) -> set[str] | None:
    """Run ``strategy`` on ``task`` (smoke) with a float main metric and return the effects it
    reported proxies of; None when it skips, which only a missing style reference may cause
    (``may_skip``: the rule-based strategy on a task without one), or a strategy that declares
    it trains no learner (``modeling``, which runs the modeling tasks only)."""
    s = registry("strategy").get(strategy)()
    reason = s.skip_reason(task) or task.skip_reason(s)
    if reason is not None:  # only a missing style reference or declared capabilities may
        learns = getattr(s, "trains_learner", True)  # the effect-model grid trains no learner
        assert (may_skip and strategy == "rule_based") or not learns, reason
        return None
    outcome = run_once(s, task, shared)
    assert isinstance(outcome.metrics[task.main_metric], float)
    return set(outcome.extra.get("proxies", {}))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_runs_every_chain_task_with_the_new_effect(plugin, strategy, task, shared):
    t = registry("task").get(task)()
    assert t.chain.names == ("tilt",)
    proxies = proxies_of_a_run(strategy, t, shared, may_skip=task == "blind_music_tilt")
    if proxies is not None and strategy in ("neural_proxy", "proxy_hybrid"):
        assert proxies == {"tilt"}


@pytest.mark.parametrize("strategy", ["modeling", "neural_proxy"])
def test_the_effect_gets_the_effect_model_grid(plugin, strategy, shared):
    """A linear effect's grid has the IIR gray-box; its modeling task (four lines in the
    plugin) runs the strategies with a learned model, which model it and name it."""
    from bench.dsp import get_effect
    from strategies import _architectures

    assert {"iir-film", "iir-hyper"} <= set(_architectures.cells(get_effect("tilt")))
    task = registry("task").get("modeling_tilt")()
    assert proxies_of_a_run(strategy, task, shared, may_skip=False) == {"tilt"}
    assert registry("strategy").get("autodiff")().skip_reason(task) is not None


def test_the_effect_joins_the_chain_selection_library_by_its_declaration(plugin):
    from tasks import chain

    assert chain.library() == (*BUILT_IN, "tilt")
    assert {c for c in chain.candidates() if "tilt" not in c} == set(
        c for k in (1, 2, 3) for c in itertools.permutations(BUILT_IN, k))
    task = registry("task").get(CHAIN_TASK)()
    assert [c.names for c in task.candidate_chains] == [(e,) for e in (*BUILT_IN, "tilt")]
    assert task.chance == 1 / 4


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_selects_among_chains_with_the_new_effect(plugin, strategy, shared):
    proxies = proxies_of_a_run(strategy, registry("task").get(CHAIN_TASK)(), shared,
                               may_skip=True)
    if proxies is not None and strategy in ("neural_proxy", "proxy_hybrid"):
        assert proxies == {*BUILT_IN, "tilt"}
