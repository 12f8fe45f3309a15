"""Audio metrics on signals with known answers, and their failures on invalid input."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from auraloss.freq import STFTLoss

from bench.base import Metric, MetricFailure, safe_metric
from bench.metrics import (
    METRICS,
    MetricError,
    crest_error,
    crest_factor_db,
    integrated_loudness,
    lufs_error,
    mel_filterbank,
    mrstft,
    mrstft_loss,
    msd,
    msd_per_example,
    pesq_wb,
    rms_db,
    rms_error,
    rms_error_per_example,
    sce,
    spectral_centroid,
)
from tests.metrics.signals import SR, noise, sine, speechlike

DB_3 = 10 * math.log10(2)   # 3.0103 dB: sine crest factor, sine RMS below peak
DB_6 = 20 * math.log10(2)   # 6.0206 dB: a gain of 2
BIN = SR / 2048             # SCE's bin width, 11.72 Hz


def square(seconds: float) -> np.ndarray:
    """±1 square wave of 1 kHz at 24 kHz, exactly 12 samples per half period."""
    return np.where((np.arange(int(seconds * SR)) // 12) % 2 == 0, 1.0, -1.0)


# --- PESQ ---------------------------------------------------------------------------------

def test_pesq_identical_signals_score_the_maximum():
    s = speechlike(2.0)
    assert pesq_wb(s, s, SR) == pytest.approx(4.644, abs=0.01)


def test_pesq_falls_with_added_noise():
    s = speechlike(2.0)
    scores = [pesq_wb(s + level * noise(s.size), s, SR) for level in (0.01, 0.1)]
    assert 4.0 > scores[0] > scores[1] > 1.0


@pytest.mark.parametrize(("sr", "message"), [(8000, "sample rate >= 16000"),
                                             (SR, "No utterances")])
def test_pesq_raises_on_narrow_band_rate_or_silence(sr, message):
    s = speechlike(2.0, sr)
    target = s if sr != SR else np.zeros_like(s)
    with pytest.raises(MetricError, match=message):
        pesq_wb(s, target, sr)


# --- MR-STFT ------------------------------------------------------------------------------

def test_mrstft_is_zero_for_identical_signals():
    x = noise()
    assert mrstft(x, x, SR) == 0.0


def test_mrstft_log_term_of_a_gain_is_its_log():
    x = torch.from_numpy(noise()).float()[None, None]
    log_only = mrstft_loss(w_lin_mag=0.0)
    for gain in (2.0, 0.5):
        assert float(log_only(gain * x, x)) == pytest.approx(abs(math.log(gain)), abs=1e-3)


def test_mrstft_linear_term_grows_with_gain_and_is_symmetric():
    x = noise()
    twice, thrice = mrstft(2 * x, x, SR), mrstft(3 * x, x, SR)
    # log term |ln g|; linear term (g − 1)·mean|X|, so the excess doubles from g = 2 to 3
    assert (thrice - math.log(3)) / (twice - math.log(2)) == pytest.approx(2.0, rel=1e-3)
    assert mrstft(x, 2 * x, SR) == pytest.approx(twice, rel=1e-6)


def test_mrstft_rejects_clips_too_short_for_32768_fft():
    x = noise(16384)
    with pytest.raises(MetricError, match="longer than 16384"):
        mrstft(x, x, SR)


def test_training_loss_factory_uses_requested_resolutions_and_differentiates():
    loss = mrstft_loss(fft_sizes=[256, 1024, 4096])
    assert [(r.fft_size, r.hop_size, r.win_length) for r in loss.stft_losses] == [
        (256, 128, 256), (1024, 512, 1024), (4096, 2048, 4096)]
    y = torch.from_numpy(noise(8000)).float()[None, None]
    gain = torch.tensor(0.5, requires_grad=True)
    loss(gain * y, y).backward()
    assert gain.grad is not None and float(gain.grad) < 0  # raising the gain reduces the loss


# --- MSD ----------------------------------------------------------------------------------

@pytest.mark.parametrize("samples", [24000, 40000])  # zero-padded and reflected centring
def test_msd_is_zero_for_identical_signals(samples):
    x = noise(samples)
    assert msd(x, x, SR) == 0.0


def test_msd_equals_auraloss_mel_loss_with_the_same_filterbank():
    # auraloss's MelSTFTLoss is STFTLoss with scale "mel" and librosa's bank in ``fb``
    est, tgt = noise(40000, seed=1), noise(40000, seed=2) * np.linspace(0, 2, 40000)
    ref = STFTLoss(65536, 65536, 65536, w_sc=0.0, w_log_mag=1.0, w_lin_mag=1.0)
    ref.scale = "mel"
    ref.fb = torch.from_numpy(mel_filterbank(SR, 65536, 128)).float()[None]
    expected = float(ref(*(torch.from_numpy(a).float()[None, None] for a in (est, tgt))))
    assert msd(est, tgt, SR) == pytest.approx(expected, rel=1e-4)


def test_msd_of_a_gain_is_log_gain_plus_scaled_linear_term():
    x = noise(24000)
    excess = [msd(g * x, x, SR) - math.log(g) for g in (2.0, 3.0)]
    assert excess[1] / excess[0] == pytest.approx(2.0, rel=1e-9)


# --- SCE ----------------------------------------------------------------------------------

@pytest.mark.parametrize("freq", [100, 440, 1000, 3000, 8000, 11000])
def test_sine_centroid_is_its_frequency_within_a_bin(freq):
    assert spectral_centroid(sine(freq, 2.0), SR)[0] == pytest.approx(freq, abs=BIN)


def test_sce_is_the_centroid_distance_and_ignores_gain():
    assert sce(sine(1000, 2.0), sine(3000, 2.0), SR) == pytest.approx(2000, abs=BIN)
    x = noise()
    assert sce(5 * x, x, SR) == pytest.approx(0.0, abs=1e-9)


def test_sce_raises_on_silence():
    with pytest.raises(MetricError, match="silent"):
        sce(np.zeros(4096), noise(4096), SR)


# --- RMS and crest factor -----------------------------------------------------------------

def test_rms_error_of_gains_in_log10_decibels():
    x = noise()
    batch = np.stack([2 * x, 0.5 * x, 10 * x])
    np.testing.assert_allclose(rms_error_per_example(batch, np.stack([x] * 3), SR),
                               [DB_6, DB_6, 20.0], rtol=1e-12)
    assert rms_error(batch, np.stack([x] * 3), SR) == pytest.approx((2 * DB_6 + 20) / 3)


def test_rms_and_crest_of_sine_and_square():
    assert rms_db(sine(1000, 1.0))[0] == pytest.approx(-DB_3, abs=1e-9)
    assert crest_factor_db(sine(1000, 1.0))[0] == pytest.approx(DB_3, abs=1e-9)
    assert crest_factor_db(square(1.0))[0] == pytest.approx(0.0, abs=1e-12)
    assert crest_error(sine(1000, 1.0), square(1.0), SR) == pytest.approx(DB_3, abs=1e-9)
    x = noise()
    assert crest_error(5 * x, x, SR) == pytest.approx(0.0, abs=1e-9)


def test_silence_has_the_floor_level():
    assert rms_db(np.zeros(100))[0] == -160.0
    assert rms_error(np.zeros(24000), sine(1000, 1.0), SR) == pytest.approx(160 - DB_3)


# --- LUFS ---------------------------------------------------------------------------------

def test_full_scale_997_hz_sine_measures_minus_3_lufs():
    # BS.1770's calibration point, within EBU Tech 3341's ±0.1 LU (pyloudnorm gives −3.05)
    assert integrated_loudness(sine(997, 2.0, 48000), 48000)[0] == pytest.approx(-3.01, abs=0.1)


def test_lufs_error_of_a_gain_is_its_level_in_lu():
    x = speechlike(1.0)
    assert lufs_error(2 * x, x, SR) == pytest.approx(DB_6, abs=1e-6)


@pytest.mark.parametrize(("estimate", "message"), [(np.zeros(SR), "silent"),
                                                   (noise(SR // 5), "block size")])
def test_lufs_failures_are_recorded_not_inf(estimate, message):
    target = noise(estimate.size, seed=3)
    failure = safe_metric(lambda: lufs_error(estimate, target, SR))
    assert isinstance(failure, MetricFailure)
    assert message in failure.error


# --- every audio metric -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A batch of two speech-like 1 s clips and slightly noisy, quieter estimates."""
    tgt = np.stack([speechlike(1.0), speechlike(1.0)[::-1].copy()])
    return 0.7 * tgt + 0.003 * noise(tgt.size).reshape(tgt.shape), tgt


@pytest.mark.parametrize("name", sorted(METRICS))
def test_identical_signals_get_the_best_value(name, pair):
    _, tgt = pair
    best = 4.644 if name == "pesq" else 0.0
    assert METRICS[name].fn(tgt, tgt, SR) == pytest.approx(best, abs=0.01)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_batch_value_is_the_mean_of_per_example_values(name, pair):
    spec = METRICS[name]
    values = spec.per_example(*pair, SR)
    assert values.shape == (2,) and np.isfinite(values).all()
    assert spec.fn(*pair, SR) == pytest.approx(values.mean(), rel=1e-9)
    assert spec.per_example(pair[0][1], pair[1][1], SR) == pytest.approx(values[1:], rel=1e-6)


@pytest.mark.parametrize("name", sorted(METRICS))
@pytest.mark.parametrize(("estimate", "message"), [
    (np.full(SR, np.nan), "NaN or inf"),
    (noise(SR - 1), "differs from target shape"),
    (np.zeros((1, 1, SR)), "must have shape"),
])
def test_invalid_audio_becomes_a_failed_metric(name, estimate, message):
    failure = safe_metric(lambda: METRICS[name].fn(estimate, noise(SR), SR))
    assert isinstance(failure, MetricFailure) and message in failure.error


def test_metric_table_declares_directions_and_units():
    table = {name: (s.metric.higher_is_better, s.metric.unit) for name, s in METRICS.items()}
    assert table == {"pesq": (True, "MOS"), "mrstft": (False, ""), "msd": (False, ""),
                     "sce": (False, "Hz"), "rms": (False, "dB"), "crest": (False, "dB"),
                     "lufs": (False, "LU")}
    assert all(isinstance(s.metric, Metric) and s.metric.name == n for n, s in METRICS.items())
    assert METRICS["msd"].fn.__name__ == "msd" and METRICS["msd"].per_example is msd_per_example


def test_importing_metrics_does_not_import_torch():
    code = "import sys, bench.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
