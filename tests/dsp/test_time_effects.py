"""Reference values for delay, reverb and distortion: echo times, decays, filter identity."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from bench.dsp import get_effect
from bench.dsp.delay import damping_coefficient
from bench.dsp.reverb import KAPPA
from tests.dsp.conftest import SR, impulse, normalized


@pytest.mark.parametrize("time", [0.05, 0.1234567])
def test_delay_echoes_arrive_every_time_and_decay_by_feedback(time):
    delay = get_effect("delay")
    g = 0.6
    p = normalized(delay, SR, time=time, feedback=g, mix=1.0)
    n_echo = 4
    h = delay.process(impulse(1, int((n_echo + 0.5) * time * SR)), p, SR)[0]
    d = damping_coefficient(SR)
    lag = d / (1 - d)  # DC group delay of the in-loop one-pole, added on every pass
    samples = np.arange(len(h))
    for k in range(1, n_echo + 1):
        window = np.abs(samples - k * time * SR) < 0.5 * time * SR
        echo = h[window]
        assert echo.sum() == pytest.approx(g ** (k - 1), rel=1e-9)  # DC gain g^(k-1)
        centroid = (samples[window] * echo).sum() / echo.sum()
        assert centroid == pytest.approx(k * (time * SR + lag), abs=1e-6)
    assert np.all(h[: int(time * SR) - 2] == 0)


def test_delay_mix_zero_is_dry(rng):
    delay = get_effect("delay")
    x = rng.standard_normal((2, 5000))
    p = normalized(delay, SR, mix=0.0, feedback=0.9)
    assert np.array_equal(delay.process(x, np.repeat(p, 2, axis=0), SR), x)


def schroeder_t60(h: np.ndarray, start: int, sr: int) -> float:
    """T60 from the slope of the backward-integrated energy between -5 and -35 dB."""
    edc = np.cumsum(h[start:][::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db < -5) & (edc_db > -35)
    slope = np.polyfit(np.arange(len(edc_db))[fit] / sr, edc_db[fit], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize(("decay", "pre_delay"), [(0.3, 0.004), (1.5, 0.05)])
def test_reverb_ir_starts_at_pre_delay_and_decays_in_t60(decay, pre_delay):
    reverb = get_effect("reverb")
    p = normalized(reverb, SR, decay=decay, damping=0.0, pre_delay=pre_delay, mix=1.0)
    h = reverb.process(impulse(1, int((pre_delay + 1.2 * decay) * SR)), p, SR)[0]
    onset = int(np.ceil(pre_delay * SR))
    assert np.abs(h[:onset]).max() < 1e-15 < np.abs(h[onset:onset + 200]).max()  # FFT round-off
    assert schroeder_t60(h, onset, SR) == pytest.approx(decay, rel=0.05)


def test_reverb_damping_shortens_the_high_band_only():
    reverb = get_effect("reverb")
    n = int(1.2 * SR)
    p = np.vstack([normalized(reverb, SR, decay=1.0, damping=d, mix=1.0) for d in (0.0, 1.0)])
    h = reverb.process(impulse(2, n), p, SR)
    low_sos = scipy.signal.butter(4, 1000, fs=SR, output="sos")
    high_sos = scipy.signal.butter(4, 8000, "highpass", fs=SR, output="sos")
    low = [schroeder_t60(scipy.signal.sosfilt(low_sos, h[i]), 0, SR) for i in range(2)]
    high = [schroeder_t60(scipy.signal.sosfilt(high_sos, h[i]), 0, SR) for i in range(2)]
    assert low[1] == pytest.approx(low[0], rel=0.1)
    assert high[1] < high[0] / 4  # T_high = T / (1 + 9·damping); the band split leaks a bit


def test_reverb_is_deterministic_and_the_same_across_the_batch(rng):
    reverb = get_effect("reverb")
    x = np.repeat(rng.standard_normal((1, 6000)), 2, axis=0)
    p = np.repeat(rng.uniform(size=(1, reverb.n_params)), 2, axis=0)
    y = reverb.process(x, p, SR)
    assert np.array_equal(y[0], y[1]) and np.array_equal(y, reverb.process(x, p, SR))


def test_reverb_truncated_ir_gives_the_same_prefix(rng):
    reverb = get_effect("reverb")
    x = rng.standard_normal((1, 30000))
    p = rng.uniform(size=(1, reverb.n_params))
    assert np.allclose(reverb.process(x[:, :5000], p, SR), reverb.process(x, p, SR)[:, :5000],
                       atol=1e-12)


def test_distortion_is_tanh_then_butterworth_lowpass_then_gain(rng):
    dist = get_effect("distortion")
    p = normalized(dist, SR, drive=18.0, tone=3000.0, output_gain=-4.0)
    x = 0.5 * rng.standard_normal((1, 5000))
    sos = scipy.signal.butter(2, 3000.0, fs=SR, output="sos")  # RBJ low-pass, Q = 1/sqrt(2)
    expected = 10 ** (-4 / 20) * scipy.signal.sosfilt(sos, np.tanh(10 ** (18 / 20) * x[0]))
    assert np.allclose(dist.process(x, p, SR)[0], expected, rtol=0, atol=1e-12)
    yt = dist.torch_process(torch.from_numpy(x), torch.from_numpy(p), SR).numpy()[0]
    assert np.allclose(yt, expected, rtol=0, atol=1e-12)


def test_kappa_is_sixty_db():
    assert 20 * np.log10(np.exp(-KAPPA)) == pytest.approx(-60.0)
