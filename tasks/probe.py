"""Production-style representation probes: is the style in a frozen encoder's embedding?

Each gradient strategy's style-transfer encoder (trained for the synthetic task of the same
domain and reused, not retrained) embeds clips rendered in the five styles; a linear probe is
fitted on the train split and scored on the evaluation split. Baselines: a random-initialized
encoder of the same architecture and mel/MFCC statistics.
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
from bench.metrics import accuracy, macro_f1, per_class_f1
from bench.seeding import derive_seed
from tasks import _audio, _solve
from tasks.styles import STYLE_NAMES

PROBE_STEPS = 300


class Probe(Task):
    """Linear probe for the five production styles on frozen embeddings."""

    family = "probe"
    capabilities = Capabilities(probes_encoder=True)
    domain: ClassVar[str]
    reuses_model_of: ClassVar[str]
    main_metric = "macro_f1"
    references = ("random_encoder", "mel_stats")
    metrics = (Metric("macro_f1", True, "", "macro-averaged F1 over the five styles"),
               Metric("accuracy", True, "", "fraction of clips whose style is right"),
               *(Metric(f"f1_{s}", True, "", f"F1 of style {s}") for s in STYLE_NAMES))

    def clips(self, split: str, ctx: RunContext) -> tuple[np.ndarray, np.ndarray]:
        """Style-rendered clips of ``split`` and their labels (0…4, DeepAFx-ST order)."""
        from tasks.examples import style_examples

        per_style = (ctx.budget.train_examples // 2 if split == "train"
                     else ctx.budget.eval_examples)
        styled = style_examples(_audio.sources(self.domain, split, ctx), ctx.rate_of(split),
                                per_style=per_style, seconds=ctx.budget.clip_seconds,
                                seed=derive_seed(ctx.seed, self.name, split))
        return np.stack([e.audio for e in styled]), np.array([e.label for e in styled])

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Embed with the strategy's trained encoder, then fit and score the probe."""
        from bench.registry import registry

        synthetic = registry("task").get(self.reuses_model_of)()
        model, _ = synthetic.trained(strategy, ctx)
        return self.probe(functools.partial(embed_with, model.encoder), ctx)

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """The random-encoder and mel/MFCC-statistics baselines."""
        if which == "random_encoder":
            import torch

            from tasks._models import Encoder

            torch.manual_seed(ctx.seed)
            encoder = Encoder(ctx.budget.sample_rate).to(ctx.device).eval()
            return self.probe(functools.partial(embed_with, encoder), ctx)
        if which == "mel_stats":
            return self.probe(mel_statistics, ctx)
        raise NotImplementedError(which)

    def probe(self, embed: Any, ctx: RunContext) -> Outcome:
        """Fit a linear softmax probe on train embeddings; score on ``ctx.split``. ``embed``
        maps (clips, their sample rate) to features."""
        with ctx.timed("setup"):
            x_train, y_train = self.clips("train", ctx)
            x_eval, y_eval = self.clips(ctx.split, ctx)
        with ctx.timed("solve"):
            e_train = embed(x_train, ctx.rate_of("train"))
            e_eval = embed(x_eval, ctx.rate_of())
            predict = fit_linear_probe(e_train, y_train, len(STYLE_NAMES), ctx.seed)
            pred = predict(e_eval)
        with ctx.timed("eval"):
            n = len(STYLE_NAMES)
            metrics: dict[str, float | MetricFailure] = {
                "macro_f1": safe_metric(lambda: macro_f1(y_eval, pred, n)),
                "accuracy": safe_metric(lambda: accuracy(y_eval, pred)),
                **safe_metrics(lambda: dict(zip((f"f1_{s}" for s in STYLE_NAMES),
                                                per_class_f1(y_eval, pred, n), strict=True)),
                               [f"f1_{s}" for s in STYLE_NAMES]),
            }
        return ctx.outcome(metrics)


def embed_with(encoder: Any, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Frozen-encoder embeddings of (clips, samples) audio (at whatever rate it comes: the
    encoder was made for the training rate)."""
    return np.concatenate([e.numpy() for e in _solve.batched(encoder, audio, batch=16)])


def mel_statistics(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean and std over time of log-mel bands and of 20 MFCCs (DCT-II of the log-mel)."""
    from scipy.fft import dct

    from bench.metrics.spectral import mel_filterbank, stft_magnitude

    fb = mel_filterbank(sample_rate, 1024, 64)
    logmel = np.log(np.einsum("mf,bft->bmt", fb, stft_magnitude(audio, 1024, 256)) + 1e-5)
    mfcc = dct(logmel, type=2, axis=1, norm="ortho")[:, :20]
    return np.concatenate([logmel.mean(-1), logmel.std(-1), mfcc.mean(-1), mfcc.std(-1)], 1)


def fit_linear_probe(features: np.ndarray, labels: np.ndarray, n_classes: int,
                     seed: int) -> Any:
    """Standardize features and fit softmax regression (L-BFGS, small L2); returns a predictor."""
    import torch

    mean, std = features.mean(0), features.std(0) + 1e-8
    torch.manual_seed(seed)
    f = torch.from_numpy((features - mean) / std).double()
    y = torch.from_numpy(labels).long()
    layer = torch.nn.Linear(f.shape[1], n_classes).double()
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=PROBE_STEPS, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(f), y) + 1e-3 * layer.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return layer(torch.from_numpy((x - mean) / std).double()).argmax(1).numpy()

    return predict


class ProbeSpeech(Probe):
    """Style probe on speech clips rendered in the five styles."""

    name = "probe_speech"
    version = "3"  # 3: budget.train_examples / 2 and eval_examples clips per style (were / 5)
    domain = "speech"
    reuses_model_of = "synthetic_speech"


class ProbeMusic(Probe):
    """Style probe on music clips rendered in the five styles."""

    name = "probe_music"
    version = "3"  # 3: budget.train_examples / 2 and eval_examples clips per style (were / 5)
    domain = "music"
    reuses_model_of = "synthetic_music"
