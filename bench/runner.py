"""The sweep: for each (task, strategy, seed) tune on validation, then re-run the best on test.

Every unit of work has a run key; work whose key already has rows in ``results/`` is skipped,
so re-running the same command resumes. Failures are recorded as rows, never raised.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import artefacts, env
from bench.base import Metric, MetricFailure, Outcome, Pruned, RunContext, Strategy, Task
from bench.budgets import Budget, get_budget
from bench.data import default_cache_dir
from bench.errors import BenchError
from bench.params import check_params
from bench.registry import discover, registry
from bench.results import (
    SCHEMA_VERSION,
    ResultWriter,
    canonical_json,
    read_results,
    run_key,
    utcnow,
)
from bench.seeding import derive_seed, seed_everything
from bench.tuning import (
    Claims,
    first_line,
    heartbeat,
    open_storage,
    reclaim_stale,
    slots,
    storage_errors,
    surplus,
    wait_a_moment,
    worker_tag,
)

MAX_FAILED_TRIALS = 20


@dataclass
class RunOptions:
    """Everything `python -m bench run` was asked to do."""

    strategies: str = "all"
    tasks: str = "all"
    budget: str = "quick"
    seed: int = 0
    seeds: int = 1
    trials: int | None = None
    storage: str | None = None
    results_dir: Path = Path("results")
    data_root: Path | None = None
    cache_dir: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    progress: bool = True


@dataclass
class Summary:
    """Counts of what one `run` invocation did, printed at the end."""

    runs: int = 0
    skipped_done: int = 0
    failed: int = 0
    artefacts_rebuilt: int = 0  # cached models or proxies whose file could not be loaded
    lines: list[str] = field(default_factory=list)


def run(opts: RunOptions) -> Summary:
    """Run the selected matrix; returns a summary (failures are in the results, not raised)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    set_threads()
    budget = get_budget(opts.budget)
    tasks = registry("task").select(opts.tasks)
    strategies = registry("strategy").select(opts.strategies)
    if opts.seeds < 1:
        raise BenchError(f"--seeds must be at least 1, got {opts.seeds}")
    if opts.trials is not None and opts.trials < 1:
        raise BenchError(f"--trials must be at least 1, got {opts.trials}")
    params = check_params(strategies, opts.params)
    announce_selection(opts)
    results_dir = Path(opts.results_dir)
    writer = ResultWriter(results_dir)
    done = _done_keys(results_dir)
    storage = open_storage(opts.storage, results_dir)
    summary = Summary()
    rebuilt_before = len(artefacts.REBUILT)
    try:
        claims = Claims(storage)
        for task_cls in tasks:
            task = task_cls()
            for strategy_cls in strategies:
                overrides = {k: v for k, v in params.items() if k in strategy_cls.defaults}
                for i in range(opts.seeds):
                    cell = Cell(task, strategy_cls, overrides, budget, opts.seed + i, opts,
                                writer, done, storage, claims, summary)
                    cell.run()
    except storage_errors() as exc:
        raise BenchError(f"Optuna storage failed: {type(exc).__name__}: {first_line(exc)}; "
                         f"finished runs are saved: fix the storage and run the same command "
                         f"again to resume") from exc
    summary.artefacts_rebuilt = len(artefacts.REBUILT) - rebuilt_before
    return summary


def announce_selection(opts: RunOptions) -> None:
    """Name every plugin module that failed to import, and what each ``all`` leaves out, so
    that nothing drops out of a run silently."""
    for failure in discover():
        print(f"warning: plugin module {failure.module} failed to import and is not loaded: "
              f"{failure.error.splitlines()[0]}", file=sys.stderr, flush=True)
    for kind, spec in (("strategy", opts.strategies), ("task", opts.tasks)):
        notes = registry(kind).left_out_of_all() if spec == "all" else []
        if notes:
            print(f"--{kind} all leaves out {'; '.join(notes)}", flush=True)


def set_threads() -> None:
    """One torch thread unless ``AFX_BENCH_TORCH_THREADS`` says otherwise: on a small shared
    CPU two intra-op threads stall badly, and the DSP renders use their own thread pool."""
    import torch

    torch.set_num_threads(int(os.environ.get("AFX_BENCH_TORCH_THREADS", "1")))


def _done_keys(results_dir: Path) -> set[str]:
    """Run keys that already have a successful (or deliberately skipped) row set."""
    frame = read_results(results_dir)
    return set(frame.loc[frame["status"].isin(["ok", "skipped"]), "run_key"])


class Cell:
    """One (task, strategy, seed) of the matrix: its Optuna study and its final runs."""

    def __init__(self, task: Task, strategy_cls: type[Strategy], overrides: dict[str, Any],
                 budget: Budget, base_seed: int, opts: RunOptions, writer: ResultWriter,
                 done: set[str], storage: Any, claims: Claims, summary: Summary) -> None:
        self.task, self.strategy_cls, self.overrides = task, strategy_cls, overrides
        self.budget, self.base_seed, self.opts = budget, base_seed, opts
        self.writer, self.done, self.storage, self.summary = writer, done, storage, summary
        self.claims = claims
        suffix = f"/{run_key(**overrides)[:8]}" if overrides else ""
        self.study_name = (f"{task.name}@{task.version}/{strategy_cls.name}@"
                           f"{strategy_cls.version}/{budget.name}/seed{base_seed}{suffix}")
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
        best = self._tuned_elsewhere() if self.task.reuses_model_of else self._tune()
        reps = range(self.budget.final_seeds)
        finals = [(self._final_key(rep, best), partial(self._final, rep, best)) for rep in reps]
        refs = [(self._reference_key(which, rep), partial(self._reference, which, rep))
                for rep in reps for which in self.task.references]
        values = self._once([*finals, *refs])
        against = {which: [values[self._reference_key(which, rep)] for rep in reps]
                   for which in self.task.references}
        result = compared(self.main, [values[key] for key, _ in finals], against)
        self.summary.lines.append(
            f"{self.study_name}: final {result} ({time.perf_counter() - start:.1f} s)")
        print(self.summary.lines[-1], flush=True)

    # -- tuning -------------------------------------------------------------------------------
    def _tune(self) -> dict[str, Any] | None:
        """Run trials until the requested number have finished; return the best params."""
        from optuna.trial import TrialState

        tunable = self.strategy_cls.search_space.__func__ is not Strategy.search_space.__func__
        n = (self.opts.trials or self.budget.trials) if tunable else 1
        study = self._study()
        bar = _bar(n, f"tune {self.task.name}/{self.strategy_cls.name}", self.opts.progress)
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
            with heartbeat(study._storage, trial._trial_id):
                self._trial(study, trial)
        bar.close()
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return study.best_trial.user_attrs["resolved"] if complete else None

    def _study(self) -> Any:
        """Create the cell's study (queueing the defaults first) or join the existing one."""
        import optuna

        sampler = optuna.samplers.TPESampler(seed=derive_seed(
            self.base_seed, self.study_name, len(_existing(self.storage, self.study_name))))
        pruner = make_pruner(self.budget)
        try:
            study = optuna.create_study(
                study_name=self.study_name, storage=self.storage, sampler=sampler,
                pruner=pruner, direction="maximize" if self.main.higher_is_better else "minimize")
        except optuna.exceptions.DuplicatedStudyError:  # resumed, or created by another worker
            return optuna.load_study(study_name=self.study_name, storage=self.storage,
                                     sampler=sampler, pruner=pruner)
        study.enqueue_trial({k: v for k, v in self.strategy_cls.defaults.items()
                             if k not in self.overrides})
        return study

    def _trial(self, study: Any, trial: Any) -> None:
        """Run one trial on the validation split, write its rows, then tell Optuna."""
        from optuna.trial import TrialState

        params = self._params(trial)
        key = trial.user_attrs.get("run_key") or run_key(study=self.study_name,
                                                          trial=trial.number)
        trial.set_user_attr("run_key", key)
        trial.set_user_attr("resolved", params)
        if "retry_of" in trial.user_attrs:  # its rows may have been written before the crash
            self.done |= _done_keys(Path(self.opts.results_dir))
        if key in self.done:  # rows already written: reuse them, do not recompute
            value = self._stored_value(key)
            study.tell(trial, value) if value is not None else study.tell(
                trial, state=TrialState.FAIL)
            return
        ctx = self._context("val", derive_seed(self.base_seed, self.study_name, "tune"))

        sign = -1.0 if self.main.higher_is_better else 1.0

        def report(step: int, loss: float) -> bool:
            # intermediate values are losses (lower is better); a study that maximizes its
            # main metric must see them negated, or its pruner stops the best trials
            trial.report(sign * loss, step)
            return trial.should_prune()

        ctx.report = report
        status, value = self._execute(ctx, params, key, phase="tune", trial=trial.number)
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
        cell = Cell(source, self.strategy_cls, self.overrides, self.budget, self.base_seed,
                    self.opts, self.writer, self.done, self.storage, self.claims, self.summary)
        return cell._tune()

    def _params(self, trial: Any) -> dict[str, Any]:
        """Resolved hyperparameters of a trial: defaults, then suggestions, then --param."""
        suggested = self.strategy_cls.search_space(trial)
        fixed = {k: v for k, v in trial.params.items() if k not in suggested}
        return {**self.strategy_cls.defaults, **fixed, **suggested, **self.overrides}

    def _stored_value(self, key: str) -> float | None:
        frame = read_results(Path(self.opts.results_dir))
        rows = frame[(frame.run_key == key) & frame.is_main_metric & (frame.status == "ok")]
        return float(rows.value.iloc[0]) if len(rows) else None

    # -- final and reference rows ---------------------------------------------------------------
    def _once(self, work: list[tuple[str, Callable[[str], tuple[str, float | None]]]]
              ) -> dict[str, float | None]:
        """Run each (run key, job) once across every worker of the storage, through claims;
        return the main metric value per key (None when failed or not reported).

        A job takes its run key, writes its rows and returns (status, value). Keys already in
        the results are skipped; keys another worker holds are retried until it finishes.
        """
        values: dict[str, float | None] = {}
        pending = dict(work)
        while pending:
            for key, job in list(pending.items()):
                if key in self.done:
                    values[key] = self._stored_value(key)
                    self.summary.skipped_done += 1
                    del pending[key]
                    continue
                state, got = self.claims.acquire(key)
                if state == Claims.BUSY:
                    continue
                if state == Claims.RUN:
                    with heartbeat(self.storage, got):
                        status, value = job(key)
                    self.claims.release(got, status, value)
                    got = value
                else:
                    self.summary.skipped_done += 1
                values[key] = got
                del pending[key]
            if pending:
                wait_a_moment()  # the rest is held by other workers
        return values

    def _final_key(self, rep: int, params: dict[str, Any] | None) -> str:
        """Run key of a final repetition: the cell, the repetition and the tuned params."""
        if params is None:
            return run_key(study=self.study_name, final=rep, params=None)
        return run_key(task=self.task.name, task_version=self.task.version,
                       strategy=self.strategy_cls.name, version=self.strategy_cls.version,
                       budget=self.budget.name, base_seed=self.base_seed, rep=rep,
                       params=canonical_json(params))

    def _final(self, rep: int, params: dict[str, Any] | None,
               key: str) -> tuple[str, float | None]:
        """Re-run the best params on the test split with a fresh seed shared by all strategies."""
        seed = self._final_seed(rep)
        if params is None:
            self._write(self._rows(key, "final", None, {}, Outcome({}), seed, rep,
                                   status="failed", error="no tuning trial succeeded"))
            return "failed", None
        ctx = self._context("test", seed, audio_as=self.strategy_cls.name if rep == 0 else None)
        return self._execute(ctx, params, key, phase="final", rep=rep)

    def _reference_key(self, which: str, rep: int) -> str:
        """Run key of a reference row set: shared by every strategy of the task."""
        return run_key(task=self.task.name, task_version=self.task.version, reference=which,
                       budget=self.budget.name, base_seed=self.base_seed, rep=rep)

    def _reference(self, which: str, rep: int, key: str) -> tuple[str, float | None]:
        """Write the task's input/oracle rows once per (task, budget, seed, repetition);
        return the status and the main metric (shown next to the strategy's result)."""
        ctx = self._context("test", self._final_seed(rep), audio_as=which if rep == 0 else None)
        try:
            seed_everything(ctx.seed)
            outcome = self.task.reference(which, ctx)
        except NotImplementedError as exc:  # declared but not produced: a skip, never "ok"
            reason = f"task {self.task.name!r} cannot produce a {which!r} row ({_error(exc)})"
            self._write(self._rows(key, "final", None, {}, Outcome({}), ctx.seed, rep,
                                   status="skipped", error=reason, strategy=which))
            print(f"{self.task.name}: {which} reference skipped: {reason}", flush=True)
            return "skipped", None
        except Exception as exc:  # noqa: BLE001 - recorded, not raised
            self._write(self._rows(key, "final", None, {}, Outcome({}), ctx.seed, rep,
                                   status="failed", error=_error(exc), strategy=which))
            return "failed", None
        self._write(self._rows(key, "final", None, {}, outcome, ctx.seed, rep, strategy=which))
        value = outcome.metrics.get(self.main.name)
        return "ok", value if isinstance(value, float) else None

    def _final_seed(self, rep: int) -> int:
        """Shared by every strategy and task, so results pair up and trained models are reused
        by the tasks that evaluate them (realistic style transfer, probes)."""
        return derive_seed(self.base_seed, "final", rep)

    # -- execution and rows ---------------------------------------------------------------------
    def _context(self, split: str, seed: int, audio_as: str | None = None) -> RunContext:
        audio_dir = None
        if audio_as is not None:
            audio_dir = (Path(self.opts.results_dir) / "audio" / self.budget.name
                         / self.task.name / f"seed{self.base_seed}" / audio_as)
        return RunContext(
            audio_dir=audio_dir,
            budget=self.task.sized(self.budget), seed=seed, split=split,
            results_dir=Path(self.opts.results_dir),
            cache_dir=Path(self.opts.cache_dir) if self.opts.cache_dir else default_cache_dir(),
            data_root=self.opts.data_root, progress=self.opts.progress,
        )

    def _execute(self, ctx: RunContext, params: dict[str, Any], key: str, *, phase: str,
                 trial: int | None = None, rep: int | None = None) -> tuple[str, float | None]:
        """Run the task with the strategy; write rows; return (status, main metric value)."""
        started = utcnow()
        status, error, outcome = "ok", None, None
        try:
            seed_everything(ctx.seed)
            outcome = self.task.run(self.strategy_cls(**params), ctx)
        except Pruned as exc:
            status, error = "pruned", str(exc)
        except Exception as exc:  # noqa: BLE001 - recorded, not raised
            status, error = "failed", _error(exc)
        if outcome is None:
            outcome = Outcome({}, ctx.counters, dict(ctx.seconds))
        value = outcome.metrics.get(self.main.name)
        if status == "ok" and not isinstance(value, float):
            status = "failed"
            error = (value.error if isinstance(value, MetricFailure)
                     else f"main metric {self.main.name} was not reported")
        self._write(self._rows(key, phase, trial, params, outcome, ctx.seed, rep,
                               status=status, error=error, started=started))
        self.summary.runs += 1
        self.summary.failed += status == "failed"
        return status, value if status == "ok" else None

    def _rows(self, key: str, phase: str, trial: int | None, params: dict[str, Any],
              outcome: Outcome, seed: int, rep: int | None, *, status: str = "ok",
              error: str | None = None, strategy: str | None = None,
              started: Any = None) -> list[dict[str, Any]]:
        """Tidy rows, one per metric; a run that failed as a whole gets one main-metric row."""
        finished = utcnow()
        sha, dirty = env.git_state()
        is_ref = strategy is not None
        base = {
            "schema_version": SCHEMA_VERSION, "run_key": key, "phase": phase,
            "study_name": None if is_ref else self.study_name, "trial_number": trial,
            "strategy": strategy or self.strategy_cls.name,
            "strategy_version": "" if is_ref else self.strategy_cls.version,
            "is_reference": is_ref, "task": self.task.name, "task_version": self.task.version,
            "task_family": self.task.family, "budget": self.budget.name,
            "split": "val" if phase == "tune" else "test", "seed": seed,
            "base_seed": self.base_seed, "repetition": rep,
            "params_json": canonical_json(params),
            "n_steps": outcome.counters.steps, "n_dsp_evals": outcome.counters.dsp_evals,
            "n_grad_estimates": outcome.counters.grad_estimates,
            **training_facts(outcome.extra),
            "setup_s": outcome.seconds.get("setup", 0.0),
            "solve_s": outcome.seconds.get("solve", 0.0),
            "eval_s": outcome.seconds.get("eval", 0.0),
            "extra_json": canonical_json(outcome.extra) if outcome.extra else None,
            "device": "cpu", "machine_id": env.machine_id(), "host_hash": env.host_hash(),
            **env.versions(), "git_sha": sha, "git_dirty": dirty,
            "started_at": started or finished, "finished_at": finished,
        }
        metrics = outcome.metrics if status == "ok" else {}
        if not metrics:
            metrics = {self.main.name: MetricFailure(error or "no metrics")}
        rows = []
        for metric in self.task.metrics:
            if metric.name not in metrics:
                continue
            value = metrics[metric.name]
            failed = isinstance(value, MetricFailure)
            row_status = status if status != "ok" else ("failed" if failed else "ok")
            rows.append({
                **base, "metric": metric.name,
                "value": math.nan if failed else float(value),
                "unit": metric.unit, "higher_is_better": metric.higher_is_better,
                "is_main_metric": metric.name == self.main.name,
                "status": row_status,
                "error": (value.error if failed and status == "ok" else error),
            })
        return rows

    def _write(self, rows: list[dict[str, Any]]) -> None:
        self.writer.add(rows)
        if any(r["status"] in ("ok", "skipped") for r in rows):
            self.done.add(rows[0]["run_key"])

    def _skip(self, reason: str) -> None:
        key = run_key(task=self.task.name, strategy=self.strategy_cls.name, skip=True,
                      version=self.strategy_cls.version, budget=self.budget.name,
                      base_seed=self.base_seed)
        line = f"{self.study_name}: skipped ({reason})"

        def write(key: str) -> tuple[str, None]:
            self._write(self._rows(key, "final", None, {}, Outcome({}), self._final_seed(0), 0,
                                   status="skipped", error=reason))
            return "skipped", None

        self._once([(key, write)])
        self.summary.lines.append(line)
        print(line, flush=True)


def compared(metric: Metric, finals: list[float | None],
             references: dict[str, list[float | None]]) -> str:
    """``msd=41.31 (input 37.36, worse than input)``: the final values next to the reference
    rows' means, judged by the metric's direction (the oracle is shown but never judged)."""
    text = f"{metric.name}={', '.join(f'{v:.4g}' for v in finals if v is not None) or 'failed'}"
    means = {w: m for w, vs in references.items() if (m := _mean(vs)) is not None}
    if not means:
        return text
    notes = [f"{w} {v:.4g}" for w, v in means.items()]
    final = _mean(finals)
    if final is not None:
        notes += [_verdict(final, v, metric.higher_is_better, w)
                  for w, v in means.items() if w != "oracle"]
    return f"{text} ({', '.join(notes)})"


def _mean(values: list[float | None]) -> float | None:
    """Mean of the values that exist (None when none does)."""
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def _verdict(value: float, reference: float, higher_is_better: bool, name: str) -> str:
    """``better than input`` / ``worse than input`` / ``same as input`` (at 4 digits)."""
    if f"{value:.4g}" == f"{reference:.4g}":
        return f"same as {name}"
    better = value > reference if higher_is_better else value < reference
    return f"{'better' if better else 'worse'} than {name}"


def training_facts(extra: dict[str, Any]) -> dict[str, Any]:
    """``best_step`` and ``converged`` of the run's trained model (its training summary in the
    extra facts), or nulls for runs that trained nothing."""
    summary = extra.get("training") or {}
    return {"best_step": summary.get("best_step"), "converged": summary.get("converged")}


def make_pruner(budget: Budget) -> Any:
    """The budget's Optuna pruner: Hyperband over training steps (``standard``, ``full``) or
    the median rule after two trials."""
    import optuna

    if budget.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, budget.val_every),
                                              max_resource=budget.steps, reduction_factor=3)
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def _existing(storage: Any, study_name: str) -> list[Any]:
    """Trials already in a study (empty when it does not exist yet)."""
    import optuna

    try:
        return optuna.load_study(study_name=study_name, storage=storage).trials
    except KeyError:
        return []


def _error(exc: BaseException) -> str:
    """One line: exception type and the first line of its message."""
    text = first_line(exc)
    return text if text == type(exc).__name__ else f"{type(exc).__name__}: {text}"


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="trial", disable=not enabled, leave=False)
