"""The standard matrix's projected wall time: each basis gives the seconds it promises."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.budgets import BUDGETS, get_budget
from bench.matrix import MatrixCell
from bench.report.projection import project, render_projection, run_walls
from bench.runner import matrix_cells

STANDARD = get_budget("standard")
RUNS = {"tune": 12, "final": 3}


def walls(*rows: tuple) -> pd.DataFrame:
    """Runs at each budget's current protocol version: (task, strategy, budget, phase, wall[,
    shared setup])."""
    frame = pd.DataFrame([(*r, 0.0)[:6] for r in rows],
                         columns=["task", "strategy", "budget", "phase", "wall", "shared"])
    frame["task_version"] = "1"
    frame["budget_version"] = [BUDGETS[b].version for b in frame.budget]
    return frame


def test_measured_steps_and_sizes_bases_scale_as_documented():
    matrix = [MatrixCell("synthetic_music", "autodiff", RUNS, "gradient", 3000),
              MatrixCell("synthetic_music", "neural_proxy", RUNS, "gradient", 3000),
              MatrixCell("chain_speech", "spsa", RUNS, "gradient", 750),
              MatrixCell("synthetic_music", "cmaes", RUNS, "search", 3000),
              MatrixCell("probe_music", "autodiff", {"tune": 0, "final": 3}, "reuse", 3000),
              MatrixCell("blind_music", "spsa", RUNS, "gradient", 3000)]
    measured = walls(("synthetic_music", "autodiff", "standard", "tune", 100.0),
                     ("synthetic_music", "autodiff", "standard", "tune", 200.0),
                     ("synthetic_music", "cmaes", "quick", "tune", 10.0),
                     ("synthetic_music", "cmaes", "quick", "final", 20.0),
                     ("probe_music", "autodiff", "quick", "final", 1.0))
    steps = {("synthetic_music", "autodiff"): 0.1, ("synthetic_music", "neural_proxy"): 0.35,
             ("chain_music", "spsa"): 0.2}
    cells = {(c.task, c.strategy): c for c in project(STANDARD, matrix, measured, steps, BUDGETS)}

    own = cells["synthetic_music", "autodiff"]
    assert own.basis == "measured (tune)" and own.seconds == {"tune": 150.0, "final": 150.0}
    assert own.total == pytest.approx(15 * 150.0)
    proxy = cells["synthetic_music", "neural_proxy"]
    assert proxy.seconds["tune"] == pytest.approx(150.0 * 3.5)
    assert proxy.basis.startswith("steps: synthetic_music/autodiff")
    # the twin task's step time stands in, and a chain run has a quarter of the steps
    assert cells["chain_speech", "spsa"].seconds["final"] == pytest.approx(150.0 * 2 / 4)
    quick = get_budget("quick")
    scale = (STANDARD.eval_examples * STANDARD.dsp_evals) / (quick.eval_examples
                                                             * quick.dsp_evals)
    tune_scale = scale * STANDARD.tune_examples / STANDARD.eval_examples  # fewer examples
    assert cells["synthetic_music", "cmaes"].seconds == pytest.approx(
        {"tune": 10.0 * tune_scale, "final": 20.0 * scale})
    reuse = cells["probe_music", "autodiff"]
    assert reuse.seconds == pytest.approx(
        {"final": STANDARD.eval_examples / quick.eval_examples})
    assert reuse.total == pytest.approx(3 * reuse.seconds["final"])
    assert cells["blind_music", "spsa"].total is None


def test_render_sums_core_hours_divides_by_workers_and_names_gaps():
    matrix = [MatrixCell("synthetic_music", "autodiff", RUNS, "gradient", 3000, "style"),
              MatrixCell("modeling_peq", "modeling", RUNS, "measure", 3000, "modeling"),
              MatrixCell("blind_music", "spsa", RUNS, "gradient", 3000, "blind")]
    measured = walls(("synthetic_music", "autodiff", "standard", "tune", 720.0),
                     ("synthetic_music", "autodiff", "standard", "final", 1200.0),
                     ("modeling_peq", "modeling", "standard", "tune", 360.0),
                     ("modeling_peq", "modeling", "standard", "final", 360.0))
    cells = project(STANDARD, matrix, measured, {}, BUDGETS)
    text = render_projection(cells, STANDARD, workers=2, limit_hours=8.0)
    # 12 × 720 s + 3 × 1200 s = 3.4 core-hours, and 15 × 360 s = 1.5: 2.45 h on two workers
    assert "**Total: 4.9 core-hours; 2.45 h of wall time with 2 workers**" in text
    assert "By task family (core-hours): style 3.4, modeling 1.5, blind 0." in text
    assert "does not fit" in text and "Incomplete: no basis for blind_music/spsa" in text


def test_matrix_counts_tuning_only_where_models_are_trained():
    cells = {(c.task, c.strategy): c for c in matrix_cells(STANDARD)}
    assert cells["synthetic_music", "autodiff"].runs == {"tune": 12, "final": 3}
    assert cells["synthetic_music", "autodiff"].kind == "gradient"
    assert cells["realistic_music", "autodiff"].kind == "reuse"
    assert cells["realistic_music", "autodiff"].runs["tune"] == 0
    assert cells["realistic_music", "cmaes"].kind == "search"
    assert cells["chain_music", "autodiff"].steps == STANDARD.steps // 4
    assert not any(task == "toy" or strategy == "toy_search" for task, strategy in cells)


def test_a_run_costs_its_cpu_seconds_else_its_steps_at_the_cells_rate_else_its_wall():
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    frame = pd.DataFrame({
        "task": ["t"] * 4 + ["u"], "strategy": ["s", "s", "s", "input", "s"],
        "budget": ["standard"] * 5, "phase": ["tune", "tune", "final", "final", "tune"],
        "is_main_metric": [True] * 5, "status": ["ok", "pruned", "ok", "ok", "ok"],
        "is_reference": [False, False, False, True, False],
        "cpu_s": [15.0, None, None, 1.0, None], "n_steps": [100, 40, 0, 0, 50],
        "task_version": ["2"] * 5, "strategy_version": ["1"] * 5,
        "study_name": ["t@2/s@1/standard@2/seed0"] * 5,
        "started_at": [start] * 5, "extra_json": ['{"shared_setup_cpu_s": 2.5}'] + ["{}"] * 4,
        "finished_at": [start + pd.Timedelta(seconds=s) for s in (40, 30, 20, 5, 9)]})
    rows = run_walls(frame)
    # 15 s measured, 2.5 of them setup shared with later runs; 40 steps at 0.125 s a step;
    # no steps: wall; no CPU-timed run: wall
    assert rows.wall.tolist() == [12.5, 5.0, 20.0, 9.0]  # references are not the matrix's work
    assert rows.shared.tolist() == [2.5, 0.0, 0.0, 0.0]


def test_only_a_cells_newest_protocol_is_costed():
    """Runs of an older budget, task or strategy version of the same cell are stale; other
    cells and budgets keep their own newest rows."""
    frame = pd.DataFrame({
        "task": ["t"] * 5, "strategy": ["s"] * 5,
        "budget": ["standard", "standard", "standard", "quick", "standard"],
        "study_name": ["t@1/s@3/standard@2/seed0", "t@2/s@1/standard@2/seed0",
                       "t@2/s@2/standard@2/seed0", "t@1/s@1/quick/seed0",
                       "t@3/s@3/standard/seed0"],
        "task_version": ["1", "2", "2", "1", "3"], "strategy_version": ["3", "1", "2", "1", "3"],
        "phase": ["tune"] * 5, "is_main_metric": [True] * 5, "status": ["ok"] * 5,
        "is_reference": [False] * 5, "cpu_s": [100.0, 50.0, 20.0, 7.0, 3.0],
        "n_steps": [10] * 5, "started_at": [pd.Timestamp("2026-01-01T00:00:00Z")] * 5,
        "extra_json": ["{}"] * 5,
        "finished_at": [pd.Timestamp("2026-01-01T00:01:00Z")] * 5})
    rows = run_walls(frame)
    # the version-1 standard row has newer task and strategy versions, but an older budget
    assert sorted(zip(rows.budget, rows.wall, strict=True)) == [("quick", 7.0), ("standard", 20.0)]


def test_a_measured_cell_of_the_same_strategy_sets_the_ratio_between_budgets():
    matrix = [MatrixCell("synthetic_music", "cmaes", RUNS, "search", 3000),
              MatrixCell("blind_music", "cmaes", RUNS, "search", 3000)]
    measured = walls(("synthetic_music", "cmaes", "quick", "tune", 10.0),
                     ("synthetic_music", "cmaes", "quick", "final", 10.0),
                     ("synthetic_music", "cmaes", "standard", "tune", 60.0),
                     ("synthetic_music", "cmaes", "standard", "final", 60.0),
                     ("blind_music", "cmaes", "quick", "final", 4.0))
    stale = walls(("blind_music", "cmaes", "standard", "final", 999.0)).assign(budget_version=1)
    # a task measured at the two budgets under different versions sets no ratio
    other = walls(("chain_music", "cmaes", "quick", "final", 1.0),
                  ("chain_music", "cmaes", "standard", "final", 500.0))
    other.loc[other.budget == "standard", "task_version"] = "2"
    cells = {c.task: c for c in project(STANDARD, matrix, pd.concat([measured, stale, other]),
                                        {}, BUDGETS)}
    assert cells["synthetic_music"].basis == "measured"  # the stale version-1 run is not
    assert cells["blind_music"].seconds == pytest.approx({"tune": 24.0, "final": 24.0})
    assert cells["blind_music"].basis == "quick × 6 (the ratio measured on synthetic_music)"


def test_a_cell_with_only_its_tuning_measured_takes_its_familys_final_runs():
    # a modeling study's final re-uses the tuned cell: seconds, where its trials took minutes
    matrix = [MatrixCell(f"modeling_{e}", "modeling", {"tune": 9, "final": 3}, "measure", 0,
                         "modeling") for e in ("delay", "reverb")]
    matrix.append(MatrixCell("synthetic_music", "autodiff", RUNS, "gradient", 3000, "style"))
    measured = walls(("modeling_delay", "modeling", "standard", "tune", 100.0),
                     ("modeling_delay", "modeling", "standard", "final", 2.0),
                     ("modeling_reverb", "modeling", "standard", "tune", 800.0),
                     ("synthetic_music", "autodiff", "standard", "tune", 150.0))
    cells = {c.task: c for c in project(STANDARD, matrix, measured, {}, BUDGETS)}
    reverb = cells["modeling_reverb"]
    assert reverb.seconds == {"tune": 800.0, "final": 2.0}
    assert reverb.basis == "measured (tune); final: the family's other tasks"
    # no sibling of the family measured its finals: the tuning runs stand in, as before
    assert cells["synthetic_music"].seconds == {"tune": 150.0, "final": 150.0}


def test_setup_a_run_shares_with_later_runs_counts_once_a_study_and_once_a_final_run():
    """A gradient task computes a split and seed's points and reference gradients once per
    process: the first trial's run carries them, the other eleven trials reuse them."""
    matrix = [MatrixCell("gradient_pb_peq", "neural_proxy", RUNS, "gradient", 0, "gradient")]
    measured = walls(("gradient_pb_peq", "neural_proxy", "standard", "tune", 3.0, 45.0),
                     ("gradient_pb_peq", "neural_proxy", "standard", "tune", 5.0),
                     ("gradient_pb_peq", "neural_proxy", "standard", "final", 2.0, 55.0))
    cell = project(STANDARD, matrix, measured, {}, BUDGETS)[0]
    assert cell.seconds == {"tune": 4.0, "final": 2.0}
    assert cell.total == pytest.approx(12 * 4.0 + 45.0 + 3 * (2.0 + 55.0))
    assert cell.basis == "measured; shared setup 45 s a study (tune), 55 s a run (final)"
