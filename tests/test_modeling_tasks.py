"""The effect-modeling tasks: one per effect, run by the strategies with a learned model of the
effect (the others skip with their reason), the grid strategy queues every cell that can model
the effect, a model and the reference DSP are measured on the same held-out examples, and a
smoke grid run from the command line reaches the report with its best cell and figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench.base import RunContext
from bench.budgets import BUDGETS
from bench.contract import run_once
from bench.data import default_cache_dir
from bench.errors import BenchError
from bench.registry import registry
from bench.results import read_results
from bench.study import queued_settings, tuning_trials
from tasks import modeling
from tests.conftest import bench_cmd

EFFECTS = ("peq", "compressor", "distortion", "delay", "reverb", "zam_comp")
METRICS = ["mrstft", "esr", "lufs", "aliasing", "rtf", "parameters", "train_s"]


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    return tmp_path_factory.mktemp("artefacts")


def context(split: str, seed: int, artefacts) -> RunContext:
    return RunContext(budget=BUDGETS["smoke"], seed=seed, split=split, results_dir=artefacts,
                      cache_dir=default_cache_dir(), artefacts=artefacts, progress=False)


def test_one_task_per_effect_declaring_the_family():
    names = sorted(n for n in registry("task").names() if n.startswith("modeling_"))
    assert names == sorted(f"modeling_{e}" for e in EFFECTS)
    for name in names:
        task = registry("task").get(name)()
        assert task.family == "modeling" and task.capabilities.models_effect
        assert [m.name for m in task.metrics] == METRICS and task.references == ("dsp",)
    assert not registry("task").get("modeling_zam_comp")().chain.differentiable


def test_only_strategies_with_a_learned_model_run_the_modeling_tasks():
    task = registry("task").get("modeling_compressor")()
    reasons = {s.name: s().skip_reason(task) for s in registry("strategy").select("all")}
    assert reasons["neural_proxy"] is None and reasons["modeling"] is None
    for name in ("autodiff", "spsa", "proxy_hybrid", "cmaes", "rule_based"):
        assert "no model of the effect" in reasons[name], (name, reasons[name])
    other = registry("task").get("synthetic_speech")()
    assert "only offers its effect models" in registry("strategy").get("modeling")().skip_reason(
        other)


def test_the_grid_strategy_queues_every_cell_that_can_model_the_effect():
    grid = registry("strategy").get("modeling")
    peq, comp = (registry("task").get(f"modeling_{e}")() for e in ("peq", "compressor"))
    cells = {(s["arch"], s["conditioning"]) for s in grid.settings(peq)}
    assert cells == {(a, c) for a in ("tcn", "gcn", "gru") for c in ("concat", "film", "hyper")
                     } | {("iir", "film"), ("iir", "hyper")}
    assert not any(s["arch"] == "iir" for s in grid.settings(comp))
    queue = queued_settings(grid, peq, {})
    assert queue[0] == {"arch": "tcn", "conditioning": "film"} and len(queue) == 11
    # the grid alone, whatever the budget's trials (standard's 12 padded the compressor's 9
    # cells with three sampled ones, all `iir`, which cannot model it: three failed trials)
    assert tuning_trials(grid, peq, BUDGETS["standard"], {}) == 11
    assert tuning_trials(grid, comp, BUDGETS["standard"], {}) == 9
    assert tuning_trials(grid, peq, BUDGETS["smoke"], {}) == 11     # more than smoke's 2
    assert tuning_trials(grid, peq, BUDGETS["smoke"], {}, trials=14) == 14  # asked for more
    row = queued_settings(grid, peq, {"arch": "iir"})
    assert row == [{"conditioning": "film"}, {"conditioning": "hyper"}]
    assert tuning_trials(grid, peq, BUDGETS["smoke"], {"arch": "iir"}, trials=1) == 2
    assert tuning_trials(spsa_cls(), peq, BUDGETS["smoke"], {}, trials=1) == 1
    # a strategy without a grid queues its defaults alone, as before
    spsa = spsa_cls()
    assert queued_settings(spsa, peq, {"lr": 0.01}) == [
        {k: v for k, v in spsa.defaults.items() if k != "lr"}]


def spsa_cls():
    return registry("strategy").get("spsa")


def test_validation_examples_are_shared_by_every_study_and_test_ones_follow_the_seed(artefacts):
    task = registry("task").get("modeling_compressor")()
    a, b = (task.held_out(context("val", seed, artefacts)) for seed in (1, 2))
    assert np.array_equal(a.dry, b.dry) and np.array_equal(a.p, b.p)
    c, d = (task.held_out(context("test", seed, artefacts)) for seed in (1, 2))
    assert not np.array_equal(c.dry, d.dry)
    makeup = [s.name for s in task.chain.params(16000)].index("compressor.makeup")
    spec = task.chain.params(16000)[makeup]
    assert np.allclose(spec.to_physical(c.p[:, makeup]), 0.0)  # analytic gain at 0 dB
    assert peak_db(c.dry).min() >= modeling.PEAK_DB[0] - 1e-3
    assert peak_db(c.dry).max() <= modeling.PEAK_DB[1] + 1e-3


def peak_db(x: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.abs(x).max(axis=1))


def test_a_model_and_the_reference_dsp_are_measured_on_the_same_examples(artefacts):
    task = registry("task").get("modeling_distortion")()
    out = run_once(registry("strategy").get("modeling")(arch="iir", conditioning="hyper"), task,
                   artefacts)
    m = out.metrics
    assert all(isinstance(m[k], float) and math.isfinite(m[k]) for k in METRICS), m
    assert m["mrstft"] > 0 and m["esr"] > 0 and m["rtf"] > 0 and m["train_s"] > 0
    assert m["parameters"] > 100 and m["aliasing"] >= 0
    facts = out.extra["proxies"]["distortion"]
    assert facts["arch"] == "iir-hyper" and facts["model"] == "iir-hyper"
    ref = task.reference("dsp", context("val", 0, artefacts)).metrics
    assert ref["mrstft"] == ref["esr"] == ref["lufs"] == 0.0
    assert ref["parameters"] == ref["train_s"] == 0.0
    assert ref["aliasing"] > 1e-4  # the tanh waveshaper's harmonics fold back
    assert ref["rtf"] > 0


def test_neural_proxy_uses_and_names_any_cell_of_the_grid(artefacts):
    task = registry("task").get("modeling_compressor")()
    out = run_once(registry("strategy").get("neural_proxy")(model="gru-hyper"), task, artefacts)
    assert out.extra["proxies"]["compressor"]["arch"] == "gru-hyper"
    default = run_once(registry("strategy").get("neural_proxy")(), task, artefacts)
    assert default.extra["proxies"]["compressor"] == {
        **default.extra["proxies"]["compressor"], "arch": "gain", "model": "auto"}
    with pytest.raises(BenchError, match="cells that can") as info:
        run_once(registry("strategy").get("neural_proxy")(model="iir-film"), task, artefacts)
    assert "\n" not in str(info.value)


def test_training_seconds_come_from_the_models_facts():
    assert modeling.training_seconds({"a": {"pretrain_cpu_s": 2.0, "pretrain_s": 9.0},
                                      "b": {"cpu_s": 1.0}}) == 3.0
    assert modeling.training_seconds({"a": {"steps": 3}}).error.startswith("a model reported")


def test_fidelity_weighs_every_example_at_one_level_and_keeps_a_level_error():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((2, 24000)).astype(np.float32)
    y = target + 0.1 * rng.standard_normal((2, 24000)).astype(np.float32)
    base = modeling.fidelity(y, target, 24000)
    gains = np.array([[25.0], [0.01]], dtype=np.float32)  # +28 dB and −40 dB examples
    louder = modeling.fidelity(y * gains, target * gains, 24000)
    for name in modeling.FIDELITY:
        assert louder[name] == pytest.approx(base[name], rel=1e-3), name
    off = modeling.fidelity(y * 2.0, target, 24000)  # 6 dB too loud
    assert off["lufs"] == pytest.approx(base["lufs"] + 6.02, abs=0.1)
    assert off["mrstft"] > base["mrstft"] + 0.1


@pytest.mark.slow
def test_a_smoke_grid_run_and_a_steering_run_reach_the_report(tmp_path):
    for strategies, fixed in (("modeling", ["--param", "arch=iir"]),
                              ("neural_proxy,spsa", ["--trials", "1"])):
        out = bench_cmd("run", "--budget", "smoke", "--task", "modeling_peq", "--strategy",
                        strategies, *fixed, "--no-progress", cwd=tmp_path, plugins="")
        assert out.returncode == 0, out.stderr
    frame = read_results(tmp_path / "results")
    tune = frame[(frame.phase == "tune") & (frame.strategy == "modeling")]
    assert {json.loads(p)["conditioning"] for p in tune.params_json} == {"film", "hyper"}
    final = frame[frame.phase == "final"]
    assert set(final[final.is_reference].strategy) == {"dsp"}
    skipped = final[final.strategy == "spsa"]
    assert (skipped.status == "skipped").all() and "no model" in skipped.error.iloc[0]
    out = bench_cmd("steer", "--effect", "compressor", "--budget", "smoke", "--steps", "3",
                    "--grid", "2", cwd=tmp_path, plugins="")
    assert out.returncode == 0, out.stderr
    assert "wrote results/steer/compressor-smoke-seed0.json" in out.stdout
    out = bench_cmd("report", "--results-dir", "results", cwd=tmp_path, plugins="")
    assert out.returncode == 0, out.stderr
    report = tmp_path / "results" / "report"
    text = (report / "modeling.md").read_text()
    assert "## modeling_peq (smoke budget)" in text and "## Steering from one example" in text
    assert "| iir-film | modeling |" in text and "| auto: fir | neural_proxy |" in text
    best = json.loads((report / "modeling_best.json").read_text())["modeling_peq (smoke)"]
    assert best["decided_on"] == "final" and best["default"]["model"] == "auto: fir"
    for png in ("fidelity_cost_modeling_peq_smoke.png", "steer_compressor_smoke_seed0.png"):
        assert (report / "figures" / png).stat().st_size > 0
    index = (report / "index.html").read_text()
    assert 'id="modeling"' in index and "steer_compressor" in index
    assert "Only gradient-fidelity" not in (report / "leaderboard.md").read_text()

