"""The final runs a report reads: one row per run, with its extra facts and training logs."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd


def training_logs(extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The `TrainingLog.summary()` dicts inside a row's extra JSON (whatever key the task used:
    "training", "blind_model" …)."""
    return [v for _, v in sorted(extra.items())
            if isinstance(v, dict) and "step_s_median" in v]


def final_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per final strategy run (reference rows excluded), with parsed extra JSON. A run
    is ok when any of its metrics is (a failed metric is not a failed run), whatever the order
    of its rows in the files."""
    runs = frame[(frame.phase == "final") & ~frame.is_reference & (frame.status != "skipped")]
    runs = runs.sort_values(["run_key", "metric"], kind="stable").copy()
    runs["status"] = runs.groupby("run_key").status.transform(
        lambda s: "ok" if (s == "ok").any() else s.iloc[0])
    runs = runs.drop_duplicates("run_key").copy()
    runs["extra"] = [json.loads(t) if isinstance(t, str) else {} for t in runs.extra_json]
    return runs.sort_values(["machine_id", "strategy", "task", "budget", "seed"], kind="stable")
