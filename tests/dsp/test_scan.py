"""The device path (parallel scans in torch) against the Numba kernels, forced on CPU tensors;
and that it keeps every tensor on its input's device (checked on ``meta`` tensors, which refuse
to mix with CPU tensors as CUDA ones do, on any machine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.dsp import _scan, get_effect, ops
from bench.dsp.verify import Placement, check_settings
from tests.dsp.conftest import SR
from tests.dsp.test_kernels import stable_sos


def loop(a: np.ndarray, u: np.ndarray) -> np.ndarray:
    """h[t] = a[t]·h[t-1] + u[t], one sample at a time."""
    h, prev = np.empty_like(u), 0.0
    a = np.broadcast_to(a, u.shape)
    for t in range(u.shape[-1]):
        prev = h[..., t] = a[..., t] * prev + u[..., t]
    return h


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000])
@pytest.mark.parametrize("constant", [True, False])
def test_linear_scan_is_the_recurrence(rng, n, constant):
    a = rng.uniform(-0.99, 0.99, size=(3, 1 if constant else n))
    u = rng.standard_normal((3, n))
    got = _scan.linear_scan(torch.from_numpy(a), torch.from_numpy(u)).numpy()
    assert np.abs(got - loop(a, u)).max() <= 1e-13 * max(1.0, np.abs(loop(a, u)).max())


@pytest.mark.parametrize("sections", [1, 2, 3, 6])
def test_sos_filter_equals_the_kernel(rng, sections):
    sos = stable_sos(rng, 2, sections)
    x = rng.standard_normal((2, 3000))
    ref = ops.sos_filter(x, sos)
    with ops.scan_path():
        got = ops.sos_filter(torch.from_numpy(x), torch.from_numpy(sos)).numpy()
        got32 = ops.sos_filter(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(sos))
    assert np.abs(got - ref).max() <= 1e-13 * np.abs(ref).max()
    assert got32.dtype == torch.float32
    assert np.abs(got32.numpy() - ref).max() <= 1e-6 * np.abs(ref).max()
    xs, ss = rng.standard_normal((2, 40)), stable_sos(rng, 2, sections)
    inputs = (torch.tensor(xs, requires_grad=True), torch.tensor(ss, requires_grad=True))
    assert torch.autograd.gradcheck(_scan.sos_filter, inputs)


def test_repeated_and_real_poles(rng):
    sos = np.array([[[1.0, 0.3, 0.2, -1.8, 0.81]], [[0.5, -0.2, 0.1, -0.5, -0.24]]])
    x = rng.standard_normal((2, 500))
    ref = ops.sos_filter(x, sos)
    got = _scan.sos_filter(torch.from_numpy(x), torch.from_numpy(sos)).numpy()
    assert np.abs(got - ref).max() <= 1e-13 * np.abs(ref).max()


def _gradients(fn, x, params, g):
    xt, pt = (torch.tensor(a, requires_grad=True) for a in (x, params))
    (fn(xt, pt, -96.0, 1e-8) * g).sum().backward()
    return xt.grad, pt.grad


@pytest.mark.parametrize("knee", [0.0, 9.0])
def test_compressor_equals_the_kernel_with_the_same_gradients(rng, knee):
    """Levels from -60 to +6 dB cross threshold and knee; one sample is exactly 0."""
    x = rng.standard_normal((2, 60)) * np.repeat([1.0, 0.001, 2.0], 20)
    x[0, 5] = 0.0
    params = np.array([[-20.0, 4.0, knee, 0.3, 0.9, 2.0], [-6.0, 1.5, knee, 0.6, 0.95, -3.0]])
    ref = ops.compress(x, params, -96.0, 1e-8)
    got = _scan.compress(torch.from_numpy(x), torch.from_numpy(params), -96.0, 1e-8).numpy()
    assert np.abs(got - ref).max() <= 1e-13 * np.abs(ref).max()
    g = torch.from_numpy(rng.standard_normal(x.shape))
    for ours, kernels in zip(_gradients(_scan.compress, x, params, g),
                             _gradients(ops.compress, x, params, g), strict=True):
        assert torch.allclose(ours, kernels, rtol=1e-10, atol=1e-12)
    inputs = (torch.tensor(x, requires_grad=True), torch.tensor(params, requires_grad=True),
              -96.0, 1e-8)
    assert torch.autograd.gradcheck(_scan.compress, inputs)


def test_ballistics_reach_the_exact_branches_from_a_wrong_first_guess(rng):
    """Release faster than attack, levels jumping every 50 samples: the first guess (the target
    rising) is wrong almost everywhere, yet the fixed point is the sequential result."""
    x = rng.standard_normal((3, 4000)) * np.repeat(10 ** rng.uniform(-3, 0, 80), 50)
    params = np.array([[-30.0, 8.0, 0.0, 0.999, 0.9, 0.0]] * 3)
    ref = ops.compress(x, params, -96.0, 1e-8)
    got = _scan.compress(torch.from_numpy(x), torch.from_numpy(params), -96.0, 1e-8).numpy()
    assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


@pytest.mark.parametrize("delay", [2.5, 3.0, 7.9, 700.3])
def test_comb_equals_the_kernel(rng, delay):
    x = rng.standard_normal((2, 3000 if delay > 100 else 120))  # blocks of delay - 1 samples
    d, g = np.array([delay, delay + 1.5]), np.array([0.5, -0.7])
    ref = ops.comb(x, d, g, 0.3)
    got = _scan.comb(*(torch.from_numpy(a) for a in (x, d, g)), 0.3).numpy()
    assert np.abs(got - ref).max() <= 1e-13 * np.abs(ref).max()
    short = (torch.tensor(x[:, :30], requires_grad=True), torch.tensor(d, requires_grad=True),
             torch.tensor(g, requires_grad=True), 0.3)
    if delay < 20:  # a longer delay leaves 30 samples without echoes
        assert torch.autograd.gradcheck(_scan.comb, short)


def test_comb_rejects_delays_shorter_than_two_samples():
    with ops.scan_path(), pytest.raises(ValueError, match="2 samples"):
        ops.comb(torch.zeros(1, 8), torch.tensor([1.5]), torch.tensor([0.5]), 0.0)


@pytest.mark.parametrize("name", ["peq", "compressor", "distortion", "delay", "reverb"])
def test_every_effect_verifies_on_the_scan_path(name):
    """`bench verify --effects`'s checks on the scan path (float64 agreement, float32 SNR,
    gradcheck) on one setting and 0.1 s: the full run is `verify --effects --scan`."""
    effect, rng = get_effect(name), np.random.default_rng(0)
    result = check_settings(effect, rng.uniform(size=(1, effect.n_params)), rng, 16000,
                            Placement(scan=True), seconds=0.1)
    assert result.passed, result.failures
    assert result.grad_total > 0


def test_scan_path_is_only_forced_inside_its_block(rng):
    x = torch.from_numpy(rng.standard_normal((1, 100)))
    sos = torch.from_numpy(stable_sos(rng, 1, 1))
    calls = []
    original = _scan.sos_filter
    try:
        _scan.sos_filter = lambda *a: calls.append(1) or original(*a)
        ops.sos_filter(x, sos)
        with ops.scan_path():
            ops.sos_filter(x, sos)
        ops.sos_filter(x, sos)
    finally:
        _scan.sos_filter = original
    assert calls == [1]


@pytest.mark.parametrize("name", ["peq", "distortion", "reverb"])
def test_effects_keep_their_tensors_on_the_input_device(name):
    """Any CPU constant mixed into a render on ``meta`` tensors is an error; the effects whose
    recursions branch on values (compressor, delay) cannot run on ``meta``."""
    effect = get_effect(name)
    x = torch.empty(2, 400, dtype=torch.float32 if effect.takes_float32 else torch.float64,
                    device="meta")
    p = torch.empty(2, effect.n_params, dtype=torch.float32, device="meta")
    y = effect.render(torch, x, effect.physical(p, SR), SR)
    assert y.device.type == "meta" and y.shape == (2, 400)


def test_the_compressor_outside_its_ballistics_keeps_the_device():
    x, column = torch.empty(2, 50, device="meta"), torch.empty(2, 1, device="meta")
    assert _scan.static_reduction(x, column, column, column, -96.0, 1e-8).device.type == "meta"
