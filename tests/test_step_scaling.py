"""Step-time scaling: one run, every clip length, JSON the runtime report reads."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report.runtime import PerfFiles
from bench.step_scaling import measure_step_scaling


def test_measure_writes_scaling_json(tmp_path: Path):
    path = measure_step_scaling(tmp_path, (0.05, 0.1), strategies=["autodiff"],
                                repeats=1, cache_dir=tmp_path / "cache")
    data = json.loads(path.read_text())
    assert path.parent == tmp_path / "perf" and data["kind"] == "scaling"
    assert data["lengths_s"] == [0.05, 0.1] and data["machine_id"]
    entry = data["strategies"]["autodiff"]
    assert entry["error"] is None and len(entry["step_s"]) == 2
    assert all(t > 0 for t in entry["step_s"])
    assert PerfFiles.read([tmp_path]).latest("scaling")[data["machine_id"]] == data
