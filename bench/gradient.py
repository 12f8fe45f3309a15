"""Gradient strategies and the one training loop they all share (same optimizer, budget, counters).

A gradient strategy only supplies an *effect layer*: a torch module ``(x, p) -> y`` whose
backward is its way of getting a gradient through the effect chain (exact autograd, a proxy,
SPSA …). Tasks own the learner (encoder, controller, analysis network) and the loss, and hand
both to the loop as a :class:`Training`. The same step serves training and the step profiler
(``python -m bench perf --steps``), which splits it into phases with a :class:`StepClock`.
"""

from __future__ import annotations

import copy
import math
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import numpy as np

from bench import convergence
from bench.base import RunContext, Solver, Strategy, Task
from bench.data import TrainingAudio

if TYPE_CHECKING:
    import torch

    from bench.dsp import Chain

T = TypeVar("T")

IMPROVEMENT = 0.01
"""A validation check improves on the best so far when it is lower by this fraction."""


@dataclass
class TrainingLog:
    """Validation curve, per-step wall times and the stopping facts of one training run."""

    curve: list[dict[str, float]] = field(default_factory=list)  # step, dsp_evals, val_loss
    step_seconds: list[float] = field(default_factory=list)
    best_step: int | None = None
    stopped_early: bool = False

    @property
    def steps_run(self) -> int:
        """Optimizer steps taken."""
        return len(self.step_seconds)

    def converged(self) -> bool | None:
        """Stopped early, or the best validation loss gained < 2% over the last 20% of steps
        (:func:`bench.convergence.converged`; None without a validation curve)."""
        return convergence.converged(self.curve, self.steps_run, self.stopped_early)

    def summary(self) -> dict[str, Any]:
        """What goes into a result row's extra JSON: the curve, step-time statistics and how
        training ended."""
        times = np.asarray(self.step_seconds or [math.nan])
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        return {"curve": self.curve, "step_s_median": float(med), "step_s_iqr": float(q3 - q1),
                "steps_timed": len(self.step_seconds), "steps_run": self.steps_run,
                "best_step": self.best_step, "stopped_early": self.stopped_early,
                "converged": self.converged()}


class EffectLayer(Protocol):
    """A gradient strategy's effect layer: a torch module ``(x, p) -> y`` for (batch, samples)
    audio and (batch, n_params) normalized parameters, whose backward is the strategy's way of
    getting a gradient through the chain."""

    def __call__(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """The chain's output for ``x`` set by ``p``."""
        ...


@dataclass
class Training:
    """A learner set up to train through a strategy: what the shared loop optimizes and runs.

    ``batch_loss(step)`` draws a batch, runs the learner (``modules``) and the effect layers
    (``effects``) and returns the scalar loss; ``val_loss()`` scores the validation set. The
    effect layers are listed only so a profiler can time them apart from the learner.
    """

    modules: list[Any]
    batch_loss: Callable[[int], Any]
    val_loss: Callable[[], float] | None = None
    effects: list[EffectLayer] = field(default_factory=list)


class GradientStrategy(Strategy):
    """A strategy that trains a learner through an effect layer with the shared loop."""

    defaults: ClassVar[dict[str, Any]] = {"lr": 1e-3, "grad_clip": 4.0}
    needs_torch_effect: ClassVar[bool] = False
    models_effect: ClassVar[bool] = False
    """True if the effect layer's forward pass is a learned model of the chain (a proxy), not
    the reference or exact DSP: the modeling tasks (``Capabilities.models_effect``) measure it.
    Its ``effect_layer`` then reports each effect's model under ``ctx.extra["proxies"]``, with
    its pre-training CPU seconds (``pretrain_cpu_s``)."""
    trains_learner: ClassVar[bool] = True
    """False for a strategy that only offers its model to the modeling tasks (the
    effect-model grid): it skips every other task."""

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """The learning rate; subclasses add their own knobs to this."""
        return {"lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True)}

    def skip_reason(self, task: Task) -> str | None:
        """Strategies that need the differentiable chain skip tasks whose chain has none; the
        modeling tasks take only strategies with a learned model of the effect, and a strategy
        that trains no learner takes only them."""
        if task.capabilities.models_effect and not self.models_effect:
            return (f"{self.name}'s forward pass is the reference or exact DSP itself: it has "
                    "no model of the effect to measure")
        if not (self.trains_learner or task.capabilities.models_effect):
            return (f"{self.name} only offers its effect models to the modeling tasks; to "
                    "train through one elsewhere use neural_proxy with --param model=CELL")
        if (self.needs_torch_effect and task.capabilities.chain
                and not task.chain.differentiable):
            return (f"{self.name} needs a differentiable chain: "
                    f"{task.chain.why_not_differentiable()}")
        return None

    def accept(self, solver: Solver[T]) -> T:
        """A gradient strategy trains the task's learner: ``solver.learned``."""
        return solver.learned(self)

    @abstractmethod
    def effect_layer(self, chain: Chain, sample_rate: int, ctx: RunContext,
                     audio: TrainingAudio) -> EffectLayer:
        """A torch module ``(x, p) -> y`` for ``chain``; ``audio`` is the task domain's training
        audio (proxies pre-train on it or load the ones committed for its domain)."""

    def infer_audio(self, layer: EffectLayer, chain: Chain, x: np.ndarray, p: np.ndarray,
                    sample_rate: int, ctx: RunContext) -> np.ndarray:
        """The audio the trained learner's parameters ``p`` give at inference (test time): by
        default the reference DSP's (counted), whatever trained the learner."""
        return ctx.counters.render(chain, x, p, sample_rate, workers=1)

    def benchmarks(self, layer: EffectLayer, ctx: RunContext) -> dict[str, Any]:
        """Extra measurements of this strategy's ``layer`` for the step profiler (for example
        proxy pre-training throughput); none by default."""
        return {}

    def optimizer(self, training: Training) -> Stepper:
        """The shared optimizer step with this strategy's settings."""
        return Stepper(training, lr=float(self.params["lr"]),
                       grad_clip=float(self.params["grad_clip"]))

    def fit(self, training: Training, ctx: RunContext) -> TrainingLog:
        """Train with the shared loop and this strategy's optimizer settings."""
        return train(training, ctx, lr=float(self.params["lr"]),
                     grad_clip=float(self.params["grad_clip"]), label=self.name)


class Stepper:
    """One optimizer step of a :class:`Training`: Adam with gradient-norm clipping."""

    def __init__(self, training: Training, *, lr: float, grad_clip: float) -> None:
        import torch

        self.training, self.grad_clip = training, grad_clip
        self.params = [p for m in training.modules for p in m.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("nothing to train: the learner has no trainable parameters")
        self.opt = torch.optim.Adam(self.params, lr=lr)
        self.scheduler: Any = None

    def schedule(self, scheduler: Any) -> None:
        """Step ``scheduler`` (a learning-rate schedule over ``self.opt``) after every step."""
        self.scheduler = scheduler

    def step(self, index: int, clock: StepClock | None = None) -> float:
        """Run step ``index``; returns the training loss (a non-finite loss raises)."""
        import torch

        clock = clock or StepClock.NONE
        clock.start()
        self.opt.zero_grad(set_to_none=True)
        loss = self.training.batch_loss(index)
        clock.mark("forward")
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss became {loss.item()} at step {index}")
        loss.backward()
        clock.mark("backward")
        torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.opt.step()
        if self.scheduler is not None:
            self.scheduler.step()
        clock.mark("optimizer")
        return float(loss.detach())


def train(training: Training, ctx: RunContext, *, lr: float, grad_clip: float,
          evals: int = 8, label: str = "train") -> TrainingLog:
    """The one training loop: Adam on the learner for at most ``ctx.budget.steps`` steps.

    ``training.val_loss`` is checked every ``budget.val_every`` steps (else ``evals`` times)
    and reported to the tuner (pruning). With ``budget.patience`` the run stops after that many
    checks without a 1% improvement and the checkpoint of the lowest check is restored;
    ``budget.lr_schedule`` "cosine" decays the learning rate to lr/10 over the maximum steps.
    A non-finite training loss stops the run with an error.
    """
    import torch
    from tqdm.auto import tqdm

    budget = ctx.budget
    stepper = Stepper(training, lr=lr, grad_clip=grad_clip)
    steps = budget.steps
    if budget.lr_schedule == "cosine":
        stepper.schedule(torch.optim.lr_scheduler.CosineAnnealingLR(stepper.opt, steps,
                                                                   eta_min=lr / 10))
    every = budget.val_every or max(1, steps // max(1, evals))
    log, best, anchor, best_state, stale = TrainingLog(), math.inf, math.inf, None, 0
    set_mode(training.modules, train=True)
    bar = tqdm(range(steps), desc=label, unit="step", leave=False, disable=not ctx.progress)
    for step in bar:
        start = time.perf_counter()
        loss = stepper.step(step)
        ctx.counters.steps += 1
        log.step_seconds.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss:.4g}", best=f"{best:.4g}")
        if training.val_loss is None or ((step + 1) % every and step + 1 != steps):
            continue
        set_mode(training.modules, train=False)
        with torch.no_grad():
            value = float(training.val_loss())
        set_mode(training.modules, train=True)
        log.curve.append({"step": step + 1, "dsp_evals": ctx.counters.dsp_evals,
                          "grad_estimates": ctx.counters.grad_estimates, "val_loss": value})
        ctx.intermediate(step + 1, value)
        if value < best or log.best_step is None:
            best, log.best_step = value, step + 1
            if budget.patience:
                best_state = [copy.deepcopy(m.state_dict()) for m in training.modules]
        improved = math.isinf(anchor) or value < anchor - IMPROVEMENT * abs(anchor)
        anchor, stale = (value, 0) if improved else (anchor, stale + 1)
        if budget.patience and stale >= budget.patience:
            log.stopped_early = True
            break
    bar.close()
    if best_state is not None:
        for m, state in zip(training.modules, best_state, strict=True):
            m.load_state_dict(state)
    set_mode(training.modules, train=False)
    return log


def set_mode(modules: list[Any], *, train: bool) -> None:
    """Put every module in training or evaluation mode."""
    for m in modules:
        m.train(train)


PHASES = ("examples", "learner_forward", "effect_forward", "loss_forward", "loss_backward",
          "effect_backward", "learner_backward", "optimizer")
"""The phases of one training step, in the order they run."""


class StepClock:
    """Splits a training step into :data:`PHASES` with module and gradient hooks.

    Forward hooks on the learner and the effect layers time their forward passes; the batch is
    drawn before the learner's first call (examples) and whatever else ``batch_loss`` does is
    the loss. In the backward pass, gradient hooks on the effect layers' outputs fire when the
    loss's backward has reached them and hooks on the learner's outputs when the effect
    layers' backward has; the rest is the learner's backward. On one thread autograd runs the
    nodes in reverse creation order, so the three backward spans are measured, not guessed;
    work the graph interleaves (a learner head between effect layers) lands in the span that
    was running. On an asynchronous device (a GPU) every mark first waits for the queued work,
    so each phase is charged with its own kernels.
    """

    NONE: ClassVar[StepClock]

    def __init__(self, training: Training | None = None, device: str = "cpu") -> None:
        self.handles: list[Any] = []
        self.times: dict[str, float] = {}
        self.device = device
        if training is not None:
            for m in training.modules:
                self._watch(m, "learner")
            for m in training.effects:
                self._watch(m, "effect")

    def _watch(self, module: Any, role: str) -> None:
        """Time ``module``'s forward as ``role`` and its outputs' gradients."""
        entered: list[float] = []

        def pre(*_: Any) -> None:
            entered.append(self.now())
            self.first_call = min(self.first_call, entered[-1])

        def post(_module: Any, _inputs: Any, output: Any) -> None:
            self.spans[role] += self.now() - entered.pop()
            for tensor in _tensors(output):
                if tensor.requires_grad:
                    tensor.register_hook(self._grad_hook(role))

        self.handles += [module.register_forward_pre_hook(pre),
                         module.register_forward_hook(post)]

    def _grad_hook(self, role: str) -> Callable[[Any], None]:
        def hook(_grad: Any) -> None:
            self.grad_reached[role] = self.now()
        return hook

    def now(self) -> float:
        """The time once the device's queued work is done."""
        if self.device != "cpu":
            from bench.device import synchronize

            synchronize(self.device)
        return time.perf_counter()

    def start(self) -> None:
        """Begin a step."""
        self.t0 = self.now()
        self.first_call = math.inf
        self.spans = {"learner": 0.0, "effect": 0.0}
        self.grad_reached: dict[str, float] = {}
        self.marks: dict[str, float] = {}

    def mark(self, event: str) -> None:
        """Record the end of ``forward``, ``backward`` or ``optimizer``."""
        self.marks[event] = self.now()

    def phases(self) -> dict[str, float]:
        """Seconds per phase of the last step."""
        m, g = self.marks, self.grad_reached
        fwd_end = m["forward"]
        examples = min(self.first_call, fwd_end) - self.t0
        effect_grad = g.get("effect", fwd_end)   # no effect gradient: nothing to split
        learner_grad = g.get("learner", effect_grad)
        return {
            "examples": examples,
            "learner_forward": self.spans["learner"],
            "effect_forward": self.spans["effect"],
            "loss_forward": fwd_end - self.t0 - examples - sum(self.spans.values()),
            "loss_backward": max(0.0, effect_grad - fwd_end),
            "effect_backward": max(0.0, learner_grad - max(effect_grad, fwd_end)),
            "learner_backward": m["backward"] - max(learner_grad, effect_grad, fwd_end),
            "optimizer": m["optimizer"] - m["backward"],
        }

    def close(self) -> None:
        """Remove every hook."""
        for h in self.handles:
            h.remove()
        self.handles.clear()


class _NoClock(StepClock):
    """The clock of ordinary training: records nothing."""

    def start(self) -> None:
        """Nothing to record."""

    def mark(self, event: str) -> None:
        """Nothing to record."""


StepClock.NONE = _NoClock()


def _tensors(output: Any) -> list[Any]:
    """Every tensor in a module output (a tensor, or lists/tuples of them)."""
    if isinstance(output, list | tuple):
        return [t for item in output for t in _tensors(item)]
    return [output] if hasattr(output, "register_hook") else []
