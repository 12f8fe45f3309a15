"""Named compute budgets: what `--budget smoke|quick|full` fixes for every task and strategy."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.errors import BenchError


@dataclass(frozen=True)
class Budget:
    """Sizes that bound one run; tasks read what applies to them."""

    name: str
    trials: int          # Optuna trials per (task, strategy, seed) study, defaults first
    final_seeds: int     # fresh-seed test repetitions of the best trial
    steps: int           # optimizer steps (gradient strategies) or search iterations
    batch_size: int
    train_examples: int
    eval_examples: int
    clip_seconds: float
    sample_rate: int
    dsp_evals: int       # effect-evaluation budget of gradient-free searches, per example

    def as_dict(self) -> dict:
        """Plain dict, for the results' JSON columns."""
        return asdict(self)


BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("smoke", trials=2, final_seeds=1, steps=24, batch_size=2, train_examples=16,
               eval_examples=8, clip_seconds=1.1, sample_rate=16000, dsp_evals=40),
        Budget("quick", trials=2, final_seeds=1, steps=100, batch_size=4, train_examples=192,
               eval_examples=24, clip_seconds=1.5, sample_rate=24000, dsp_evals=240),
        Budget("full", trials=30, final_seeds=3, steps=100_000, batch_size=6,
               train_examples=20_000, eval_examples=1000, clip_seconds=5.46, sample_rate=24000,
               dsp_evals=4000),
    )
}


def get_budget(name: str) -> Budget:
    """Look up a budget by name with a one-line error on a typo."""
    try:
        return BUDGETS[name]
    except KeyError:
        raise BenchError(f"unknown budget {name!r}; choose one of {', '.join(BUDGETS)}") from None
