"""Test-only toy tasks for failures that must be loud, and a toy search allowed on them.

``toy_unreferenced`` declares a reference row it cannot produce; ``toy_cached`` loads (or
builds) a cached one-layer model through the artefact cache on every run. Loaded in subprocess
tests through ``BENCH_PLUGINS=tests.plugins.loud``.
"""

from __future__ import annotations

from bench.base import Outcome, RunContext, Strategy, Task
from strategies.toy_search import ToySearch
from tasks.toy import Toy


class ToyUnreferenced(Toy):
    """The toy task with a third reference row, ``mystery``, that ``reference`` lacks."""

    name = "toy_unreferenced"
    version = "1"
    references = ("input", "oracle", "mystery")


class ToyCached(Toy):
    """The toy task that first loads a cached model, as the learning tasks do."""

    name = "toy_cached"
    version = "1"

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Load or build the cached model (its metadata goes to the run's extra), then the toy."""
        import torch

        from bench.artefacts import artefact_path, load_or_build

        torch.manual_seed(0)
        model = torch.nn.Linear(2, 2)
        parts = {"task": self.name, "task_version": self.version}
        ctx.extra["training"] = load_or_build(artefact_path(ctx.artefact_dir, "toy", parts),
                                              model, lambda: {"steps": 0}, parts)
        return super().run(strategy, ctx)


class ToySearchLoud(ToySearch):
    """Toy search allowed on every toy-derived task."""

    name = "toy_search_loud"
    version = "1"

    def skip_reason(self, task: Task) -> str | None:
        """Every toy-derived task exposes the per-example loss this search needs."""
        return None if isinstance(task, Toy) else "only solves toy tasks"
