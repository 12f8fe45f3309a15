"""The dataset contract: a registered source of audio clips with speaker/song-disjoint splits."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from bench.errors import BenchError
from bench.registry import Registered

SPLITS = ("train", "val", "test")
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


class Dataset(Registered, ABC):
    """A named audio source. ``prepare`` builds or checks it; ``clips`` lists a split."""

    kind = "dataset"
    domain: ClassVar[str]  # "speech", "music" or "toy"

    def __init__(self, *, cache_dir: Path | None = None, data_root: Path | None = None,
                 tier: str = "default") -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.data_root = Path(data_root) if data_root else None
        self.tier = tier

    @abstractmethod
    def prepare(self, *, progress: bool = True) -> None:
        """Build or verify the data (idempotent; never downloads); raise DataError if impossible."""

    @abstractmethod
    def clips(self, split: str) -> list[Clip]:
        """The clips of ``split`` (one of SPLITS), in a deterministic order."""


class DataError(BenchError):
    """Data that cannot be built or read; the message names the problem and the fix."""
