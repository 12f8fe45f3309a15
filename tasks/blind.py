"""Blind estimation of effect parameters: only the wet signal is seen (Peladeau & Peeters 2024).

An analysis network maps the wet signal to the chain's parameters. It is trained either on an
audio loss through the strategy — the dry signal is re-rendered with the estimates and compared
with the wet one — or, as the ``supervised`` reference row, on a parameter loss. Gradient-free
strategies search each example's parameters with the same re-rendering loss.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from bench.base import (
    Capabilities,
    Metric,
    MetricFailure,
    Outcome,
    RunContext,
    Strategy,
    Task,
    safe_metric,
    safe_metrics,
)
from bench.gradient import EffectLayer, GradientStrategy, Training
from bench.metrics import METRICS, param_mae
from bench.parallel import render
from bench.search import SearchProblem
from tasks import _audio, _solve
from tasks._batches import training_batches, validation_size
from tasks.examples import ExampleSet

CHAIN = ("peq", "compressor", "distortion")
TRAIN_FFTS = (256, 1024, 4096)
L1_WEIGHT = 100.0


def blind_metrics(effects: tuple[str, ...]) -> tuple[Metric, ...]:
    """The metrics of blind estimation of the chain ``effects``: parameter MAE over the chain
    and per effect, and the re-render's MR-STFT, mel distance and LUFS error."""
    return (
        Metric("param_mae", False, "", "normalized parameter MAE over the whole chain"),
        *(Metric(f"param_mae_{e}", False, "", f"normalized parameter MAE of {e}")
          for e in effects),
        METRICS["mrstft"].metric, METRICS["msd"].metric, METRICS["lufs"].metric,
    )


class Blind(Task):
    """Estimate the parameters of ``peq → compressor → distortion`` from the wet signal."""

    family = "blind_estimation"
    capabilities = Capabilities(chain=True, trains_learner=True)
    effects = CHAIN
    domain: ClassVar[str]
    main_metric = "param_mae"
    references = ("input", "oracle", "supervised")
    metrics = blind_metrics(CHAIN)

    def examples(self, split: str, ctx: RunContext, n: int,
                 draw: int | None = None) -> ExampleSet:
        """``n`` (dry, wet, parameters) examples of ``split`` (``draw``: a fresh training
        batch)."""
        from tasks.examples import blind_examples

        made = blind_examples(_audio.sources(self.domain, split, ctx), ctx.rate_of(split),
                              n=n, seconds=ctx.budget.clip_seconds,
                              seed=_audio.example_seed(ctx, self.name, split, draw),
                              effects=self.effects)
        return ExampleSet(np.stack([m.dry for m in made]), np.stack([m.wet for m in made]),
                          np.stack([m.setting.normalized for m in made]))

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Estimate parameters of the evaluation examples with ``strategy`` and score them."""
        sr = ctx.rate_of()
        with ctx.timed("setup"):
            test = self.examples(ctx.split, ctx, ctx.budget.eval_examples)
        p, y = _solve.estimate(
            strategy, ctx, self.chain, test.dry, lambda s: self.trained(s, ctx),
            lambda model: _solve.infer_params(model, test.wet),
            lambda: SearchProblem(self.chain, sr, test.dry, rerender_score(test.wet),
                                  ctx.counters))
        with ctx.timed("eval"):
            ctx.save_audio({"output": y})
            return self.score(p, y, test, ctx)

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``input``: the dry signal as the re-render; ``oracle``: the true parameters;
        ``supervised``: the analysis network trained on a parameter loss, rendered by DSP."""
        test = self.examples(ctx.split, ctx, ctx.budget.eval_examples)
        sr = ctx.rate_of()
        if which == "input":
            ctx.save_audio({"input": test.dry, "target": test.wet})
            return self.score(None, test.dry, test, ctx)
        if which == "oracle":
            return self.score(test.params, render(self.chain, test.dry, test.params, sr),
                              test, ctx)
        if which == "supervised":
            model = self.train_supervised(ctx)
            p = _solve.infer_params(model, test.wet)
            return self.score(p, render(self.chain, test.dry, p, sr), test, ctx)
        raise NotImplementedError(which)

    def score(self, p: np.ndarray | None, y: np.ndarray, test: ExampleSet,
              ctx: RunContext) -> Outcome:
        """Parameter errors (when there are estimates) and re-render errors against the wet."""
        metrics: dict[str, float | MetricFailure] = {}
        if p is not None:
            segments = [(e.name, e.n_params) for e in self.chain.effects]
            metrics["param_mae"] = safe_metric(lambda: float(np.mean(np.abs(p - test.params))))
            metrics.update({f"param_mae_{e}": value for e, value in safe_metrics(
                lambda: param_mae(p, test.params, segments), self.effects).items()})
        sr = ctx.rate_of()
        for m in ("mrstft", "msd", "lufs"):
            metrics[m] = safe_metric(functools.partial(METRICS[m].fn, y, test.wet, sr))
        return ctx.outcome(metrics)

    # -- learners -----------------------------------------------------------------------------
    def trained(self, strategy: GradientStrategy,
                ctx: RunContext) -> tuple[Any, EffectLayer]:
        """Analysis network trained through the strategy on the re-rendering audio loss."""
        training, layer = self.training(strategy, ctx)
        return self._cached(strategy, ctx, training, kind="training"), layer

    def training(self, strategy: GradientStrategy,
                 ctx: RunContext) -> tuple[Training, EffectLayer]:
        """The analysis network set up to train through the strategy's effect layer, and that
        layer: the dry signal re-rendered with the estimates is compared with the wet one."""

        from bench.metrics import mrstft_loss

        sr = ctx.budget.sample_rate
        with ctx.timed("setup"):
            layer = strategy.effect_layer(self.chain, sr, ctx, _audio.proxy_audio(self.domain, ctx))
        loss_fn = mrstft_loss(TRAIN_FFTS)

        def loss(model: Any, t: ExampleSet, rows: Any) -> Any:
            dry, wet = ctx.tensors(t.dry[rows], t.wet[rows])
            y = layer(dry, model(wet))
            return loss_fn(y[:, None], wet[:, None]) + L1_WEIGHT * (y - wet).abs().mean()

        return self._training(ctx, loss, [layer]), layer

    def train_supervised(self, ctx: RunContext) -> Any:
        """The supervised baseline: same network, mean squared parameter error, no effect."""

        def loss(model: Any, t: ExampleSet, rows: Any) -> Any:
            wet, target = ctx.tensors(t.wet[rows], t.params[rows])
            return (model(wet) - target).square().mean()

        return self._cached(None, ctx, self._training(ctx, loss, []),
                            kind="supervised_training")

    def _training(self, ctx: RunContext, loss: Any, effects: list[Any]) -> Training:
        """A fresh analysis network with ``loss`` on random training batches and the whole
        validation set."""
        import torch

        from tasks._models import AnalysisModel

        rng = np.random.default_rng(ctx.seed)
        with ctx.timed("setup"):
            batches = training_batches(lambda n, draw: self.examples("train", ctx, n, draw),
                                       lambda t: len(t.dry), ctx.budget, rng)
            val = self.examples("val", ctx, validation_size(ctx.budget))
        torch.manual_seed(ctx.seed)
        model = AnalysisModel(ctx.budget.sample_rate, self.chain.n_params,
                              init=self.chain.neutral(ctx.budget.sample_rate)).to(ctx.device)
        return Training([model], lambda step: loss(model, *batches(step)),
                        lambda: float(loss(model, val, np.arange(len(val.dry)))), effects)

    def _cached(self, strategy: GradientStrategy | None, ctx: RunContext, training: Training,
                kind: str) -> Any:
        """Train with the shared loop (the strategy's optimizer settings, or the defaults for
        the supervised baseline); cached by everything that matters."""
        return _solve.fit_cached(self, strategy, training, ctx, f"blind_{kind}",
                                 {"chain": list(self.effects)}, extra=kind)


def rerender_score(wet: np.ndarray) -> Any:
    """Search loss: L1 between log-magnitude STFTs (1024-point) of re-render and wet."""
    from bench.metrics.spectral import stft_magnitude

    target = np.log(stft_magnitude(wet, 1024, 256) + 1e-5)

    def score(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.abs(np.log(stft_magnitude(y, 1024, 256) + 1e-5) - target[idx]).mean((1, 2))

    return score


class BlindSpeech(Blind):
    """Blind estimation of peq → compressor → distortion on speech."""

    name = "blind_speech"
    version = "2"  # 2: a validation set of up to 32 examples (was 8)
    domain = "speech"


class BlindMusic(Blind):
    """Blind estimation of peq → compressor → distortion on music."""

    name = "blind_music"
    version = "2"  # 2: a validation set of up to 32 examples (was 8)
    domain = "music"
