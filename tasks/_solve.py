"""The task protocol's shared steps: train through a strategy and cache the learner, batched
inference with it, and the one dispatch every single-chain task uses (learn-and-predict, or
search per example)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bench.base import RunContext, Solver, Strategy, Task
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy, Training
from bench.search import SearchProblem, SearchStrategy


def fit_cached(task: Task, strategy: GradientStrategy | None, training: Training,
               ctx: RunContext, artefact: str, key: Mapping[str, Any],
               extra: str = "training") -> Any:
    """``training``'s learner trained through ``strategy`` with the shared loop, or loaded from
    the artefact cache (``artefact``: its kind; ``key``: what besides task, strategy, budget and
    seed determines it); the training summary goes to ``ctx.extra[extra]``.

    ``strategy`` None trains the supervised baseline with the default optimizer settings.
    Returns the learner in eval mode.
    """
    from bench.artefacts import artefact_path, load_or_build
    from bench.gradient import train
    from bench.results import canonical_json

    model = training.modules[0]
    settings = dict(strategy.params) if strategy else dict(GradientStrategy.defaults)
    parts = {"task": task.name, "task_version": task.version,
             "strategy": strategy.name if strategy else "supervised",
             "strategy_version": strategy.version if strategy else "1",
             "params": canonical_json(settings), "budget": ctx.budget.as_dict(),
             "seed": ctx.seed, **key, **training_data(task, ctx)}

    def build() -> dict[str, Any]:
        if strategy is not None:
            return strategy.fit(training, ctx).summary()
        return train(training, ctx, lr=float(settings["lr"]),
                     grad_clip=float(settings["grad_clip"]), label="supervised").summary()

    with ctx.timed("solve"):
        ctx.extra[extra] = load_or_build(artefact_path(ctx.artefact_dir, artefact, parts), model,
                                         build, parts)
    return model.eval()


def training_data(task: Task, ctx: RunContext) -> dict[str, Any]:
    """Cache-key parts of the data a learner trains on: none for the embedded corpora (so
    models cached before datasets could be chosen are reused), else each domain's spec and
    fingerprint."""
    from tasks._audio import fingerprint

    if ctx.data.trains_default:
        return {}
    specs = {d: ctx.data.spec(d, "train") for d in task.domains}
    return {"train_data": {d: [s, fingerprint(s, ctx)] for d, s in specs.items()}}


def batched(model: Any, *inputs: np.ndarray, batch: int = 8) -> list[Any]:
    """The one batched inference loop: ``model`` (a torch module) on successive ``batch``-row
    slices of the aligned ``inputs`` (float32 tensors on the model's device), without
    gradients; its outputs, one per slice, back on the CPU (tensors, or lists and tuples of
    them)."""
    import torch

    from bench.device import of, to_device

    where = of(model)
    with torch.no_grad():
        return [_on_cpu(model(*(to_device(a[i:i + batch], where, dtype=torch.float32)
                                for a in inputs)))
                for i in range(0, len(inputs[0]), batch)]


def _on_cpu(output: Any) -> Any:
    """A model's output (a tensor, or lists and tuples of them) moved to the CPU."""
    if isinstance(output, list | tuple):
        return type(output)(_on_cpu(o) for o in output)
    return output.cpu()


def infer_params(model: Any, *inputs: np.ndarray) -> np.ndarray:
    """Normalized parameters a learner predicts for every row of ``inputs`` (float64 in
    [0, 1])."""
    out = np.concatenate([y.double().numpy() for y in batched(model, *inputs)])
    return np.clip(out, 0.0, 1.0)


def estimate(strategy: Strategy, ctx: RunContext, chain: Chain, x: np.ndarray,
             trained: Callable[[GradientStrategy], tuple[Any, EffectLayer]],
             predict: Callable[[Any], np.ndarray],
             problem: Callable[[], SearchProblem]) -> tuple[np.ndarray, np.ndarray]:
    """(parameters, rendered output) for the rows of ``x``.

    A gradient strategy gets its learner from ``trained(strategy)`` (timed by the task) and
    the audio of ``predict(model)`` from its ``infer_audio``; a search strategy solves
    ``problem()`` and the reference DSP renders the result.
    """
    sr = ctx.rate_of()

    def learned(s: GradientStrategy) -> tuple[np.ndarray, np.ndarray]:
        model, layer = trained(s)
        with ctx.timed("solve"):
            p = predict(model)
            return p, s.infer_audio(layer, chain, x, p, sr, ctx)

    def searched(s: SearchStrategy) -> tuple[np.ndarray, np.ndarray]:
        with ctx.timed("solve"):
            p = s.solve(problem(), ctx)
            return p, ctx.counters.render(chain, x, p, sr)

    return strategy.accept(Solver(learned, searched))
