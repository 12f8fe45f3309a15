"""Listening examples: find the FLAC files runs saved under ``<results>/audio`` (or the MP3s
`python -m bench publish` made of them) and copy a few per task into the reports (byte copies,
so rebuilding gives identical files)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_SUBDIR = "audio"
NAME = re.compile(r"^(\d+)_([A-Za-z0-9_]+)\.(flac|mp3)$")
SIGNAL_ORDER = {"input": 0, "reference": 1, "target": 2}


@dataclass
class ListeningExamples:
    """Listening examples saved for one (budget, task, seed): ``files[i][(who, signal)]`` is a
    path, where ``who`` is a strategy or a reference row (input …) and ``signal`` input/
    reference/target/output."""

    budget: str
    task: str
    seed: str
    root: Path
    files: dict[int, dict[tuple[str, str], Path]] = field(default_factory=dict)

    def columns(self) -> list[tuple[str, str]]:
        """(who, signal) columns: known signals first (input, reference, target), then each
        strategy's output, sorted."""
        cols = {c for row in self.files.values() for c in row}
        return sorted(cols, key=lambda c: (SIGNAL_ORDER.get(c[1], len(SIGNAL_ORDER)), c))

    def label(self, column: tuple[str, str]) -> str:
        """A column's heading: the signal for reference rows, the strategy for outputs."""
        who, signal = column
        return who if signal == "output" else signal


def find_examples(results_dirs: Iterable[Path], count: int = 2) -> list[ListeningExamples]:
    """The first ``count`` examples of the lowest seed of every (budget, task) with audio."""
    found: dict[tuple[str, str], ListeningExamples] = {}
    for results in results_dirs:
        for seed_dir in sorted(Path(results, AUDIO_SUBDIR).glob("*/*/seed*")):
            budget, task = seed_dir.parent.parent.name, seed_dir.parent.name
            if (budget, task) in found:
                continue
            ex = ListeningExamples(budget, task, seed_dir.name, seed_dir)
            for path in sorted(seed_dir.glob("*/*.*")):
                m = NAME.match(path.name)
                if m and int(m.group(1)) < count:
                    ex.files.setdefault(int(m.group(1)), {})[(path.parent.name, m.group(2))] = path
            if ex.files:
                found[(budget, task)] = ex
    return [found[k] for k in sorted(found)]


def copy_examples(examples: list[ListeningExamples], reports_dir: Path) -> dict[Path, str]:
    """Copy the example files into ``<reports>/audio`` (replacing what was there); returns each
    source path's location relative to the reports directory."""
    target = Path(reports_dir) / AUDIO_SUBDIR
    shutil.rmtree(target, ignore_errors=True)
    where = {}
    for ex in examples:
        for row in ex.files.values():
            for path in row.values():
                rel = Path(AUDIO_SUBDIR, ex.budget, ex.task, ex.seed, path.parent.name, path.name)
                (reports_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, reports_dir / rel)
                where[path] = rel.as_posix()
    return where
