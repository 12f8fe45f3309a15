"""The black-box effect base: an external processor behind the same parameter-spec interface.

Black boxes render with ``process`` like the reference DSP (float32 inside the host, each batch
item as one mono clip, state reset per call for determinism) but have no torch implementation:
``torch_process`` raises :class:`NotDifferentiable`. The hosts are pedalboard's built-ins
(``blackbox_pedalboard``) and Linux VST3 plugins (``blackbox_vst3``). pedalboard is imported on
first use; plugin instances are cached per thread (not thread-safe).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from bench.dsp.spec import Effect, NotDifferentiable


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
