"""The autograd Functions around the Numba kernels, checked directly (f64 gradcheck)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from bench.dsp import ops
from bench.dsp._autograd import Compressor, FeedbackComb, SosFilter


def stable_sos(rng: np.random.Generator, batch: int, sections: int) -> np.ndarray:
    """Random biquads with poles inside radius 0.95."""
    r = rng.uniform(0.3, 0.95, size=(batch, sections))
    theta = rng.uniform(0, np.pi, size=(batch, sections))
    b = rng.standard_normal((batch, sections, 3))
    return np.concatenate([b, np.stack([-2 * r * np.cos(theta), r**2], axis=-1)], axis=-1)


@pytest.mark.parametrize("sections", [1, 2, 3, 6])
def test_sos_filter_gradients_and_values(rng, sections):
    sos = stable_sos(rng, 2, sections)
    x = rng.standard_normal((2, 40))
    y = ops.sos_filter(x, sos)
    for b in range(2):
        full = np.concatenate([sos[b, :, :3], np.ones((sections, 1)), sos[b, :, 3:]], axis=1)
        ref = scipy.signal.sosfilt(full, x[b])
        assert np.abs(y[b] - ref).max() <= 1e-12 * np.abs(ref).max()
    inputs = (torch.tensor(x, requires_grad=True), torch.tensor(sos, requires_grad=True))
    assert torch.autograd.gradcheck(SosFilter.apply, inputs)


def test_float32_signals_are_filtered_in_float64(rng):
    sos = stable_sos(rng, 1, 6)
    x = rng.standard_normal((1, 3000)).astype(np.float32)
    y32 = np.empty_like(x)
    from bench.dsp._kernels_biquad import cascade

    cascade(x, sos, y32, np.zeros((1, 0, 0)))
    y64 = ops.sos_filter(x.astype(np.float64), sos)
    assert np.abs(y32 - y64).max() <= 1e-6 * np.abs(y64).max()


@pytest.mark.parametrize("knee", [0.0, 9.0])
def test_compressor_gradients(rng, knee):
    """Levels from -60 to +6 dB cross the threshold and the knee; one sample is exactly 0."""
    x = rng.standard_normal((2, 60)) * np.repeat([1.0, 0.001, 2.0], 20)
    x[0, 5] = 0.0
    params = np.array([[-20.0, 4.0, knee, 0.3, 0.9, 2.0], [-6.0, 1.5, knee, 0.6, 0.95, -3.0]])
    inputs = (torch.tensor(x, requires_grad=True), torch.tensor(params, requires_grad=True),
              -96.0, 1e-8)
    assert torch.autograd.gradcheck(Compressor.apply, inputs)


@pytest.mark.parametrize("delay", [2.5, 3.0, 7.9])
def test_comb_gradients(rng, delay):
    x = rng.standard_normal((2, 50))
    d, g = np.array([delay, delay + 1.5]), np.array([0.5, -0.7])
    inputs = (torch.tensor(x, requires_grad=True), torch.tensor(d, requires_grad=True),
              torch.tensor(g, requires_grad=True), 0.3)
    assert torch.autograd.gradcheck(FeedbackComb.apply, inputs)


def test_comb_rejects_delays_shorter_than_two_samples():
    with pytest.raises(ValueError, match="2 samples"):
        ops.comb(np.zeros((1, 8)), np.array([1.5]), np.array([0.5]), 0.0)
