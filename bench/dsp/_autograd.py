"""torch.autograd Functions whose forward and backward are the Numba kernels (exact adjoints).

Imported lazily by :mod:`bench.dsp.ops` when a gradient is needed, so effect discovery never
pays for torch. Inputs are CPU tensors, float64 unless a Function says otherwise; the backward
is not itself differentiable.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from bench.dsp import _kernels_ballistics as kbal
from bench.dsp import _kernels_biquad as kbq
from bench.dsp import _kernels_comb as kcomb


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy())


def _grads(ctx: object, *arrays: np.ndarray) -> tuple[torch.Tensor | None, ...]:
    """Wrap kernel gradients as tensors, None where the input needs no gradient."""
    needs = ctx.needs_input_grad  # type: ignore[attr-defined]
    pairs = zip(arrays, needs, strict=False)  # FeedbackComb's damping input has no array
    return tuple(torch.from_numpy(a) if need else None for a, need in pairs)


class SosFilter(torch.autograd.Function):
    """y = biquad cascade(x) per batch item; gradients w.r.t. x and every coefficient.

    x may be float32 (y and its gradient are then float32, computed in float64 and rounded
    once); the kernels read and write it directly instead of converting whole signals.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, sos: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        xn, sn = _np(x), _np(sos)
        y = np.empty_like(xn)
        trace = np.empty((xn.shape[0], sn.shape[1] + 1, kbq.PAD + xn.shape[1]))
        trace[:, :, : kbq.PAD] = 0.0
        kbq.cascade(xn, sn, y, trace)
        ctx.state = (sn, trace)
        return torch.from_numpy(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        sn, trace = ctx.state
        gy = _np(grad_y)
        gx, gs = np.empty_like(gy), np.empty_like(sn)
        kbq.cascade_adjoint(gy, sn, trace, gx, gs)
        return _grads(ctx, gx, gs)


class Compressor(torch.autograd.Function):
    """The whole compressor (level, static curve, ballistics, output gain) as one Function:
    torch computes the level and the gain (vectorized log10/exp), one kernel the smoothed
    reduction, and one kernel the exact adjoint of everything, instead of ~20 element-wise
    torch ops and their backward. For a float32 x the level and the gain are float32 (5× and
    4× cheaper than in float64, relative error ~1e-7); the static curve, the ballistics and
    every gradient are computed in float64."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x: torch.Tensor, params: torch.Tensor, floor_db: float, eps: float
    ) -> torch.Tensor:
        xn, pn = _np(x), _np(params)
        raw = torch.log10(x.detach().abs().add_(eps)).mul_(20).numpy()
        red = np.empty(raw.shape)
        mask = np.empty(raw.shape, dtype=np.bool_)
        kbal.compress(raw, *pn.T[:5], floor_db, red, mask)
        gain = torch.from_numpy(pn[:, 5:] - red).to(x.dtype).mul_(kbal.NEPER_PER_DB).exp_()
        ctx.state = (xn, raw, red, gain.numpy(), mask, pn, floor_db, eps)
        return x.detach() * gain

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        xn, raw, red, gain, mask, pn, floor_db, eps = ctx.state
        gx, gp = np.empty_like(xn), np.empty_like(pn)
        kbal.compress_adjoint(_np(grad_y), xn, raw, red, gain, mask, pn, floor_db, eps, gx, gp)
        return (*_grads(ctx, gx, gp), None, None)


class FeedbackComb(torch.autograd.Function):
    """Damped feedback comb with a cubic fractional read; gradients w.r.t. x, delay, feedback."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x: torch.Tensor, delay: torch.Tensor, feedback: torch.Tensor, damping: float
    ) -> torch.Tensor:
        xn, dn, fn = _np(x), _np(delay), _np(feedback)
        s, w = np.empty_like(xn), np.empty_like(xn)
        kcomb.comb(xn, dn, fn, damping, s, w)
        ctx.state = (s, w, dn, fn, damping)
        return torch.from_numpy(s)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        s, w, dn, fn, damping = ctx.state
        gx, gd, gf = np.empty_like(s), np.empty_like(dn), np.empty_like(fn)
        kcomb.comb_adjoint(_np(grad_s), s, w, dn, fn, damping, gx, gd, gf)
        return (*_grads(ctx, gx, gd, gf), None)
