"""`build_reports`: every report is written, byte-identical across rebuilds, with provenance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.report import build_reports
from bench.results import SCHEMA_VERSION

TEXT = ("leaderboard.md", "leaderboard.csv", "leaderboard.tex", "runtime.md", "index.html")


def test_everything_is_written(reports_dir: Path):
    for name in TEXT:
        assert (reports_dir / name).stat().st_size > 0
    figures = {p.name for p in (reports_dir / "figures").glob("*.png")}
    assert {"ranking_smoke.png", "quality_cost_smoke.png", "bars_toy_a_smoke.png",
            "bars_toy_b_smoke.png", "convergence_toy_a_smoke.png", "importance_alpha.png",
            "proxy_fidelity.png", "spectrogram_toy_a_smoke.png"} <= figures
    audio = sorted(p.relative_to(reports_dir).as_posix()
                   for p in (reports_dir / "audio").rglob("*.flac"))
    assert "audio/smoke/toy_a/seed0/input/0_reference.flac" in audio
    assert "audio/smoke/toy_a/seed0/alpha/1_output.flac" in audio
    assert not any("/2_" in a for a in audio)  # a few examples only


def test_header_states_provenance(reports_dir: Path):
    for name in ("leaderboard.md", "runtime.md"):
        head = (reports_dir / name).read_text()[:600]
        assert f"git: 0123456789; results schema v{SCHEMA_VERSION}" in head
        assert "Linux-other-machine, Linux-x86_64-TestCPU-2cpu-py3.11" in head
        assert "torch 2.13.0" in head and "optuna 5.0.0" in head
        assert "runs from 2026-01-02 03:04 to 2026-01-02 03:13 UTC" in head


def test_rebuild_is_byte_identical(results_dir: Path, reports_dir: Path, tmp_path: Path):
    again = tmp_path / "again"
    build_reports([results_dir], again)
    build_reports([results_dir], again)  # over existing output, too
    for name in TEXT:
        assert (again / name).read_bytes() == (reports_dir / name).read_bytes(), name
    for png in (reports_dir / "figures").glob("*.png"):
        assert (again / "figures" / png.name).read_bytes() == png.read_bytes(), png.name


def test_empty_results_give_empty_reports(tmp_path: Path):
    (tmp_path / "results").mkdir()
    build_reports([tmp_path / "results"], tmp_path / "reports")
    assert "No results yet" in (tmp_path / "reports" / "leaderboard.md").read_text()
    assert "No runtime data yet" in (tmp_path / "reports" / "runtime.md").read_text()


def test_stale_figures_and_audio_are_removed(results_dir: Path, tmp_path: Path):
    results = tmp_path / "results"
    shutil.copytree(results_dir, results)
    build_reports([results], tmp_path / "reports")
    shutil.rmtree(results / "audio")
    build_reports([results], tmp_path / "reports")
    assert not list((tmp_path / "reports").glob("audio/**/*.flac"))
    assert not list((tmp_path / "reports" / "figures").glob("spectrogram_*"))


def test_quality_against_cost_uses_setup_and_solve_seconds_of_ok_final_runs(tmp_path: Path):
    from bench.report.figures import run_seconds
    from bench.results import ResultWriter, read_results
    from tests.report.conftest import make_rows

    ResultWriter(tmp_path).add([
        *make_rows("t", "a", 0, {"m": 1.0}, main="m", solve_s=2.0),
        *make_rows("t", "a", 1, {"m": 1.0}, main="m", solve_s=4.0),
        *make_rows("t", "a", 2, {"m": None}, main="m", solve_s=100.0, status="failed"),
        *make_rows("t", "a", 3, {"m": 1.0}, main="m", solve_s=100.0, phase="tune")])
    assert run_seconds(read_results(tmp_path)) == {("t", "smoke", "a"): pytest.approx(3.1)}


def test_rank_interval_is_clipped_to_the_possible_ranks():
    from bench.report.figures import _rank_interval

    assert _rank_interval(2.0, 5.0, 4) == [[1.0], [2.0]]  # 2 ± 5 drawn as 1…4
    assert _rank_interval(2.5, 0.5, 4) == [[0.5], [0.5]]
    assert _rank_interval(1.0, float("nan"), 4) is None  # one task: no interval
