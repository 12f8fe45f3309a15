"""Automatic differentiation through the exact differentiable DSP chain."""

from __future__ import annotations

from bench.base import RunContext
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy


class Autodiff(GradientStrategy):
    """Exact autograd through the differentiable effect chain (DeepAFx-ST, DDSP)."""

    name = "autodiff"
    version = "1"
    needs_torch_effect = True

    def effect_layer(self, chain: Chain, sample_rate: int, ctx: RunContext,
                     audio: TrainingAudio) -> EffectLayer:
        """The exact differentiable chain."""
        from strategies._layers import ExactLayer

        return ExactLayer(chain, sample_rate, ctx.counters)
