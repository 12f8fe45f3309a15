"""Results: schema round trip, atomic per-process files, validation, dedup on read."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.results import (
    SCHEMA,
    SCHEMA_VERSION,
    ResultsError,
    ResultWriter,
    current_protocol,
    read_results,
    result_files,
)


def make_row(**over) -> dict:
    """A complete, valid row with overridable fields."""
    t = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    row = {name: None for name in SCHEMA.names}
    row.update(
        schema_version=SCHEMA_VERSION, run_key="k1", phase="final", study_name="s",
        trial_number=None, strategy="toy_search", strategy_version="1", is_reference=False,
        task="toy", task_version="1", task_family="toy", budget="smoke", split="test", seed=7,
        base_seed=0, repetition=0, params_json='{"a":1}', metric="l1", value=0.25, unit="",
        higher_is_better=False, is_main_metric=True, status="ok", error=None, n_steps=3,
        n_dsp_evals=120, n_grad_estimates=0, setup_s=0.1, solve_s=0.2, eval_s=0.3, cpu_s=0.5,
        extra_json=None, device="cpu", machine_id="m", host_hash="h", python_version="3.11",
        torch_version="2.13.0", numpy_version="2", optuna_version="5", bench_version="0.1",
        git_sha="abc", git_dirty=False, started_at=t, finished_at=t,
    )
    row.pop("batch_id")
    row.update(over)
    return row


def test_round_trip_preserves_every_column(tmp_path):
    writer = ResultWriter(tmp_path, batch_id="b1")
    writer.add([make_row(), make_row(metric="param_mae", value=math.nan, status="failed",
                                     error="ValueError: x", is_main_metric=False)])
    frame = read_results(tmp_path)
    assert list(frame.columns) == SCHEMA.names
    assert len(frame) == 2
    ok = frame[frame.metric == "l1"].iloc[0]
    assert ok.value == 0.25 and ok.n_dsp_evals == 120 and ok.batch_id == "b1"
    assert ok.started_at == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    failed = frame[frame.metric == "param_mae"].iloc[0]
    assert math.isnan(failed.value) and failed.status == "failed"
    assert failed.error == "ValueError: x"
    assert pq.read_schema(writer.path).equals(SCHEMA, check_metadata=False)


def test_each_flush_rewrites_one_file_atomically(tmp_path):
    writer = ResultWriter(tmp_path, batch_id="b2")
    writer.add([make_row(run_key="a")])
    writer.add([make_row(run_key="b")])
    assert result_files(tmp_path) == [writer.path]
    assert not [p for p in writer.path.parent.iterdir() if p.name.startswith(".")]
    assert len(pq.read_table(writer.path)) == 2


def test_files_of_several_processes_are_concatenated_and_deduplicated(tmp_path):
    early = datetime(2026, 1, 1, tzinfo=UTC)
    late = datetime(2026, 1, 3, tzinfo=UTC)
    ResultWriter(tmp_path, batch_id="p1").add([make_row(run_key="x", value=1.0,
                                                        finished_at=early)])
    ResultWriter(tmp_path, batch_id="p2").add([make_row(run_key="x", value=2.0,
                                                        finished_at=late),
                                               make_row(run_key="y", value=3.0)])
    frame = read_results(tmp_path)
    assert sorted(frame.run_key) == ["x", "y"]
    assert frame.set_index("run_key").loc["x", "value"] == 2.0


def test_row_with_unknown_column_or_status_is_rejected(tmp_path):
    writer = ResultWriter(tmp_path)
    with pytest.raises(ResultsError, match="unknown"):
        writer.add([make_row(bogus=1)])
    with pytest.raises(ResultsError, match="status"):
        writer.add([make_row(status="great")])
    assert result_files(tmp_path) == []


def test_reader_names_a_foreign_or_newer_file(tmp_path):
    (tmp_path / "runs").mkdir()
    pq.write_table(pa.table({"x": [1]}), tmp_path / "runs" / "foreign.parquet")
    with pytest.raises(ResultsError, match=r"foreign\.parquet lacks columns"):
        read_results(tmp_path)
    (tmp_path / "runs" / "foreign.parquet").unlink()
    newer = pa.Table.from_pylist([make_row(schema_version=SCHEMA_VERSION + 1,
                                           batch_id="z")], schema=SCHEMA)
    pq.write_table(newer, tmp_path / "runs" / "newer.parquet")
    with pytest.raises(ResultsError, match="upgrade afx-bench"):
        read_results(tmp_path)


def test_unwritable_results_dir_is_one_clear_error(tmp_path):
    target = tmp_path / "file-not-dir"
    target.write_text("")
    with pytest.raises(ResultsError, match="cannot write results"):
        ResultWriter(target).add([make_row()])


def test_empty_results_dir_reads_as_empty_frame(tmp_path):
    frame = read_results(tmp_path)
    assert frame.empty and list(frame.columns) == SCHEMA.names


DATA_COLUMNS = ("train_data", "test_data", "train_data_fingerprint", "test_data_fingerprint",
                "data_skipped")


def test_older_files_read_with_the_later_columns_null(tmp_path):
    v1 = make_row(schema_version=1, batch_id="v1")
    for name in ("best_step", "converged", "cpu_s", *DATA_COLUMNS):
        v1.pop(name)
    v2 = make_row(schema_version=2, batch_id="v2", run_key="k3", best_step=10, converged=False)
    for name in ("cpu_s", *DATA_COLUMNS):
        v2.pop(name)
    (tmp_path / "runs").mkdir()
    pq.write_table(pa.Table.from_pylist([v1]), tmp_path / "runs" / "v1.parquet")
    pq.write_table(pa.Table.from_pylist([v2]), tmp_path / "runs" / "v2.parquet")
    ResultWriter(tmp_path, batch_id="new").add([make_row(run_key="k2", best_step=40,
                                                          converged=True, cpu_s=1.5)])
    frame = read_results(tmp_path).set_index("run_key")
    assert frame.loc["k1", "schema_version"] == 1 and frame.loc["k2", "schema_version"] == 4
    assert frame.loc["k1", ["best_step", "converged", "cpu_s"]].isna().all()
    assert frame.loc["k3", "best_step"] == 10 and pd.isna(frame.loc["k3", "cpu_s"])
    assert frame.loc["k2", "best_step"] == 40 and bool(frame.loc["k2", "converged"])
    assert frame.loc["k2", "cpu_s"] == 1.5


def test_converged_is_rederived_from_the_stored_curve_by_todays_rule(tmp_path):
    # written under the old rule (last check against the check at 80 %: 5 % apart, False);
    # the best loss, which training restores, gained 1 % over the tail: converged today
    curve = [{"step": s, "val_loss": v} for s, v in ((40, 2.0), (80, 1.0), (90, 1.05),
                                                     (100, 0.99))]
    training = {"curve": curve, "steps_run": 100, "stopped_early": False, "converged": False}
    ResultWriter(tmp_path).add([
        make_row(run_key="old", converged=False, extra_json=json.dumps({"training": training})),
        make_row(run_key="bare", converged=False)])
    frame = read_results(tmp_path).set_index("run_key")
    assert frame.loc[["old", "bare"], "converged"].tolist() == [True, False]


def test_reports_compare_only_the_newest_protocol_of_each_task_strategy_and_budget(tmp_path):
    rows = [  # (run key, task version, strategy, strategy version, study's budget tag)
        ("old-task", "1", "a", "1", "quick@2"), ("a-new", "2", "a", "1", "quick@2"),
        ("b-old-strategy", "2", "b", "1", "quick@2"), ("b-new", "2", "b", "2", "quick@2"),
        ("c-old-budget", "2", "c", "1", "quick"), ("c-new", "2", "c", "1", "quick@2"),
        ("input", "2", "input", "1", None), ("input-old-task", "1", "input", "1", None)]
    ResultWriter(tmp_path).add([
        make_row(run_key=key, task_version=tv, strategy=s, strategy_version=sv,
                 study_name=f"toy@{tv}/{s}@{sv}/{tag}/seed0" if tag else None,
                 is_reference=tag is None) for key, tv, s, sv, tag in rows])
    kept = current_protocol(read_results(tmp_path))
    assert sorted(kept.run_key) == ["a-new", "b-new", "c-new", "input"]


def test_files_before_the_data_columns_read_their_data_as_the_embedded_corpora(tmp_path):
    old = []
    for key, task, family in (("a", "synthetic_speech", "style_transfer"),
                              ("b", "chain_music", "chain_selection"),
                              ("c", "gradient_peq", "gradient"), ("d", "toy", "toy")):
        row = make_row(schema_version=3, run_key=key, task=task, task_family=family,
                       batch_id="v3")
        for name in DATA_COLUMNS:
            row.pop(name)
        old.append(row)
    (tmp_path / "runs").mkdir()
    pq.write_table(pa.Table.from_pylist(old), tmp_path / "runs" / "v3.parquet")
    ResultWriter(tmp_path, batch_id="new").add([make_row(
        run_key="e", task="synthetic_speech", task_family="style_transfer",
        train_data="libritts", test_data="daps@44100", train_data_fingerprint="f1",
        test_data_fingerprint="f2", data_skipped=3)])
    frame = read_results(tmp_path).set_index("run_key")
    assert frame.loc[["a", "b", "c"], "train_data"].tolist() == ["speech", "music",
                                                                  "speech+music"]
    assert frame.loc[["a", "b", "c"], "test_data"].tolist() == ["speech", "music",
                                                                 "speech+music"]
    assert frame.loc["d", ["train_data", "test_data"]].isna().all()
    assert frame.loc[["a", "b"], ["train_data_fingerprint", "data_skipped"]].isna().all().all()
    assert frame.loc["e", ["train_data", "test_data", "data_skipped"]].tolist() == [
        "libritts", "daps@44100", 3]


def test_reports_group_by_task_and_data_naming_only_chosen_data(tmp_path):
    from bench.results import label_data

    rows = [make_row(run_key=k, task="synthetic_speech", task_family="style_transfer",
                     train_data=train, test_data=test)
            for k, train, test in (("a", "speech", "speech"), ("b", "libritts", "daps"),
                                   ("c", "libritts", "libritts"), ("d", "libritts", "vctk"))]
    ResultWriter(tmp_path, batch_id="x").add(rows)
    frame = label_data(read_results(tmp_path)).set_index("run_key")
    assert frame.task.to_dict() == {
        "a": "synthetic_speech", "b": "synthetic_speech [libritts → daps]",
        "c": "synthetic_speech [libritts]", "d": "synthetic_speech [libritts → vctk]"}
    assert set(frame.task_name) == {"synthetic_speech"}
