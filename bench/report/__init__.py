"""`python -m bench report`: every report is rebuilt from Parquet results, deterministically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.report.leaderboard import write_leaderboard
from bench.results import read_results


def build_reports(results_dirs: Iterable[Path], reports_dir: Path) -> list[Path]:
    """Read the results and write the reports; returns the files written."""
    frame = read_results(list(results_dirs))
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    return write_leaderboard(frame, reports_dir)
