"""Audio-production style transfer (DeepAFx-ST): make an input sound like a reference.

``synthetic_*``: one clip, two random chain settings — input = first half with setting A,
reference = second half with setting B, target = first half with setting B — so a target and
true parameters exist. ``realistic_*``: five named production styles, input and reference from
different recordings, every ordered style pair; the model trained for the synthetic task of the
same domain is reused, never retrained.
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
)
from bench.gradient import EffectLayer, GradientStrategy, Training
from bench.metrics import METRICS
from bench.search import SearchProblem
from bench.seeding import derive_seed
from tasks import _audio, _solve
from tasks._batches import training_batches, validation_size
from tasks.examples import ExampleSet

L1_WEIGHT = 100.0
TRAIN_FFTS = (256, 1024, 4096)


class StyleTransfer(Task):
    """Shared protocol of the style-transfer tasks (subclasses fix domain and data)."""

    family = "style_transfer"
    capabilities = Capabilities(chain=True, style_reference=True, trains_learner=True)
    effects = ("peq", "compressor")
    domain: ClassVar[str]
    main_metric = "mrstft"

    def examples(self, split: str, ctx: RunContext, n: int,
                 draw: int | None = None) -> ExampleSet:
        """``n`` examples of ``split`` (deterministic for ``ctx.seed`` and ``draw``, the number
        of a fresh training batch)."""
        raise NotImplementedError

    # -- running a strategy ----------------------------------------------------------------
    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Estimate parameters for the evaluation examples with ``strategy`` and score them."""
        with ctx.timed("setup"):
            test = self.examples(ctx.split, ctx, ctx.budget.eval_examples)
        y = self.estimate(strategy, ctx, test)
        with ctx.timed("eval"):
            ctx.save_audio({"output": y})
            outcome = self.score(y, test, ctx)
        return self.scored_further(strategy, ctx, test, outcome)

    def scored_further(self, strategy: Strategy, ctx: RunContext, test: ExampleSet,
                       outcome: Outcome) -> Outcome:
        """``outcome`` with any scores a task adds on other examples derived from ``test``
        (none here)."""
        return outcome

    def estimate(self, strategy: Strategy, ctx: RunContext, test: ExampleSet) -> np.ndarray:
        """``strategy``'s output for each (input, reference) row of ``test``."""
        sr = ctx.rate_of()
        _, y = _solve.estimate(
            strategy, ctx, self.chain, test.dry, lambda s: self.trained(s, ctx),
            lambda model: _solve.infer_params(model, test.dry, test.reference),
            lambda: SearchProblem(self.chain, sr, test.dry, style_score(test.reference, sr),
                                  ctx.counters, reference=test.reference))
        return y

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``input``: the unprocessed input; ``oracle``: the true target setting applied to the
        clean source (synthetic tasks only: realistic styles have no ground truth)."""
        test = self.examples(ctx.split, ctx, ctx.budget.eval_examples)
        if which == "input":
            known = {"target": test.wet} if test.wet is not None else {}
            ctx.save_audio({"input": test.dry, "reference": test.reference, **known})
            return self.score(test.dry, test, ctx)
        if which == "oracle" and test.wet is not None:
            # the true target setting through the reference DSP on the clean source: that is
            # how the target was made, so this row marks each metric's attainable optimum
            return self.score(test.wet, test, ctx)
        raise NotImplementedError(which)

    def score(self, y: np.ndarray, test: ExampleSet, ctx: RunContext) -> Outcome:
        """Every declared metric of ``y`` against the target (or the reference)."""
        against = test.wet if test.wet is not None else test.reference
        sr = ctx.rate_of()
        metrics: dict[str, float | MetricFailure] = {  # a task's own metrics score apart
            m.name: safe_metric(functools.partial(METRICS[m.name].fn, y, against, sr))
            for m in self.metrics if m.name in METRICS
        }
        return ctx.outcome(metrics)

    # -- the learner --------------------------------------------------------------------------
    def trained(self, strategy: GradientStrategy,
                ctx: RunContext) -> tuple[Any, EffectLayer]:
        """The encoder+controller trained through ``strategy`` (cached; see subclasses)."""
        raise NotImplementedError


def style_score(reference: np.ndarray, sample_rate: int) -> Any:
    """Search loss for gradient-free strategies: production-style distance to the reference.

    The reference is another recording, so waveforms cannot be compared: the loss is the L1
    distance of mean log-mel spectra (timbre) plus RMS and crest-factor differences in dB/10
    (level and dynamics).
    """
    from bench.metrics import crest_factor_db, rms_db
    from bench.metrics.spectral import mel_filterbank, stft_power

    fb = mel_filterbank(sample_rate, 1024, 64)

    def descriptor(y: np.ndarray) -> np.ndarray:
        mel = stft_power(y, 1024, 256).mean(-1) @ fb.T  # frames first: 40x faster than after
        return np.concatenate([10 * np.log10(mel + 1e-10) / 10,
                               rms_db(y)[:, None] / 10, crest_factor_db(y)[:, None] / 10], 1)

    ref_desc = descriptor(reference)

    def score(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.abs(descriptor(y) - ref_desc[idx]).mean(axis=1)

    return score


# -- synthetic -----------------------------------------------------------------------------
class SyntheticStyleTransfer(StyleTransfer):
    """Self-supervised pairs from one clip and two random chain settings."""

    def examples(self, split: str, ctx: RunContext, n: int,
                 draw: int | None = None) -> ExampleSet:
        """Input/reference/target triples with the target setting as true parameters."""
        from tasks.examples import style_transfer_pairs

        sr, half = ctx.rate_of(split), ctx.budget.clip_seconds
        pairs = style_transfer_pairs(_audio.sources(self.domain, split, ctx), sr, n=n,
                                     seconds=half, seed=_audio.example_seed(ctx, self.name, split,
                                                                            draw),
                                     effects=self.effects)
        x, reference, target = (np.stack([getattr(q, f) for q in pairs])
                                for f in ("input", "reference", "target"))
        return ExampleSet(x, target, reference=reference,
                          params=np.stack([q.target_setting.normalized for q in pairs]))

    def trained(self, strategy: GradientStrategy,
                ctx: RunContext) -> tuple[Any, EffectLayer]:
        """Train (or load) the learner on this domain's synthetic training pairs; cached by
        everything that determines the result."""
        training, layer = self.training(strategy, ctx)
        model = _solve.fit_cached(self, strategy, training, ctx, "style_model",
                                  {"chain": list(self.effects)})
        return model, layer

    def training(self, strategy: GradientStrategy,
                 ctx: RunContext) -> tuple[Training, EffectLayer]:
        """Encoder + controller set up to train end to end through the strategy's effect layer
        on an audio loss (MR-STFT + L1), and that layer."""
        import torch

        from bench.metrics import mrstft_loss
        from tasks._models import StyleModel

        sr, budget = ctx.budget.sample_rate, ctx.budget
        torch.manual_seed(ctx.seed)
        model = StyleModel(sr, self.chain.n_params, init=self.chain.neutral(sr)).to(ctx.device)
        rng = np.random.default_rng(ctx.seed)
        with ctx.timed("setup"):
            batches = training_batches(lambda n, draw: self.examples("train", ctx, n, draw),
                                       lambda e: len(e.dry), budget, rng)
            val = self.examples("val", ctx, validation_size(budget))
            layer = strategy.effect_layer(self.chain, sr, ctx,
                                          _audio.proxy_audio(self.domain, ctx))
        loss_fn = mrstft_loss(TRAIN_FFTS)

        def audio_loss(y: Any, target: Any) -> Any:
            return loss_fn(y[:, None], target[:, None]) + L1_WEIGHT * (y - target).abs().mean()

        def batch_loss(step: int) -> Any:
            train, rows = batches(step)
            x, ref, tgt = ctx.tensors(train.dry[rows], train.reference[rows], train.wet[rows])
            return audio_loss(layer(x, model(x, ref)), tgt)

        def val_loss() -> float:
            x, ref, tgt = ctx.tensors(val.dry, val.reference, val.wet)
            return float(audio_loss(layer(x, model(x, ref)), tgt))

        return Training([model], batch_loss, val_loss, [layer]), layer


class SyntheticSpeech(SyntheticStyleTransfer):
    """Synthetic style transfer on speech (held-out speakers); PESQ included."""

    name = "synthetic_speech"
    version = "2"  # 2: a validation set of up to 32 examples (was 8)
    domain = "speech"
    metrics = tuple(METRICS[m].metric for m in ("mrstft", "pesq", "msd", "sce", "rms", "lufs"))


class SyntheticMusic(SyntheticStyleTransfer):
    """Synthetic style transfer on music (held-out songs and pieces)."""

    name = "synthetic_music"
    version = "2"  # 2: a validation set of up to 32 examples (was 8)
    domain = "music"
    metrics = tuple(METRICS[m].metric for m in ("mrstft", "msd", "sce", "rms", "lufs"))


# -- realistic -----------------------------------------------------------------------------
PAIR_EXAMPLES_SCALE = 2
"""Realistic tasks evaluate about twice the budget's evaluation examples: 4 per style pair at
standard (100), where one per pair (25) left a task's mean MSD to single clips (DeepAFx-ST: 10)."""


ONE_RECORDING = Metric(
    "msd_one_recording", False, "",
    "MSD on the same style pairs with input and reference cut from one recording (the two "
    "halves of one window), as in the synthetic pairs the learners train on: the gap to msd "
    "is what the cross-recording reference costs")

TRUE_SETTING = "true_setting"
"""The realistic tasks' reference row of the one-recording pairs restyled exactly: each input's
clip in its reference's own setting."""


class RealisticStyleTransfer(StyleTransfer):
    """Five production styles; input and reference are different recordings; 25 style pairs.
    Each run also scores the same pairs with both clips cut from one recording
    (:data:`ONE_RECORDING`): the ablation of the recording change."""

    main_metric = "msd"
    references = ("input", TRUE_SETTING)
    metrics = (*(METRICS[m].metric for m in ("msd", "sce", "rms", "lufs")), ONE_RECORDING)

    @property
    def synthetic(self) -> SyntheticStyleTransfer:
        """The synthetic task of the same domain, whose trained model this task evaluates."""
        from bench.registry import registry

        return registry("task").get(self.reuses_model_of)()

    def examples(self, split: str, ctx: RunContext, n: int) -> ExampleSet:
        """About ``PAIR_EXAMPLES_SCALE * n`` examples over the 25 ordered style pairs (at least
        one per pair), input ≠ reference recording."""
        from tasks.examples import style_examples
        from tasks.styles import STYLES

        sr, seconds = ctx.rate_of(split), ctx.budget.clip_seconds
        per_pair = max(1, round(PAIR_EXAMPLES_SCALE * n / len(STYLES) ** 2))
        styled = style_examples(_audio.sources(self.domain, split, ctx), sr,
                                per_style=max(2, per_pair * len(STYLES)), seconds=seconds,
                                seed=derive_seed(ctx.seed, self.name, split))
        by_style = {s: [e for e in styled if e.style == s] for s in STYLES}
        rng = np.random.default_rng(derive_seed(ctx.seed, self.name, split, "pairs"))
        x, ref, labels = [], [], []
        for a in STYLES:
            for b in STYLES:
                for _ in range(per_pair):
                    inp = by_style[a][rng.integers(len(by_style[a]))]
                    others = [e for e in by_style[b] if e.source != inp.source] or by_style[b]
                    r = others[rng.integers(len(others))]
                    x.append(inp.audio)
                    ref.append(r.audio)
                    labels.append(f"{a}->{b}")
        return ExampleSet(np.stack(x), None, reference=np.stack(ref), labels=labels)

    def one_recording(self, test: ExampleSet, ctx: RunContext) -> ExampleSet:
        """``test``'s style pairs, row for row, with input and reference cut from one
        recording (:func:`tasks.examples.one_recording_style_pairs`); ``wet`` holds each
        row's input clip in the reference's own setting (:data:`TRUE_SETTING`)."""
        from tasks.examples import one_recording_style_pairs

        split = ctx.split
        x, ref, restyled = one_recording_style_pairs(
            _audio.sources(self.domain, split, ctx), ctx.rate_of(split),
            pairs=[tuple(label.split("->")) for label in test.labels],
            seconds=ctx.budget.clip_seconds,
            seed=derive_seed(ctx.seed, self.name, split, "one recording"))
        return ExampleSet(x, restyled, reference=ref, labels=test.labels)

    def scored_further(self, strategy: Strategy, ctx: RunContext, test: ExampleSet,
                       outcome: Outcome) -> Outcome:
        """``outcome`` plus the MSD of the same strategy on ``test``'s one-recording pairs."""
        with ctx.timed("setup"):
            same = self.one_recording(test, ctx)
        y = self.estimate(strategy, ctx, same)
        with ctx.timed("eval"):
            outcome.metrics[ONE_RECORDING.name] = self.one_recording_msd(y, same, ctx)
        return outcome

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``input``: the input's scores, plus its MSD on the one-recording pairs;
        ``true_setting``: the MSD on those pairs of the input's clip in the reference's own
        setting, a transfer that recovers the reference's processing exactly (not an oracle:
        the content differs, and matching long-term spectra can score lower); it has no
        cross-recording scores (those pairs have no clean input to re-style)."""
        same = self.one_recording(self.examples(ctx.split, ctx, ctx.budget.eval_examples), ctx)
        if which == TRUE_SETTING:
            return ctx.outcome({ONE_RECORDING.name: self.one_recording_msd(same.wet, same, ctx)})
        outcome = super().reference(which, ctx)
        outcome.metrics[ONE_RECORDING.name] = self.one_recording_msd(same.dry, same, ctx)
        return outcome

    @staticmethod
    def one_recording_msd(y: np.ndarray, same: ExampleSet,
                          ctx: RunContext) -> float | MetricFailure:
        """MSD of ``y`` against the one-recording references."""
        return safe_metric(functools.partial(METRICS["msd"].fn, y, same.reference,
                                             ctx.rate_of()))

    def trained(self, strategy: GradientStrategy,
                ctx: RunContext) -> tuple[Any, EffectLayer]:
        """The synthetic task's model for the same strategy, params and seed (reused)."""
        return self.synthetic.trained(strategy, ctx)

    def score(self, y: np.ndarray, test: ExampleSet, ctx: RunContext) -> Outcome:
        """Averages over all pairs, plus a per-pair table in the extra facts."""
        outcome = super().score(y, test, ctx)
        sr, table = ctx.rate_of(), {}
        labels = np.array(test.labels)
        for pair in dict.fromkeys(test.labels):
            rows = labels == pair
            table[pair] = {m.name: safe_metric(functools.partial(
                METRICS[m.name].fn, y[rows], test.reference[rows], sr))
                for m in self.metrics if m.name in METRICS}
        outcome.extra["per_pair"] = {
            pair: {k: (v if isinstance(v, float) else None) for k, v in row.items()}
            for pair, row in table.items()}
        return outcome


class RealisticSpeech(RealisticStyleTransfer):
    """Realistic style transfer on speech: five styles, all 25 ordered pairs."""

    name = "realistic_speech"
    version = "4"  # 4: msd_one_recording; 3: about 2 x eval_examples over the 25 pairs
    domain = "speech"
    reuses_model_of = "synthetic_speech"


class RealisticMusic(RealisticStyleTransfer):
    """Realistic style transfer on music: five styles, all 25 ordered pairs."""

    name = "realistic_music"
    version = "4"  # 4: msd_one_recording; 3: about 2 x eval_examples over the 25 pairs
    domain = "music"
    reuses_model_of = "synthetic_music"
