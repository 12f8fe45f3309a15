"""The one standardizing step every source goes through: mono, resample, crop, loudness, peak.

Built corpora and local research datasets both end here, so a clip means the same thing
whatever its origin: float32 mono at ``target_sr``, integrated loudness ``lufs`` (BS.1770),
sample peak at most ``peak_ceiling_db``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from functools import cache

import numpy as np

from bench.data import Clip, DataError, Dataset
from datasets.audio_io import read_audio

log = logging.getLogger(__name__)

FADE_S = 0.01
MIN_LOUDNESS_S = 0.4  # one BS.1770 gating block
MAX_POLY_FACTOR = 2000


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of ``(frames, channels)`` audio ((channels, frames) if unambiguous)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        return x.copy()
    if x.ndim != 2:
        raise ValueError(f"audio must be 1-D or 2-D, got shape {x.shape}")
    if x.shape[0] <= 8 < x.shape[1]:
        x = x.T
    return x.mean(axis=1)


def finite(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN and ±inf samples set to zero (logged, since they mean a broken source)."""
    bad = ~np.isfinite(x)
    if bad.any():
        log.warning("replaced %d non-finite samples with zeros", int(bad.sum()))
        x = np.where(bad, 0.0, x)
    return x


def resample(x: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling: polyphase for simple ratios, FFT for awkward ones."""
    if sr == target_sr or len(x) == 0:
        return x
    from scipy import signal  # imported here: it is slow to import and discovery must be fast
    ratio = Fraction(target_sr, sr)
    n_out = round(len(x) * target_sr / sr)
    if max(ratio.numerator, ratio.denominator) <= MAX_POLY_FACTOR:
        y = signal.resample_poly(x, ratio.numerator, ratio.denominator)
    else:
        y = signal.resample(x, n_out)
    return y[:n_out]


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``x`` to exactly ``n`` samples."""
    return x[:n] if len(x) >= n else np.concatenate([x, np.zeros(n - len(x))])


def fade(x: np.ndarray, sr: int, seconds: float = FADE_S) -> np.ndarray:
    """Short raised-cosine fade in and out, so cropped edges do not click."""
    n = min(int(seconds * sr), len(x) // 2)
    if n < 2:
        return x
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    y = x.copy()
    y[:n] *= ramp
    y[-n:] *= ramp[::-1]
    return y


@cache
def _meter(sr: int):
    import pyloudnorm

    return pyloudnorm.Meter(sr)


def loudness(x: np.ndarray, sr: int) -> float | None:
    """Integrated loudness (LUFS, BS.1770); None for silence or audio shorter than 0.4 s."""
    if len(x) < int(MIN_LOUDNESS_S * sr) or not np.any(x):
        return None
    value = float(_meter(sr).integrated_loudness(x))
    return value if np.isfinite(value) else None


def peak_db(x: np.ndarray) -> float:
    """Sample peak in dBFS (-inf for silence)."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def normalize(x: np.ndarray, sr: int, lufs: float | None = -23.0,
              peak_ceiling_db: float = -1.0) -> np.ndarray:
    """Gain to ``lufs`` (when measurable), then scale down if the peak exceeds the ceiling."""
    measured = loudness(x, sr) if lufs is not None else None
    if measured is not None:
        x = x * 10.0 ** ((lufs - measured) / 20.0)
    ceiling = 10.0 ** (peak_ceiling_db / 20.0)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return x * (ceiling / peak) if peak > ceiling else x


def standardize(audio: np.ndarray, sr: int, *, target_sr: int, seconds: float | None = None,
                offset: float = 0.0, lufs: float | None = -23.0,
                peak_ceiling_db: float = -1.0) -> np.ndarray:
    """Mono, finite, resampled, cropped or padded to ``seconds``, loudness- and peak-normalized.

    Silence stays silence; audio too short to measure keeps its level but still honours the
    peak ceiling; ``lufs=None`` skips loudness normalization. Returns float32.
    """
    if sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {sr} and {target_sr}")
    x = finite(to_mono(audio))
    start = max(round(offset * sr), 0)
    if seconds is not None:
        x = x[start:start + int(np.ceil(seconds * sr)) + 1]
    else:
        x = x[start:]
    x = resample(x, sr, target_sr)
    if seconds is not None:
        n = round(seconds * target_sr)
        cropped = start > 0 or len(x) > n
        x = fit_length(x, n)
        if cropped:
            x = fade(x, target_sr)
    return normalize(x, target_sr, lufs, peak_ceiling_db).astype(np.float32)


def load_clip(clip: Clip, *, sample_rate: int, seconds: float | None = None,
              offset_s: float = 0.0, lufs: float | None = -23.0) -> np.ndarray:
    """Read a dataset clip from disk and standardize it; DataError if the file is unreadable."""
    audio, sr = read_audio(clip.path, start_s=offset_s,
                           seconds=None if seconds is None else seconds + 1.0 / clip.sample_rate)
    return standardize(audio, sr, target_sr=sample_rate, seconds=seconds, lufs=lufs)


def load_sources(dataset: Dataset, splits: str | Sequence[str], *, sample_rate: int,
                 seconds: float | None = None,
                 limit: int | None = None) -> tuple[list[np.ndarray], list[str], int]:
    """Standardized audio of one split or several: (arrays, clip ids, number of unreadable clips
    skipped). ``seconds`` crops or pads every clip to its central ``seconds``; without it, clips
    are read whole, or their central ``dataset.excerpt_seconds`` when longer. ``limit`` keeps at
    most that many clips (:func:`spread`)."""
    listed = [c for s in ([splits] if isinstance(splits, str) else splits)
              for c in dataset.clips(s)]
    arrays, ids, skipped = [], [], 0
    for clip in spread(listed, limit):
        duration, length = clip.meta.get("seconds"), seconds
        if length is None and duration and duration > (dataset.excerpt_seconds or duration):
            length = dataset.excerpt_seconds
        offset = max(0.0, (duration - length) / 2) if length and duration else 0.0
        try:
            arrays.append(load_clip(clip, sample_rate=sample_rate, seconds=length,
                                    offset_s=offset))
        except DataError as exc:
            log.warning("skipped %s: %s", clip.id, exc)
            skipped += 1
            continue
        ids.append(clip.id)
    if skipped:
        log.warning("%s/%s: skipped %d unreadable clips", dataset.spec, splits, skipped)
    return arrays, ids, skipped


def spread(clips: list[Clip], limit: int | None) -> list[Clip]:
    """At most ``limit`` of ``clips`` (all when None or fewer), in their listed order, spread over
    the groups: every group (in a seeded order) gives one clip before any gives a second."""
    if limit is None or len(clips) <= limit:
        return clips
    from datasets.splits import stable_seed

    groups = sorted({c.group for c in clips})
    order = np.random.default_rng(stable_seed("spread", *groups)).permutation(len(groups))
    rank = {groups[i]: r for r, i in enumerate(order)}
    seen: dict[str, int] = {}
    keys = []
    for i, c in enumerate(clips):
        seen[c.group] = seen.get(c.group, -1) + 1
        keys.append((seen[c.group], rank[c.group], i))
    return [clips[i] for i in sorted(k[2] for k in sorted(keys)[:limit])]
