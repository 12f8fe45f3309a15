"""The standardizing step: mono, resampling, crop/pad, loudness, peak ceiling and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.standardize import loudness, standardize, to_mono
from tests.datasets.conftest import tone

SR = 44100


def test_output_has_target_rate_length_loudness_and_peak():
    y = standardize(tone(3.0, 22050, amp=0.9), 22050, target_sr=SR, seconds=2.0)
    assert y.dtype == np.float32 and y.shape == (2 * SR,)
    assert loudness(y.astype(np.float64), SR) == pytest.approx(-23.0, abs=0.2)
    assert np.max(np.abs(y)) <= 10 ** (-1 / 20) + 1e-6


def test_peak_ceiling_wins_over_loudness():
    spiky = np.zeros(SR * 2)
    spiky[::4410] = 1.0  # very high crest factor: -23 LUFS would need a peak above 0 dBFS
    y = standardize(spiky, SR, target_sr=SR, lufs=-10.0, peak_ceiling_db=-1.0)
    assert np.max(np.abs(y)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)


@pytest.mark.parametrize("layout", ["frames_channels", "channels_frames"])
def test_stereo_is_mixed_to_mono(layout):
    stereo = tone(1.0, SR, channels=2)
    if layout == "channels_frames":
        stereo = stereo.T
    mono = to_mono(stereo)
    assert mono.shape == (SR,)
    np.testing.assert_allclose(mono, tone(1.0, SR, channels=2).mean(axis=1))


@pytest.mark.parametrize("sr", [8000, 11025, 16000, 22050, 32000, 48000, 96000, 44099, 12345])
def test_odd_sample_rates_resample_to_exact_length_and_pitch(sr):
    y = standardize(tone(1.0, sr, freq=1000.0), sr, target_sr=SR, seconds=1.0)
    assert len(y) == SR
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * SR / len(y) == pytest.approx(1000.0, abs=2.0)


def test_short_input_is_zero_padded_and_offset_crops():
    x = tone(0.5, SR)
    y = standardize(x, SR, target_sr=SR, seconds=2.0)
    assert len(y) == 2 * SR and not np.any(y[SR:])
    ramp = np.arange(3 * SR, dtype=np.float64) / (3 * SR)
    z = standardize(ramp, SR, target_sr=SR, seconds=1.0, offset=1.0, lufs=None)
    assert z[SR // 2] == pytest.approx(1.5 / 3, rel=1e-3)  # middle of the 1–2 s window


def test_silence_stays_silent_and_finite():
    y = standardize(np.zeros(SR), SR, target_sr=16000, seconds=1.0)
    assert np.all(y == 0) and len(y) == 16000


def test_nan_and_inf_are_zeroed():
    x = tone(1.0, SR)
    x[100:200] = np.nan
    x[300] = np.inf
    y = standardize(x, SR, target_sr=SR)
    assert np.all(np.isfinite(y))
    assert loudness(y.astype(np.float64), SR) == pytest.approx(-23.0, abs=0.3)


def test_too_short_to_measure_keeps_level_under_the_ceiling():
    x = tone(0.1, SR, amp=2.0)  # 100 ms: no BS.1770 block; too loud
    y = standardize(x, SR, target_sr=SR)
    assert len(y) == len(x)
    assert np.max(np.abs(y)) <= 10 ** (-1 / 20) + 1e-6


def test_empty_input_gives_silence_of_the_requested_length():
    assert standardize(np.zeros(0), SR, target_sr=SR, seconds=0.5).shape == (SR // 2,)


def test_invalid_sample_rate_is_rejected():
    with pytest.raises(ValueError, match="positive"):
        standardize(tone(1.0, SR), 0, target_sr=SR)


@settings(max_examples=25, deadline=None)
@given(seconds=st.floats(0.05, 2.0), sr=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
       amp=st.floats(0.0, 100.0), channels=st.integers(1, 2))
def test_any_input_gives_finite_audio_under_the_ceiling(seconds, sr, amp, channels):
    y = standardize(tone(seconds, sr, amp=amp, channels=channels), sr, target_sr=24000,
                    seconds=1.0)
    assert y.shape == (24000,) and np.all(np.isfinite(y))
    assert np.max(np.abs(y)) <= 10 ** (-1 / 20) + 1e-6
