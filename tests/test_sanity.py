"""`bench sanity`: each gate passes on results that meet it and fails, naming why, on results
that do not."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench import sanity
from tests.conftest import ROOT, bench_cmd


def rows(task, family, metric, values, higher=False, converged=True, extra=None, data=None):
    """Final main-metric rows: ``values`` maps strategy -> list of per-seed values; ``data``
    the (training, test) data, default the task's embedded corpus."""
    from bench.results import default_data

    train, test = data or (default_data(task, family),) * 2
    out = []
    for strategy, vals in values.items():
        reference = strategy in ("input", "oracle", "random_encoder", "mel_stats")
        for v in vals:
            out.append({"phase": "final", "is_main_metric": True, "task": task,
                        "task_family": family, "metric": metric, "strategy": strategy,
                        "value": v, "status": "ok", "higher_is_better": higher,
                        "is_reference": reference, "train_data": train, "test_data": test,
                        "converged": None if reference else converged,
                        "extra_json": json.dumps(extra) if extra else None})
    return out


def frame(*groups):
    from bench.results import label_data

    return label_data(pd.DataFrame([r for g in groups for r in g]))


def test_exact_gradient_gate_uses_the_relative_gain_of_each_metric():
    good = frame(rows("synthetic_speech", "style_transfer", "mrstft",
                      {"autodiff": [0.5, 0.6], "input": [1.0, 1.0]}),
                 rows("realistic_speech", "style_transfer", "msd",
                      {"autodiff": [27.0], "input": [37.0]}))
    assert sanity.gate_exact_vs_input(good).passed
    bad = frame(rows("realistic_speech", "style_transfer", "msd",
                     {"autodiff": [30.0], "input": [37.0]}))
    gate = sanity.gate_exact_vs_input(bad)
    assert not gate.passed and "+19% better; needs 25%" in gate.details[0]


def test_learner_gate_names_the_learner_worse_than_the_input():
    gate = sanity.gate_learners_vs_input(frame(rows(
        "synthetic_music", "style_transfer", "mrstft",
        {"autodiff": [1.0], "spsa": [3.0], "rule_based": [9.0], "input": [2.0]})))
    # rule_based learns nothing, so only the learner spsa is judged
    assert not gate.passed and gate.details == ["synthetic_music: spsa 3 vs input 2"]


def test_learners_are_judged_apart_on_each_data_choice():
    speech = {"input": [1.0], "autodiff": [0.5]}
    libritts = {"input": [1.0], "autodiff": [1.5]}
    gate = sanity.gate_learners_vs_input(frame(
        rows("synthetic_speech", "style_transfer", "mrstft", speech),
        rows("synthetic_speech", "style_transfer", "mrstft", libritts,
             data=("libritts", "daps"))))
    assert not gate.passed
    assert gate.details == ["synthetic_speech [libritts → daps]: autodiff 1.5 vs input 1"]


def test_probe_gate_needs_intervals_that_do_not_overlap():
    clear = {"autodiff": [0.90, 0.91, 0.92], "random_encoder": [0.50, 0.52, 0.51],
             "mel_stats": [0.60, 0.61, 0.62]}
    assert sanity.gate_probes(frame(rows("probe_music", "probe", "macro_f1", clear,
                                         higher=True))).passed
    overlap = {**clear, "autodiff": [0.55, 0.7, 0.9]}
    gate = sanity.gate_probes(frame(rows("probe_music", "probe", "macro_f1", overlap,
                                         higher=True)))
    assert not gate.passed and any("vs mel_stats" in d for d in gate.details)
    assert not any("at least 2 final runs" in d for d in gate.details)
    one_seed = {**clear, "autodiff": [0.9]}
    gate = sanity.gate_probes(frame(rows("probe_music", "probe", "macro_f1", one_seed,
                                         higher=True)))
    assert not gate.passed
    assert all("autodiff has 1: rerun with --final-seeds 3" in d for d in gate.details)


def test_chain_gate_compares_with_the_task_s_chance():
    ok = frame(rows("chain_music", "chain_selection", "exact_chain_accuracy",
                    {"autodiff": [0.25]}, higher=True))
    assert sanity.gate_chain(ok).passed  # 0.25 ≥ 3 × 1/15
    low = frame(rows("chain_music", "chain_selection", "exact_chain_accuracy",
                     {"autodiff": [0.1]}, higher=True))
    assert not sanity.gate_chain(low).passed


def test_proxy_gate_fails_on_an_unmeasured_gradient_cosine():
    facts = {"proxies": {"peq": {"arch": "tcn", "lufs_error": 0.5, "mrstft": 0.4}}}
    gate = sanity.gate_proxies(frame(rows("synthetic_music", "style_transfer", "mrstft",
                                          {"neural_proxy": [1.0]}, extra=facts)))
    assert not gate.passed and gate.details == [
        "peq (tcn): grad_cosine_median not measured, grad_cosine_learned_median not measured"]
    facts["proxies"]["peq"]["grad_cosine_median"] = 0.9
    facts["proxies"]["peq"]["grad_cosine_learned_median"] = 0.5  # an analytic gain flatters
    gate = sanity.gate_proxies(frame(rows("synthetic_music", "style_transfer", "mrstft",
                                          {"neural_proxy": [1.0]}, extra=facts)))
    assert not gate.passed and gate.details == ["peq (tcn): grad_cosine_learned_median 0.5"]
    facts["proxies"]["peq"]["grad_cosine_learned_median"] = 0.85
    assert sanity.gate_proxies(frame(rows("synthetic_music", "style_transfer", "mrstft",
                                          {"neural_proxy": [1.0]}, extra=facts))).passed


@pytest.mark.parametrize(("flags", "passed"), [([True] * 9 + [False], True),
                                                ([True] * 8 + [False] * 2, False)])
def test_convergence_gate_needs_nine_in_ten(flags, passed):
    groups = [rows("synthetic_music", "style_transfer", "mrstft", {"autodiff": [1.0]},
                   converged=c) for c in flags]
    assert sanity.gate_converged(frame(*groups)).passed is passed


def test_convergence_gate_names_how_far_each_unconverged_run_still_fell():
    curve = [{"step": s, "val_loss": v} for s, v in ((400, 2.0), (800, 1.0), (1000, 0.9))]
    training = {"training": {"curve": curve, "steps_run": 1000, "stopped_early": False}}
    group = rows("synthetic_music", "style_transfer", "mrstft", {"autodiff": [1.0]},
                 converged=False, extra=training)
    group[0]["seed"] = 7
    gate = sanity.gate_converged(frame(group))
    assert gate.details[1:] == ["synthetic_music/autodiff seed 7: best validation loss still "
                                "fell 10.0% over the last 20% of its 1000 steps"]


def test_cli_names_every_failing_gate_of_the_published_quick_run(tmp_path):
    done = bench_cmd("sanity", "--results-dir", str(ROOT / "results" / "published-quick"),
                     cwd=tmp_path, plugins="")
    assert done.returncode == 1, done.stderr
    assert "failed gates: a, b, c, d, e, f" in done.stdout
    assert "(f) FAIL" in done.stdout and "did not record it" in done.stdout


def test_measurement_tasks_are_not_judged_as_trained_learners_or_used_proxies():
    """A modeling task's grid cells are compared there, not used: an untrained cell fails no
    proxy gate; its runs, like the gradient tasks', train no learner to converge."""
    cell = {"proxies": {"compressor": {"arch": "gru-hyper", "mrstft": 3.0, "lufs_error": 9.0}}}
    measured = frame(rows("modeling_compressor", "modeling", "mrstft", {"neural_proxy": [3.0]},
                          converged=None, extra=cell),
                     rows("gradient_peq", "gradient", "cosine_mean", {"spsa": [0.3]},
                          converged=None),
                     rows("synthetic_music", "style_transfer", "mrstft", {"autodiff": [1.0]}))
    assert sanity.gate_proxies(measured).details == ["no proxy was used by these runs"]
    assert sanity.gate_converged(measured).details == ["1 of 1 final learner runs converged"]
