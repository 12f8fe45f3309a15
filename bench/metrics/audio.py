"""Audio metrics of DeepAFx-ST's evaluation, with its unit and failure bugs fixed.

Every metric takes ``(estimate, target, sample_rate)`` with arrays of shape (samples,) or
(batch, samples). The ``*_per_example`` function is the one implementation and returns an array
of shape (batch,); the function without the suffix is its batch mean as a float. Invalid
inputs raise :class:`MetricError` so ``bench.base.safe_metric`` records a failed metric instead
of DeepAFx-ST's −1 sentinel or an infinite LUFS. RMS and crest factor are in true dB (log10).
torch, pesq, scipy and pyloudnorm are imported inside the functions to keep imports fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from bench.base import Metric
from bench.metrics.checks import MetricError, audio_batch, audio_pair, checked_rate, not_silent
from bench.metrics.spectral import mel_filterbank, stft_magnitude

if TYPE_CHECKING:
    import torch

PerExample = Callable[[ArrayLike, ArrayLike, int], np.ndarray]
AudioMetric = Callable[[ArrayLike, ArrayLike, int], float]

DEEPAFX_FFT_SIZES = (32, 128, 512, 2048, 8192, 32768)
MSD_FFT = 65536       # DeepAFx-ST's MSD: one Hann frame of 65536 per hop of 65536, centred
MSD_MELS = 128
SCE_FFT, SCE_HOP = 2048, 512
LEVEL_FLOOR = 1e-8    # amplitude floor of the dB levels: −160 dB
PESQ_RATE = 16000


def _batch_mean(per_example: PerExample) -> AudioMetric:
    """The batch-mean float version of a per-example metric, named without ``_per_example``."""

    def metric(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> float:
        return float(np.mean(per_example(estimate, target, sample_rate)))

    metric.__name__ = metric.__qualname__ = per_example.__name__.removesuffix("_per_example")
    metric.__doc__ = f"Batch mean of ``{per_example.__name__}`` as one float."
    return metric


def pesq_wb_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """Wide-band PESQ (MOS-LQO, ≈1.04–4.64) of each estimate against its target, at 16 kHz.

    Both signals are resampled to 16 kHz with ``resample_poly``; rates below 16 kHz are
    rejected because wide-band PESQ would judge missing bandwidth the metric cannot see.
    """
    import pesq
    from scipy.signal import resample_poly

    est, tgt = audio_pair(estimate, target)
    sr = checked_rate(sample_rate, "wide-band PESQ", minimum=PESQ_RATE)
    g = gcd(PESQ_RATE, sr)
    est, tgt = (resample_poly(a, PESQ_RATE // g, sr // g, axis=-1) for a in (est, tgt))
    scores = []
    for e, t in zip(est, tgt, strict=True):
        try:
            scores.append(pesq.pesq(PESQ_RATE, t, e, "wb"))
        except pesq.PesqError as exc:
            msg = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise MetricError(f"PESQ failed: {msg}") from exc
    return np.array(scores)


def mrstft_loss(
    fft_sizes: Sequence[int] = DEEPAFX_FFT_SIZES,
    hop_fraction: float = 0.5,
    w_sc: float = 0.0,
    w_lin_mag: float = 1.0,
    w_log_mag: float = 1.0,
    **kwargs: Any,
) -> torch.nn.Module:
    """auraloss MR-STFT loss module (window = FFT size, Hann); DeepAFx-ST's by default.

    Tasks build their training loss here, possibly with cheaper ``fft_sizes``; the module takes
    tensors (batch, channels, samples). Extra keywords go to auraloss's constructor.
    """
    from auraloss.freq import MultiResolutionSTFTLoss

    return MultiResolutionSTFTLoss(
        fft_sizes=list(fft_sizes),
        hop_sizes=[max(1, int(n * hop_fraction)) for n in fft_sizes],
        win_lengths=list(fft_sizes),
        window="hann_window",
        w_sc=w_sc,
        w_lin_mag=w_lin_mag,
        w_log_mag=w_log_mag,
        **kwargs,
    )


@lru_cache(maxsize=1)
def _deepafx_mrstft() -> torch.nn.Module:
    """The metric's MR-STFT module, built once."""
    return mrstft_loss()


def mrstft_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """DeepAFx-ST's MR-STFT distance (FFT 32…32768, L1 of linear + log magnitudes), float32.

    Clips must be longer than 16384 samples: the centred 32768-point STFT reflects n_fft/2.
    """
    import torch

    est, tgt = audio_pair(estimate, target)
    checked_rate(sample_rate, "MR-STFT")
    longest = max(DEEPAFX_FFT_SIZES) // 2
    if est.shape[1] <= longest:
        raise MetricError(f"MR-STFT needs clips longer than {longest} samples, got {est.shape[1]}")
    from bench.device import current, to_device

    loss = _deepafx_mrstft()
    est_t, tgt_t = (to_device(a, current(), dtype=torch.float32)[:, None, None]
                    for a in (est, tgt))
    with torch.no_grad():
        return np.array([float(loss(e, t)) for e, t in zip(est_t, tgt_t, strict=True)])


def msd_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """Mel spectral distance as DeepAFx-ST: L1 of linear + natural-log 128-band mel magnitudes.

    STFT with FFT = hop = window = 65536 (Hann, centred), magnitudes floored at 1e-4 as
    auraloss does. Clips of at most 32768 samples are zero-padded instead of reflected (torch's
    reflection would fail), so any length from one sample works; such clips give one frame.
    """
    est, tgt = audio_pair(estimate, target)
    fb = mel_filterbank(checked_rate(sample_rate, "MSD"), MSD_FFT, MSD_MELS)

    def distance(e: np.ndarray, t: np.ndarray) -> float:
        mel_e, mel_t = (fb @ stft_magnitude(a[None], MSD_FFT, MSD_FFT, floor=1e-8)[0]
                        for a in (e, t))
        return np.abs(mel_e - mel_t).mean() + np.abs(np.log(mel_e) - np.log(mel_t)).mean()

    return np.array([distance(e, t) for e, t in zip(est, tgt, strict=True)])


def spectral_centroid(x: ArrayLike, sample_rate: int, name: str = "signal") -> np.ndarray:
    """Mean over frames of the magnitude-spectrum centroid in Hz (FFT 2048, hop 512), per example.

    Frames of digital silence count as 0 Hz (DeepAFx-ST's +1e-16 does nearly the same); an
    all-silent clip has no centroid and raises.
    """
    a = audio_batch(x, name)
    not_silent(a, name, "spectral centroid")
    hz = np.fft.rfftfreq(SCE_FFT, 1.0 / checked_rate(sample_rate, "spectral centroid"))

    def centroid(row: np.ndarray) -> float:
        mag = stft_magnitude(row[None], SCE_FFT, SCE_HOP)[0]
        total = mag.sum(axis=0)
        per_frame = np.divide(hz @ mag, total, out=np.zeros_like(total), where=total > 0)
        return per_frame.mean()

    return np.array([centroid(row) for row in a])


def sce_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """Spectral centroid error in Hz: |centroid(estimate) − centroid(target)|."""
    est, tgt = audio_pair(estimate, target)
    return np.abs(spectral_centroid(est, sample_rate, "estimate")
                  - spectral_centroid(tgt, sample_rate, "target"))


def level_db(amplitude: ArrayLike) -> np.ndarray:
    """20·log10 of an amplitude floored at 1e-8 (−160 dB), so silence has a finite level."""
    return 20 * np.log10(np.maximum(amplitude, LEVEL_FLOOR))


def rms_db(x: ArrayLike) -> np.ndarray:
    """RMS level in dB per example."""
    a = audio_batch(x, "signal")
    return level_db(np.sqrt(np.mean(a**2, axis=-1)))


def crest_factor_db(x: ArrayLike) -> np.ndarray:
    """Crest factor in dB per example: peak level minus RMS level (sine 3.01, square 0)."""
    a = audio_batch(x, "signal")
    return level_db(np.abs(a).max(axis=-1)) - rms_db(a)


def rms_error_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """Absolute RMS level difference in dB (DeepAFx-ST used 20·ln, 2.303× too large)."""
    est, tgt = audio_pair(estimate, target)
    return np.abs(rms_db(est) - rms_db(tgt))


def crest_error_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """Absolute crest-factor difference in dB (DeepAFx-ST used 20·ln, 2.303× too large)."""
    est, tgt = audio_pair(estimate, target)
    return np.abs(crest_factor_db(est) - crest_factor_db(tgt))


def integrated_loudness(x: ArrayLike, sample_rate: int, name: str = "signal") -> np.ndarray:
    """BS.1770-4 integrated loudness in LUFS of each mono example (pyloudnorm); silence raises.

    Unlike DeepAFx-ST the mono clip is measured as one channel, not duplicated to stereo; this
    shifts both signals by the same 3.01 LU, so loudness differences agree except at the gates.
    """
    import pyloudnorm

    a = audio_batch(x, name)
    meter = pyloudnorm.Meter(checked_rate(sample_rate, "LUFS"))
    lufs = np.array([meter.integrated_loudness(row) for row in a])
    quiet = np.flatnonzero(~np.isfinite(lufs))
    if quiet.size:
        raise MetricError(f"LUFS undefined: {name} example {quiet[0]} is silent (under −70 LUFS)")
    return lufs


def lufs_error_per_example(estimate: ArrayLike, target: ArrayLike, sample_rate: int) -> np.ndarray:
    """Absolute integrated-loudness difference in LU; a silent signal raises instead of inf."""
    est, tgt = audio_pair(estimate, target)
    return np.abs(integrated_loudness(est, sample_rate, "estimate")
                  - integrated_loudness(tgt, sample_rate, "target"))


pesq_wb = _batch_mean(pesq_wb_per_example)
mrstft = _batch_mean(mrstft_per_example)
msd = _batch_mean(msd_per_example)
sce = _batch_mean(sce_per_example)
rms_error = _batch_mean(rms_error_per_example)
crest_error = _batch_mean(crest_error_per_example)
lufs_error = _batch_mean(lufs_error_per_example)


@dataclass(frozen=True)
class MetricSpec:
    """An audio metric a task can declare: its functions, direction, unit and meaning."""

    name: str
    fn: AudioMetric  # batch mean, what a task reports
    per_example: PerExample
    higher_is_better: bool
    unit: str
    description: str

    @property
    def metric(self) -> Metric:
        """The declaration for a task's ``metrics`` tuple."""
        return Metric(self.name, self.higher_is_better, self.unit, self.description)


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("pesq", pesq_wb, pesq_wb_per_example, True, "MOS",
                   "wide-band PESQ at 16 kHz against the target (speech)"),
        MetricSpec("mrstft", mrstft, mrstft_per_example, False, "",
                   "MR-STFT distance, FFT 32–32768, linear + log magnitude L1"),
        MetricSpec("msd", msd, msd_per_example, False, "",
                   "mel spectral distance, 65536-point frames, 128 mels, linear + log L1"),
        MetricSpec("sce", sce, sce_per_example, False, "Hz", "spectral centroid error"),
        MetricSpec("rms", rms_error, rms_error_per_example, False, "dB",
                   "RMS level error (20·log10)"),
        MetricSpec("crest", crest_error, crest_error_per_example, False, "dB",
                   "crest factor error (20·log10)"),
        MetricSpec("lufs", lufs_error, lufs_error_per_example, False, "LU",
                   "BS.1770-4 integrated loudness error"),
    )
}
