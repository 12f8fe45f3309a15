"""Research datasets read from a local directory: find the root, index the files, never download.

A loader declares its on-disk layout (a glob pattern and a parser for one path); the base
class finds the root (``data_root`` argument, ``AFX_BENCH_<NAME>``, ``AFX_BENCH_DATA_ROOT``),
probes every file's header, skips and counts unreadable or too-short ones, assigns
group-disjoint splits, and caches the index as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from abc import abstractmethod
from collections import Counter
from pathlib import Path
from typing import ClassVar

from bench.data import SPLITS, Clip, DataError, Dataset
from datasets.requirements import Requirement, require
from datasets.splits import assign_splits, check_disjoint, stable_seed

DATA_ROOT_ENV = "AFX_BENCH_DATA_ROOT"
MIN_SECONDS = 0.5
EXCERPT_SECONDS = 10.0
"""Research files run to minutes (DAPS scripts, songs): a run reads the central 10 s of each,
the length of the embedded corpora's clips."""


class LocalDataset(Dataset):
    """A public research dataset the user already has on disk, in its published layout."""

    embedded: ClassVar[bool] = False
    excerpt_seconds: ClassVar[float | None] = EXCERPT_SECONDS
    dir_names: ClassVar[tuple[str, ...]]  # folder names tried under a general data root
    pattern: ClassVar[str]  # glob, relative to the dataset root, of the audio files
    layout: ClassVar[str]  # the expected layout, for error messages
    needs: ClassVar[tuple[Requirement, ...]] = ()
    _index: dict | None = None  # the index, once read

    @abstractmethod
    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """(group, official split or None, meta) for one file, or None to ignore it."""

    @property
    def env_var(self) -> str:
        """The environment variable naming this dataset's own directory."""
        return f"AFX_BENCH_{self.name.upper()}"

    def locate(self) -> Path:
        """The dataset root: ``data_root``, ``$AFX_BENCH_<NAME>`` or ``$AFX_BENCH_DATA_ROOT``."""
        bases = [self.data_root, os.environ.get(self.env_var), os.environ.get(DATA_ROOT_ENV)]
        tried = []
        for base in (Path(b).expanduser() for b in bases if b):
            for candidate in [*(base / d for d in self.dir_names), base]:
                tried.append(str(candidate))
                if candidate.is_dir() and next(candidate.glob(self.pattern), None) is not None:
                    return candidate
        where = ", ".join(dict.fromkeys(tried)) or "nowhere (no directory given)"
        raise DataError(
            f"{self.name} not found (looked in {where}): pass --data-root or set {self.env_var} "
            f"or {DATA_ROOT_ENV}; expected layout {self.layout}; it is never downloaded")

    def check(self) -> None:
        """Find the root (else the error names --data-root and the variables) and index it:
        a dataset with no readable audio fails here, before any run."""
        self.index()

    def sizes(self) -> dict[str, int]:
        """Clips per split, from the index."""
        return {s: sum(r["split"] == s for r in self.index()["clips"]) for s in SPLITS}

    def index_path(self, root: Path) -> Path:
        """Where the index of the dataset at ``root`` is cached."""
        digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
        return self.cache_dir / "indexes" / f"{self.name}-v{self.version}-{digest}.json"

    def prepare(self, *, progress: bool = True) -> None:
        """Index the local files (header probe of each), skipping and counting bad ones."""
        start = time.perf_counter()
        require(self.needs, f"{self.name} loader")
        root = self.locate()
        rows, skipped = [], []
        for path in self._files(root):
            parsed = self.parse(path, root)
            try:
                sr, seconds = probe(path)
            except DataError as exc:
                skipped.append({"path": str(path), "reason": str(exc)})
                continue
            if seconds < MIN_SECONDS:
                skipped.append({"path": str(path), "reason": f"too short ({seconds:.2f} s)"})
                continue
            group, split, meta = parsed
            rows.append({"id": str(path.relative_to(root)), "path": str(path), "group": group,
                         "split": split, "sample_rate": sr, "seconds": round(seconds, 3),
                         "bytes": path.stat().st_size, **meta})
        if not rows:
            raise DataError(f"{self.spec}: no readable audio under {root} "
                            f"({len(skipped)} unreadable or too short); expected {self.layout}")
        self._assign(rows)
        check_disjoint((r["group"], r["split"]) for r in rows)
        index = {"dataset": self.name, "root": str(root), "clips": rows, "skipped": skipped}
        target = self.index_path(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_text(json.dumps(index, indent=1))
        os.replace(tmp, target)
        if progress:
            counts = Counter(r["split"] for r in rows)
            reasons = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in skipped[:5])
            print(f"{self.spec}: {len(rows)} clips from {len({r['group'] for r in rows})} groups "
                  f"({', '.join(f'{s} {counts[s]}' for s in SPLITS)}); {len(skipped)} skipped"
                  f"{' (' + reasons + ')' if skipped else ''}; indexed {root} in "
                  f"{time.perf_counter() - start:.1f} s")

    def _assign(self, rows: list[dict]) -> None:
        """Keep official splits when all three exist; otherwise split groups by a seeded shuffle."""
        if {r["split"] for r in rows} == set(SPLITS):
            return
        fixed = {r["group"]: r["split"] for r in rows if r["split"] == "test"}
        free = sorted({r["group"] for r in rows} - set(fixed))
        fractions = (0.85, 0.15, 0.0) if fixed else (0.7, 0.15, 0.15)
        chosen = assign_splits(free, seed=stable_seed(self.name), fractions=fractions)
        for r in rows:
            r["split"] = fixed.get(r["group"]) or chosen[r["group"]]

    def clips(self, split: str) -> list[Clip]:
        """Clips of ``split`` from the cached index (indexing first if needed)."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        return [Clip(r["id"], Path(r["path"]), r["group"], r["split"], r["sample_rate"], r)
                for r in self.index()["clips"] if r["split"] == split]

    def skipped(self) -> list[dict]:
        """The files indexing left out: unreadable or too short, each with its reason."""
        return self.index()["skipped"]

    def index(self) -> dict:
        """The cached index, re-indexed (with a summary line) when missing or when files were
        added or removed since; read once per instance."""
        if self._index is None:
            root = self.locate()
            path = self.index_path(root)
            index = json.loads(path.read_text()) if path.exists() else None
            listed = {r["path"] for r in (index or {}).get("clips", []) + (index or {}).get(
                "skipped", [])}
            if index is None or listed != {str(p) for p in self._files(root)}:
                self.prepare(progress=True)
                index = json.loads(path.read_text())
            self._index = index
        return self._index

    def _files(self, root: Path) -> list[Path]:
        """The files of the layout under ``root`` that the parser keeps, sorted."""
        return [p for p in sorted(root.glob(self.pattern)) if self.parse(p, root) is not None]


def probe(path: Path) -> tuple[int, float]:
    """Sample rate and duration from the file header; DataError if unreadable or empty."""
    from datasets.audio_io import SOUNDFILE_SUFFIXES

    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise DataError(f"unreadable: {exc}") from None
        return info.samplerate, info.frames / info.samplerate if info.samplerate else 0.0
    return _ffprobe(path)


def _ffprobe(path: Path) -> tuple[int, float]:
    import shutil
    import subprocess

    if shutil.which("ffprobe") is None:
        raise DataError(f"unreadable without ffmpeg ({path.suffix} files): install it with "
                        "apt-get install -y --no-install-recommends ffmpeg")
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                           "stream=sample_rate:format=duration", "-of", "json", str(path)],
                          capture_output=True, text=True, check=False)
    try:
        info = json.loads(done.stdout)
        return int(info["streams"][0]["sample_rate"]), float(info["format"]["duration"])
    except (ValueError, KeyError, IndexError):
        raise DataError(f"unreadable: {done.stderr.strip()[:200] or 'no audio stream'}") from None
