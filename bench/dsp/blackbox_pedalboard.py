"""pedalboard's built-in (JUCE) processors as black-box effects with the reference effects' specs
where they have the same controls."""

from __future__ import annotations

from typing import Any

from bench.dsp.blackbox import BlackBoxEffect
from bench.dsp.compressor import Compressor
from bench.dsp.delay import Delay
from bench.dsp.distortion import Distortion
from bench.dsp.peq import BANDS, Peq
from bench.dsp.spec import Param


class PbPeq(BlackBoxEffect):
    """pedalboard's RBJ shelf/peak filters with the peq spec (same effect, float32 host)."""

    name = "pb_peq"
    version = "1"
    host = "pedalboard (JUCE IIR filters)"
    linear = True  # a cascade of biquads: its proxy is the filter hypernetwork, like the peq's

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """The peq spec."""
        return Peq.params(sample_rate)

    def make(self) -> Any:
        """Low shelf, four peaks, high shelf."""
        import pedalboard as pb

        kinds = {"low_shelf": pb.LowShelfFilter, "peak": pb.PeakFilter,
                 "high_shelf": pb.HighShelfFilter}
        return pb.Pedalboard([kinds[kind]() for _, kind, *_ in BANDS])

    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Cutoff, gain and Q per band."""
        for stage, (prefix, *_) in zip(plugin, BANDS, strict=True):
            stage.cutoff_frequency_hz = v[f"{prefix}_cutoff"]
            stage.gain_db = v[f"{prefix}_gain"]
            stage.q = v[f"{prefix}_q"]


class PbCompressor(BlackBoxEffect):
    """pedalboard's JUCE compressor (hard knee, no makeup): threshold, ratio, attack, release."""

    name = "pb_compressor"
    version = "1"
    host = "pedalboard (JUCE Compressor)"
    dynamics = True  # JUCE's compressor only multiplies its input by a gain: the gain computer

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """The compressor's own specs for the four controls JUCE has."""
        juce = ("threshold", "ratio", "attack", "release")
        return tuple(p for p in Compressor.params(sample_rate) if p.name in juce)

    def make(self) -> Any:
        """One JUCE compressor."""
        import pedalboard as pb

        return pb.Compressor()

    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Times go to JUCE in milliseconds."""
        plugin.threshold_db = v["threshold"]
        plugin.ratio = v["ratio"]
        plugin.attack_ms = 1000 * v["attack"]
        plugin.release_ms = 1000 * v["release"]


class PbDistortion(BlackBoxEffect):
    """pedalboard tanh distortion, first-order low-pass tone, output gain (distortion spec)."""

    name = "pb_distortion"
    version = "1"
    host = "pedalboard (JUCE Distortion, LowpassFilter, Gain)"
    analytic_gain = "output_gain"  # JUCE's Gain stage, last in the board
    hammerstein = True  # tanh (memoryless, odd) then a first-order low-pass: the shaper proxy

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """The distortion spec."""
        return Distortion.params(sample_rate)

    def make(self) -> Any:
        """Drive, tone, gain."""
        import pedalboard as pb

        return pb.Pedalboard([pb.Distortion(), pb.LowpassFilter(), pb.Gain()])

    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Map drive, tone and output gain."""
        plugin[0].drive_db = v["drive"]
        plugin[1].cutoff_frequency_hz = v["tone"]
        plugin[2].gain_db = v["output_gain"]


class PbDelay(BlackBoxEffect):
    """pedalboard's feedback delay (no damping) with the delay spec: time, feedback, mix."""

    name = "pb_delay"
    version = "1"
    host = "pedalboard (JUCE Delay)"

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """The delay spec."""
        return Delay.params(sample_rate)

    def make(self) -> Any:
        """One delay line."""
        import pedalboard as pb

        return pb.Delay()

    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Time in seconds, feedback, mix."""
        plugin.delay_seconds = v["time"]
        plugin.feedback = v["feedback"]
        plugin.mix = v["mix"]


class PbReverb(BlackBoxEffect):
    """pedalboard's Freeverb: room size, damping, wet/dry mix."""

    name = "pb_reverb"
    version = "1"
    host = "pedalboard (Freeverb)"
    fresh_per_item = True  # JUCE smooths wet/dry/room changes across reset=True

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Room size and damping as Freeverb has them, mix = wet level (dry = 1 - mix)."""
        return (
            Param("room_size", "", 0.0, 1.0, 0.5, "lin"),
            Param("damping", "", 0.0, 1.0, 0.5, "lin"),
            Param("mix", "", 0.0, 1.0, 0.25, "lin"),
        )

    def make(self) -> Any:
        """One Freeverb."""
        import pedalboard as pb

        return pb.Reverb(width=1.0)

    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Wet = mix, dry = 1 - mix."""
        plugin.room_size = v["room_size"]
        plugin.damping = v["damping"]
        plugin.wet_level = v["mix"]
        plugin.dry_level = 1.0 - v["mix"]
