"""Runtime report: per-machine sections, step times, counters, proxies, kernels, scaling."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report.runtime import PerfFiles, render_runtime
from bench.results import read_results
from tests.report.conftest import MACHINE


def machine_section(md: str, machine: str) -> str:
    """The runtime Markdown of one machine."""
    start = md.index(f"## Machine `{machine}`")
    end = md.find("\n## ", start + 1)
    return md[start:] if end < 0 else md[start:end]


def test_machines_never_share_a_table(reports_dir: Path):
    md = (reports_dir / "runtime.md").read_text()
    other = machine_section(md, "Linux-other-machine")
    mine = machine_section(md, MACHINE)
    assert "beta_other_machine" in other and "beta_other_machine" not in mine
    assert "| alpha | toy_a | smoke | 3 | 20 | 2 | 2 | 1 | 8 | 1 | — |" in mine
    assert "| delta | toy_a | smoke | 0 (1 failed) |" in mine


def test_inference_rtf_only_without_training_in_solve(reports_dir: Path):
    mine = machine_section((reports_dir / "runtime.md").read_text(), MACHINE)
    # toy_b: 2 pairs, smoke budget (8 eval examples of 1.1 s) → 8 clips, 1 s solve
    assert "| alpha | toy_b | smoke | 3 | — | — | — | — | 8 | 1 | 0.114 |" in mine


def test_proxies_and_kernel_ratios(reports_dir: Path):
    mine = machine_section((reports_dir / "runtime.md").read_text(), MACHINE)
    assert "| peq | tcn | smoke | 100 | 3 | 15 |  | 0.5 | 0.4 | 0.01 |" in mine
    assert "| peq_forward_vs_scipy | 0.80 | <= 1 | yes | 6-band forward |" in mine
    assert "| biquad_ns_per_sample | 1.70 ns | bound ≈ 1.6 ns | - | one biquad |" in mine
    assert "### Real-time factors" in mine and "| peq |" in mine


def test_scaling_table_and_figure(results_dir: Path, tmp_path: Path):
    perf = tmp_path / "perf"
    perf.mkdir()
    (perf / "scaling-1.json").write_text(json.dumps({
        "kind": "scaling", "machine_id": MACHINE, "timestamp": "t", "what": "Forward+backward.",
        "batch": 2, "sample_rate": 16000, "repeats": 3, "lengths_s": [0.5, 1.0],
        "strategies": {"autodiff": {"step_s": [0.01, 0.02], "error": None},
                       "broken": {"step_s": None, "error": "ValueError: no"}}}))
    (perf / "garbage.json").write_text("{not json")
    files = PerfFiles.read([tmp_path])
    md = render_runtime(read_results(results_dir), files, {MACHINE: "figures/s.png"})
    section = machine_section(md, MACHINE)
    assert "| strategy | 0.5 s | 1 s | × from 0.5 to 1 s |" in section
    assert "| autodiff | 10 | 20 | 2 |" in section
    assert "| broken | failed: ValueError: no |" in section
    assert "](figures/s.png)" in section


def test_no_perf_files_is_fine(tmp_path: Path):
    assert PerfFiles.read([tmp_path]) == PerfFiles([], [], [])


def test_step_times_relative_to_autodiff(tmp_path: Path):
    from bench.results import ResultWriter
    from tests.report.conftest import make_rows, training

    w = ResultWriter(tmp_path, batch_id="ratios")
    steps = {"autodiff": (0.1, 0.2), "spsa": (0.15, 0.2), "neural_proxy": (0.8, 2.0),
             "rule_based": (None, None)}
    for strategy, times in steps.items():
        for task, step in zip(("toy_a", "toy_b"), times, strict=True):
            w.add(make_rows(task, strategy, 0, {"loss": 1.0}, main="loss",
                            extra=training(step) if step else None))
    md = render_runtime(read_results(tmp_path), PerfFiles([], [], []), {})
    assert "| strategy | toy_a (smoke) | toy_b (smoke) | median | DeepAFx-ST (GPU) |" in md
    assert "| autodiff | 1 | 1 | 1 | — |" in md
    assert "| spsa | 1.5 | 1 | 1.25 | 1.34 |" in md
    assert "| neural_proxy | 8 | 10 | 9 | 1.41 |" in md
    ratios = md.split("relative to autodiff")[1].split("###")[0]
    assert "| rule_based |" not in ratios and "| spsa |" in ratios


def test_compute_spent_per_strategy_and_family(reports_dir: Path):
    mine = machine_section((reports_dir / "runtime.md").read_text(), MACHINE)
    # fixture: every run takes 0.1 + 1 + 0.1 s; alpha has 6 final runs and one tuning run
    assert "### Compute spent (smoke budget)" in mine
    assert "| alpha | 0.14 | 0.14 | " in mine
    assert "| **total** |" in mine


def test_a_failed_metric_is_not_a_failed_run(tmp_path: Path):
    from bench.report.runs import final_runs
    from bench.results import ResultWriter
    from tests.report.conftest import make_rows, training

    rows = make_rows("toy_a", "alpha", 0, {"a_metric": None, "b_metric": 1.0}, main="b_metric",
                     extra=training(0.02))
    for order in (rows, rows[::-1]):
        results = tmp_path / str(len(list(tmp_path.iterdir())))
        ResultWriter(results, batch_id="b").add(order)
        runs = final_runs(read_results(results))
        assert list(runs.status) == ["ok"], order
