"""Effect modeling: how faithful a strategy's learned model of an effect is, and what it costs.

``modeling_<effect>``: a gradient strategy whose effect layer is a learned model of the effect
(``GradientStrategy.models_effect``: ``neural_proxy`` with its default proxies or any grid cell,
``modeling`` with a cell of the architecture × conditioning grid) pre-trains it on (input,
parameters, output) examples the reference DSP renders from the domain's training audio, then
freezes it. Here it is evaluated on held-out clips of the run's split (validation while tuning,
test in final runs) at random levels and uniform random parameters it never saw (analytic
output gains at 0 dB: the proxies apply them exactly), against the reference DSP:

- fidelity: MR-STFT (DeepAFx-ST's), error-to-signal ratio, LUFS error, each example's pair
  at the one level that puts the DSP's output at −20 dBFS RMS (as the proxies' fidelity);
- aliasing: the share of a stepped sine sweep's output energy at non-harmonic frequencies
  (:mod:`bench.metrics.modeling`), at a few of the held-out settings;
- cost: CPU real-time factor of its forward pass (one thread), trained weights, CPU seconds
  of pre-training.

The ``dsp`` reference row is the reference DSP measured the same way: zero error, its own
aliasing and real-time factor. Nothing else is trained; the strategies without a learned model
and the searches skip. One task per effect: the five reference effects and one VST3 plugin
(ZamComp), which skips with its reason where zam-plugins is not installed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.base import (
    Capabilities,
    Counters,
    Metric,
    MetricFailure,
    Outcome,
    RunContext,
    Solver,
    Strategy,
    Task,
    safe_metric,
    safe_metrics,
)
from bench.metrics import METRICS
from bench.metrics.modeling import (
    SineSweep,
    aliasing_per_tone,
    at_common_level,
    esr_per_example,
    measurable_lufs_error,
    sine_sweep,
)
from bench.seeding import derive_seed
from tasks import _audio

PEAK_DB = (-30.0, 0.0)
"""Held-out clips are scaled to a uniformly random peak level (dBFS) in this range."""
ALIASING_SETTINGS = 4
"""Held-out settings (the first ones) at which the sine sweep is played."""
VALIDATION_SEED = 0
"""Base seed of the validation examples, whatever the study's seed."""
WARM_UP_SAMPLES = 1024
"""Samples a model renders before its real-time factor is timed."""

MODEL_METRICS = (
    METRICS["mrstft"].metric,
    Metric("esr", False, "", "error-to-signal ratio Σ(y − t)² / Σt², mean over examples"),
    METRICS["lufs"].metric,
    Metric("aliasing", False, "", "share of a stepped sine sweep's output energy at "
           "non-harmonic frequencies (0: none), mean over tones and settings"),
    Metric("rtf", False, "s/s", "CPU seconds of the forward pass per second of audio (one "
           "thread): below 1 is faster than real time"),
    Metric("parameters", False, "", "trained weights of the model"),
    Metric("train_s", False, "s", "CPU seconds the model's pre-training took"),
)
FIDELITY = ("mrstft", "esr", "lufs")


@dataclass(frozen=True)
class HeldOut:
    """Held-out examples: dry clips, parameters, the reference DSP's output, and the sine sweep
    with the settings it is played at and the DSP's output for it."""

    dry: np.ndarray
    p: np.ndarray
    target: np.ndarray
    dsp_seconds: float
    sweep: SineSweep
    sweep_p: np.ndarray

    def sweep_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every tone at every sweep setting: inputs (settings·tones, samples) and parameters."""
        tones = self.sweep.signals().astype(np.float32)
        return (np.tile(tones, (len(self.sweep_p), 1)),
                np.repeat(self.sweep_p, len(tones), axis=0))


class EffectModeling(Task):
    """Shared protocol of the modeling tasks (subclasses name the effect)."""

    family = "modeling"
    capabilities = Capabilities(chain=True, models_effect=True)
    main_metric = "mrstft"
    metrics = MODEL_METRICS
    references: ClassVar[tuple[str, ...]] = ("dsp",)
    domain: ClassVar[str] = "music"
    """The corpus the models are trained and evaluated on (music: the wider band)."""

    def skip_reason(self, strategy: Strategy) -> str | None:
        """An effect that cannot run here (a missing plugin) keeps every strategy out."""
        reason = self.chain.why_unavailable()
        return f"effect unavailable ({reason})" if reason else None

    def held_out(self, ctx: RunContext) -> HeldOut:
        """The split's examples, rendered by the reference DSP (counted apart from the
        strategy's work): the test examples of ``ctx``'s seed (final runs: the same for every
        strategy), the same validation examples for every study, so that every model tuned on
        any seed is measured on one set."""
        from tasks.examples import modeling_examples

        sr, b = ctx.budget.sample_rate, ctx.budget
        seed = (_audio.example_seed(ctx, self.name, ctx.split) if ctx.split == "test"
                else derive_seed(VALIDATION_SEED, self.name, ctx.split))
        dry, p = modeling_examples(
            _audio.sources(self.domain, ctx.split, ctx), sr, n=b.eval_examples,
            seconds=b.clip_seconds, seed=seed, n_params=self.chain.n_params, peak_db=PEAK_DB)
        p = self.unit_gains(p, sr)
        target, seconds = cpu_timed(self.dsp(sr), dry, p)
        memory = max(e.memory_seconds for e in self.chain.effects)
        return HeldOut(dry, p, target, seconds, sine_sweep(sr, memory),
                       p[:min(ALIASING_SETTINGS, len(p))])

    def dsp(self, sample_rate: int) -> Any:
        """The reference DSP as a model ``(x, p) -> y`` (renders counted apart from any
        strategy's, on this thread)."""
        return lambda x, p: Counters().render(self.chain, x, p, sample_rate, workers=1)

    def unit_gains(self, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """``p`` with every analytic output gain (``Effect.analytic_gain``, e.g. the makeup)
        at 0 dB: a proxy applies it exactly, so it would tell models apart by level alone, and
        its ±48 dB would let the loudest examples decide the spectral distances."""
        p, start = p.copy(), 0
        for effect in self.chain.effects:
            specs = effect.params(sample_rate)
            for i, spec in enumerate(specs):
                if spec.name == effect.analytic_gain:
                    p[:, start + i] = spec.to_normalized(0.0)
            start += len(specs)
        return p

    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Measure ``strategy``'s model of the effect (gradient strategies with a learned
        model only: the others skip, see ``Capabilities.models_effect``)."""

        def searched(s: Any) -> Outcome:
            raise TypeError(f"{s.name} has no model of the effect to measure")

        return strategy.accept(Solver(lambda s: self.measure(s, ctx), searched))

    def measure(self, strategy: Any, ctx: RunContext) -> Outcome:
        """Pre-train (or load) the strategy's model, render the held-out examples and the sweep
        with it, and score it against the reference DSP."""
        from strategies._proxies import proxy_render

        sr = ctx.budget.sample_rate
        with ctx.timed("setup"):
            layer = strategy.effect_layer(self.chain, sr, ctx,
                                          _audio.proxy_audio(self.domain, ctx))
            data = self.held_out(ctx)
        with ctx.timed("solve"):
            y, seconds = cpu_timed(lambda x, p: proxy_render(layer, x, p), data.dry, data.p)
        with ctx.timed("eval"):
            metrics = fidelity(y, data.target, sr)
            metrics["aliasing"] = self.aliasing(lambda x, p: proxy_render(layer, x, p), data)
            metrics["rtf"] = seconds / (data.dry.size / sr)
            metrics["parameters"] = float(sum(t.numel() for t in layer.parameters()))
            metrics["train_s"] = training_seconds(ctx.extra.get("proxies", {}))
        ctx.save_audio({"output": y})
        return ctx.outcome(metrics)

    def aliasing(self, model: Any, data: HeldOut) -> float | MetricFailure:
        """Mean non-harmonic energy share of ``model(x, p)`` (its output) over the sweep's
        tones and settings."""
        x, p = data.sweep_inputs()
        tones = len(data.sweep.bins)

        def share() -> float:
            out = np.asarray(model(x, p))
            return float(np.mean([aliasing_per_tone(out[i:i + tones], data.sweep)
                                  for i in range(0, len(out), tones)]))

        return safe_metric(share)

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``dsp``: the reference DSP measured as a model of itself (zero error, its own
        aliasing and real-time factor, nothing trained); it also saves the listening
        examples' input and target."""
        if which != "dsp":
            raise NotImplementedError(which)
        sr = ctx.budget.sample_rate
        data = self.held_out(ctx)
        metrics = fidelity(data.target, data.target, sr)
        metrics["aliasing"] = self.aliasing(self.dsp(sr), data)
        metrics["rtf"] = data.dsp_seconds / (data.dry.size / sr)
        metrics["parameters"] = metrics["train_s"] = 0.0
        ctx.save_audio({"input": data.dry, "target": data.target})
        return ctx.outcome(metrics)


def fidelity(y: np.ndarray, target: np.ndarray,
             sample_rate: int) -> dict[str, float | MetricFailure]:
    """MR-STFT, ESR and LUFS error (mean over the examples where loudness is defined) of
    ``y`` against ``target`` (examples, samples), each example's pair at the common level the
    proxies' fidelity uses (``at_common_level``): raw, uniform random EQ settings stack boosts
    to +28 dBFS, where MR-STFT's linear term grows with level, so a few loud examples decided
    the mean (the committed EQ proxy scored 5.93, 0.853 and 0.480 on three seeds' test clips)."""
    target, y = at_common_level(target, y)
    return safe_metrics(lambda: {
        "mrstft": METRICS["mrstft"].fn(y, target, sample_rate),
        "esr": float(np.mean(esr_per_example(y, target))),
        "lufs": measurable_lufs_error(y, target, sample_rate)}, FIDELITY)


def cpu_timed(model: Any, x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, float]:
    """``model(x, p)`` and the CPU seconds it took (this process: one thread's work, as runs
    limit torch and the renders to one), after a warm-up on a short excerpt so that
    compilation and first-call costs are left out."""
    model(x[:1, :WARM_UP_SAMPLES], p[:1])
    start = time.process_time()
    out = model(x, p)
    return out, time.process_time() - start


def training_seconds(proxies: dict[str, dict[str, Any]]) -> float | MetricFailure:
    """CPU seconds of pre-training over the models of the chain's effects (wall seconds for a
    model cached before its CPU time was recorded), from the facts ``effect_layer`` reported."""
    total = 0.0
    for facts in proxies.values():
        known = [facts[k] for k in ("pretrain_cpu_s", "cpu_s", "pretrain_s") if k in facts]
        if not known:
            return MetricFailure("a model reported no pre-training time")
        total += float(known[0])
    return total


class ModelingPeq(EffectModeling):
    """Effect modeling of the six-band parametric EQ."""

    name = "modeling_peq"
    version = "2"  # 2: fidelity at a common level (``fidelity``)
    effects = ("peq",)


class ModelingCompressor(EffectModeling):
    """Effect modeling of the compressor."""

    name = "modeling_compressor"
    version = "2"  # 2: fidelity at a common level (``fidelity``)
    effects = ("compressor",)


class ModelingDistortion(EffectModeling):
    """Effect modeling of the distortion (waveshaper and tone filter)."""

    name = "modeling_distortion"
    version = "2"  # 2: fidelity at a common level (``fidelity``)
    effects = ("distortion",)


class ModelingDelay(EffectModeling):
    """Effect modeling of the feedback delay."""

    name = "modeling_delay"
    version = "2"  # 2: fidelity at a common level (``fidelity``)
    effects = ("delay",)


class ModelingReverb(EffectModeling):
    """Effect modeling of the noise reverb."""

    name = "modeling_reverb"
    version = "2"  # 2: fidelity at a common level (``fidelity``)
    effects = ("reverb",)


class ModelingZamComp(EffectModeling):
    """Effect modeling of the ZamComp VST3 plugin (a black box)."""

    name = "modeling_zam_comp"
    version = "2"  # 2: fidelity at a common level (``fidelity``)
    effects = ("zam_comp",)
