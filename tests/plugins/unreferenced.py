"""Test-only toy task that declares a reference row it cannot produce, and a search for it.

Loaded in subprocess tests through ``BENCH_PLUGINS=tests.plugins.unreferenced``.
"""

from __future__ import annotations

from bench.base import Task
from strategies.toy_search import ToySearch
from tasks.toy import Toy


class ToyUnreferenced(Toy):
    """The toy task with a third reference row, ``mystery``, that ``reference`` lacks."""

    name = "toy_unreferenced"
    version = "1"
    references = ("input", "oracle", "mystery")


class ToySearchUnreferenced(ToySearch):
    """Toy search allowed on every toy-derived task."""

    name = "toy_search_unreferenced"
    version = "1"

    def skip_reason(self, task: Task) -> str | None:
        """Every toy-derived task exposes the per-example loss this search needs."""
        return None if isinstance(task, Toy) else "only solves toy tasks"
