"""Frozen pre-trained neural proxies of the effects, forward and backward (DeepAFx-ST NP)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.base import RunContext
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy
from strategies._proxy_config import AUTO_MODEL, proxy_search_space

PROFILE_PRETRAIN_STEPS = 40
"""Pre-training steps per variant in the step profiler's throughput comparison."""


class NeuralProxy(GradientStrategy):
    """Proxy forward and gradient in training; proxy (or, NP-HH, the DSP) at inference."""

    name = "neural_proxy"
    version = "6"  # 2: the EQ (every linear effect) gets the filter hypernetwork proxy; 3: the
    # compressor (every dynamics effect) gets the gain computer; 4: the distortion (every
    # Hammerstein effect) gets the waveshaper + filter; 5: the filter
    # hypernetwork is per-section coordinate networks pre-trained on a log-spectral distance
    # (new EQ proxies); 6: standard proxies stop when their gates held at two consecutive
    # measurements on a fifth of the clips held out (was one measurement, a tenth), with
    # both outputs of a clip at a common level (-20 dBFS RMS for the reference)
    defaults = {**GradientStrategy.defaults, "arch": "tcn", "model": AUTO_MODEL,
                "dsp_inference": False}
    models_effect = True

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Learning rate and proxy architecture."""
        return {**super().search_space(trial), **proxy_search_space(trial)}

    def effect_layer(self, chain: Chain, sample_rate: int, ctx: RunContext,
                     audio: TrainingAudio) -> EffectLayer:
        """The chain of cached pre-trained proxies (pre-trained on ``audio`` on a cache miss);
        ``model`` names a cell of the effect-model grid (``tcn-film``, ``gru-hyper`` …) every
        effect gets instead of the default proxies, recorded in the run's params and in each
        proxy's facts (``extra["proxies"][effect]["arch"]``)."""
        from strategies._proxy_store import proxy_chain

        return proxy_chain(chain, sample_rate, ctx, audio, str(self.params["arch"]),
                           str(self.params["model"]))

    def benchmarks(self, layer: EffectLayer, ctx: RunContext) -> dict[str, Any]:
        """Pre-training throughput of each proxy, plain torch against fast kernels (same seed,
        same steps), with the fidelity both reach; and each proxy's step against the floor of
        its convolutions."""
        from strategies._proxies import convolution_floor, pretraining_throughput

        b = ctx.budget
        samples = round(b.clip_seconds * b.sample_rate)
        floors = {job.effect.name: convolution_floor(proxy, b.batch_size, samples)
                  for job, proxy in zip(layer.jobs, layer.distinct(), strict=True)}
        return {"pretraining": [pretraining_throughput(job, PROFILE_PRETRAIN_STEPS)
                                for job in layer.jobs],
                "convolution_floor": {k: v for k, v in floors.items() if v is not None}}

    def infer_audio(self, layer: EffectLayer, chain: Chain, x: np.ndarray, p: np.ndarray,
                    sample_rate: int, ctx: RunContext) -> np.ndarray:
        """The proxies render, unless ``dsp_inference`` (half hybrid): then the reference DSP."""
        if self.params["dsp_inference"]:
            return super().infer_audio(layer, chain, x, p, sample_rate, ctx)
        from strategies._proxies import proxy_render

        return proxy_render(layer, x, p)
