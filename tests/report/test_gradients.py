"""The report's gradient quality against cost: a table per effect with one row per strategy and
setting, the reference and its error, proxies beside their output fidelity, and one figure."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import build_reports
from bench.report.gradients import gradient_runs, render_markdown, setting_label
from bench.results import ResultWriter, read_results
from tests.report.conftest import make_rows

METRICS = ("cosine_mean", "cosine_p10", "rel_error", "sign_agreement", "ms_per_gradient",
           "dsp_evals_per_gradient")
EXACT = {"reference": {"kind": "exact"}}
FD = {"reference": {"kind": "finite_difference", "step": 0.005, "check_step": 0.01,
                    "check_cosine_mean": 0.5, "check_rel_error": 0.8}}


def rows(task: str, strategy: str, seed: int, cosine: float, ms: float, *, gradient: dict,
         params: dict | None = None, phase: str = "final", reference: bool = False,
         extra: dict | None = None) -> list[dict]:
    values = dict(zip(METRICS, (cosine, cosine - 0.1, 1 - cosine, 0.9, ms, 5.0), strict=True))
    out = make_rows(task, strategy, seed, values, main="cosine_mean", higher=True,
                    phase=phase, reference=reference,
                    extra={"gradient": {**gradient, "bias": 0.2, "std": 0.1}, **(extra or {})})
    return [{**r, "params_json": json.dumps(params or {}, sort_keys=True),
             "task_family": "gradient"} for r in out]


def write(results: Path) -> None:
    proxies = {"proxies": {"peq (speech)": {"mrstft": 0.7, "lufs_error": 2.5,
                                            "grad_cosine_median": -0.07}}}
    ResultWriter(results, batch_id="g").add([
        *rows("gradient_peq", "autodiff", 0, 1.0, 3.0, gradient=EXACT, params={"lr": 0.001}),
        *rows("gradient_peq", "spsa", 0, 0.3, 7.0, gradient=EXACT,
              params={"lr": 0.001, "perturbations": 2}),
        *rows("gradient_peq", "spsa", 1, 0.6, 20.0, gradient=EXACT, phase="tune",
              params={"lr": 0.001, "perturbations": 8}),
        *rows("gradient_peq", "neural_proxy", 0, 0.1, 5.0, gradient=EXACT,
              params={"arch": "tcn"}, extra=proxies),
        *rows("gradient_peq", "finite_difference", 0, 0.99, 400.0, reference=True,
              gradient={"reference": {"kind": "finite_difference",
                                      "scored_rule": {"step": 0.005}},
                        "estimated_error": {"check_rel_error": 0.02}}),
        *rows("gradient_pb_peq", "spsa", 0, 0.2, 9.0, gradient=FD,
              params={"lr": 0.001, "perturbations": 2}),
        *make_rows("toy_a", "alpha", 0, {"loss": 1.0}, main="loss")])


def test_one_row_per_strategy_and_setting_with_reference_and_proxy_fidelity(tmp_path):
    write(tmp_path)
    frame = read_results(tmp_path)
    assert set(gradient_runs(frame).task) == {"gradient_peq", "gradient_pb_peq"}
    text = render_markdown(frame, {"smoke": "figures/gradient_quality_cost_smoke.png"})
    peq = text.split("## gradient_peq (smoke budget)")[1].split("##")[0]
    lines = [line for line in peq.splitlines() if line.startswith("| ")][1:]
    # best first, reference rows last; the two SPSA settings told apart by what differs
    assert [line.split(" | ")[0] for line in lines] == [
        "| autodiff", "| spsa", "| spsa", "| neural_proxy", "| _finite_difference_"]
    assert "perturbations=8 | 1 tune |" in peq and "perturbations=2 | 1 final |" in peq
    assert "peq (speech): 0.7, 2.5 LU, -0.07" in peq
    assert "Reference: the exact gradient" in peq and "relative difference 0.02" in peq
    pb = text.split("## gradient_pb_peq (smoke budget)")[1]
    assert "step 0.005" in pb and "relative difference 0.8" in pb and "unreliable" in pb
    assert "![Gradient quality against cost (smoke budget)]" in text
    assert "toy_a" not in text


def test_the_report_gains_the_section_and_its_figure_only_with_gradient_results(tmp_path):
    write(tmp_path / "results")
    written = build_reports([tmp_path / "results"], tmp_path / "reports")
    reports = tmp_path / "reports"
    assert reports / "gradients.md" in written
    assert (reports / "figures" / "gradient_quality_cost_smoke.png").stat().st_size > 0
    html = (reports / "index.html").read_text()
    assert '<section id="gradients">' in html and 'href="#gradients"' in html
    assert "gradient_quality_cost_smoke.png" in html

    other = tmp_path / "other"
    ResultWriter(other, batch_id="t").add(make_rows("toy_a", "alpha", 0, {"loss": 1.0},
                                                    main="loss"))
    build_reports([other], reports)  # a rebuild without gradient results drops the section
    assert not (reports / "gradients.md").exists()
    assert 'id="gradients"' not in (reports / "index.html").read_text()


def test_a_setting_is_labelled_by_what_tells_it_from_the_strategys_others():
    a, b = json.dumps({"lr": 0.001, "k": 2}), json.dumps({"lr": 0.001, "k": 8})
    assert setting_label(a, [a, b]) == "k=2"
    assert setting_label(a, [a]) == "k=2, lr=0.001"


def test_a_sweeps_other_settings_fold_into_one_row_of_ranges(tmp_path):
    """A strategy with final runs and several tuning-only settings shows the chosen setting,
    then one row with each metric's range over the others; a lone tuning setting stays."""
    ResultWriter(tmp_path, batch_id="f").add([
        *rows("gradient_peq", "spsa", 0, 0.5, 7.0, gradient=EXACT,
              params={"lr": 0.001, "perturbations": 8}),
        *(r for i, (cos, k) in enumerate(((0.2, 1), (0.3, 2), (0.4, 4)))
          for r in rows("gradient_peq", "spsa", 1 + i, cos, 3.0 * k, gradient=EXACT,
                        phase="tune", params={"lr": 0.001, "perturbations": k})),
        *rows("gradient_peq", "autodiff", 9, 1.0, 2.0, gradient=EXACT, phase="tune",
              params={"lr": 0.003})])
    text = render_markdown(read_results(tmp_path), {})
    lines = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[:3] for line in lines] == [
        ["| autodiff", "lr=0.003", "1 tune"],
        ["| spsa", "perturbations=8", "1 final"],
        ["| spsa", "3 other settings tried (ranges)", "3 tune"]]
    assert "| 0.2 – 0.4 |" in lines[2] and "| 3 – 12 |" in lines[2]  # cosine, ms per gradient
