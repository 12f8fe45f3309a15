"""The gradient-fidelity tasks on known answers: the exact gradient scores 1 against itself, SPSA
is unbiased on a linear objective (also at 0 and 1) and its cosine rises with its perturbations,
the finite-difference reference is close to the exact gradient and says how close, searches
skip with a reason, and a whole smoke run from the command line reaches the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bench.base import SHARED_SETUP, Counters, RunContext
from bench.budgets import BUDGETS
from bench.contract import run_once
from bench.data import TrainingAudio, default_cache_dir
from bench.gradient import GradientStrategy
from bench.registry import registry
from bench.results import read_results
from tasks import gradient
from tests.conftest import bench_cmd

DIFFERENTIABLE = ["gradient_peq", "gradient_compressor", "gradient_distortion", "gradient_delay",
                  "gradient_reverb", "gradient_chain"]
BLACK_BOX = ["gradient_pb_peq", "gradient_pb_compressor", "gradient_pb_distortion",
             "gradient_pb_delay", "gradient_pb_reverb", "gradient_zam_comp", "gradient_zam_eq2"]
FLOAT32_ROUNDING = {"gradient_delay": 1e-6}
"""1 − cosine that float32 alone costs autodiff: within 1e-9 everywhere but the feedback delay,
whose delay-time gradient sums large terms of both signs (float64 gives 1 there too)."""


@pytest.fixture(autouse=True)
def one_torch_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    return tmp_path_factory.mktemp("artefacts")


def measure(strategy: str, task: str, artefacts, **params):
    return run_once(registry("strategy").get(strategy)(**params), registry("task").get(task)(),
                    artefacts)


def test_every_effect_has_a_task_and_every_task_declares_the_family():
    names = [n for n in registry("task").names() if n.startswith("gradient_")]
    assert sorted(names) == sorted(DIFFERENTIABLE + BLACK_BOX)
    for name in names:
        task = registry("task").get(name)()
        assert task.family == "gradient" and task.main_metric == "cosine_mean"
        assert [m.name for m in task.metrics] == [
            "cosine_mean", "cosine_p10", "rel_error", "sign_agreement", "ms_per_gradient",
            "dsp_evals_per_gradient"]
        assert task.chain.differentiable == (name in DIFFERENTIABLE)
    assert registry("task").get("gradient_chain").effects == ("peq", "compressor")


def exact64() -> GradientStrategy:
    """The reference itself as a strategy (registered for the calling test only): the
    differentiable chain in float64."""

    class Exact64(GradientStrategy):
        name = "exact64"
        version = "1"

        def effect_layer(self, chain, sample_rate, ctx, audio):
            class Layer(torch.nn.Module):
                def forward(self, x, p):
                    return chain.torch_process(x.double(), p.double(), sample_rate)

            return Layer()

    return Exact64()


@pytest.mark.slow
@pytest.mark.parametrize("task", DIFFERENTIABLE)
def test_the_exact_gradient_has_cosine_one_with_itself(task, artefacts, isolated_registry):
    exact = run_once(exact64(), registry("task").get(task)(), artefacts).metrics
    assert exact["cosine_mean"] == pytest.approx(1.0, abs=1e-9)
    assert exact["rel_error"] < 1e-6 and exact["sign_agreement"] == 1.0
    outcome = measure("autodiff", task, artefacts)  # float32, as training runs it
    assert outcome.metrics["cosine_mean"] == pytest.approx(
        1.0, abs=FLOAT32_ROUNDING.get(task, 1e-9))
    assert outcome.metrics["dsp_evals_per_gradient"] == 0.0
    facts = outcome.extra["gradient"]
    assert facts["deterministic"] and facts["draws"] == 2 and facts["std"] == 0.0
    assert facts["reference"]["kind"] == "exact" and set(facts["by_domain"]) == {"speech",
                                                                                  "music"}


class Linear:
    """A stand-in chain linear in its parameters: y = x · (w·p), so ⟨g, y⟩ is linear in p."""

    def __init__(self, n_params: int) -> None:
        self.w = np.random.default_rng(0).normal(size=n_params)

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        assert 0.0 <= p.min() and p.max() <= 1.0, "a perturbation left [0, 1]"
        return x * (p @ self.w)[:, None]


def test_spsa_mean_matches_the_exact_gradient_of_a_linear_objective_within_3_se(tmp_path):
    chain = Linear(6)
    ctx = RunContext(budget=BUDGETS["smoke"], seed=0, split="val", results_dir=tmp_path,
                     cache_dir=tmp_path, progress=False)
    spsa = registry("strategy").get("spsa")(perturbations=1, epsilon=0.01)
    layer = spsa.effect_layer(chain, 16000, ctx, TrainingAudio("test", np.zeros((2, 8))))
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(1, 32)), rng.normal(size=(1, 32))
    p = np.array([[0.0, 1.0, 0.5, 0.002, 0.999, 0.3]])  # ends of [0, 1] and within ε of them
    exact = (g * x).sum() * chain.w
    draws = []
    for _ in range(3000):
        pt = torch.from_numpy(p).requires_grad_(True)
        (layer(torch.from_numpy(x), pt) * torch.from_numpy(g)).sum().backward()
        draws.append(pt.grad.numpy()[0])
    draws = np.array(draws)
    se = draws.std(0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(0) - exact) < 3 * se), (draws.mean(0), exact, se)
    assert ctx.counters.dsp_evals == 3000 * 3  # one forward and two perturbed renders each


@pytest.mark.slow
def test_spsa_cosine_rises_with_its_perturbations(artefacts):
    cosines = [measure("spsa", "gradient_peq", artefacts, perturbations=k)
               .metrics["cosine_mean"] for k in (1, 4, 16)]
    assert cosines[0] < cosines[1] < cosines[2], cosines


@pytest.mark.slow
def test_stochastic_strategies_get_bias_and_variance_over_draws(artefacts):
    outcome = measure("spsa", "gradient_compressor", artefacts)
    facts = outcome.extra["gradient"]
    assert not facts["deterministic"] and facts["draws"] == gradient.DRAWS["smoke"]
    assert facts["std"] > 0 and np.isfinite(facts["bias"])
    assert outcome.metrics["dsp_evals_per_gradient"] == 5.0  # 1 + 2 × 2 perturbations
    assert 0 <= facts["sign_agreement_ends"] <= 1 and 0 <= facts["sign_agreement_inside"] <= 1
    assert set(facts["per_parameter"]) == {
        p.name for p in registry("task").get("gradient_compressor")().chain.params(16000)}


def test_the_run_that_computes_the_points_records_their_cpu_time_once(artefacts, monkeypatch):
    monkeypatch.setattr(gradient, "_POINTS", {})
    first = measure("autodiff", "gradient_compressor", artefacts)
    again = measure("neural_proxy", "gradient_compressor", artefacts)  # same split and seed
    assert first.extra[SHARED_SETUP] > 0 and SHARED_SETUP not in again.extra


def reference_row(task: str, which: str, tmp_path):
    ctx = RunContext(budget=BUDGETS["smoke"], seed=0, split="val", results_dir=tmp_path,
                     cache_dir=default_cache_dir(), artefacts=tmp_path, progress=False)
    return registry("task").get(task)().reference(which, ctx)


@pytest.mark.slow
def test_finite_difference_reference_is_close_to_the_exact_gradient_and_says_so(tmp_path):
    task = registry("task").get("gradient_peq")()
    outcome = reference_row("gradient_peq", "finite_difference", tmp_path)
    assert outcome.metrics["cosine_mean"] > 0.95 and outcome.metrics["rel_error"] < 0.1
    estimate = outcome.extra["gradient"]["estimated_error"]["check_rel_error"]
    # the estimate from twice the step is of the order of the true error
    assert outcome.metrics["rel_error"] / 5 < estimate < 5 * outcome.metrics["rel_error"]
    assert outcome.metrics["dsp_evals_per_gradient"] == 1 + 2 * task.chain.n_params


@pytest.mark.slow
def test_black_box_tasks_use_the_finite_difference_and_state_its_error(artefacts, tmp_path):
    task = registry("task").get("gradient_pb_compressor")()
    if task.skip_reason(registry("strategy").get("spsa")()):
        pytest.skip("pedalboard is unavailable")
    facts = measure("spsa", "gradient_pb_compressor", artefacts).extra["gradient"]
    rule = facts["reference"]
    assert rule["kind"] == "finite_difference" and rule["step"] == gradient.FD_STEP
    assert rule["check_step"] == 2 * gradient.FD_STEP
    assert 0.0 <= rule["check_rel_error"] and -1.0 <= rule["check_cosine_mean"] <= 1.0
    # the finite_difference_2h row is that estimate, on the same points (same split and seed)
    row = reference_row("gradient_pb_compressor", "finite_difference_2h", tmp_path).metrics
    assert row["cosine_mean"] == pytest.approx(rule["check_cosine_mean"])
    assert row["rel_error"] == pytest.approx(rule["check_rel_error"])
    assert row["dsp_evals_per_gradient"] == 1 + 2 * 4
    autodiff = registry("strategy").get("autodiff")()
    assert "differentiable" in autodiff.skip_reason(task)


def test_an_unavailable_effect_skips_every_strategy_with_its_reason(monkeypatch):
    task = registry("task").get("gradient_zam_comp")()
    monkeypatch.setattr(type(task.chain.effects[0]), "available",
                        classmethod(lambda cls: "ZamComp.vst3 not found"))
    reason = task.skip_reason(registry("strategy").get("spsa")())
    assert reason == "effect unavailable (zam_comp: ZamComp.vst3 not found)"


@pytest.mark.parametrize("strategy", ["cmaes", "rule_based"])
def test_search_strategies_skip_with_a_stated_reason(strategy):
    s = registry("strategy").get(strategy)()
    for name in DIFFERENTIABLE + BLACK_BOX:
        reason = s.skip_reason(registry("task").get(name)())
        assert reason == f"{strategy} is a gradient-free search: it supplies no gradient to measure"


def test_gradient_cells_are_measured_not_trained_in_the_projection():
    from bench.runner import matrix_cells

    cells = {(c.task, c.strategy): c for c in matrix_cells(BUDGETS["standard"])}
    assert cells["gradient_peq", "spsa"].kind == "measure"
    assert ("gradient_peq", "cmaes") not in cells


@pytest.mark.slow
def test_a_smoke_run_from_the_command_line_reaches_the_report(tmp_path):
    out = bench_cmd("run", "--budget", "smoke", "--task", "gradient_peq", "--strategy",
                    "autodiff,spsa,cmaes", "--trials", "1", "--no-progress", cwd=tmp_path,
                    plugins="")
    assert out.returncode == 0, out.stderr
    frame = read_results(tmp_path / "results")
    final = frame[frame.phase == "final"]
    for name in ("autodiff", "spsa"):
        rows = final[final.strategy == name]
        assert set(rows.metric) == {m.name for m in gradient.METRICS}
        assert (rows.status == "ok").all(), rows[["metric", "error"]]
    skipped = final[final.strategy == "cmaes"]
    assert (skipped.status == "skipped").all() and "no gradient" in skipped.error.iloc[0]
    assert set(final[final.is_reference].strategy) == {"finite_difference"}
    main = final[final.is_main_metric].set_index("strategy").value
    assert main["autodiff"] == pytest.approx(1.0, abs=1e-9) and main["spsa"] < main["autodiff"]
    out = bench_cmd("report", "--results-dir", "results", cwd=tmp_path, plugins="")
    assert out.returncode == 0, out.stderr
    report = tmp_path / "results" / "report"
    text = (report / "gradients.md").read_text()
    assert "## gradient_peq (smoke budget)" in text and "Reference: the exact gradient" in text
    assert (report / "figures" / "gradient_quality_cost_smoke.png").stat().st_size > 0
    assert 'id="gradients"' in (report / "index.html").read_text()
    assert isinstance(pd.read_csv(report / "leaderboard.csv"), pd.DataFrame)


def test_the_counted_renders_of_a_gradient_are_the_strategys(tmp_path):
    """The reference's renders are counted apart: a strategy's counters hold only its own."""
    task = registry("task").get("gradient_distortion")()
    counters = Counters()
    ctx = RunContext(budget=BUDGETS["smoke"], seed=0, split="val", results_dir=tmp_path,
                     cache_dir=tmp_path, progress=False, counters=counters)
    clip = np.random.default_rng(0).normal(scale=0.1, size=(1, 4800))
    sets = [gradient.Points("speech", clip, 0.5 * clip, np.full((1, 3), 0.5), np.ones((1, 3)))]
    task.points = lambda ctx: sets  # the measurement alone, on one noise clip
    task._layer = lambda strategy, domain, ctx: registry("strategy").get("spsa")(
        ).effect_layer(task.chain, 16000, ctx, None)
    outcome = task.measure(registry("strategy").get("spsa")(), ctx)
    assert counters.dsp_evals == outcome.extra["gradient"]["draws"] * 5
