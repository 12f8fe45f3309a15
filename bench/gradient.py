"""Gradient strategies and the one training loop they all share (same optimizer, budget, counters).

A gradient strategy only supplies an *effect layer*: a torch module ``(x, p) -> y`` whose
backward is its way of getting a gradient through the effect chain (exact autograd, a proxy,
SPSA …). Tasks own the learner (encoder, controller, analysis network) and the loss.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from bench.base import RunContext, Strategy, Task


@dataclass
class TrainingLog:
    """Validation curve and per-step wall times of one training run."""

    curve: list[dict[str, float]] = field(default_factory=list)  # step, dsp_evals, val_loss
    step_seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What goes into a result row's extra JSON: the curve and step-time statistics."""
        times = np.asarray(self.step_seconds or [math.nan])
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        return {"curve": self.curve, "step_s_median": float(med), "step_s_iqr": float(q3 - q1),
                "steps_timed": len(self.step_seconds)}


class GradientStrategy(Strategy):
    """A strategy that trains a learner through an effect layer with the shared loop."""

    defaults: ClassVar[dict[str, Any]] = {"lr": 1e-3, "grad_clip": 4.0}
    needs_torch_effect: ClassVar[bool] = False

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """The learning rate; subclasses add their own knobs to this."""
        return {"lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True)}

    def skip_reason(self, task: Task) -> str | None:
        """Strategies that need the differentiable chain skip tasks whose chain has none."""
        chain = getattr(task, "chain", None)
        if self.needs_torch_effect and chain is not None and not chain.differentiable:
            return f"{self.name} needs a differentiable chain: {chain.why_not_differentiable()}"
        return None

    @abstractmethod
    def effect_layer(self, chain: Any, sample_rate: int, ctx: RunContext,
                     audio: np.ndarray) -> Any:
        """A torch module ``(x, p) -> y`` for ``chain``; ``audio`` is training audio (proxies)."""

    def render(self, layer: Any, chain: Any, x: np.ndarray, p: np.ndarray, sample_rate: int,
               ctx: RunContext) -> np.ndarray:
        """Inference rendering; by default the reference DSP, whatever trained the learner."""
        ctx.counters.dsp_evals += len(x)
        return chain.process(x, p, sample_rate)

    def fit(self, modules: list[Any], batch_loss: Callable[[int], Any], ctx: RunContext,
            val_loss: Callable[[], float] | None = None) -> TrainingLog:
        """Train ``modules`` with the shared loop and this strategy's optimizer settings."""
        return train(modules, batch_loss, ctx, lr=float(self.params["lr"]),
                     grad_clip=float(self.params["grad_clip"]), val_loss=val_loss,
                     label=self.name)


def train(modules: list[Any], batch_loss: Callable[[int], Any], ctx: RunContext, *, lr: float,
          grad_clip: float, val_loss: Callable[[], float] | None = None, evals: int = 8,
          label: str = "train") -> TrainingLog:
    """The one training loop: Adam on ``modules`` for ``ctx.budget.steps`` of ``batch_loss``.

    ``val_loss`` is evaluated ``evals`` times and reported to the tuner (pruning); a
    non-finite training loss stops the run with an error.
    """
    import torch
    from tqdm.auto import tqdm

    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    if not params:
        raise ValueError("nothing to train: the learner has no trainable parameters")
    opt = torch.optim.Adam(params, lr=lr)
    steps = ctx.budget.steps
    every = max(1, steps // max(1, evals))
    log = TrainingLog()
    for m in modules:
        m.train()
    bar = tqdm(range(steps), desc=label, unit="step", leave=False, disable=not ctx.progress)
    for step in bar:
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = batch_loss(step)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss became {loss.item()} at step {step}")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        ctx.counters.steps += 1
        log.step_seconds.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{loss.item():.4g}")
        if val_loss is not None and ((step + 1) % every == 0 or step + 1 == steps):
            for m in modules:
                m.eval()
            with torch.no_grad():
                value = float(val_loss())
            for m in modules:
                m.train()
            log.curve.append({"step": step + 1, "dsp_evals": ctx.counters.dsp_evals,
                              "grad_estimates": ctx.counters.grad_estimates,
                              "val_loss": value})
            ctx.intermediate(step + 1, value)
    bar.close()
    for m in modules:
        m.eval()
    return log
