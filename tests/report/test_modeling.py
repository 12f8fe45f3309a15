"""The report's effect-modeling section: a table per effect with one row per model (validation
figures every model shares, test MR-STFT beside), the best model against today's default, the
steering heatmaps, and nothing at all without modeling results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import build_reports
from bench.report.modeling import BEST_FILE, best_models, modeling_runs, settings
from bench.results import STEER_SUBDIR, ResultWriter, read_results
from tests.report.conftest import make_rows

TASK = "modeling_compressor"


def rows(strategy: str, seed: int, mrstft: float, *, arch: str, model: str, phase: str = "tune",
         params: dict | None = None, reference: bool = False) -> list[dict]:
    values = {"mrstft": mrstft, "esr": mrstft / 10, "lufs": 1.0, "aliasing": 1e-6,
              "rtf": 0.01 * (1 + seed), "parameters": 1000.0 * (1 + seed), "train_s": 5.0}
    extra = None if reference else {"proxies": {"compressor": {"arch": arch, "model": model}}}
    out = make_rows(TASK, strategy, seed, values, main="mrstft", phase=phase,
                    reference=reference, extra=extra)
    return [{**r, "params_json": json.dumps(params or {}, sort_keys=True),
             "task_family": "modeling"} for r in out]


def write(results: Path) -> None:
    ResultWriter(results, batch_id="m").add([
        *rows("modeling", 0, 2.0, arch="tcn-film", model="tcn-film",
              params={"arch": "tcn", "conditioning": "film"}),
        *rows("modeling", 1, 1.0, arch="gru-hyper", model="gru-hyper",
              params={"arch": "gru", "conditioning": "hyper"}),
        *rows("modeling", 2, 1.2, arch="gru-hyper", model="gru-hyper", phase="final",
              params={"arch": "gru", "conditioning": "hyper"}),
        *rows("neural_proxy", 3, 1.5, arch="gain", model="auto", params={"lr": 0.001}),
        *rows("neural_proxy", 4, 1.5, arch="gain", model="auto", params={"lr": 0.003}),
        *rows("neural_proxy", 5, 1.4, arch="gain", model="auto", phase="final",
              params={"lr": 0.001}),
        *rows("dsp", 6, 0.0, arch="", model="", reference=True),
        *make_rows("toy_a", "alpha", 0, {"loss": 1.0}, main="loss")])


def steering(results: Path) -> None:
    grid = [[-40.0, -38.0], [-37.0, None]]
    data = {"kind": "steer", "effect": "compressor", "budget": "smoke", "seed": 0,
            "measure": "lufs", "measure_what": "integrated loudness of the output (LUFS)",
            "controls": [-5.0, 5.0], "values": grid, "input_value": -30.0,
            "target_value": -35.0, "model_at_zero": -36.0,
            "structure": {"range": 3.0, "plane_r2": 0.9, "neighbour_step": 0.5},
            "training": {"steps": 3, "cpu_s": 1.0},
            "fidelity_at_zero": {"train_clip": {"mrstft": 0.5, "esr": 0.1, "lufs": 1.0},
                                 "heldout_clip": {"mrstft": 0.7, "esr": None, "lufs": 2.0}}}
    (results / STEER_SUBDIR).mkdir(parents=True)
    (results / STEER_SUBDIR / "compressor-smoke-seed0.json").write_text(json.dumps(data))


def test_one_row_per_model_with_validation_figures_and_the_test_mrstft(tmp_path):
    write(tmp_path)
    frame = read_results(tmp_path)
    runs = modeling_runs(frame)
    assert set(runs.task) == {TASK}
    entries = settings(runs)
    assert [e["model"] for e in entries] == ["dsp", "gru-hyper", "tcn-film", "auto: gain"]
    gru = entries[1]
    assert gru["tune"]["mrstft"] == 1.0 and gru["final"]["mrstft"] == 1.2
    proxy = entries[3]  # two tuning runs with another learning rate: one model
    assert proxy["phases"] == {"final": 1, "tune": 2} and proxy["tune"]["mrstft"] == 1.5


def test_the_best_model_is_decided_on_the_shared_test_clips_against_the_default(tmp_path):
    write(tmp_path)
    best = best_models(settings(modeling_runs(read_results(tmp_path))))[f"{TASK} (smoke)"]
    assert best["decided_on"] == "final"
    assert (best["best"]["model"], best["best"]["mrstft"]) == ("gru-hyper", 1.2)
    assert best["default"]["model"] == "auto: gain"
    assert not best["switch"] and best["verdict"].startswith("too few runs")  # one run a side


@pytest.mark.parametrize(("grid", "default", "switch"), [
    ((1.0, 1.1, 1.2), (1.4, 1.5, 1.6), True),   # apart beyond the spread over seeds
    ((0.6, 1.1, 1.6), (0.8, 1.3, 1.8), False),  # a lower mean inside the spread: a tie
])
def test_a_switch_needs_a_gap_beyond_the_spread_over_seeds(tmp_path, grid, default, switch):
    cell = {"arch": "gru", "conditioning": "hyper"}
    ResultWriter(tmp_path, batch_id="s").add([
        *(r for i, v in enumerate(grid)
          for r in rows("modeling", i, v, arch="gru-hyper", model="gru-hyper", phase="final",
                        params=cell)),
        *(r for i, v in enumerate(default)
          for r in rows("neural_proxy", 10 + i, v, arch="gain", model="auto", phase="final"))])
    best = best_models(settings(modeling_runs(read_results(tmp_path))))[f"{TASK} (smoke)"]
    assert best["best"]["model"] == "gru-hyper" and best["best"]["runs"] == 3
    assert best["switch"] is switch and 0 < best["p"] < 1
    assert best["verdict"].startswith("better beyond" if switch else "a tie within")


def test_build_writes_the_section_its_figures_best_file_and_steering(tmp_path):
    results, out = tmp_path / "results", tmp_path / "report"
    write(results)
    steering(results)
    build_reports([results], out)
    text = (out / "modeling.md").read_text()
    table = text.split(f"## {TASK} (smoke budget)")[1].split("##")[0]
    lines = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[0] for line in lines] == [
        "| gru-hyper", "| auto: gain", "| tcn-film", "| _dsp_"]
    assert lines[0].endswith("| 1.2 |")  # test mrstft of the final run
    assert ("| compressor | smoke | lufs | 3 | 1 | 3 | 0.9 | 0.5 | -30 | -35 | -36 | 0.5 / 0.7"
            in text)
    assert "| 0.1 / — |" in text  # a measure that failed on the held-out clip
    best = json.loads((out / BEST_FILE).read_text())
    assert best[f"{TASK} (smoke)"]["best"]["model"] == "gru-hyper"
    figures = out / "figures"
    assert (figures / f"fidelity_cost_{TASK}_smoke.png").stat().st_size > 0
    assert (figures / "steer_compressor_smoke_seed0.png").stat().st_size > 0
    index = (out / "index.html").read_text()
    assert 'href="#modeling"' in index and "Steering from one example" in index
    overall = (out / "leaderboard.md").read_text()
    assert "(the 1 effect-modeling tasks rank in their family only)" in overall


def test_without_modeling_results_there_is_no_section_and_a_stale_one_goes(tmp_path):
    results, out = tmp_path / "results", tmp_path / "report"
    ResultWriter(results, batch_id="t").add(make_rows("toy_a", "alpha", 0, {"loss": 1.0},
                                                      main="loss"))
    out.mkdir()
    (out / "modeling.md").write_text("stale")
    (out / BEST_FILE).write_text("{}")
    build_reports([results], out)
    assert not (out / "modeling.md").exists() and not (out / BEST_FILE).exists()
    assert 'id="modeling"' not in (out / "index.html").read_text()
