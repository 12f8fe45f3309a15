"""Simultaneous-perturbation gradient estimates through the reference DSP (DeepAFx, 2021)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.base import RunContext
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy


class Spsa(GradientStrategy):
    """Reference DSP forward; two-sided SPSA backward with Rademacher perturbations."""

    name = "spsa"
    version = "1"
    defaults = {**GradientStrategy.defaults, "epsilon": 0.005, "perturbations": 2}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Learning rate, perturbation size ε and perturbations per step."""
        return {**super().search_space(trial),
                "epsilon": trial.suggest_float("epsilon", 1e-4, 5e-2, log=True),
                "perturbations": trial.suggest_int("perturbations", 1, 8, log=True)}

    def effect_layer(self, chain: Chain, sample_rate: int, ctx: RunContext,
                     audio: TrainingAudio) -> EffectLayer:
        """An SPSA layer seeded from the run's seed."""
        from strategies._layers import SpsaConfig, SpsaLayer

        return SpsaLayer(SpsaConfig(
            chain=chain, sample_rate=sample_rate, epsilon=float(self.params["epsilon"]),
            perturbations=int(self.params["perturbations"]),
            rng=np.random.default_rng(ctx.seed), counters=ctx.counters,
        ))
