"""Measures of a model of an effect beyond its spectral distance: the common level fidelity is
measured at, error-to-signal ratio, aliasing on a stepped sine sweep and reverberation time
from the Schroeder backward integral.

Pure NumPy; invalid inputs raise :class:`MetricError` like the other metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from bench.metrics.checks import MetricError, audio_pair, checked_rate

FIDELITY_RMS_DB = -20.0
"""RMS level (dBFS) each clip's reference output is brought to before a model's fidelity is
measured (the proxies' and the modeling tasks')."""


def at_common_level(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``reference`` and ``estimate`` (clips, samples), each clip's pair scaled by the one
    factor that puts its reference at :data:`FIDELITY_RMS_DB` RMS: the loudest clips no longer
    decide a level-dependent distance, and a level error of the estimate survives."""
    rms = np.sqrt(np.mean(np.square(reference, dtype=np.float64), axis=1, keepdims=True))
    scale = (10 ** (FIDELITY_RMS_DB / 20) / np.maximum(rms, 1e-12)).astype(reference.dtype)
    return reference * scale, estimate * scale


def measurable_lufs_error(estimate: np.ndarray, reference: np.ndarray,
                          sample_rate: int) -> float:
    """Mean absolute integrated-loudness difference (LU) over the pairs where both are
    measurable (NaN when none is): a model's output may be silent or non-finite."""
    from bench.metrics.audio import lufs_error_per_example

    diffs = []
    for e, r in zip(estimate, reference, strict=True):
        try:
            diffs.append(float(lufs_error_per_example(e, r, sample_rate)[0]))
        except MetricError:
            continue
    return float(np.mean(diffs)) if diffs else float("nan")


def esr_per_example(estimate: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Error-to-signal ratio Σ(y − t)² / Σt² of each example (0 is exact; 1 is as large an
    error as the target itself; Wright et al. 2019). A silent target raises."""
    est, tgt = audio_pair(estimate, target)
    energy = np.sum(tgt**2, axis=-1)
    if not energy.all():
        raise MetricError(f"ESR undefined: target example {np.flatnonzero(energy == 0)[0]} "
                          "is silent")
    return np.sum((est - tgt) ** 2, axis=-1) / energy


@dataclass(frozen=True)
class SineSweep:
    """A stepped sine sweep for measuring aliasing: one tone per row, each ``settle`` samples
    long before an analysis window of ``length`` samples (a power of two).

    Each tone has an odd whole number of cycles in the window (``bins``), so with a rectangular
    window every component of a periodic output, its harmonics and their aliases included, falls
    exactly on an FFT bin, and an odd bin count shares no factor with the window length: a
    harmonic above Nyquist folds back onto a bin that is no harmonic of its tone.
    """

    sample_rate: int
    bins: tuple[int, ...]
    length: int
    settle: int
    amplitude: float

    @property
    def frequencies(self) -> np.ndarray:
        """Each tone's frequency in Hz."""
        return np.asarray(self.bins) * self.sample_rate / self.length

    def signals(self) -> np.ndarray:
        """The tones (tones, settle + length), float64."""
        n = np.arange(-self.settle, self.length)
        return self.amplitude * np.sin(2 * np.pi * np.outer(self.bins, n) / self.length)


def sine_sweep(sample_rate: int, settle_seconds: float, tones: int = 8, length: int = 4096,
               low_hz: float = 100.0, high_fraction: float = 0.2,
               amplitude: float = 0.5) -> SineSweep:
    """``tones`` log-spaced tones from ``low_hz`` to ``high_fraction`` of the sample rate (their
    third harmonics lie above Nyquist), at ``amplitude``, each settling for ``settle_seconds``
    (an effect's memory) before its analysis window."""
    sr = checked_rate(sample_rate, "aliasing")
    if length & (length - 1) or length < 64:
        raise MetricError(f"the analysis length must be a power of two >= 64, got {length}")
    targets = np.geomspace(low_hz, high_fraction * sr, tones) * length / sr
    bins = sorted({int(2 * np.floor(t / 2) + 1) for t in targets})
    return SineSweep(sr, tuple(bins), length, round(settle_seconds * sr), amplitude)


def aliasing_per_tone(outputs: ArrayLike, sweep: SineSweep) -> np.ndarray:
    """Share of each output's energy at non-harmonic frequencies over its analysis window:
    everything but DC and the tone's harmonics below Nyquist. 0 for a linear time-invariant
    system (only the tone comes out); a nonlinearity whose harmonics pass Nyquist folds them
    onto non-harmonic bins. ``outputs`` (tones, samples) are the sweep's tones processed; a
    silent window raises."""
    y = np.asarray(outputs, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != len(sweep.bins) or y.shape[1] < sweep.length:
        raise MetricError(f"outputs must have shape ({len(sweep.bins)}, >= {sweep.length}), "
                          f"got {y.shape}")
    if not np.isfinite(y).all():
        raise MetricError("outputs contain NaN or inf")
    power = np.abs(np.fft.rfft(y[:, -sweep.length:], axis=-1)) ** 2
    total = power.sum(axis=-1)
    if not total.all():
        raise MetricError("aliasing undefined: an output is silent over its analysis window")
    shares = []
    for row, k, whole in zip(power, sweep.bins, total, strict=True):
        harmonic = row[np.arange(0, sweep.length // 2 + 1, k)].sum()
        shares.append(max(whole - harmonic, 0.0) / whole)
    return np.asarray(shares)


def energy_decay_db(ir: ArrayLike) -> np.ndarray:
    """The Schroeder backward integral of an impulse response, EDC(t) = Σ_{τ ≥ t} h(τ)², in dB
    relative to its start (0 dB at t = 0, falling to −inf at the end)."""
    h = np.asarray(ir, dtype=np.float64)
    if h.ndim != 1 or not np.isfinite(h).all():
        raise MetricError(f"an impulse response must be one finite row, got shape {h.shape}")
    edc = np.cumsum((h**2)[::-1])[::-1]
    if edc[0] <= 0:
        raise MetricError("the impulse response is silent")
    with np.errstate(divide="ignore"):
        return 10 * np.log10(edc / edc[0])


FIT_RANGES_DB = ((-5.0, -35.0), (-5.0, -25.0))
"""Decay ranges a reverberation time is fitted over, the first one the decay reaches (T30, then
T20, extrapolated to 60 dB as ISO 3382 does)."""


def t60(ir: ArrayLike, sample_rate: int) -> float:
    """Reverberation time in seconds: the least-squares slope of the energy decay curve
    (:func:`energy_decay_db`) over the first range of :data:`FIT_RANGES_DB` it spans,
    extrapolated to a 60 dB decay. A response that never decays by 25 dB raises."""
    sr = checked_rate(sample_rate, "T60")
    edc = energy_decay_db(ir)
    for top, bottom in FIT_RANGES_DB:
        inside = np.flatnonzero((edc <= top) & (edc >= bottom))
        if edc.min() < bottom and len(inside) >= 2:
            slope = np.polyfit(inside / sr, edc[inside], 1)[0]
            if slope < 0:
                return float(-60.0 / slope)
    raise MetricError(f"T60 undefined: the energy decay never falls by {-FIT_RANGES_DB[-1][1]:g} "
                      "dB")
