"""Test-only plugins for the fault tests, loaded through ``BENCH_PLUGINS=tests.faults.plugins``.

``toy_daps`` is the toy task that first reads every split of a DAPS-layout directory given with
``--data-root`` through the real loader and standardizer, so hostile audio files reach a run;
``toy_search_any`` is the toy search allowed on it.
"""

from __future__ import annotations

from bench.base import Outcome, RunContext, Strategy, Task
from bench.data import SPLITS
from bench.registry import registry
from strategies.toy_search import ToySearch
from tasks.toy import Toy

CLIP_SECONDS = 0.5


class ToyDaps(Toy):
    """Toy task that also loads a local DAPS directory (``--data-root``) and counts its clips."""

    name = "toy_daps"
    version = "1"

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Load every split of the local dataset (cropped, as tasks read audio), then the toy."""
        from datasets.standardize import load_sources

        daps = registry("dataset").get("daps")(cache_dir=ctx.cache_dir, data_root=ctx.data_root)
        loaded = [load_sources(daps, split, sample_rate=8000, seconds=CLIP_SECONDS)[0]
                  for split in SPLITS]
        ctx.extra["local_clips"] = sum(len(arrays) for arrays in loaded)
        return super().run(strategy, ctx)


class ToySearchAny(ToySearch):
    """Toy search on any task derived from the toy task."""

    name = "toy_search_any"
    version = "1"

    def skip_reason(self, task: Task) -> str | None:
        """Every toy-derived task exposes the per-example loss this search needs."""
        return None if isinstance(task, Toy) else "toy_search_any only solves toy tasks"
