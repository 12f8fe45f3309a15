"""Per-example CMA-ES over the normalized parameters, on the task's loss (ST-ITO style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.base import RunContext
from bench.search import SearchProblem, SearchStrategy, report_progress


class CmaEs(SearchStrategy):
    """Gradient-free CMA-ES per example; budget in effect evaluations, populations in parallel."""

    name = "cmaes"
    version = "2"  # 2: reports progress in percent of its budget, so Hyperband prunes it
    defaults = {"sigma0": 0.25, "popsize": 12}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Initial step size and population size."""
        return {"sigma0": trial.suggest_float("sigma0", 0.05, 0.5, log=True),
                "popsize": trial.suggest_int("popsize", 6, 32, log=True)}

    def solve(self, problem: SearchProblem, ctx: RunContext) -> np.ndarray:
        """Run one CMA-ES per example, generation by generation, all populations rendered
        together; each example spends ``ctx.budget.dsp_evals`` renders; best point wins."""
        from cmaes import CMA

        n, dim = len(problem.x), problem.n_params
        lam = int(self.params["popsize"])
        start = problem.chain.defaults(problem.sample_rate)
        bounds = np.tile([0.0, 1.0], (dim, 1))
        optimizers = [CMA(mean=start.copy(), sigma=float(self.params["sigma0"]), bounds=bounds,
                          population_size=lam, seed=int(ctx.seed) + i) for i in range(n)]
        best_p = np.tile(start, (n, 1))
        best_loss = problem.loss(np.arange(n), best_p)
        generations = max(1, (ctx.budget.dsp_evals - 1) // lam)
        for gen in range(generations):
            cand = np.array([[opt.ask() for _ in range(lam)] for opt in optimizers])
            loss = problem.loss(np.repeat(np.arange(n), lam), cand.reshape(-1, dim))
            loss = loss.reshape(n, lam)
            for i, opt in enumerate(optimizers):
                opt.tell(list(zip(cand[i], loss[i], strict=True)))
                j = int(np.argmin(loss[i]))
                if loss[i, j] < best_loss[i]:
                    best_loss[i], best_p[i] = loss[i, j], cand[i, j]
            ctx.counters.steps += 1
            report_progress(ctx, (gen + 1) / generations, float(best_loss.mean()))
        return best_p
