"""Same command, same seed, same machine: the same metric values in two fresh result dirs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.data import default_cache_dir
from bench.registry import registry
from bench.results import read_results
from tests.conftest import bench_cmd

KEY = ["phase", "strategy", "trial_number", "repetition", "metric"]


def metric_values(results: Path) -> pd.Series:
    """Every metric value of a results directory, indexed by what identifies it."""
    frame = read_results(results)
    return frame.set_index(KEY).value.sort_index()


@pytest.mark.parametrize("task, strategy, trials, corpus", [
    ("toy", "toy_search", "3", None),
    ("synthetic_speech", "spsa", "1", "speech"),
])
def test_same_seed_gives_the_same_metrics_from_the_cli(tmp_path, task, strategy, trials, corpus):
    if corpus:
        built = registry("dataset").get(corpus)(cache_dir=default_cache_dir(), tier="smoke")
        if not built.manifest_path.exists():
            pytest.skip(f"smoke {corpus} corpus not built: python -m bench data build --tier smoke")
    values = []
    for name in ("first", "second"):
        out = bench_cmd("run", "--task", task, "--strategy", strategy, "--budget", "smoke",
                        "--trials", trials, "--seed", "3", "--no-progress", "--results-dir",
                        str(tmp_path / name), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        values.append(metric_values(tmp_path / name))
    assert len(values[0]) and values[0].notna().any()
    pd.testing.assert_series_equal(values[0], values[1], check_exact=True)
