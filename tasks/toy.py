"""A seconds-long generated task that exercises the whole harness loop (tests, CI, demos).

Each example is a generated tone burst ``x`` and ``y = drive_gain(x, p_true)``; a strategy sees
``(x, y)`` and returns normalized parameters. It is real (signals, an effect, metrics) but tiny.
"""

from __future__ import annotations

import numpy as np

from bench.base import (
    Capabilities,
    Counters,
    Metric,
    Outcome,
    RunContext,
    Strategy,
    Task,
    safe_metric,
)
from bench.seeding import derive_seed

SAMPLE_RATE = 8000
SECONDS = 0.25


def drive_gain(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The toy effect: normalized tanh drive (1–10) then gain (−12…+12 dB), batched."""
    drive = 1.0 + 9.0 * p[:, :1]
    gain = 10.0 ** ((-12.0 + 24.0 * p[:, 1:2]) / 20.0)
    return gain * np.tanh(drive * x) / np.tanh(drive)


class DriveGain:
    """The toy effect behind the renderer's interface, so its evaluations are counted."""

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """:func:`drive_gain` of the batch (the toy effect has one sample rate)."""
        return drive_gain(x, p)


def tone_bursts(n: int, seed: int) -> np.ndarray:
    """``n`` deterministic clips of decaying multi-sine bursts plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SAMPLE_RATE * SECONDS)) / SAMPLE_RATE
    freqs = rng.uniform(80.0, 2000.0, size=(n, 3, 1))
    amps = rng.uniform(0.1, 0.6, size=(n, 3, 1))
    tones = (amps * np.sin(2 * np.pi * freqs * t)).sum(axis=1)
    envelope = np.exp(-t / rng.uniform(0.05, 0.2, size=(n, 1)))
    return (tones * envelope + 0.01 * rng.standard_normal((n, t.size))).astype(np.float64)


class ToyProblem:
    """What a toy strategy sees: inputs, targets, and a per-example loss that counts DSP calls."""

    n_params = 2

    def __init__(self, x: np.ndarray, y: np.ndarray, counters: Counters, ctx: RunContext) -> None:
        self.x, self.y, self.counters, self.ctx = x, y, counters, ctx

    def loss(self, p: np.ndarray) -> np.ndarray:
        """Mean absolute error of the re-rendered output for each example."""
        y = self.counters.render(DriveGain(), self.x, p, SAMPLE_RATE, workers=1)
        return np.abs(y - self.y).mean(axis=1)


class Toy(Task):
    """Generated tone bursts through tanh drive + gain: estimate the two parameters."""

    name = "toy"
    version = "1"
    family = "toy"
    toy = True
    capabilities = Capabilities(whole_batch_loss=True)
    metrics = (
        Metric("param_mae", higher_is_better=False, description="normalized parameter MAE"),
        Metric("l1", higher_is_better=False, description="re-render mean absolute error"),
    )
    main_metric = "param_mae"

    def _examples(self, ctx: RunContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = ctx.budget.eval_examples
        seed = derive_seed(ctx.seed, self.name, ctx.split)
        x = tone_bursts(n, seed)
        p_true = np.random.default_rng(seed + 1).uniform(size=(n, 2))
        return x, drive_gain(x, p_true), p_true

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Let the strategy estimate parameters per example, then score them."""
        with ctx.timed("setup"):
            x, y, p_true = self._examples(ctx)
            problem = ToyProblem(x, y, ctx.counters, ctx)
        with ctx.timed("solve"):
            p_hat = np.asarray(strategy.solve(problem, ctx), dtype=np.float64)  # type: ignore[attr-defined]
        with ctx.timed("eval"):
            metrics = self._score(x, y, p_true, p_hat)
        return ctx.outcome(metrics)

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``input``: the unprocessed clip; ``oracle``: the true parameters."""
        x, y, p_true = self._examples(ctx)
        if which == "oracle":
            return ctx.outcome(self._score(x, y, p_true, p_true))
        if which == "input":
            return ctx.outcome({"l1": safe_metric(lambda: np.abs(x - y).mean())})
        raise NotImplementedError(which)

    @staticmethod
    def _score(x: np.ndarray, y: np.ndarray, p_true: np.ndarray,
               p_hat: np.ndarray) -> dict[str, object]:
        return {
            "param_mae": safe_metric(lambda: np.abs(p_hat - p_true).mean()),
            "l1": safe_metric(lambda: np.abs(drive_gain(x, p_hat) - y).mean()),
        }
