"""Parameter specs and the effect contract: one declaration drives every implementation.

Strategies only ever see normalized parameters in [0, 1]; a :class:`Param` maps them to physical
values (linearly or logarithmically). An :class:`Effect` has a reference ``process`` on NumPy
arrays and, when it is differentiable, an exact ``torch_process``; both read the same spec.
This module stays import-light (NumPy only) because effect discovery imports it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from bench.dsp._xp import constant, is_tensor, namespace, to_float64
from bench.registry import Registered

TOLERANCE = 1e-6
"""How far outside [0, 1] a normalized value may stray (rounding) before it is an error."""

SPEC_RATE = 48000
"""Sample rate used to count parameters (the count never depends on the rate)."""


class NotDifferentiable(Exception):
    """Raised by ``torch_process`` of an effect that has no differentiable implementation."""


class EffectUnavailable(RuntimeError):
    """Raised when an effect's external dependency (plugin file, package) is missing."""


@dataclass(frozen=True)
class Param:
    """One effect parameter: physical range, default and how [0, 1] maps onto the range."""

    name: str
    unit: str
    min: float
    max: float
    default: float
    scale: str = "lin"

    def __post_init__(self) -> None:
        if self.scale not in ("lin", "log"):
            raise ValueError(f"param {self.name}: scale must be 'lin' or 'log', not {self.scale!r}")
        if not self.min < self.max:
            raise ValueError(
                f"param {self.name}: empty range [{self.min}, {self.max}] {self.unit}; "
                "the sample rate is probably too low for this effect"
            )
        if self.scale == "log" and self.min <= 0:
            raise ValueError(f"param {self.name}: a log-scale range must be positive")
        if not self.min <= self.default <= self.max:
            raise ValueError(f"param {self.name}: default {self.default} outside its range")

    def to_physical(self, u: Any) -> Any:
        """Map normalized ``u`` (float, array or tensor; differentiable) to physical units."""
        if self.scale == "lin":
            return self.min + u * (self.max - self.min)
        exponent = u * math.log(self.max / self.min)
        if isinstance(u, (int, float)):
            return self.min * math.exp(exponent)
        return self.min * namespace(u).exp(exponent)

    def to_normalized(self, v: Any) -> Any:
        """Map physical ``v`` (float, array or tensor; differentiable) to [0, 1]."""
        if self.scale == "lin":
            return (v - self.min) / (self.max - self.min)
        span = math.log(self.max / self.min)
        if isinstance(v, (int, float)):
            return math.log(v / self.min) / span
        return namespace(v).log(v / self.min) / span


class Effect(Registered, ABC):
    """An audio effect with a declared parameter spec, batched over (batch, samples)."""

    kind: ClassVar[str] = "effect"
    differentiable: ClassVar[bool]
    n_params: ClassVar[int]
    neutral: ClassVar[Mapping[str, float]] = {}
    """Physical values (by parameter name) that make the effect (nearly) transparent; the other
    parameters keep their defaults (see :meth:`neutral_setting`)."""
    memory_seconds: ClassVar[float] = 0.3
    """How far back the output depends on the input: a proxy's receptive-field target. 0.3 s
    (DeepAFx-ST's proxies) unless the effect remembers longer (or much shorter)."""
    analytic_gain: ClassVar[str | None] = None
    """The output-gain parameter a proxy applies exactly instead of learning it, or None."""
    linear: ClassVar[bool] = False
    """True if the effect is linear in its input and time-invariant (a filter): its proxy is the
    filter hypernetwork, made exactly level-equivariant."""
    dynamics: ClassVar[bool] = False
    """True if the effect only multiplies its input by a time-varying gain (a compressor): its
    proxy is the gain computer, which can change nothing but the level."""
    hammerstein: ClassVar[bool] = False
    """True if the effect is a memoryless, odd, sign-preserving nonlinearity (a waveshaper or
    clipper: each output sample a function of the same input sample) followed by a linear
    time-invariant filter (a Hammerstein system: a distortion with a tone control): its proxy
    is a learned waveshaper followed by the filter hypernetwork."""
    matching_rule: ClassVar[str] = "none"
    """The rule-based strategy's rule for this effect: ``eq`` (fit the smoothed spectral balance
    with the effect's response: linear effects), ``dynamics`` (match crest factor and level:
    needs ``threshold``, ``ratio`` and ``makeup``) or ``none`` (no rule: rule-based skips)."""
    chain_selection_rank: ClassVar[int | None] = None
    """The effect's place in chain selection's effect library: the library is every registered
    effect that declares a rank, in rank order (then by name), and the candidate chains are its
    ordered selections; None keeps the effect out. Declaring one changes what chain selection
    measures: bump the chain tasks' versions (tests/test_task_versions.py says so)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "params" in cls.__dict__:
            cls.n_params = len(cls.params(SPEC_RATE))

    @classmethod
    @abstractmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """The parameter spec at ``sample_rate`` (ranges may be capped below Nyquist)."""

    @classmethod
    def defaults(cls, sample_rate: int) -> np.ndarray:
        """The normalized default parameter vector, shape (n_params,)."""
        return np.array([p.to_normalized(p.default) for p in cls.params(sample_rate)])

    @classmethod
    def neutral_setting(cls, sample_rate: int) -> np.ndarray:
        """The normalized setting closest to bypass (``neutral`` values, the other parameters at
        their defaults, clamped to range): where learners start."""
        physical = [float(np.clip(cls.neutral.get(p.name, p.default), p.min, p.max))
                    for p in cls.params(sample_rate)]
        return np.array([np.clip(p.to_normalized(v), 0.0, 1.0)
                         for p, v in zip(cls.params(sample_rate), physical, strict=True)])

    @classmethod
    def why_not_differentiable(cls) -> str | None:
        """None if ``torch_process`` is exact and differentiable, else the reason it is not."""
        return None

    @classmethod
    def available(cls) -> str | None:
        """None if the effect can run here, else the reason it cannot (and how to fix it)."""
        return None

    @abstractmethod
    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """Reference rendering: x (batch, samples) float32/64, p (batch, n_params) in [0, 1]."""

    @abstractmethod
    def torch_process(self, x: Any, p: Any, sample_rate: int) -> Any:
        """Exact differentiable rendering on tensors, or raise :class:`NotDifferentiable`."""

    def physical(self, p: Any, sample_rate: int) -> dict[str, Any]:
        """Physical float64 values per parameter name from normalized p (batch, n_params).

        Same mapping as :meth:`Param.to_physical`, vectorized over parameters (one small
        graph instead of one per parameter).
        """
        xp = namespace(p)
        specs = self.params(sample_rate)
        is_log = np.array([s.scale == "log" for s in specs])
        lo = np.array([s.min for s in specs])
        hi = np.array([s.max for s in specs])
        constants = (
            is_log.astype(np.float64),
            lo,
            np.log(np.where(is_log, hi, 1.0) / np.where(is_log, lo, 1.0)),  # 0 for lin params
            np.where(is_log, 0.0, hi - lo),  # 0 for log params
        )
        if xp is not np:
            constants = tuple(constant(xp, c, p) for c in constants)
        w, lo, log_span, lin_span = constants
        p = to_float64(xp, p)
        values = w * lo * xp.exp(p * log_span) + (1 - w) * (lo + p * lin_span)
        return {s.name: values[:, i] for i, s in enumerate(specs)}

    def check(self, x: Any, p: Any, sample_rate: int) -> Any:
        """Validate shapes, dtype and ranges; return ``p`` broadcast to (batch, n_params)."""
        reason = self.available()
        if reason is not None:
            raise EffectUnavailable(f"effect {self.name!r} is unavailable: {reason}")
        if x.ndim != 2:
            raise ValueError(
                f"effect {self.name!r}: x must have shape (batch, samples), got {tuple(x.shape)}; "
                "add a batch axis with x[None]"
            )
        if str(x.dtype).rsplit(".", 1)[-1] not in ("float32", "float64"):
            raise TypeError(f"effect {self.name!r}: x must be float32 or float64, not {x.dtype}")
        if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
            raise ValueError(f"effect {self.name!r}: sample_rate must be a positive int")
        specs = self.params(sample_rate)
        if p.ndim == 1:
            batch = (x.shape[0], p.shape[0])
            p = p[None].expand(*batch) if is_tensor(p) else np.broadcast_to(p, batch)
        if tuple(p.shape) != (x.shape[0], len(specs)):
            raise ValueError(
                f"effect {self.name!r}: p must have shape ({x.shape[0]}, {len(specs)}) "
                f"(batch, n_params), got {tuple(p.shape)}"
            )
        _check_range(self.name, specs, p)
        return p


def _check_range(effect: str, specs: tuple[Param, ...], p: Any) -> None:
    values = np.asarray(p.detach().cpu() if is_tensor(p) else p, dtype=np.float64)
    bad = ~((values >= -TOLERANCE) & (values <= 1 + TOLERANCE))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{effect}.{specs[col].name} = {values[row, col]!r} (batch item {row}) is outside "
            "[0, 1]; parameters are normalized: clip them to [0, 1] or map physical values with "
            "Param.to_normalized()"
        )


class DspEffect(Effect):
    """An effect written once on an array namespace: NumPy + Numba reference, torch exact."""

    differentiable: ClassVar[bool] = True
    takes_float32: ClassVar[bool] = False
    """True if ``render`` takes a float32 x as it is and computes in float64 inside (kernels
    that read float32 directly), which saves converting whole signals to float64 and back."""

    @abstractmethod
    def render(self, xp: ModuleType, x: Any, v: dict[str, Any], sample_rate: int) -> Any:
        """Process x (batch, samples) with physical values v[name] of shape (batch,).

        x is float64, or x's own dtype for an effect that ``takes_float32``.
        """

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        """Reference rendering in float64 with Numba kernels; output has x's dtype."""
        p = self.check(x, np.asarray(p), sample_rate)
        signal = x if self.takes_float32 else to_float64(np, x)
        y = self.render(np, signal, self.physical(p, sample_rate), sample_rate)
        return np.ascontiguousarray(y, dtype=x.dtype)

    def torch_inputs(self, x: Any, p: Any, sample_rate: int) -> tuple[Any, dict[str, Any]]:
        """Validated x (float64 unless ``takes_float32``) and physical values for tensor inputs
        (p may be array-like)."""
        if not is_tensor(x):
            raise TypeError(f"{self.name}.torch_process needs a torch tensor x; use process()")
        torch = namespace(x)
        p = self.check(x, torch.as_tensor(p, device=x.device), sample_rate)
        signal = x if self.takes_float32 else x.to(torch.float64)
        return signal, self.physical(p, sample_rate)

    def torch_process(self, x: Any, p: Any, sample_rate: int) -> Any:
        """Differentiable rendering (float64 inside, exact adjoints); output has x's dtype."""
        signal, v = self.torch_inputs(x, p, sample_rate)
        return self.render(namespace(x), signal, v, sample_rate).to(x.dtype)
