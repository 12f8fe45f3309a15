"""Audio for tasks: corpus clips of a split, loaded and standardized once per process."""

from __future__ import annotations

import functools
import sys

import numpy as np

from bench.base import RunContext
from bench.data import DataError
from bench.registry import registry

TIERS = {"smoke": "smoke", "quick": "default", "full": "full"}


def corpus(domain: str, ctx: RunContext):
    """The embedded corpus of ``domain`` at the tier that matches the budget."""
    cls = registry("dataset").get(domain)
    return cls(cache_dir=ctx.cache_dir, data_root=ctx.data_root, tier=TIERS[ctx.budget.name])


def clip_audio(domain: str, split: str, ctx: RunContext, seconds: float) -> np.ndarray:
    """Every clip of ``split`` cropped to ``seconds`` at the budget's rate, (clips, samples)."""
    ds = corpus(domain, ctx)
    return _load(ds.name, str(ds.cache_dir), ds.tier, split, ctx.budget.sample_rate, seconds)


@functools.cache
def _load(name: str, cache_dir: str, tier: str, split: str, sample_rate: int,
          seconds: float) -> np.ndarray:
    from datasets.standardize import load_clip

    cls = registry("dataset").get(name)
    clips = cls(cache_dir=cache_dir, tier=tier).clips(split)
    out, skipped = [], []
    for clip in clips:
        try:
            out.append(load_clip(clip, sample_rate=sample_rate, seconds=seconds))
        except DataError as exc:
            skipped.append(f"{clip.id}: {exc}")
    if not out:
        raise DataError(f"no usable {split} clips in corpus {name!r} ({tier} tier); "
                        f"rebuild it with `python -m bench data build --tier {tier}`")
    if skipped:
        print(f"warning: skipped {len(skipped)} unreadable {name}/{split} clips "
              f"(first: {skipped[0]})", file=sys.stderr)
    audio = np.stack(out)
    audio.setflags(write=False)
    return audio


def sample_rows(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows drawn with replacement only when there are fewer rows than ``n``."""
    return rng.choice(len(audio), size=n, replace=n > len(audio))
