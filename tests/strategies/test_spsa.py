"""SPSA: the averaged estimate converges to the known gradient, also at the [0, 1] boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.base import Counters
from strategies._layers import SpsaConfig, SpsaLayer, spsa_gradient


class QuadraticChain:
    """A stand-in effect with a known gradient: y = x · (w·p + ½ pᵀAp) per row."""

    n_params = 4

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.w = rng.normal(size=4)
        a = rng.normal(size=(4, 4))
        self.a = a + a.T

    def gain(self, p: np.ndarray) -> np.ndarray:
        return p @ self.w + 0.5 * np.einsum("bi,ij,bj->b", p, self.a, p)

    def process(self, x: np.ndarray, p: np.ndarray, sample_rate: int) -> np.ndarray:
        assert p.min() >= 0.0 and p.max() <= 1.0, "perturbation left [0, 1]"
        return x * self.gain(p)[:, None]

    def true_grad(self, x: np.ndarray, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """d<g, y>/dp = <g, x> · (w + A p)."""
        return (g * x).sum(1)[:, None] * (self.w + p @ self.a)


@pytest.mark.parametrize("p0", [[0.5, 0.3, 0.7, 0.2], [0.0, 1.0, 1e-4, 0.5]])
def test_averaged_estimate_converges_to_true_gradient(p0):
    chain = QuadraticChain()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 64))
    g = rng.normal(size=(1, 64))
    p = np.array([p0])
    cfg = SpsaConfig(chain, 16000, epsilon=0.01, perturbations=4000,
                     rng=np.random.default_rng(2), counters=Counters(), workers=1)
    est = spsa_gradient(cfg, x, p, g)
    true = chain.true_grad(x, p, g)
    assert np.allclose(est, true, rtol=0.1, atol=0.1 * np.abs(true).max())
    assert cfg.counters.dsp_evals == 2 * 4000 and cfg.counters.grad_estimates == 1


def test_naive_clipping_would_be_biased_at_the_boundary():
    """The 2ε divisor with clipped steps halves the estimate where p = 0; ours does not."""
    chain = QuadraticChain()
    rng = np.random.default_rng(3)
    x, g = rng.normal(size=(1, 64)), rng.normal(size=(1, 64))
    p = np.array([[0.0, 0.5, 0.5, 0.5]])
    eps, k = 0.01, 4000
    delta = rng.choice([-1.0, 1.0], size=(k, 4))
    plus, minus = np.clip(p + eps * delta, 0, 1), np.clip(p - eps * delta, 0, 1)
    xs = np.repeat(x, k, 0)
    dj = ((chain.process(xs, plus, 1) - chain.process(xs, minus, 1)) * g).sum(1)
    naive = (dj[:, None] / (2 * eps * delta)).mean(0)
    true = chain.true_grad(x, p, g)[0]
    ours = spsa_gradient(SpsaConfig(chain, 1, eps, k, np.random.default_rng(4), Counters(), 1),
                         x, p, g)[0]
    assert abs(naive[0] / true[0] - 0.5) < 0.1  # the reference code's bias
    assert abs(ours[0] / true[0] - 1.0) < 0.1


def test_layer_forward_is_the_reference_and_backward_is_spsa():
    chain = QuadraticChain()
    counters = Counters()
    layer = SpsaLayer(SpsaConfig(chain, 1, 0.01, 2, np.random.default_rng(0), counters, 2))
    x = torch.randn(3, 32, dtype=torch.float64)
    p = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    y = layer(x, p)
    assert torch.allclose(y, torch.from_numpy(chain.process(x.numpy(), p.detach().numpy(), 1)))
    y.sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    assert counters.dsp_evals == 3 + 2 * 2 * 3 and counters.grad_estimates == 3
