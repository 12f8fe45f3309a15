"""Known answers of the effect-modeling measures: ESR of scaled signals, zero aliasing through a
linear filter and positive aliasing through a hard clipper, the T60 of exponential decays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from bench.metrics.checks import MetricError
from bench.metrics.modeling import (
    aliasing_per_tone,
    energy_decay_db,
    esr_per_example,
    sine_sweep,
    t60,
)


def test_esr_of_a_scaled_target_is_the_squared_scale_error():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((3, 1000))
    assert esr_per_example(target, target) == pytest.approx(np.zeros(3))
    assert esr_per_example(0.9 * target, target) == pytest.approx(np.full(3, 0.01))
    assert esr_per_example(np.zeros_like(target), target) == pytest.approx(np.ones(3))
    with pytest.raises(MetricError, match="silent"):
        esr_per_example(target, np.zeros_like(target))


@pytest.mark.parametrize("sample_rate", [16000, 24000, 44100])
def test_sweep_tones_have_odd_bins_up_to_a_fifth_of_the_rate(sample_rate):
    sweep = sine_sweep(sample_rate, 0.01)
    assert all(k % 2 == 1 for k in sweep.bins) and len(set(sweep.bins)) == len(sweep.bins)
    assert sweep.frequencies.max() <= 0.2 * sample_rate + sample_rate / sweep.length
    assert sweep.signals().shape == (len(sweep.bins), sweep.settle + sweep.length)


@pytest.mark.parametrize("design", [
    lambda sr: signal.iirpeak(1000, 2, fs=sr),
    lambda sr: signal.butter(4, 3000, fs=sr),
    lambda sr: signal.butter(2, 200, "high", fs=sr),
])
def test_aliasing_is_zero_for_a_linear_filter(design):
    sr = 24000
    sweep = sine_sweep(sr, 0.1)
    b, a = design(sr)
    assert aliasing_per_tone(signal.lfilter(b, a, sweep.signals()), sweep) == pytest.approx(
        np.zeros(len(sweep.bins)), abs=1e-20)


def test_aliasing_is_positive_for_a_hard_clipper_and_grows_with_the_tone():
    sweep = sine_sweep(24000, 0.0)
    shares = aliasing_per_tone(np.clip(sweep.signals(), -0.2, 0.2), sweep)
    assert (shares > 1e-8).all()
    assert shares[-1] > 1e-2 and shares[-1] > 100 * shares[0]  # more harmonics pass Nyquist
    # squaring adds only DC and the second harmonic, below Nyquist here: no aliasing
    x = sweep.signals()
    assert aliasing_per_tone(x + x**2, sweep).max() < 1e-20


def test_aliasing_rejects_a_wrong_shape_and_silence():
    sweep = sine_sweep(16000, 0.0)
    with pytest.raises(MetricError, match="shape"):
        aliasing_per_tone(np.zeros((2, sweep.length)), sweep)
    with pytest.raises(MetricError, match="silent"):
        aliasing_per_tone(np.zeros((len(sweep.bins), sweep.length)), sweep)


@pytest.mark.parametrize("sample_rate", [16000, 44100])
@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5])
def test_t60_of_a_synthetic_exponential_decay_is_recovered_within_5_percent(seconds,
                                                                             sample_rate):
    rng = np.random.default_rng(1)
    t = np.arange(round(1.5 * seconds * sample_rate)) / sample_rate
    ir = rng.standard_normal(len(t)) * 10 ** (-3 * t / seconds)  # −60 dB after ``seconds``
    assert t60(ir, sample_rate) == pytest.approx(seconds, rel=0.05)


def test_energy_decay_starts_at_0_db_and_falls():
    ir = np.exp(-np.arange(1000) / 100.0)
    edc = energy_decay_db(ir)
    assert edc[0] == 0.0 and (np.diff(edc[np.isfinite(edc)]) <= 0).all()


def test_t60_needs_a_decay():
    with pytest.raises(MetricError, match="never falls"):
        t60(np.ones(100), 16000)  # its energy decay ends at −20 dB
    with pytest.raises(MetricError, match="silent"):
        t60(np.zeros(100), 16000)
