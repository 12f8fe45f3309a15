"""The dataset contract: a registered source of audio clips with speaker/song-disjoint splits."""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from bench.errors import BenchError
from bench.registry import Registered

SPLITS = ("train", "val", "test")
MIN_CLIPS = {"train": 2, "val": 1, "test": 1}
"""Usable clips a split needs when a run reads it: proxies pre-train on the training clips but
one, held out."""
MORE_AUDIO = ("add audio from more speakers or songs (splits keep each in one split: give at "
              "least 3 subfolders, or train/ val/ test/ subfolders) or choose another dataset")
CACHE_ENV = "AFX_BENCH_CACHE"


def default_cache_dir() -> Path:
    """Where built corpora and artefacts live: ``$AFX_BENCH_CACHE`` or ``~/.cache/afx-bench``."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "afx-bench")).expanduser()


@dataclass(frozen=True)
class Clip:
    """One audio file of a dataset, with the group (speaker or song) that decides its split."""

    id: str
    path: Path
    group: str
    split: str
    sample_rate: int
    meta: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, eq=False)
class TrainingAudio:
    """A domain's training audio for effect layers that learn from it (proxies pre-train on
    ``clips``); ``domain`` names it, e.g. to find the proxies committed for that domain."""

    domain: str
    clips: np.ndarray  # (n_clips, samples) float32
    sample_rate: int | None = None
    """The rate of ``clips``: proxies pre-train at it whatever rate they then run at (a model
    trained at 24 kHz and tested at 44.1 kHz keeps its 24 kHz proxies); None: the layer's rate."""


class Dataset(Registered, ABC):
    """A named audio source. ``prepare`` builds or checks it; ``clips`` lists a split.

    A data spec (``--data``, ``--test-data``) names one: ``NAME`` or ``NAME:ARGUMENT`` (a folder's
    path, a corpus's sources), opened by :func:`open_dataset`.
    """

    kind = "dataset"
    domain: ClassVar[str]  # "speech", "music", or "any" (a folder of the user's own audio)
    excerpt_seconds: ClassVar[float | None] = None
    """Clips are read whole (None) or as a central excerpt this long (long research files)."""

    def __init__(self, *, cache_dir: Path | None = None, data_root: Path | None = None,
                 tier: str = "default") -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.data_root = Path(data_root) if data_root else None
        self.tier = tier
        self.spec = self.name

    @classmethod
    def open(cls, argument: str | None, **kwargs: object) -> Dataset:
        """The dataset a spec names (``kwargs``: cache_dir, data_root, tier); an argument after
        ``NAME:`` is an error unless the class takes one."""
        if argument is not None:
            raise DataError(f"dataset {cls.name!r} takes no argument (got {cls.name}:{argument}): "
                            f"write {cls.name}")
        return cls(**kwargs)  # type: ignore[arg-type]

    def check(self) -> None:
        """Fail fast and cheaply, before any run, when the data cannot be there (a missing root
        names the flag or variable to set); default: nothing to check."""

    def shares_sources(self, other: Dataset) -> bool:
        """Whether ``other`` may hold a source (speaker, song) of this dataset: then only its
        test split is unseen. Default: the same dataset."""
        return self.spec == other.spec

    def sizes(self) -> dict[str, int] | None:
        """Clips per split when known without building anything (None: not until built)."""
        return None

    def skipped(self) -> list[dict]:
        """Files left out of the dataset because they could not be read (``path``, ``reason``)."""
        return []

    def digest(self) -> str:
        """A short fingerprint of the clips of every split (ids, splits, rates and checksums or
        sizes): different data, different fingerprint."""
        listing = [[c.id, c.split, c.sample_rate, c.meta.get("sha256") or c.meta.get("bytes"),
                    c.meta.get("seconds")] for split in SPLITS for c in self.clips(split)]
        text = json.dumps([self.spec, listing], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @abstractmethod
    def prepare(self, *, progress: bool = True) -> None:
        """Build or verify the data (idempotent; never downloads); raise DataError if impossible."""

    @abstractmethod
    def clips(self, split: str) -> list[Clip]:
        """The clips of ``split`` (one of SPLITS), in a deterministic order."""


class DataError(BenchError):
    """Data that cannot be built or read; the message names the problem and the fix."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:ARGUMENT`` (``folder:/data/x``, ``music:real``) split at the first
    colon."""
    name, colon, argument = spec.strip().partition(":")
    if not name or (colon and not argument):
        raise DataError(f"bad data spec {spec!r}: write NAME or NAME:ARGUMENT, e.g. libritts or "
                        f"folder:/path/to/audio")
    return name, argument if colon else None


def open_dataset(spec: str, **kwargs: object) -> Dataset:
    """The dataset ``spec`` names (``kwargs``: cache_dir, data_root, tier), its canonical spec
    in ``.spec``; an unknown name lists the closest registered ones."""
    from bench.registry import registry

    name, argument = parse_spec(spec)
    return registry("dataset").get(name).open(argument, **kwargs)
