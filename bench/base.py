"""Base classes every strategy and task subclasses, and the records a run produces."""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bench.budgets import Budget
from bench.errors import BenchError
from bench.registry import Registered


@dataclass(frozen=True)
class Metric:
    """A metric a task reports: name, direction and unit."""

    name: str
    higher_is_better: bool
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class MetricFailure:
    """A metric that could not be computed; stored as a failed row, never as a number."""

    error: str


@dataclass
class Counters:
    """Work a strategy did, for fair budgets: steps, reference-DSP calls, gradient estimates."""

    steps: int = 0
    dsp_evals: int = 0
    grad_estimates: int = 0


@dataclass
class Outcome:
    """What one run of a task with a strategy produced on one split."""

    metrics: dict[str, float | MetricFailure]
    counters: Counters = field(default_factory=Counters)
    seconds: dict[str, float] = field(default_factory=dict)  # setup / solve / eval
    extra: dict[str, Any] = field(default_factory=dict)      # curves, per-pair tables …


class Pruned(Exception):
    """Raised inside a run when the tuner decides to stop an unpromising trial."""


@dataclass
class RunContext:
    """Everything a run may need from the harness: budget, seed, places, progress and timing."""

    budget: Budget
    seed: int
    split: str
    results_dir: Path
    cache_dir: Path
    data_root: Path | None = None
    progress: bool = True
    device: str = "cpu"
    counters: Counters = field(default_factory=Counters)
    seconds: dict[str, float] = field(default_factory=dict)
    report: Callable[[int, float], bool] | None = None  # (step, val loss) -> should prune
    extra: dict[str, Any] = field(default_factory=dict)  # facts for the results (proxy fidelity…)
    artefacts: Path | None = None  # trained models and proxies; default <cache_dir>/artefacts
    audio_dir: Path | None = None  # final runs save a few listening examples here

    @property
    def artefact_dir(self) -> Path:
        """Where cached trained models and proxies go."""
        return self.artefacts or self.cache_dir / "artefacts"

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the wall time of the block to ``seconds[phase]`` (setup, solve or eval)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start

    def intermediate(self, step: int, value: float) -> None:
        """Report a validation value to the tuner; raises Pruned when it says stop."""
        if self.report is not None and self.report(step, value):
            raise Pruned(f"pruned at step {step} (value {value:.4g})")

    def save_audio(self, signals: dict[str, Any], count: int = 3) -> None:
        """Write the first ``count`` rows of each named signal as 16-bit FLAC for the listening
        page (final runs only; a no-op when ``audio_dir`` is unset)."""
        if self.audio_dir is None:
            return
        import numpy as np
        import soundfile as sf

        self.audio_dir.mkdir(parents=True, exist_ok=True)
        for name, audio in signals.items():
            for i, row in enumerate(np.asarray(audio)[:count]):
                peak = max(1.0, float(np.max(np.abs(row))))  # never clip the file
                sf.write(self.audio_dir / f"{i}_{name}.flac", row / peak,
                         self.budget.sample_rate, subtype="PCM_16")

    def outcome(self, metrics: dict[str, float | MetricFailure], **extra: Any) -> Outcome:
        """Package metrics with this context's counters, timings and extra facts."""
        return Outcome(metrics, self.counters, dict(self.seconds), {**self.extra, **extra})


class Strategy(Registered, ABC):
    """How a task's learner gets parameters (and gradients) through the effect chain.

    A subclass declares ``name``, ``version``, ``defaults`` and ``search_space``; its
    hyperparameters arrive as keyword arguments validated against ``defaults``.
    """

    kind = "strategy"
    defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise BenchError(
                f"strategy {self.name!r} has no hyperparameter {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.defaults)) or 'none'}"
            )
        self.params: dict[str, Any] = {**self.defaults, **params}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Suggest tunable hyperparameters on an Optuna trial; empty means nothing to tune."""
        return {}

    @classmethod
    def tunable(cls) -> bool:
        """Whether the strategy has a search space (else one trial, its defaults, is its sweep)."""
        return cls.search_space.__func__ is not Strategy.search_space.__func__

    def skip_reason(self, task: Task) -> str | None:
        """Why this strategy cannot run ``task`` (recorded as a skipped row), or None."""
        return None

    def __repr__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}[{args}]"


class Task(Registered, ABC):
    """What gradients are used for: data, protocol and metrics, with one main metric."""

    kind = "task"
    family: ClassVar[str]
    metrics: ClassVar[tuple[Metric, ...]]
    main_metric: ClassVar[str]
    references: ClassVar[tuple[str, ...]] = ("input", "oracle")
    tuned_by: ClassVar[str | None] = None  # reuse this task's tuned params and trained models

    def metric(self, name: str) -> Metric:
        """The declared metric called ``name``."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"task {self.name!r} declares no metric {name!r}")

    def skip_reason(self, strategy: Strategy) -> str | None:
        """Why this task cannot evaluate ``strategy`` (recorded as a skipped row), or None."""
        return None

    def sized(self, budget: Budget) -> Budget:
        """The budget as this task applies it (a task whose step is costlier may shrink it)."""
        return budget

    @abstractmethod
    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Train or solve with ``strategy`` and evaluate on ``ctx.split``."""

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """Metrics of a reference row (``input``: unprocessed, ``oracle``: true parameters)."""
        raise NotImplementedError(f"task {self.name!r} has no {which!r} row")


def safe_metric(fn: Callable[[], float]) -> float | MetricFailure:
    """Evaluate one metric; an exception or a non-finite value becomes a MetricFailure."""
    try:
        value = float(fn())
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        return MetricFailure(f"{type(exc).__name__}: {exc}")
    if not math.isfinite(value):
        return MetricFailure(f"non-finite value {value}")
    return value
