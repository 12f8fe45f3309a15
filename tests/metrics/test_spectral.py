"""Slaney mel scale and filterbank, and the centred STFT against torch.stft."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.metrics import hz_to_mel, mel_filterbank, mel_to_hz, stft_magnitude

SR, N_FFT, N_MELS = 24000, 65536, 128


@pytest.fixture(scope="module")
def bank() -> np.ndarray:
    return mel_filterbank(SR, N_FFT, N_MELS)


def centres() -> np.ndarray:
    return mel_to_hz(np.linspace(0, hz_to_mel(SR / 2), N_MELS + 2))


def test_slaney_mel_scale_known_points():
    # linear below 1 kHz at 200/3 Hz per mel; 15 mels at 1 kHz; 27 mels per factor 6.4 above
    assert hz_to_mel(200 / 3) == pytest.approx(1.0)
    assert hz_to_mel(500) == pytest.approx(7.5)
    assert hz_to_mel(1000) == pytest.approx(15.0)
    assert hz_to_mel(6400) == pytest.approx(42.0)
    f = np.geomspace(1, 96000, 200)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-12)


def test_filterbank_peaks_at_mel_centres(bank):
    assert bank.shape == (N_MELS, N_FFT // 2 + 1)
    peak_hz = np.fft.rfftfreq(N_FFT, 1 / SR)[bank.argmax(axis=1)]
    np.testing.assert_allclose(peak_hz, centres()[1:-1], atol=SR / N_FFT)


def test_filterbank_triangles_have_unit_area_in_hz(bank):
    np.testing.assert_allclose(bank.sum(axis=1) * SR / N_FFT, 1.0, rtol=1e-3)


def test_unnormalised_triangles_partition_unity(bank):
    edges = centres()
    triangles = bank * ((edges[2:] - edges[:-2]) / 2)[:, None]
    hz = np.fft.rfftfreq(N_FFT, 1 / SR)
    inside = (hz >= edges[1]) & (hz <= edges[-2])
    np.testing.assert_allclose(triangles[:, inside].sum(axis=0), 1.0, atol=1e-9)
    assert triangles.max() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(("length", "pad_mode"), [(3000, "reflect"), (200, "constant")])
def test_stft_magnitude_matches_torch_centred_stft(length, pad_mode):
    x = np.random.default_rng(1).standard_normal((2, length))
    ours = stft_magnitude(x, 512, 128)
    window = torch.hann_window(512, dtype=torch.float64)
    ref = torch.stft(torch.from_numpy(x), 512, 128, window=window, center=True,
                     pad_mode=pad_mode, return_complex=True).abs().numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_stft_frame_count_of_deepafx_msd():
    # 131072 samples, FFT = hop = 65536, centred: DeepAFx-ST's 3 frames
    assert stft_magnitude(np.zeros((1, 131072)), 65536, 65536).shape == (1, 32769, 3)
