"""Linux VST3 plugins (Debian's zam-plugins) as black-box effects, hosted by pedalboard.

A missing plugin file leaves the effect registered with ``available()`` saying why.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from bench.dsp.blackbox import BlackBoxEffect
from bench.dsp.peq import cutoff_param
from bench.dsp.spec import Param

VST3_DIRS = ("/usr/lib/vst3", "/usr/local/lib/vst3", "~/.vst3")
VST3_ENV = "AFX_BENCH_VST3_PATH"
ZAM_INSTALL = "apt-get install zam-plugins"


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
    dynamics = True  # a feed-forward compressor: a gain on its input (makeup learned, not analytic)
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
    linear = True  # shelves and peaks: its proxy is the filter hypernetwork
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
