"""Screening raw renders and recordings for defects before they become corpus clips.

A clip is rejected (and the rejection recorded) rather than repaired: the corpus should only
hold audio an effect can be meaningfully applied to.
"""

from __future__ import annotations

import numpy as np

MAX_JUMP = 1.5  # adjacent-sample jump relative to the peak: an int16 wrap-around (festival ked)
CLIP_RUN = 4  # consecutive identical samples at full scale: hard clipping
SILENCE_RMS_DB = -60.0


def screen(audio: np.ndarray, sr: int, *, min_seconds: float = 1.0) -> str | None:
    """The reason ``audio`` (frames or (frames, channels), native scale) is unusable, or None."""
    x = np.asarray(audio, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < int(min_seconds * sr):
        return f"too short ({len(x) / sr:.2f} s < {min_seconds:.2f} s)"
    if not np.all(np.isfinite(x)):
        return f"non-finite samples ({int(np.sum(~np.isfinite(x)))})"
    rms = float(np.sqrt(np.mean(x**2)))
    if rms <= 0 or 20 * np.log10(rms) < SILENCE_RMS_DB:
        return "silent"
    jump = float(np.max(np.abs(np.diff(x, axis=0)))) / float(np.max(np.abs(x)))
    if jump > MAX_JUMP:
        return f"glitch (a sample jump of {jump:.2f} times the peak)"
    if _longest_clipped_run(x) >= CLIP_RUN:
        return "clipped (a run of full-scale samples)"
    return None


def _longest_clipped_run(x: np.ndarray) -> int:
    rail = np.abs(x) >= 0.999
    same = np.zeros_like(rail)
    same[1:] = x[1:] == x[:-1]
    hit = rail & same
    best = 0
    for column in hit.T:
        if not column.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], column.astype(np.int8), [0]])))
        best = max(best, int(np.max(edges[1::2] - edges[::2])) + 1)
    return best
