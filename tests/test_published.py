"""The committed reports are exactly what `python -m bench report --results-dir
results/published` rebuilds from the committed results."""

from __future__ import annotations

from pathlib import Path

from bench.report import build_reports

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "results" / "published"
REPORTS = ROOT / "reports"


def files(root: Path) -> dict[str, Path]:
    """Every report file under ``root`` by relative path (local browser screenshots excluded)."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith("screenshot")}


def test_committed_reports_rebuild_byte_identically(tmp_path: Path):
    assert (PUBLISHED / "runs").is_dir(), (
        "results/published is missing: run the matrix, then `python -m bench publish`")
    build_reports([PUBLISHED], tmp_path)
    want, got = files(REPORTS), files(tmp_path)
    assert sorted(got) == sorted(want)
    assert [name for name in want if want[name].read_bytes() != got[name].read_bytes()] == []
