"""Screening raw audio for glitches, clipping, silence, non-finite values and short clips."""

from __future__ import annotations

import numpy as np

from datasets.quality import screen
from tests.datasets.conftest import tone

SR = 16000


def test_clean_speechlike_tone_passes():
    assert screen(tone(2.0, SR), SR) is None


def test_int16_wraparound_is_a_glitch():
    x = tone(2.0, SR, amp=0.99)
    x[5000], x[5001] = 0.99, -0.99  # what an int16 overflow leaves behind
    assert "glitch" in screen(x, SR)


def test_hard_clipping_is_rejected():
    x = np.clip(tone(2.0, SR, amp=3.0), -1.0, 1.0)
    assert "clipped" in screen(x, SR)


def test_silence_nan_and_short_are_rejected():
    assert screen(np.zeros(SR * 2), SR) == "silent"
    bad = tone(2.0, SR)
    bad[10] = np.nan
    assert "non-finite" in screen(bad, SR)
    assert "too short" in screen(tone(0.2, SR), SR)


def test_stereo_is_screened_per_channel():
    x = tone(2.0, SR, channels=2)
    assert screen(x, SR) is None
    x[:, 1] = np.clip(x[:, 1] * 10, -1, 1)
    assert "clipped" in screen(x, SR)
