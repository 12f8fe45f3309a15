"""Audio for tasks: the standardized clips a run reads for a split, loaded once per process.

Training and validation read the run's training data, the test split its test data
(``RunContext.data``: by default every domain's embedded corpus). A test dataset that shares no
source with the training data (another dataset, or a held-out source of the same corpus) is
unseen as a whole, so all its splits are test data; otherwise only its test split is.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.base import RunContext
from bench.data import (
    MIN_CLIPS,
    MORE_AUDIO,
    SPLITS,
    DataError,
    Dataset,
    TrainingAudio,
    open_dataset,
)

TIERS = {"smoke": "smoke", "quick": "default", "standard": "default", "full": "full"}
CLIP_LIMIT = {"smoke": 32, "quick": 256, "standard": 512, "full": 4096}
"""Clips read per split at most, spread over speakers or songs (``datasets.standardize.spread``):
a research dataset holds hours; the embedded corpora stay below it and are read whole."""


def example_seed(ctx: RunContext, task: str, split: str, draw: int | None = None) -> int:
    """Seed of a task's examples of ``split``; ``draw`` numbers a fresh training batch."""
    from bench.seeding import derive_seed

    if draw is None:
        return derive_seed(ctx.seed, task, split)
    return derive_seed(ctx.seed, task, split, "draw", draw)


@dataclass(frozen=True)
class Loaded:
    """The standardized clips of one read, and the files it could not use."""

    arrays: tuple[np.ndarray, ...]
    unreadable: int  # clips skipped at loading


def sources(domain: str, split: str, ctx: RunContext) -> list[np.ndarray]:
    """Every usable clip of ``split`` at the split's sample rate (read-only arrays); what was
    read (spec, fingerprint, files skipped) is noted in ``ctx.data_read``."""
    spec = ctx.data.spec(domain, split)
    where = _where(ctx)
    dataset = _open(spec, *where)
    splits = (split,)
    if split == "test" and not _open(ctx.data.spec(domain, "train"), *where).shares_sources(
            dataset):
        splits = SPLITS
    loaded = _load(spec, *where, splits, ctx.rate_of(split), CLIP_LIMIT[ctx.budget.name])
    _note(ctx, "test" if split == "test" else "train", domain, dataset, splits, loaded)
    if len(loaded.arrays) < MIN_CLIPS[split]:
        fix = (f"rebuild it with `python -m bench data build --tier {dataset.tier}`"
               if getattr(dataset, "embedded", False) else MORE_AUDIO)
        raise DataError(f"{spec}: {len(loaded.arrays)} usable {'+'.join(splits)} clips "
                        f"({loaded.unreadable} unreadable); a run needs at least "
                        f"{MIN_CLIPS[split]}: {fix}")
    return list(loaded.arrays)


def fingerprint(spec: str, ctx: RunContext) -> str:
    """The fingerprint of the dataset ``spec`` names (:meth:`bench.data.Dataset.digest`)."""
    return _digest(spec, *_where(ctx))


PROXY_WINDOW_SECONDS = 2.0


def proxy_audio(domain: str, ctx: RunContext, split: str = "train") -> TrainingAudio:
    """Seed-independent audio to pre-train proxies on: the central window of every training
    clip, so all tasks, seeds and strategies of a domain share one cached proxy per effect
    (``split="test"``: the same windows of clips no proxy saw, to confirm their fidelity)."""
    n = int(PROXY_WINDOW_SECONDS * ctx.budget.sample_rate)
    windows = []
    for clip in sources(domain, split, ctx):
        start = max(0, len(clip) - n) // 2
        windows.append(np.pad(clip[start:start + n], (0, max(0, n - len(clip)))))
    return TrainingAudio(domain, np.stack(windows).astype(np.float32), ctx.budget.sample_rate)


def _where(ctx: RunContext) -> tuple[str, str | None, str]:
    """Where a run's datasets are found: cache directory, data root and corpus tier."""
    return (str(ctx.cache_dir), str(ctx.data_root) if ctx.data_root else None,
            TIERS[ctx.budget.name])


@functools.cache
def _open(spec: str, cache_dir: str, data_root: str | None, tier: str) -> Dataset:
    return open_dataset(spec, cache_dir=Path(cache_dir),
                        data_root=Path(data_root) if data_root else None, tier=tier)


@functools.cache
def _digest(spec: str, cache_dir: str, data_root: str | None, tier: str) -> str:
    return _open(spec, cache_dir, data_root, tier).digest()


@functools.cache
def _load(spec: str, cache_dir: str, data_root: str | None, tier: str, splits: tuple[str, ...],
          sample_rate: int, limit: int) -> Loaded:
    from datasets.standardize import load_sources

    dataset = _open(spec, cache_dir, data_root, tier)
    arrays, _, unreadable = load_sources(dataset, splits, sample_rate=sample_rate, limit=limit)
    if unreadable:
        print(f"warning: skipped {unreadable} unreadable {spec}/{'+'.join(splits)} clips",
              file=sys.stderr)
    for a in arrays:
        a.setflags(write=False)
    return Loaded(tuple(arrays), unreadable)


def _note(ctx: RunContext, role: str, domain: str, dataset: Dataset, splits: tuple[str, ...],
          loaded: Loaded) -> None:
    """Record a read in ``ctx.data_read``: per role and domain the spec and its fingerprint;
    per spec the files left out when it was indexed and the clips skipped at each loading."""
    ctx.data_read.setdefault(role, {})[domain] = {
        "spec": dataset.spec, "fingerprint": fingerprint(dataset.spec, ctx)}
    skipped = ctx.data_read.setdefault("skipped", {}).setdefault(dataset.spec, {})
    skipped["indexed"] = _left_out(dataset.spec, *_where(ctx))
    skipped["+".join(splits)] = loaded.unreadable


@functools.cache
def _left_out(spec: str, cache_dir: str, data_root: str | None, tier: str) -> int:
    """How many files indexing left out of ``spec``, said once per process with the first
    reasons."""
    left = _open(spec, cache_dir, data_root, tier).skipped()
    if left:
        reasons = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in left[:3])
        print(f"warning: {spec}: {len(left)} files left out (unreadable or too short: "
              f"{reasons}{' …' if len(left) > 3 else ''})", file=sys.stderr)
    return len(left)
