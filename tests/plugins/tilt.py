"""A new effect added in one file: a first-order tilt EQ with an output gain (test-only plugin).

``tilt`` declares every fact other parts need — its neutral setting, memory, analytic output
gain, linearity, rule-based matching rule and place in chain selection's effect library — and
nothing else in the tree names it. The toy tasks below run the style-transfer, blind-estimation
and effect-modeling protocols on a chain of it, and chain selection on the library it joined.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bench.dsp._xp import column
from bench.dsp.spec import DspEffect, Param
from tasks.blind import BlindMusic, blind_metrics
from tasks.chain import ChainMusic
from tasks.modeling import EffectModeling
from tasks.style_transfer import RealisticMusic, SyntheticMusic

EFFECTS = ("tilt",)


class Tilt(DspEffect):
    """First-order tilt EQ and output gain: y = g·((1 + t)·x[n] − t·x[n − 1])."""

    name = "tilt"
    version = "1"
    neutral = {"tilt": 0.0, "gain": 0.0}
    memory_seconds = 0.001
    analytic_gain = "gain"
    linear = True
    matching_rule = "eq"
    chain_selection_rank = 4  # after the built-in peq, compressor and distortion

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Tilt (−0.5 darker … +0.5 brighter) and output gain (dB)."""
        return (Param("tilt", "", -0.5, 0.5, 0.0, "lin"),
                Param("gain", "dB", -12.0, 12.0, 0.0, "lin"))

    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """One-sample difference blended into the input, then the gain."""
        previous = xp.zeros_like(x)
        previous[..., 1:] = x[..., :-1]
        t = column(v["tilt"])
        return 10 ** (column(v["gain"]) / 20) * ((1 + t) * x - t * previous)


class SyntheticTilt(SyntheticMusic):
    """Synthetic style transfer on music through the tilt EQ."""

    name = "synthetic_music_tilt"
    version = "1"
    toy = True
    effects = EFFECTS


class RealisticTilt(RealisticMusic):
    """Realistic style transfer on music through the tilt EQ (reuses the synthetic model)."""

    name = "realistic_music_tilt"
    version = "1"
    toy = True
    effects = EFFECTS
    reuses_model_of = "synthetic_music_tilt"


class BlindTilt(BlindMusic):
    """Blind estimation of the tilt EQ on music."""

    name = "blind_music_tilt"
    version = "1"
    toy = True
    effects = EFFECTS
    metrics = blind_metrics(EFFECTS)


class ChainTilt(ChainMusic):
    """Chain selection on music with the tilt EQ in the library: which single effect it was."""

    name = "chain_music_tilt"
    version = "1"
    toy = True
    max_effects = 1  # one candidate per library effect: the smoke run stays quick


class ModelingTilt(EffectModeling):
    """Effect modeling of the tilt EQ: the grid's cells and the proxies against its DSP."""

    name = "modeling_tilt"
    version = "1"
    toy = True
    effects = ("tilt",)
