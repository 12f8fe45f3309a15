"""Named compute budgets: what `--budget smoke|quick|standard|full` fixes for every task and
strategy. ``standard`` is what published comparisons use: fresh training batches every step,
early stopping on a validation plateau with the best checkpoint restored, a cosine learning
rate, at most ``steps`` steps, and ≥ 12-trial sweeps whose trials run at a lower fidelity
(``tune_steps``, ``tune_examples``) under successive halving."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
    fresh_examples: bool = False  # training batches drawn anew every step (else a fixed set)
    val_every: int = 0   # steps between validation checks (0: steps // 8)
    patience: int = 0    # checks without a 1% improvement that stop training (0: never)
    lr_schedule: str = "constant"  # or "cosine": decay to lr / 10 over ``steps``
    pruner: str = "median"         # Optuna pruner: "median", "halving" or "hyperband"
    tune_steps: int = 0      # steps of a tuning trial of a learner (0: ``steps``)
    tune_examples: int = 0   # validation examples a tuning trial of a search solves (0: all)
    version: int = 1         # bumped when the protocol changes: keys and studies carry it

    def as_dict(self) -> dict:
        """Plain dict, for the results' JSON columns."""
        return asdict(self)

    @property
    def tag(self) -> str:
        """The name in run keys and study names: ``standard@2`` once the protocol changed, so
        runs of an older protocol are never resumed or mixed in as if they were current."""
        return self.name if self.version == 1 else f"{self.name}@{self.version}"

    @staticmethod
    def tag_version(tag: str) -> int:
        """The protocol version a :attr:`tag` names (``standard@3``: 3, ``quick``: 1)."""
        version = tag.partition("@")[2]
        return int(version) if version.isdigit() else 1

    def tuning(self, kind: str) -> Budget:
        """The budget of a tuning trial: a learner (``kind="steps"``) trains ``tune_steps``,
        a search (``kind="examples"``) solves ``tune_examples`` validation examples with the
        full evaluation budget each, so its tuned population and step sizes still fit it."""
        if kind == "steps":
            return replace(self, steps=self.tune_steps or self.steps)
        if kind == "examples":
            return replace(self, eval_examples=self.tune_examples or self.eval_examples)
        raise ValueError(f"unknown tuning fidelity {kind!r}")


BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("smoke", trials=2, final_seeds=1, steps=24, batch_size=2, train_examples=16,
               eval_examples=8, clip_seconds=1.1, sample_rate=16000, dsp_evals=40),
        Budget("quick", trials=2, final_seeds=1, steps=100, batch_size=4, train_examples=192,
               eval_examples=24, clip_seconds=1.5, sample_rate=24000, dsp_evals=240),
        # 400 effect evaluations per example for searches: at 1000, CMA-ES alone was projected
        # at 9.2 of the matrix's 24.4 core-hours (`python -m bench project`), over the 8-hour
        # limit of two workers; 400 is 1.7x the quick budget's search.
        # Version 2: tuning trials at a third of the final fidelity under successive halving.
        # Hyperband over full-length trials spent 4 final runs' time per study on tuning
        # (21.1 core-hours projected for the style tasks and searches alone).
        # Version 3: patience 10 checks (was 6). The validation loss moves ±2-3 % from check to
        # check, so 6 checks without a 1 % gain stopped autodiff's synthetic-speech final at
        # step 1000 of 3000 (test MR-STFT 1.207) while it still fell about 5 % per 1000 steps
        Budget("standard", trials=12, final_seeds=3, steps=3000, batch_size=4,
               train_examples=192, eval_examples=48, clip_seconds=1.5, sample_rate=24000,
               dsp_evals=400, fresh_examples=True, val_every=100, patience=10,
               lr_schedule="cosine", pruner="halving", tune_steps=1000, tune_examples=16,
               version=3),
        Budget("full", trials=30, final_seeds=3, steps=100_000, batch_size=6,
               train_examples=20_000, eval_examples=1000, clip_seconds=5.46, sample_rate=24000,
               dsp_evals=4000, fresh_examples=True, val_every=1000, patience=10,
               lr_schedule="cosine", pruner="hyperband"),
    )
}


def get_budget(name: str) -> Budget:
    """Look up a budget by name with a one-line error on a typo."""
    try:
        return BUDGETS[name]
    except KeyError:
        raise BenchError(f"unknown budget {name!r}; choose one of {', '.join(BUDGETS)}") from None
