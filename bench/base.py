"""Base classes every strategy and task subclasses, and the records a run produces."""

from __future__ import annotations

import functools
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from bench.budgets import Budget
from bench.data_choice import DataChoice
from bench.errors import BenchError
from bench.registry import Registered

if TYPE_CHECKING:
    import numpy as np

    from bench.dsp import Chain
    from bench.gradient import GradientStrategy
    from bench.parallel import Renderable
    from bench.search import SearchStrategy

T = TypeVar("T")


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
    """Work a strategy did, for fair budgets: steps, reference-DSP calls, gradient estimates;
    and the arrays that crossed between the device and the CPU (``bench.device``).

    :meth:`render` is the one counting renderer: every reference-DSP evaluation a strategy or a
    task's solver makes goes through it, so ``dsp_evals`` is right by construction
    (``tests/test_counting.py`` fails on a render that is not counted).
    """

    steps: int = 0
    dsp_evals: int = 0
    grad_estimates: int = 0
    transfers: int = 0
    transfer_bytes: int = 0

    def render(self, chain: Renderable, x: np.ndarray, p: np.ndarray, sample_rate: int,
               workers: int | None = None) -> np.ndarray:
        """``chain.process(x, p)`` on the DSP threads (``bench.parallel.render``), counting one
        evaluation per row of ``x``."""
        from bench.parallel import render

        self.dsp_evals += len(x)
        return render(chain, x, p, sample_rate, workers)


@dataclass
class Outcome:
    """What one run of a task with a strategy produced on one split."""

    metrics: dict[str, float | MetricFailure]
    counters: Counters = field(default_factory=Counters)
    seconds: dict[str, float] = field(default_factory=dict)  # setup / solve / eval
    extra: dict[str, Any] = field(default_factory=dict)      # curves, per-pair tables …
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The data read, by role (``train``: training and validation, ``test``) and domain: its
    spec, fingerprint and the files skipped as unreadable (see ``RunContext.data_read``)."""


class Pruned(Exception):
    """Raised inside a run when the tuner decides to stop an unpromising trial."""


SHARED_SETUP = "shared_setup_cpu_s"
"""The extra fact of a run that computed setup which later runs in its process reuse (a
gradient task's points and reference gradients for one split and seed: a study's trials share
one seed, and every strategy's final run of a seed shares it): its CPU seconds. The projection
(:mod:`bench.report.projection`) counts it once per study and once per final run, not once per
trial. Runs that reused the setup have no such fact."""


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
    """Where learners, proxies, losses and the exact effects run (``bench.device.resolve``)."""
    counters: Counters = field(default_factory=Counters)
    seconds: dict[str, float] = field(default_factory=dict)
    report: Callable[[int, float], bool] | None = None  # (step, val loss) -> should prune
    extra: dict[str, Any] = field(default_factory=dict)  # facts for the results (proxy fidelity…)
    artefacts: Path | None = None  # trained models and proxies; default <cache_dir>/artefacts
    audio_dir: Path | None = None  # final runs save a few listening examples here
    data: DataChoice = field(default_factory=DataChoice)  # datasets and test rate (default:
    # every domain's embedded corpus at the budget's rate)
    data_read: dict[str, dict[str, Any]] = field(default_factory=dict)  # what was read, by role

    @property
    def artefact_dir(self) -> Path:
        """Where cached trained models and proxies go."""
        return self.artefacts or self.cache_dir / "artefacts"

    def rate_of(self, split: str | None = None) -> int:
        """The sample rate ``split`` (default: this run's) is read and scored at: the test rate
        for the test split when one was chosen, else the budget's (training always is)."""
        return self.data.sample_rate(split or self.split, self.budget.sample_rate)

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
                sf.write(self.audio_dir / f"{i}_{name}.flac", row / peak, self.rate_of(),
                         subtype="PCM_16")

    def tensors(self, *arrays: np.ndarray) -> tuple[Any, ...]:
        """Float32 tensors of ``arrays`` on the run's device (counted transfers): a learner's
        batch."""
        import torch

        from bench.device import to_device

        return tuple(to_device(a, self.device, self.counters, torch.float32) for a in arrays)

    def outcome(self, metrics: dict[str, float | MetricFailure], **extra: Any) -> Outcome:
        """Package metrics with this context's counters, timings and extra facts."""
        return Outcome(metrics, self.counters, dict(self.seconds), {**self.extra, **extra},
                       self.data_read)


@dataclass(frozen=True)
class Solver(Generic[T]):
    """A task's two ways to get parameters from a strategy: train a learner through a gradient
    strategy (``learned``) or hand a search strategy its per-example problem (``searched``).
    The strategy picks its case (:meth:`Strategy.accept`): tasks never test a strategy's class."""

    learned: Callable[[GradientStrategy], T]
    searched: Callable[[SearchStrategy], T]


@dataclass(frozen=True)
class Capabilities:
    """What a task offers and needs, declared once: strategies, the contract and the runner read
    these, never a task's family name or attributes it happens to have."""

    chain: bool = False
    """It exposes ``chain``: the one effect chain every strategy controls (``Task.effects``)."""
    style_reference: bool = False
    """Its search problems carry a style reference (``SearchProblem.reference``)."""
    trains_learner: bool = False
    """Its run trains a learner through a gradient strategy (a reused trained model counts as
    trained), so the run's step and gradient counters must show that work."""
    probes_encoder: bool = False
    """It probes the encoder a gradient strategy trained; a strategy that trains none cannot
    run it."""
    selects_chain: bool = False
    """It asks which of its candidate effect chains made each example: scored by exact-chain
    accuracy, which a uniform guess reaches at the task's ``chance``."""
    whole_batch_loss: bool = False
    """Its search problem scores every example at once: ``problem.loss(p)`` takes one parameter
    row per example and returns one loss per example (the toy task's problem; a
    :class:`~bench.search.SearchProblem` scores the rows it is given)."""
    measures_gradients: bool = False
    """It measures the gradients a gradient strategy's effect layer gives (and trains nothing);
    a strategy that supplies no gradient cannot run it."""
    models_effect: bool = False
    """It measures a gradient strategy's learned model of the effect (its effect layer's forward
    pass, trained on reference-DSP renders) against the reference DSP, and trains nothing else;
    a strategy whose forward pass is the DSP itself (``GradientStrategy.models_effect``) or
    that has no effect layer cannot run it."""


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

    @classmethod
    def settings(cls, task: Task) -> list[dict[str, Any]]:
        """Hyperparameter settings every study of this strategy on ``task`` runs, after its
        defaults and before any sampled setting: an exhaustive grid (each a partial mapping of
        hyperparameters, in order). None by default."""
        return []

    tuning_fidelity: ClassVar[str] = "steps"
    """What a tuning trial has less of than a final run (:meth:`Budget.tuning`): training
    steps for a learner, validation examples for a search."""

    @classmethod
    def pruning_resource(cls, budget: Budget) -> tuple[int, int]:
        """(min, max) of the step a run reports to :meth:`RunContext.intermediate`, over which
        the pruner stops trials: training steps, validated every ``val_every``, up to a tuning
        trial's steps."""
        return max(1, budget.val_every), budget.tuning(cls.tuning_fidelity).steps

    def skip_reason(self, task: Task) -> str | None:
        """Why this strategy cannot run ``task`` (recorded as a skipped row), or None."""
        return None

    def accept(self, solver: Solver[T]) -> T:
        """Run the case of ``solver`` for this kind of strategy (gradient or search)."""
        raise TypeError(f"{self.name} is neither a gradient nor a search strategy")

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
    capabilities: ClassVar[Capabilities] = Capabilities()
    effects: ClassVar[tuple[str, ...]] = ()
    """The effect chain every strategy controls, when ``capabilities.chain``."""
    reuses_model_of: ClassVar[str | None] = None
    """The task whose tuned hyperparameters and trained models this one reuses (evaluates),
    instead of tuning and training its own."""
    domain: ClassVar[str | None] = None
    """The one domain (speech, music) whose data the task reads, if it reads one."""

    @property
    def domains(self) -> tuple[str, ...]:
        """The domains whose data it reads, each chosen by ``--data`` and ``--test-data``."""
        return (self.domain,) if self.domain else ()

    @functools.cached_property
    def chain(self) -> Chain:
        """The :class:`~bench.dsp.Chain` of ``effects`` (tasks whose capabilities say so)."""
        if not self.capabilities.chain:
            raise AttributeError(f"task {self.name!r} controls no single effect chain")
        from bench.dsp import Chain

        return Chain(list(self.effects))

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


def safe_metrics(fn: Callable[[], Mapping[str, float]],
                 names: Iterable[str]) -> dict[str, float | MetricFailure]:
    """Evaluate metrics that one computation gives together (``fn()`` maps each of ``names``
    to a value): an exception fails every one of them, a non-finite value fails its own."""
    try:
        values = fn()
        return {name: _finite(values[name]) for name in names}
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        return dict.fromkeys(names, MetricFailure(f"{type(exc).__name__}: {exc}"))


def safe_metric(fn: Callable[[], float]) -> float | MetricFailure:
    """Evaluate one metric; an exception or a non-finite value becomes a MetricFailure."""
    return safe_metrics(lambda: {"": fn()}, [""])[""]


def _finite(value: float) -> float | MetricFailure:
    """``value`` as a float, or a MetricFailure when it is not finite."""
    value = float(value)
    return value if math.isfinite(value) else MetricFailure(f"non-finite value {value}")
