"""Test-only strategies for the toy task that fail, return NaN or run slowly on purpose.

Loaded in subprocess tests through ``BENCH_PLUGINS=tests.plugins.flaky``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from bench.base import RunContext
from strategies.toy_search import ToySearch


class ToyFlaky(ToySearch):
    """Toy search whose ``mode`` makes a run raise or return NaN parameters."""

    name = "toy_flaky"
    version = "1"
    defaults = {**ToySearch.defaults, "mode": "raise"}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Tune the failure mode together with the search size."""
        return {**super().search_space(trial),
                "mode": trial.suggest_categorical("mode", ["ok", "raise", "nan"])}

    def solve(self, problem: Any, ctx: RunContext) -> np.ndarray:
        """Fail as configured, otherwise search."""
        if self.params["mode"] == "raise":
            raise RuntimeError("deliberate failure for the test")
        if self.params["mode"] == "nan":
            return np.full((len(problem.x), problem.n_params), math.nan)
        return super().solve(problem, ctx)


class ToySlow(ToySearch):
    """Toy search that sleeps each round, so a test can kill it mid-trial."""

    name = "toy_slow"
    version = "1"
    defaults = {**ToySearch.defaults, "sleep_s": 0.3}

    def solve(self, problem: Any, ctx: RunContext) -> np.ndarray:
        """Sleep, then search."""
        time.sleep(float(self.params["sleep_s"]) * int(self.params["rounds"]))
        return super().solve(problem, ctx)
