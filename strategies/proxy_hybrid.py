"""Reference-DSP forward with the proxies' gradient (straight-through; DeepAFx-ST NP-FH fixed)."""

from __future__ import annotations

from typing import Any

from bench.base import RunContext
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy
from strategies._proxy_config import AUTO_MODEL, proxy_search_space


class ProxyHybrid(GradientStrategy):
    """Training forward through the DSP, gradient through frozen proxies; DSP at inference.

    DeepAFx-ST's NP-FH never trained this way (an enum comparison reset it to proxy-only).
    """

    name = "proxy_hybrid"
    version = "6"  # 2: the EQ (every linear effect) gets the filter hypernetwork proxy; 3: the
    # compressor (every dynamics effect) gets the gain computer; 4: the distortion (every
    # Hammerstein effect) gets the waveshaper + filter; 5: the filter
    # hypernetwork is per-section coordinate networks pre-trained on a log-spectral distance
    # (new EQ proxies); 6: standard proxies stop when their gates held at two consecutive
    # measurements on a fifth of the clips held out (was one measurement, a tenth), with
    # both outputs of a clip at a common level (-20 dBFS RMS for the reference)
    defaults = {**GradientStrategy.defaults, "arch": "tcn", "model": AUTO_MODEL}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Learning rate and proxy architecture."""
        return {**super().search_space(trial), **proxy_search_space(trial)}

    def effect_layer(self, chain: Chain, sample_rate: int, ctx: RunContext,
                     audio: TrainingAudio) -> EffectLayer:
        """A straight-through layer over the chain's cached pre-trained proxies (``model``: a
        cell of the effect-model grid for every effect instead of the default proxies)."""
        from strategies._proxies import HybridLayer
        from strategies._proxy_store import proxy_chain

        proxies = proxy_chain(chain, sample_rate, ctx, audio, str(self.params["arch"]),
                              str(self.params["model"]))
        return HybridLayer(proxies, chain, sample_rate)
