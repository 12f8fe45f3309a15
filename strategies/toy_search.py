"""Gradient-free random search with shrinking boxes, sized for the `toy` task."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.base import RunContext, Task
from bench.search import SearchStrategy, report_progress


class ToySearch(SearchStrategy):
    """Per-example random search that shrinks around the best candidate (toy task only)."""

    name = "toy_search"
    version = "2"  # 2: reports progress in percent of its rounds
    toy = True
    defaults = {"n_candidates": 16, "shrink": 0.5, "rounds": 3}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Candidates per round and how fast the search box shrinks."""
        return {
            "n_candidates": trial.suggest_int("n_candidates", 4, 64, log=True),
            "shrink": trial.suggest_float("shrink", 0.2, 0.9),
        }

    def skip_reason(self, task: Task) -> str | None:
        """Only a task whose problem scores the whole batch at once (the toy task, declared by
        ``capabilities.whole_batch_loss``) exposes the per-example loss this search needs."""
        if task.capabilities.whole_batch_loss:
            return None
        return "toy_search only solves the toy task"

    def solve(self, problem: Any, ctx: RunContext) -> np.ndarray:
        """Best of ``n_candidates`` uniform draws per round, in a box that shrinks each round."""
        rng = np.random.default_rng(ctx.seed)
        batch = len(problem.x)
        best = np.full((batch, problem.n_params), 0.5)
        best_loss = problem.loss(best)
        width = 1.0
        for step in range(int(self.params["rounds"])):
            for _ in range(int(self.params["n_candidates"])):
                cand = np.clip(best + width * (rng.uniform(size=best.shape) - 0.5), 0.0, 1.0)
                loss = problem.loss(cand)
                better = loss < best_loss
                best[better], best_loss[better] = cand[better], loss[better]
            width *= float(self.params["shrink"])
            ctx.counters.steps += 1
            report_progress(ctx, (step + 1) / int(self.params["rounds"]), float(best_loss.mean()))
        return best
