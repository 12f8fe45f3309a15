"""Effects that take float32 signals directly agree with their float64 path.

Equivalence tests for the float32 fast path: before it, a float32 signal was converted to
float64, processed, and the output and gradients rounded back. The EQ kernels now read and
write float32 themselves and must give exactly what that conversion gave (tolerance 0); the
compressor also computes its level and gain in float32 (everything else in float64), within
1e-6 of the float64 path relative to the largest value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.dsp import get_effect
from tests.dsp.conftest import SR

FLOAT32_EFFECTS = ("peq", "compressor")
TOLERANCE = {"peq": 0.0, "compressor": 1e-6}
"""Largest |float32 path - float64 path| / max |float64 path| of output and gradients."""


def _forward_backward(effect, x: torch.Tensor, p: torch.Tensor, grad: torch.Tensor):
    """Output and gradients w.r.t. x and p of <effect(x, p), grad>."""
    x, p = x.clone().requires_grad_(True), p.clone().requires_grad_(True)
    y = effect.torch_process(x, p, SR)
    y.backward(grad.to(y.dtype))
    return y.detach(), x.grad, p.grad


@pytest.mark.parametrize("name", FLOAT32_EFFECTS)
def test_effect_takes_float32(name):
    assert get_effect(name).takes_float32


def _close(a32: torch.Tensor, a64: torch.Tensor, tolerance: float) -> bool:
    if tolerance == 0:
        return torch.equal(a32, a64.float())
    return float((a32.double() - a64).abs().max()) <= tolerance * float(a64.abs().max())


@pytest.mark.parametrize("name", FLOAT32_EFFECTS)
def test_float32_torch_path_agrees_with_the_float64_path(rng, name):
    effect = get_effect(name)
    x = torch.from_numpy((0.5 * rng.standard_normal((3, 4000))).astype(np.float32))
    p = torch.from_numpy(rng.uniform(size=(3, effect.n_params)).astype(np.float32))
    grad = torch.from_numpy(rng.standard_normal((3, 4000)).astype(np.float32))
    y32, gx32, gp32 = _forward_backward(effect, x, p, grad)
    y64, gx64, gp64 = _forward_backward(effect, x.double(), p.double(), grad)
    assert y32.dtype == gx32.dtype == gp32.dtype == torch.float32
    for a32, a64 in ((y32, y64), (gx32, gx64), (gp32, gp64)):
        assert _close(a32, a64, TOLERANCE[name])
    assert not torch.equal(y32, x)


@pytest.mark.parametrize("name", FLOAT32_EFFECTS)
def test_float32_reference_is_the_float64_reference_rounded(rng, name):
    effect = get_effect(name)
    x = (0.5 * rng.standard_normal((3, 4000))).astype(np.float32)
    p = rng.uniform(size=(3, effect.n_params))
    y = effect.process(x, p, SR)
    assert y.dtype == np.float32
    assert np.array_equal(y, effect.process(x.astype(np.float64), p, SR).astype(np.float32))
