"""Black-box effects behind the same parameter-spec interface: pedalboard built-ins and VST3s.

They render with ``process`` like the reference DSP (float32 inside the host, each batch item
as one mono clip, state reset per call for determinism) but have no torch implementation:
``torch_process`` raises :class:`NotDifferentiable`. VST3 plugins come from Debian's
zam-plugins; a missing plugin file leaves the effect registered with ``available()`` saying why.
pedalboard is imported on first use; plugin instances are cached per thread (not thread-safe).
"""

from __future__ import annotations

import os
import queue
import threading
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.dsp.compressor import Compressor
from bench.dsp.delay import Delay
from bench.dsp.distortion import Distortion
from bench.dsp.peq import BANDS, Peq, cutoff_param
from bench.dsp.spec import Effect, NotDifferentiable, Param

VST3_DIRS = ("/usr/lib/vst3", "/usr/local/lib/vst3", "~/.vst3")
VST3_ENV = "AFX_BENCH_VST3_PATH"
ZAM_INSTALL = "apt-get install zam-plugins"


class BlackBoxEffect(Effect):
    """An external processor: reference rendering only, gradients must be estimated."""

    differentiable: ClassVar[bool] = False
    host: ClassVar[str]
    fresh_per_item: ClassVar[bool] = False
    """True when state survives ``reset=True`` (e.g. parameter smoothing): a new processor is
    then built for every item so that results never depend on the previous item."""

    def __init__(self) -> None:
        self._local = threading.local()

    @classmethod
    def why_not_differentiable(cls) -> str | None:
        """Black boxes expose audio in, audio out: no gradients."""
        return f"{cls.name} runs inside {cls.host} (a black box): no gradient is available"

    @classmethod
    def available(cls) -> str | None:
        """None when pedalboard imports, else the reason."""
        try:
            import pedalboard  # noqa: F401
        except ImportError as exc:
            return f"pedalboard is not importable ({exc}); install with: pip install pedalboard"
        return None

    @abstractmethod
    def make(self) -> Any:
        """A new host-side processor."""

    @abstractmethod
    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Set the processor's parameters from one item's physical values."""

    def torch_process(self, x: Any, p: Any, sample_rate: int) -> Any:
        """Always raises: black boxes have no differentiable implementation."""
        raise NotDifferentiable(self.why_not_differentiable())

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """Render each batch item as a mono clip, from a freshly reset processor."""
        p = self.check(x, np.asarray(p), sample_rate)
        values = self.physical(p, sample_rate)
        out = np.empty_like(x)
        with self.processor() as plugin:
            for b in range(x.shape[0]):
                proc = self.make() if self.fresh_per_item else plugin
                self.configure(proc, {k: float(v[b]) for k, v in values.items()}, sample_rate)
                proc.reset()  # not process(reset=True): VST3s only allow that on the main thread
                clip = np.ascontiguousarray(x[b][None], dtype=np.float32)
                out[b] = proc.process(clip, sample_rate, reset=False)[0]
        return out

    @contextmanager
    def processor(self) -> Iterator[Any]:
        """This thread's processor (host objects are not thread-safe)."""
        plugin = getattr(self._local, "plugin", None)
        if plugin is None:
            plugin = self._local.plugin = self.make()
        yield plugin


class PbPeq(BlackBoxEffect):
    """pedalboard's RBJ shelf/peak filters with the peq spec (same effect, float32 host)."""

    name = "pb_peq"
    version = "1"
    host = "pedalboard (JUCE IIR filters)"

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


def find_vst3(bundle: str) -> Path | None:
    """The first ``bundle``.vst3 in $AFX_BENCH_VST3_PATH (os.pathsep list) or the usual dirs."""
    extra = [d for d in os.environ.get(VST3_ENV, "").split(os.pathsep) if d]
    for folder in (*extra, *VST3_DIRS):
        path = Path(folder).expanduser() / f"{bundle}.vst3"
        if path.exists():
            return path
    return None


class Vst3Effect(BlackBoxEffect):
    """A mono Linux VST3 plugin loaded with pedalboard.load_plugin; parameters set by name.

    pedalboard loads VST3s only on the main thread, so instances are loaded there (one when the
    effect is created, more on demand) and lent to whichever thread renders; a worker thread
    waits for a free instance instead of loading its own.
    """

    bundle: ClassVar[str]
    install: ClassVar[str] = ZAM_INSTALL
    controls: ClassVar[dict[str, str]]
    """Spec parameter name -> plugin parameter attribute."""
    scale: ClassVar[dict[str, float]] = {}
    """Spec parameter name -> factor to the plugin's unit (e.g. s -> ms)."""

    def __init__(self) -> None:
        super().__init__()
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loaded = 0
        if self.available() is None and _on_main_thread():
            self._idle.put(self._load())

    @classmethod
    def available(cls) -> str | None:
        """None when pedalboard imports and the plugin file exists, else the reason."""
        reason = super().available()
        if reason is None and find_vst3(cls.bundle) is None:
            searched = ", ".join((*os.environ.get(VST3_ENV, "").split(os.pathsep), *VST3_DIRS))
            reason = (f"{cls.bundle}.vst3 not found (searched {searched.strip(', ')}); "
                      f"install with: {cls.install}")
        return reason

    def make(self) -> Any:
        """Load the plugin (tens of milliseconds; main thread only)."""
        import pedalboard as pb

        return pb.load_plugin(str(find_vst3(self.bundle)))

    def _load(self) -> Any:
        self._loaded += 1
        return self.make()

    @contextmanager
    def processor(self) -> Iterator[Any]:
        """Borrow an idle instance (load one if on the main thread, else wait for one)."""
        try:
            plugin = self._idle.get_nowait()
        except queue.Empty:
            if _on_main_thread():
                plugin = self._load()
            elif self._loaded:
                plugin = self._idle.get()
            else:
                raise RuntimeError(
                    f"{self.name}: pedalboard loads VST3 plugins only on the main thread; create "
                    "the effect (get_effect / Chain) on the main thread before using threads"
                ) from None
        try:
            yield plugin
        finally:
            self._idle.put(plugin)

    def configure(self, plugin: Any, v: dict[str, float], sample_rate: int) -> None:
        """Set every mapped control (the plugin may quantize values to its step)."""
        for name, attribute in self.controls.items():
            setattr(plugin, attribute, v[name] * self.scale.get(name, 1.0))


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class ZamComp(Vst3Effect):
    """ZamComp (zam-plugins VST3): mono feed-forward compressor with knee and makeup."""

    name = "zam_comp"
    version = "1"
    host = "the VST3 plugin ZamComp"
    bundle = "ZamComp"
    controls = {"threshold": "threshold_db", "ratio": "ratio", "attack": "attack_ms",
                "release": "release_ms", "knee": "knee_db", "makeup": "makeup_db"}
    scale = {"attack": 1000.0, "release": 1000.0}

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """The plugin's own ranges (times converted to seconds)."""
        return (
            Param("threshold", "dB", -80.0, 0.0, -12.0, "lin"),
            Param("ratio", ":1", 1.0, 20.0, 4.0, "lin"),
            Param("attack", "s", 1e-4, 0.1, 0.01, "log"),
            Param("release", "s", 1e-3, 0.5, 0.08, "log"),
            Param("knee", "dB", 0.0, 8.0, 0.0, "lin"),
            Param("makeup", "dB", 0.0, 30.0, 0.0, "lin"),
        )


class ZamEq2(Vst3Effect):
    """ZamEQ2 (zam-plugins VST3): low shelf, two peaks with bandwidth, high shelf."""

    name = "zam_eq2"
    version = "1"
    host = "the VST3 plugin ZamEQ2"
    bundle = "ZamEQ2"
    controls = {
        "low_shelf_gain": "boost_cut_l_db", "low_shelf_cutoff": "frequency_l_hz",
        "band1_gain": "boost_cut_1_db", "band1_cutoff": "frequency_1_hz",
        "band1_bandwidth": "bandwidth_1",
        "band2_gain": "boost_cut_2_db", "band2_cutoff": "frequency_2_hz",
        "band2_bandwidth": "bandwidth_2",
        "high_shelf_gain": "boost_cut_h_db", "high_shelf_cutoff": "frequency_h_hz",
    }

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """Gains ±20 dB (plugin: −50…20), cutoffs inside 20 Hz–14 kHz capped at 0.45·sr."""
        def gain(prefix: str) -> Param:
            return Param(f"{prefix}_gain", "dB", -20.0, 20.0, 0.0, "lin")

        def bandwidth(prefix: str) -> Param:
            return Param(f"{prefix}_bandwidth", "oct", 0.1, 6.0, 1.0, "log")

        return (
            gain("low_shelf"), cutoff_param("low_shelf_cutoff", 20.0, 1000.0, 250.0, sample_rate),
            gain("band1"), cutoff_param("band1_cutoff", 20.0, 14000.0, 500.0, sample_rate),
            bandwidth("band1"),
            gain("band2"), cutoff_param("band2_cutoff", 20.0, 14000.0, 3000.0, sample_rate),
            bandwidth("band2"),
            gain("high_shelf"),
            cutoff_param("high_shelf_cutoff", 1000.0, 14000.0, 8000.0, sample_rate),
        )
