"""Names, run keys and seeds of a sweep's work: what makes re-running a command resume, and
what makes results of different strategies pair up."""

from __future__ import annotations

from typing import Any

from bench.base import Strategy, Task
from bench.budgets import Budget
from bench.data_choice import DataChoice
from bench.results import canonical_json, run_key
from bench.seeding import derive_seed


def study_name(task: Task, strategy_cls: type[Strategy], budget: Budget, base_seed: int,
               overrides: dict[str, Any], data: DataChoice) -> str:
    """The Optuna study of a (task, strategy, seed): versions included, a short hash of the
    fixed hyperparameters (``--param``) when there are any, and the training data when it is
    not the embedded corpora (tuning reads the training data's validation split)."""
    suffix = f"/{run_key(**overrides)[:8]}" if overrides else ""
    if not data.trains_default:
        suffix += f"/train={data.train_label()}"
    return (f"{task.name}@{task.version}/{strategy_cls.name}@{strategy_cls.version}/"
            f"{budget.tag}/seed{base_seed}{suffix}")


def trial_key(study: str, trial_number: int) -> str:
    """Run key of a tuning trial."""
    return run_key(study=study, trial=trial_number)


def final_key(task: Task, strategy_cls: type[Strategy], budget: Budget, base_seed: int,
              study: str, rep: int, params: dict[str, Any] | None, data: DataChoice) -> str:
    """Run key of a final repetition: the study, the repetition and the tuned params, and the
    data when it is not the default (:meth:`DataChoice.key`)."""
    if params is None:
        return run_key(study=study, final=rep, params=None, **data.key())
    return run_key(task=task.name, task_version=task.version, strategy=strategy_cls.name,
                   version=strategy_cls.version, budget=budget.tag, base_seed=base_seed,
                   rep=rep, params=canonical_json(params), **data.key())


def reference_key(task: Task, which: str, budget: Budget, base_seed: int, rep: int,
                  data: DataChoice) -> str:
    """Run key of a reference row set: shared by every strategy of the task and data."""
    return run_key(task=task.name, task_version=task.version, reference=which,
                   budget=budget.tag, base_seed=base_seed, rep=rep, **data.key())


def skip_key(task: Task, strategy_cls: type[Strategy], budget: Budget, base_seed: int,
             data: DataChoice) -> str:
    """Run key of the one skipped row of a strategy that cannot run a task (on that data)."""
    return run_key(task=task.name, strategy=strategy_cls.name, skip=True,
                   version=strategy_cls.version, budget=budget.tag, base_seed=base_seed,
                   **data.key())


def tune_seed(base_seed: int, study: str) -> int:
    """Seed of every tuning trial of a study."""
    return derive_seed(base_seed, study, "tune")


def sampler_seed(base_seed: int, study: str, existing_trials: int) -> int:
    """Seed of the study's sampler, changed by every resume (a resumed sampler must not
    re-suggest the trials it suggested before)."""
    return derive_seed(base_seed, study, existing_trials)


def final_seed(base_seed: int, rep: int) -> int:
    """Seed of a final repetition, shared by every strategy and task, so results pair up and
    trained models are reused by the tasks that evaluate them (realistic style transfer,
    probes)."""
    return derive_seed(base_seed, "final", rep)
