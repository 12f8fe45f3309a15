"""Reference values for the EQ: analytic RBJ response, scipy's sosfilt, the FFT option."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from bench.dsp import get_effect
from bench.dsp.peq import BANDS
from tests.dsp.conftest import SR, impulse


def analog_prototype(kind: str, gain_db, f0, q, f: np.ndarray, sr: int) -> np.ndarray:
    """The cookbook's analog prototype at the bilinear-warped frequency of f (Hz)."""
    a = 10 ** (gain_db / 40)
    s = 1j * np.tan(np.pi * f / sr) / np.tan(np.pi * f0 / sr)
    k = np.sqrt(a) / q
    if kind == "peak":
        return (s**2 + s * a / q + 1) / (s**2 + s / (a * q) + 1)
    if kind == "low_shelf":
        return a * (s**2 + k * s + a) / (a * s**2 + k * s + 1)
    return a * (a * s**2 + k * s + 1) / (s**2 + k * s + a)


def scipy_sos(sos: np.ndarray) -> np.ndarray:
    """Our [b0, b1, b2, a1, a2] rows as scipy's [b0, b1, b2, 1, a1, a2]."""
    return np.concatenate([sos[:, :3], np.ones((len(sos), 1)), sos[:, 3:]], axis=1)


@pytest.mark.parametrize("sr", [24000, 44100])
def test_magnitude_response_equals_analytic_rbj(rng, sr):
    peq = get_effect("peq")
    p = rng.uniform(size=(6, peq.n_params))
    n = 1 << 17
    response = np.fft.rfft(peq.process(impulse(6, n), p, sr))
    f = np.fft.rfftfreq(n, 1 / sr)[1:-1]
    v = peq.physical(p, sr)
    for b in range(6):
        expected = np.ones_like(f, dtype=complex)
        for prefix, kind, *_ in BANDS:
            expected *= analog_prototype(kind, v[f"{prefix}_gain"][b], v[f"{prefix}_cutoff"][b],
                                         v[f"{prefix}_q"][b], f, sr)
        error_db = 20 * np.log10(np.abs(response[b, 1:-1]) / np.abs(expected))
        assert np.abs(error_db).max() < 1e-7


def test_peak_gain_at_its_cutoff():
    peq = get_effect("peq")
    from tests.dsp.conftest import normalized

    p = normalized(peq, SR, band2_gain=9.0, band2_cutoff=1500.0, band2_q=2.0)
    n = 1 << 16
    h = peq.process(impulse(1, n), p, SR)[0]
    _, resp = scipy.signal.freqz(h, worN=[2 * np.pi * 1500.0 / SR])
    assert 20 * np.log10(np.abs(resp[0])) == pytest.approx(9.0, abs=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cascade_equals_scipy_sosfilt(rng, dtype):
    peq = get_effect("peq")
    x = (0.3 * rng.standard_normal((4, 20000))).astype(dtype)
    p = rng.uniform(size=(4, peq.n_params))
    y = peq.process(x, p, SR)
    sos = peq.sos(np, peq.physical(p, SR), SR)
    for b in range(4):
        ref = scipy.signal.sosfilt(scipy_sos(sos[b]), x[b].astype(np.float64))
        err = np.abs(y[b] - ref).max() / np.abs(ref).max()
        assert err < (1e-12 if dtype == np.float64 else 1e-6)


def test_zero_gains_are_the_identity(rng):
    peq = get_effect("peq")
    p = rng.uniform(size=(3, peq.n_params))
    p[:, 0::3] = 0.5  # every gain 0 dB
    x = rng.standard_normal((3, 4000))
    assert np.allclose(peq.process(x, p, SR), x, atol=1e-12)


def test_frequency_sampling_option_is_approximate_and_not_default(rng):
    peq = get_effect("peq")
    x = torch.from_numpy(rng.standard_normal((2, 4096)))
    damped = torch.ones(2, peq.n_params, dtype=torch.float64)  # top cutoffs: short responses
    damped[:, 0::3] = 0.7  # +9.6 dB everywhere
    damped[:, 2::3] = 0.5  # Q = 1
    exact = peq.torch_process(x, damped, SR)
    reference = torch.from_numpy(peq.process(x.numpy(), damped.numpy(), SR))
    assert torch.allclose(exact, reference, rtol=0, atol=1e-12)
    fsm = peq.torch_process(x, damped, SR, method="freqsamp")
    assert ((fsm - exact).abs().max() / exact.abs().max()) < 1e-12
    sharp = torch.ones(2, peq.n_params)
    sharp[:, 1] = 0.0  # low shelf at 20 Hz with Q 10: rings far beyond n_fft
    error = (peq.torch_process(x, sharp, SR, method="freqsamp")
             - peq.torch_process(x, sharp, SR)).abs().max()
    assert error > 1e-3
    with pytest.raises(ValueError, match="freqsamp"):
        peq.torch_process(x, damped, SR, method="fft")
