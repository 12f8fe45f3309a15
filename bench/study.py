"""One (task, strategy, seed) of the matrix: its Optuna study, a trial loop on the validation
split, then the best parameters re-run on the test split (final runs) next to the task's
reference rows. Work is shared with other workers through :mod:`bench.run_once`; rows are
assembled by :func:`bench.results.run_rows`."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from bench import device, run_keys
from bench.base import MetricFailure, Outcome, Pruned, RunContext, Strategy, Task
from bench.budgets import Budget
from bench.data import default_cache_dir
from bench.data_choice import DataChoice
from bench.errors import error_line
from bench.optuna_internals import storage_of, trial_id
from bench.registry import registry
from bench.results import RunLabel, run_rows, utcnow
from bench.run_once import (
    Job,
    heartbeat,
    reclaim_stale,
    run_once,
    slots,
    surplus,
    wait_a_moment,
    worker_tag,
)
from bench.seeding import seed_everything
from bench.sweep import Sweep, compared

MAX_FAILED_TRIALS = 20


class StudyRun:
    """One (task, strategy, seed) of the matrix: its Optuna study and its final runs."""

    def __init__(self, sweep: Sweep, task: Task, strategy_cls: type[Strategy],
                 overrides: dict[str, Any], base_seed: int, data: DataChoice) -> None:
        self.sweep, self.task, self.strategy_cls = sweep, task, strategy_cls
        self.overrides, self.base_seed, self.data = overrides, base_seed, data
        self.budget: Budget = sweep.budget
        self.study_name = run_keys.study_name(task, strategy_cls, self.budget, base_seed,
                                              overrides, self.data)
        self.main = task.metric(task.main_metric)

    # -- public -------------------------------------------------------------------------------
    def run(self) -> None:
        """Tune (or skip), then run the final repetitions and the reference rows."""
        start = time.perf_counter()
        strategy = self.strategy_cls(**self.overrides)
        reason = strategy.skip_reason(self.task) or self.task.skip_reason(strategy)
        if reason:
            self._skip(reason)
            return
        best = self._tuned_elsewhere() if self.task.reuses_model_of else self.tune()
        reps = range(self.sweep.opts.final_seeds or self.budget.final_seeds)
        finals = [(self._final_key(rep, best), partial(self._final, rep, best)) for rep in reps]
        refs = [(self._reference_key(which, rep), partial(self._reference, which, rep))
                for rep in reps for which in self.task.references]
        values = self._once([*finals, *refs])
        against = {which: [values[self._reference_key(which, rep)] for rep in reps]
                   for which in self.task.references}
        result = compared(self.main, [values[key] for key, _ in finals], against)
        tested = "" if self.data.default else f" on {self.data.test_label()}"
        summary = self.sweep.summary
        summary.lines.append(f"{self.study_name}: final{tested} {result} "
                             f"({time.perf_counter() - start:.1f} s)")
        print(summary.lines[-1], flush=True)

    def tune(self) -> dict[str, Any] | None:
        """Run trials until the requested number have finished; return the best params."""
        from optuna.trial import TrialState

        n = tuning_trials(self.strategy_cls, self.task, self.budget, self.overrides,
                          self.sweep.opts.trials)
        study = self._study()
        bar = _bar(n, f"tune {self.task.name}/{self.strategy_cls.name}", self.sweep.opts.progress)
        while True:
            reclaim_stale(study)
            trials = slots(study.get_trials(deepcopy=False))
            finished = [t for t in trials if t.state.is_finished()]
            bar.n = min(len(finished), n)
            bar.refresh()
            failed = sum(t.state == TrialState.FAIL for t in finished)
            if len(finished) >= n or failed >= MAX_FAILED_TRIALS:
                break
            if len(trials) >= n and not any(t.state == TrialState.WAITING for t in trials):
                wait_a_moment()  # the last trials belong to other workers
                continue
            trial = study.ask()
            trial.set_user_attr("worker", worker_tag())
            if surplus(study.get_trials(deepcopy=False), trial, n):
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=TrialState.FAIL)
                continue
            with heartbeat(storage_of(study), trial_id(trial)):
                self._trial(study, trial)
        bar.close()
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return study.best_trial.user_attrs["resolved"] if complete else None

    # -- tuning -------------------------------------------------------------------------------
    def _study(self) -> Any:
        """Create the study (queueing the defaults first) or join the existing one."""
        import optuna

        storage = self.sweep.claims.storage
        sampler = optuna.samplers.TPESampler(seed=run_keys.sampler_seed(
            self.base_seed, self.study_name, len(_existing(storage, self.study_name))))
        pruner = make_pruner(self.budget, self.strategy_cls)
        try:
            study = optuna.create_study(
                study_name=self.study_name, storage=storage, sampler=sampler,
                pruner=pruner, direction="maximize" if self.main.higher_is_better else "minimize")
        except optuna.exceptions.DuplicatedStudyError:  # resumed, or created by another worker
            return optuna.load_study(study_name=self.study_name, storage=storage,
                                     sampler=sampler, pruner=pruner)
        for setting in queued_settings(self.strategy_cls, self.task, self.overrides):
            study.enqueue_trial(setting)
        return study

    def _trial(self, study: Any, trial: Any) -> None:
        """Run one trial on the validation split, write its rows, then tell Optuna."""
        from optuna.trial import TrialState

        params = self._params(trial)
        key = trial.user_attrs.get("run_key") or run_keys.trial_key(self.study_name,
                                                                     trial.number)
        trial.set_user_attr("run_key", key)
        trial.set_user_attr("resolved", params)
        if "retry_of" in trial.user_attrs:  # its rows may have been written before the crash
            self.sweep.refresh_done()
        if key in self.sweep.done:  # rows already written: reuse them, do not recompute
            value = self.sweep.stored_value(key)
            study.tell(trial, value) if value is not None else study.tell(
                trial, state=TrialState.FAIL)
            return
        ctx = self._context("val", run_keys.tune_seed(self.base_seed, self.study_name),
                            budget=self.budget.tuning(self.strategy_cls.tuning_fidelity))

        sign = -1.0 if self.main.higher_is_better else 1.0

        def report(step: int, loss: float) -> bool:
            # intermediate values are losses (lower is better); a study that maximizes its
            # main metric must see them negated, or its pruner stops the best trials
            trial.report(sign * loss, step)
            return trial.should_prune()

        ctx.report = report
        label = self._label(key, "tune", ctx.seed, trial=trial.number)
        status, value = self._execute(ctx, params, label)
        # skip_if_finished: a worker thought dead (heartbeat starved) finds its trial reclaimed;
        # the retry has the same run key and reuses these rows where it can read them
        if status == "ok":
            study.tell(trial, value, skip_if_finished=True)
        else:
            study.tell(trial, state=TrialState.PRUNED if status == "pruned" else TrialState.FAIL,
                       skip_if_finished=True)

    def _tuned_elsewhere(self) -> dict[str, Any] | None:
        """Best params of the task this one reuses (tuning it first if needed), so that its
        trained models are reused rather than retrained."""
        source = registry("task").get(self.task.reuses_model_of)()
        return StudyRun(self.sweep, source, self.strategy_cls, self.overrides,
                        self.base_seed, self.data).tune()

    def _params(self, trial: Any) -> dict[str, Any]:
        """Resolved hyperparameters of a trial: defaults, then suggestions, then --param."""
        suggested = self.strategy_cls.search_space(trial)
        fixed = {k: v for k, v in trial.params.items() if k not in suggested}
        return {**self.strategy_cls.defaults, **fixed, **suggested, **self.overrides}

    # -- final and reference rows ---------------------------------------------------------------
    def _once(self, work: list[tuple[str, Job]]) -> dict[str, float | None]:
        """Run each (run key, job) once across every worker; the main metric value per key."""
        values, before, elsewhere = run_once(self.sweep.claims, work, self.sweep.done,
                                             self.sweep.stored_value)
        self.sweep.summary.skipped_done += before
        self.sweep.summary.done_elsewhere += elsewhere
        return values

    def _final_key(self, rep: int, params: dict[str, Any] | None) -> str:
        return run_keys.final_key(self.task, self.strategy_cls, self.budget, self.base_seed,
                                  self.study_name, rep, params, self.data)

    def _reference_key(self, which: str, rep: int) -> str:
        return run_keys.reference_key(self.task, which, self.budget, self.base_seed, rep,
                                      self.data)

    def _final(self, rep: int, params: dict[str, Any] | None,
               key: str) -> tuple[str, float | None]:
        """Re-run the best params on the test split with a fresh seed shared by all strategies."""
        seed = run_keys.final_seed(self.base_seed, rep)
        label = self._label(key, "final", seed, rep=rep)
        if params is None:
            self._write(label, {}, Outcome({}), status="failed",
                        error="no tuning trial succeeded")
            return "failed", None
        ctx = self._context("test", seed, audio_as=self.strategy_cls.name if rep == 0 else None)
        return self._execute(ctx, params, label)

    def _reference(self, which: str, rep: int, key: str) -> tuple[str, float | None]:
        """Write the task's input/oracle rows once per (task, budget, seed, repetition);
        return the status and the main metric (shown next to the strategy's result)."""
        seed = run_keys.final_seed(self.base_seed, rep)
        ctx = self._context("test", seed, audio_as=which if rep == 0 else None)
        label = RunLabel(run_key=key, phase="final", strategy=which, strategy_version="",
                         study_name=None, budget=self.budget.name, seed=seed,
                         base_seed=self.base_seed, repetition=rep, data=self.data,
                         device=device.name(ctx.device))
        try:
            seed_everything(ctx.seed)
            with device.use(ctx.device):
                outcome = self.task.reference(which, ctx)
        except NotImplementedError as exc:  # declared but not produced: a skip, never "ok"
            reason = f"task {self.task.name!r} cannot produce a {which!r} row ({error_line(exc)})"
            self._write(label, {}, Outcome({}), status="skipped", error=reason)
            print(f"{self.task.name}: {which} reference skipped: {reason}", flush=True)
            return "skipped", None
        except Exception as exc:  # noqa: BLE001 - recorded, not raised
            self._write(label, {}, Outcome({}, data=ctx.data_read), status="failed",
                        error=error_line(exc))
            return "failed", None
        self._write(label, {}, outcome)
        value = outcome.metrics.get(self.main.name)
        return "ok", value if isinstance(value, float) else None

    # -- execution and rows ---------------------------------------------------------------------
    def _label(self, key: str, phase: str, seed: int, *, trial: int | None = None,
               rep: int | None = None) -> RunLabel:
        """The label of one of this strategy's runs."""
        return RunLabel(run_key=key, phase=phase, strategy=self.strategy_cls.name,
                        strategy_version=self.strategy_cls.version, study_name=self.study_name,
                        budget=self.budget.name, seed=seed, base_seed=self.base_seed,
                        trial_number=trial, repetition=rep, data=self.data,
                        device=device.name(self.sweep.device))

    def _context(self, split: str, seed: int, audio_as: str | None = None,
                 budget: Budget | None = None) -> RunContext:
        opts = self.sweep.opts
        audio_dir = None
        if audio_as is not None:
            task_dir = "@".join(filter(None, (self.task.name, self.data.slug())))
            audio_dir = (self.sweep.results_dir / "audio" / self.budget.name / task_dir
                         / f"seed{self.base_seed}" / audio_as)
        return RunContext(
            audio_dir=audio_dir,
            budget=self.task.sized(budget or self.budget), seed=seed, split=split,
            results_dir=self.sweep.results_dir,
            cache_dir=Path(opts.cache_dir) if opts.cache_dir else default_cache_dir(),
            data_root=opts.data_root, progress=opts.progress, device=self.sweep.device,
            data=self.data,
        )

    def _execute(self, ctx: RunContext, params: dict[str, Any],
                 label: RunLabel) -> tuple[str, float | None]:
        """Run the task with the strategy; write rows; return (status, main metric value)."""
        started, cpu = utcnow(), time.process_time()
        status, error, outcome = "ok", None, None
        try:
            seed_everything(ctx.seed)
            with device.use(ctx.device):
                outcome = self.task.run(self.strategy_cls(**params), ctx)
        except Pruned as exc:
            status, error = "pruned", str(exc)
        except Exception as exc:  # noqa: BLE001 - recorded, not raised
            status, error = "failed", error_line(exc)
        if outcome is None:
            outcome = Outcome({}, ctx.counters, dict(ctx.seconds), data=ctx.data_read)
        value = outcome.metrics.get(self.main.name)
        if status == "ok" and not isinstance(value, float):
            status = "failed"
            error = (value.error if isinstance(value, MetricFailure)
                     else f"main metric {self.main.name} was not reported")
        self._write(label, params, outcome, status=status, error=error, started=started,
                    cpu_s=time.process_time() - cpu)
        self.sweep.summary.runs += 1
        self.sweep.summary.failed += status == "failed"
        return status, value if status == "ok" else None

    def _write(self, label: RunLabel, params: dict[str, Any], outcome: Outcome, *,
               status: str = "ok", error: str | None = None, started: Any = None,
               cpu_s: float | None = None) -> None:
        self.sweep.write(run_rows(label, self.task, params, outcome, status=status, error=error,
                                  started=started, cpu_s=cpu_s))

    def _skip(self, reason: str) -> None:
        key = run_keys.skip_key(self.task, self.strategy_cls, self.budget, self.base_seed,
                                self.data)
        line = f"{self.study_name}: skipped ({reason})"

        def write(key: str) -> tuple[str, None]:
            label = self._label(key, "final", run_keys.final_seed(self.base_seed, 0), rep=0)
            self._write(label, {}, Outcome({}), status="skipped", error=reason)
            return "skipped", None

        self._once([(key, write)])
        self.sweep.summary.lines.append(line)
        print(line, flush=True)


def queued_settings(strategy_cls: type[Strategy], task: Task,
                    overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """What a new study of ``strategy_cls`` on ``task`` runs before sampling: the defaults,
    then the settings of the strategy's grid for the task (``Strategy.settings``) that agree
    with the fixed (``--param``) hyperparameters, each without those and without repeats."""
    grid = [s for s in strategy_cls.settings(task)
            if all(overrides.get(k, v) == v for k, v in s.items())]
    queue: list[dict[str, Any]] = []
    for setting in [strategy_cls.defaults, *grid]:
        free = {k: v for k, v in setting.items() if k not in overrides}
        if not any(all(q.get(k) == v for k, v in free.items()) for q in queue):
            queue.append(free)
    return queue


def tuning_trials(strategy_cls: type[Strategy], task: Task, budget: Budget,
                  overrides: dict[str, Any], trials: int | None = None) -> int:
    """Trials a study runs: 1 for a strategy with nothing to tune (no search space, or every
    hyperparameter in it fixed), else ``trials`` when given (else the budget's), or more where
    the queued settings need more. A strategy whose grid (``Strategy.settings``) covers the task
    runs just that grid unless ``trials`` asks for more: the budget's count would only pad it
    with repeats and cells that cannot run."""
    from bench.params import search_space_keys

    if not strategy_cls.tunable() or search_space_keys(strategy_cls) <= set(overrides):
        return 1
    queued = len(queued_settings(strategy_cls, task, overrides))
    if strategy_cls.settings(task):
        return max(trials or 0, queued)
    return max(trials or budget.trials, queued)


def make_pruner(budget: Budget, strategy_cls: type[Strategy]) -> Any:
    """The budget's Optuna pruner over the strategy's resource (training steps, or a search's
    progress): successive halving (``standard``), Hyperband (``full``), or the median rule
    after two trials."""
    import optuna

    low, high = strategy_cls.pruning_resource(budget)
    if budget.pruner == "halving":  # one bracket: a third of the trials go on at each rung
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=low, reduction_factor=3)
    if budget.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=low, max_resource=high,
                                              reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def _existing(storage: Any, name: str) -> list[Any]:
    """Trials already in a study (empty when it does not exist yet)."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage).trials
    except KeyError:
        return []


def _bar(total: int, desc: str, enabled: bool) -> Any:
    """A progress bar over trials (disabled with ``--no-progress``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="trial", disable=not enabled, leave=False)
