"""Effect-chain selection: which ordered chain of 1–3 effects made the wet signal, and how set?

Candidates are every ordered chain of distinct effects from a small library: the effects that
declare a ``chain_selection_rank`` (peq, compressor, distortion), so an effect joins it by a
declaration in its own file. The learner is a
multiple-choice model (Guzman-Rivera et al.): one parameter head per candidate chain trained
winner-takes-all through the strategy — each example's loss is its best head's re-rendering
loss, the best head judged on reference-DSP renders of every head, and only that head's chain
runs through the strategy — plus a selector trained to predict the winning head. The
gradient-free baseline searches every candidate chain per example and keeps the best re-render.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, ClassVar

import numpy as np

from bench.base import (
    Capabilities,
    Metric,
    MetricFailure,
    Outcome,
    RunContext,
    Solver,
    Strategy,
    Task,
    safe_metric,
)
from bench.budgets import Budget
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy, Training
from bench.metrics import METRICS, effect_set_f1, exact_chain_accuracy, order_accuracy
from bench.search import SearchProblem, SearchStrategy, report_progress
from tasks import _audio, _solve
from tasks._batches import training_batches, validation_size
from tasks.blind import rerender_score
from tasks.examples import ExampleSet

MAX_EFFECTS = 3
SCHEDULE = "winners-only"
"""The winner-takes-all schedule (version 2): each step judges every head on reference-DSP
renders and trains through the winners' chains only (version 1 rendered all 15 with a
gradient)."""


def library() -> tuple[str, ...]:
    """The effects chain selection chooses from: every registered effect that declares a
    ``chain_selection_rank`` (``Effect``), in rank order, then by name."""
    from bench.registry import registry

    ranked = [c for c in registry("effect").classes() if c.chain_selection_rank is not None]
    # classes() is sorted by name and sorted() is stable: equal ranks stay in name order
    return tuple(c.name for c in sorted(ranked, key=lambda c: c.chain_selection_rank))


def candidates(max_effects: int = MAX_EFFECTS) -> list[tuple[str, ...]]:
    """Every ordered chain of 1…``max_effects`` distinct effects of the library (15 for three
    effects and chains of up to three)."""
    effects = library()
    return [c for k in range(1, max_effects + 1) for c in itertools.permutations(effects, k)]


class ChainSelection(Task):
    """Estimate the ordered effect chain and its settings from (dry, wet)."""

    family = "chain_selection"
    capabilities = Capabilities(trains_learner=True, selects_chain=True)
    domain: ClassVar[str]
    main_metric = "exact_chain_accuracy"
    max_effects: ClassVar[int] = MAX_EFFECTS
    """The longest candidate chain."""
    references = ("input", "oracle")
    metrics = (
        Metric("exact_chain_accuracy", True, "", "predicted ordered chain equals the true one"),
        Metric("effect_set_f1", True, "", "F1 between predicted and true effect sets"),
        Metric("order_accuracy", True, "", "true effect pairs kept in order"),
        METRICS["mrstft"].metric,
    )

    def sized(self, budget: Budget) -> Budget:
        """A quarter of the steps (and of the searches' effect evaluations per candidate),
        batches of at most 2 and clips of at most 1.1 s: every step renders all 15 candidate
        chains (by the reference DSP, to find the winners) and a search searches every
        candidate, so this keeps a quick cell within minutes on a 2-core CPU."""
        return dataclasses.replace(budget, steps=max(1, budget.steps // 4),
                                   dsp_evals=max(1, budget.dsp_evals // 4),
                                   batch_size=min(budget.batch_size, 2),
                                   clip_seconds=min(budget.clip_seconds, 1.1))

    @property
    def chance(self) -> float:
        """The exact-chain accuracy of a uniform guess among the candidate chains."""
        return 1 / len(candidates(self.max_effects))

    @functools.cached_property
    def candidate_chains(self) -> list[Chain]:
        """Chain objects of every candidate, in candidates() order."""
        return [Chain(list(c)) for c in candidates(self.max_effects)]

    def examples(self, split: str, ctx: RunContext, n: int,
                 draw: int | None = None) -> ExampleSet:
        """``n`` examples made by random candidate chains with random settings (``draw``: a
        fresh training batch)."""
        from tasks.examples import chain_examples

        made = chain_examples(_audio.sources(self.domain, split, ctx), ctx.rate_of(split),
                              n=n, seconds=ctx.budget.clip_seconds,
                              seed=_audio.example_seed(ctx, self.name, split, draw),
                              candidates=library(), max_effects=self.max_effects)
        return ExampleSet(np.stack([m.dry for m in made]), np.stack([m.wet for m in made]),
                          [m.setting.normalized for m in made],
                          chains=[m.setting.effects for m in made])

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Pick a chain and settings per example with ``strategy``; score the choice."""
        with ctx.timed("setup"):
            test = self.examples(ctx.split, ctx, ctx.budget.eval_examples)

        def learned(s: GradientStrategy) -> tuple[np.ndarray, np.ndarray]:
            model, layers = self.trained(s, ctx)
            with ctx.timed("solve"):
                choice, params = select(model, test.wet)
                return choice, self.render_choice(s, layers, test.dry, choice, params, ctx)

        def searched(s: SearchStrategy) -> tuple[np.ndarray, np.ndarray]:
            with ctx.timed("solve"):
                choice, _, y = self.search(s, test, ctx)
                return choice, y

        choice, y = strategy.accept(Solver(learned, searched))
        with ctx.timed("eval"):
            ctx.save_audio({"output": y})
            return self.score([self.candidate_chains[c].names for c in choice], y, test, ctx)

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``input``: the dry signal as the re-render; ``oracle``: the true chain and settings."""
        test = self.examples(ctx.split, ctx, ctx.budget.eval_examples)
        if which == "input":
            ctx.save_audio({"input": test.dry, "target": test.wet})
            return self.score(None, test.dry, test, ctx)
        if which == "oracle":
            sr = ctx.rate_of()
            y = np.stack([Chain(list(c)).process(d[None], p[None], sr)[0]
                          for c, d, p in zip(test.chains, test.dry, test.params, strict=True)])
            return self.score(test.chains, y, test, ctx)
        raise NotImplementedError(which)

    def score(self, predicted: list[tuple[str, ...]] | None, y: np.ndarray,
              test: ExampleSet, ctx: RunContext) -> Outcome:
        """Chain metrics (when a chain was predicted) and the re-render's MR-STFT."""
        metrics: dict[str, float | MetricFailure] = {}
        if predicted is not None:
            for name, fn in (("exact_chain_accuracy", exact_chain_accuracy),
                             ("effect_set_f1", effect_set_f1), ("order_accuracy", order_accuracy)):
                metrics[name] = safe_metric(functools.partial(fn, predicted, test.chains))
        metrics["mrstft"] = safe_metric(functools.partial(
            METRICS["mrstft"].fn, y, test.wet, ctx.rate_of()))
        return ctx.outcome(metrics)

    # -- gradient-free --------------------------------------------------------------------------
    def search(self, strategy: SearchStrategy, test: ExampleSet,
               ctx: RunContext) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Search every candidate chain per example; keep the chain with the best re-render.

        The tuner hears the mean best re-render loss after each candidate, as the progress
        through all candidates (the searches' own reports would restart for every one)."""
        sr, score = ctx.rate_of(), rerender_score(test.wet)
        idx = np.arange(len(test.dry))
        best = np.full(len(idx), np.inf)
        choice = np.zeros(len(idx), dtype=int)
        params: list[np.ndarray] = [np.zeros(0)] * len(idx)
        y = np.zeros_like(test.dry)
        quiet = dataclasses.replace(ctx, report=None)  # same counters, no per-candidate reports
        for c, chain in enumerate(self.candidate_chains):
            p = strategy.solve(SearchProblem(chain, sr, test.dry, score, ctx.counters), quiet)
            rendered = ctx.counters.render(chain, test.dry, p, sr)
            loss = score(rendered, idx)
            for i in np.flatnonzero(loss < best):
                best[i], choice[i], params[i], y[i] = loss[i], c, p[i], rendered[i]
            report_progress(ctx, (c + 1) / len(self.candidate_chains), float(best.mean()))
        return choice, params, y

    # -- learner --------------------------------------------------------------------------------
    def render_choice(self, strategy: GradientStrategy, layers: list[EffectLayer],
                      dry: np.ndarray,
                      choice: np.ndarray, params: list[np.ndarray],
                      ctx: RunContext) -> np.ndarray:
        """Each example's audio through its selected chain at inference (the strategy's
        ``infer_audio``)."""
        y = np.zeros_like(dry)
        sr = ctx.rate_of()
        for c in np.unique(choice):
            rows = np.flatnonzero(choice == c)
            p = np.stack([params[i] for i in rows])
            y[rows] = strategy.infer_audio(layers[c], self.candidate_chains[c], dry[rows], p,
                                           sr, ctx)
        return y

    def trained(self, strategy: GradientStrategy,
                ctx: RunContext) -> tuple[Any, list[EffectLayer]]:
        """Multiple-choice model trained winner-takes-all through the strategy (cached)."""
        training, layers = self.training(strategy, ctx)
        model = _solve.fit_cached(self, strategy, training, ctx, "chain_model",
                                  {"library": list(library()),
                                   "max_effects": self.max_effects})
        return model, layers

    def training(self, strategy: GradientStrategy,
                 ctx: RunContext) -> tuple[Training, list[EffectLayer]]:
        """The multiple-choice model set up to train winner-takes-all through the strategy's
        layers (one per candidate chain), and those layers.

        Each example's loss is its winning head's re-rendering loss (winners judged on
        reference-DSP renders, see ``WinnerTakesAll``) plus the selector's cross-entropy
        against the winner."""
        import torch

        from tasks._models import MultipleChoiceModel
        from tasks._winner import WinnerTakesAll

        sr, budget = ctx.budget.sample_rate, ctx.budget
        chains = self.candidate_chains
        rng = np.random.default_rng(ctx.seed)
        with ctx.timed("setup"):
            batches = training_batches(lambda n, draw: self.examples("train", ctx, n, draw),
                                       lambda t: len(t.dry), budget, rng)
            val = self.examples("val", ctx, validation_size(budget))
            audio = _audio.proxy_audio(self.domain, ctx)
            layers = [strategy.effect_layer(c, sr, ctx, audio) for c in chains]
        torch.manual_seed(ctx.seed)
        model = MultipleChoiceModel(sr, [c.n_params for c in chains],
                                    inits=[c.neutral(sr) for c in chains]).to(ctx.device)
        wta = WinnerTakesAll(layers, chains, sr, rerender_loss, logmag, ctx.counters)

        def losses(t: ExampleSet, rows: np.ndarray) -> tuple[Any, Any]:
            dry, wet = ctx.tensors(t.dry[rows], t.wet[rows])
            heads, logits = model(wet)
            y, winner = wta(dry, wet, heads)
            loss = rerender_loss(y, wet).mean()
            return loss + torch.nn.functional.cross_entropy(logits, winner), loss

        def batch_loss(step: int) -> Any:
            return losses(*batches(step))[0]

        return Training([model], batch_loss,
                        lambda: float(losses(val, np.arange(len(val.dry)))[1]), [wta]), layers


def rerender_loss(y: Any, wet: Any, wet_logmag: Any = None) -> Any:
    """Per-example training loss: L1 of log-magnitude STFT (1024) plus 10·L1 of the waveform
    (``wet_logmag``: the wet signal's log-magnitude, when already computed)."""
    if wet_logmag is None:
        wet_logmag = logmag(wet)
    return (logmag(y) - wet_logmag).abs().mean((1, 2)) + 10 * (y - wet).abs().mean(1)


def logmag(a: Any) -> Any:
    """Log-magnitude STFT (1024-point Hann, hop 256) of the rows of ``a``."""
    import torch

    return torch.log(torch.stft(a, 1024, 256, window=_hann(1024, str(a.device)),
                                return_complex=True).abs() + 1e-5)


@functools.cache
def _hann(n: int, device: str) -> Any:
    """The Hann window of the training loss's STFT on ``device``, made once."""
    import torch

    return torch.hann_window(n, device=device)


def select(model: Any, wet: np.ndarray, batch: int = 8) -> tuple[np.ndarray, list[np.ndarray]]:
    """The selector's chain index and that head's parameters for every wet row."""
    choice, params = [], []
    for heads, logits in _solve.batched(model, wet, batch=batch):
        picked = logits.argmax(1)
        choice += picked.tolist()
        params += [heads[c][j].double().clamp(0, 1).numpy() for j, c in enumerate(picked)]
    return np.array(choice), params


class ChainMusic(ChainSelection):
    """Effect-chain selection on music."""

    name = "chain_music"
    version = "4"  # bump on any change of sizing or protocol (tests/test_task_versions.py);
    # 3: the standard budget's search evaluations, 4: a validation set of up to 32 examples
    domain = "music"


class ChainSpeech(ChainSelection):
    """Effect-chain selection on speech."""

    name = "chain_speech"
    version = "4"  # bump on any change of sizing or protocol (tests/test_task_versions.py);
    # 3: the standard budget's search evaluations, 4: a validation set of up to 32 examples
    domain = "speech"
