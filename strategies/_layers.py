"""Torch effect layers of the gradient strategies (imported lazily: this module imports torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.base import Counters
from bench.device import to_device, to_host
from bench.dsp import Chain


class ExactLayer(torch.nn.Module):
    """The chain's exact differentiable implementation; each backward is one gradient/example."""

    def __init__(self, chain: Chain, sample_rate: int, counters: Counters) -> None:
        super().__init__()
        self.chain, self.sample_rate, self.counters = chain, sample_rate, counters

    def forward(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Render with autograd tracking."""
        if torch.is_grad_enabled() and p.requires_grad:
            self.counters.grad_estimates += len(x)
        return self.chain.torch_process(x, p, self.sample_rate)


@dataclass
class SpsaConfig:
    """What the SPSA backward needs besides the tensors."""

    chain: Chain
    sample_rate: int
    epsilon: float
    perturbations: int
    rng: np.random.Generator
    counters: Counters
    workers: int | None = None


def spsa_gradient(cfg: SpsaConfig, x: np.ndarray, p: np.ndarray,
                  grad_y: np.ndarray) -> np.ndarray:
    """Two-sided SPSA estimate of d<grad_y, chain(x, p)>/dp, averaged over perturbations.

    Rademacher directions Δ scaled by ε around a centre c = clip(p, ε, 1 − ε), so both
    perturbed points stay inside [0, 1] and the difference stays symmetric and divided by its
    true width 2ε. Away from the boundary c = p; within ε of it the estimate is the gradient
    at a point at most ε away. Naive clipping of p ± εΔ with a 2ε divisor (DeepAFx-ST) makes
    the difference one-sided and halves the estimate there. All 2·K·B renders run in parallel.
    """
    b, n_params = p.shape
    k, eps = cfg.perturbations, cfg.epsilon
    delta = cfg.rng.choice(np.array([-1.0, 1.0]), size=(b, k, n_params))
    centre = np.clip(p, eps, 1.0 - eps)[:, None, :]
    plus, minus = centre + eps * delta, centre - eps * delta
    xs = np.repeat(x, k, axis=0)
    y = cfg.counters.render(
        cfg.chain, np.concatenate([xs, xs]),
        np.concatenate([plus.reshape(-1, n_params), minus.reshape(-1, n_params)]),
        cfg.sample_rate, cfg.workers)
    diff = (y[: b * k] - y[b * k:]).reshape(b, k, -1)
    dj = np.einsum("bkn,bn->bk", diff, grad_y.astype(np.float64))
    cfg.counters.grad_estimates += b
    return (dj[:, :, None] / (2.0 * eps * delta)).mean(axis=1)


class _SpsaFunction(torch.autograd.Function):
    """Forward through the reference DSP, backward by SPSA (no gradient for the audio input).
    The DSP runs on the CPU: audio, parameters and output gradient cross over, the output and
    the gradient estimate come back (counted transfers)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: torch.Tensor, cfg: SpsaConfig) -> torch.Tensor:  # type: ignore[override]
        x_np = to_host(x, cfg.counters).astype(np.float64)
        p_np = to_host(p, cfg.counters).astype(np.float64)
        ctx.cfg, ctx.x, ctx.p = cfg, x_np, p_np
        y = cfg.counters.render(cfg.chain, x_np, p_np, cfg.sample_rate, cfg.workers)
        return to_device(y, x.device, cfg.counters, x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        g = spsa_gradient(ctx.cfg, ctx.x, ctx.p, to_host(grad_y, ctx.cfg.counters))
        return None, to_device(g, grad_y.device, ctx.cfg.counters, grad_y.dtype), None


class SpsaLayer(torch.nn.Module):
    """Reference DSP forward, SPSA gradient backward."""

    def __init__(self, cfg: SpsaConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Render with the reference DSP; gradients w.r.t. p by SPSA."""
        return _SpsaFunction.apply(x, p, self.cfg)
