"""Audio for tasks: the standardized clips of a corpus split, loaded once per process."""

from __future__ import annotations

import functools
import sys

import numpy as np

from bench.base import RunContext
from bench.data import DataError, TrainingAudio
from bench.registry import registry

TIERS = {"smoke": "smoke", "quick": "default", "standard": "default", "full": "full"}


def example_seed(ctx: RunContext, task: str, split: str, draw: int | None = None) -> int:
    """Seed of a task's examples of ``split``; ``draw`` numbers a fresh training batch."""
    from bench.seeding import derive_seed

    if draw is None:
        return derive_seed(ctx.seed, task, split)
    return derive_seed(ctx.seed, task, split, "draw", draw)


def corpus(domain: str, ctx: RunContext):
    """The embedded corpus of ``domain`` at the tier that matches the budget."""
    cls = registry("dataset").get(domain)
    return cls(cache_dir=ctx.cache_dir, data_root=ctx.data_root, tier=TIERS[ctx.budget.name])


def sources(domain: str, split: str, ctx: RunContext) -> list[np.ndarray]:
    """Every usable clip of ``split`` at the budget's sample rate (read-only arrays)."""
    ds = corpus(domain, ctx)
    return list(_load(ds.name, str(ds.cache_dir), ds.tier, split, ctx.budget.sample_rate))


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
    return TrainingAudio(domain, np.stack(windows).astype(np.float32))


@functools.cache
def _load(name: str, cache_dir: str, tier: str, split: str,
          sample_rate: int) -> tuple[np.ndarray, ...]:
    from datasets.standardize import load_sources

    dataset = registry("dataset").get(name)(cache_dir=cache_dir, tier=tier)
    arrays, _, skipped = load_sources(dataset, split, sample_rate=sample_rate)
    if skipped:
        print(f"warning: skipped {skipped} unreadable {name}/{split} clips", file=sys.stderr)
    if not arrays:
        raise DataError(f"no usable {split} clips in corpus {name!r} ({tier} tier); "
                        f"rebuild it with `python -m bench data build --tier {tier}`")
    for a in arrays:
        a.setflags(write=False)
    return tuple(arrays)
