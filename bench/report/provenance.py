"""The provenance lines every report starts with: where and from what its results came."""

from __future__ import annotations

import pandas as pd


def header_lines(frame: pd.DataFrame) -> list[str]:
    """Provenance: git revisions, schema version, machines, library versions, run dates."""
    if frame.empty:
        return ["_No results yet: run `python -m bench run` first._"]

    def values(col: str) -> str:
        return ", ".join(sorted({str(v) for v in frame[col].dropna()})) or "—"

    shas = sorted({f"{s[:10]}{'+dirty' if d else ''}"
                   for s, d in zip(frame.git_sha, frame.git_dirty, strict=True)})
    first, last = frame.started_at.min(), frame.finished_at.max()
    schemas = ", ".join(f"v{v}" for v in sorted({int(v) for v in frame.schema_version}))
    return [
        f"- git: {', '.join(shas)}; results schema {schemas}",
        f"- machines: {values('machine_id')}",
        f"- python {values('python_version')}, torch {values('torch_version')}, "
        f"numpy {values('numpy_version')}, optuna {values('optuna_version')}, "
        f"afx-bench {values('bench_version')}",
        f"- runs from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC",
    ]
