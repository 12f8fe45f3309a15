"""The effects' recursions as parallel scans in plain torch: their exact path on any device.

The Numba kernels run on CPU arrays only, and a sample loop in torch would launch a few kernels per
sample. Here every recursion is reduced to first-order linear recurrences h[t] = a[t]·h[t-1] +
u[t], solved by a Hillis–Steele scan (⌈log2 N⌉ vectorized steps, so a GPU runs each step at once
over batch and time), and each adjoint is the same scan run backwards in time:

- a biquad's all-pole part is two complex one-pole stages, its poles, in cascade (exact for any
  pair of poles, repeated ones included); the FIR part is three shifted products;
- the compressor's ballistics switch between attack and release on the state itself, so the scan
  is repeated on the branch mask until the mask reproduces itself. That fixed point is the exact
  solution: the first sample whose branch is wrong moves forward every pass (the scan's prefix up
  to it is the true one), so it takes at most N + 1 passes, 5–11 on audio;
- the feedback comb reads its delay line at least ``floor(delay) - 1`` samples back, so blocks no
  longer than that depend only on earlier blocks: blocks run in order, each a gather of the
  delay-line taps and its damping one-pole as one triangular matrix product.

Everything runs in float64 on the input's device; outputs have the input's dtype. The results
equal the Numba kernels' to rounding (the tests force this path on CPU tensors: ``ops.scan_path``).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from bench.dsp._kernels_ballistics import NEPER_PER_DB

F64, C128 = torch.float64, torch.complex128
COMB_BLOCK = 512
"""Longest comb block: its damping matrix is COMB_BLOCK² floats."""


def linear_scan(a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """h with h[t] = a[t]·h[t-1] + u[t] (h[-1] = 0) along the last axis; ``a`` is (..., N) or
    a constant (..., 1). Each h[t] depends only on a[:t+1] and u[:t+1], by the same operations
    whatever follows it."""
    n, constant = u.shape[-1], a.shape[-1] == 1
    u, a = u.clone(), a.clone()
    step = 1
    while step < n:  # each right-hand side is a new tensor, so the updates read old values
        u[..., step:] += (a if constant else a[..., step:]) * u[..., :-step]
        if 2 * step < n:
            if constant:
                a = a * a
            else:
                a[..., step:] = a[..., step:] * a[..., :-step]
        step *= 2
    return u


def delayed(x: torch.Tensor, lag: int) -> torch.Tensor:
    """x[t - lag] along the last axis, zero before the start."""
    return torch.nn.functional.pad(x, (lag, 0))[..., : x.shape[-1]]


def _flip_scan(a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The scan backwards in time: h[t] = a[t]·h[t+1] + u[t]."""
    return linear_scan(a.flip(-1), u.flip(-1)).flip(-1)


def _all_pole(v: torch.Tensor, a: torch.Tensor, backwards: bool = False) -> torch.Tensor:
    """w[t] = v[t] - a1·w[t-1] - a2·w[t-2] for a (batch, 2) (or its time reverse): the two
    poles' one-pole stages in cascade, in complex arithmetic."""
    a1, a2 = a[:, :1].to(C128), a[:, 1:].to(C128)
    root = torch.sqrt(a1 * a1 - 4 * a2)
    run = _flip_scan if backwards else linear_scan
    return run((root - a1) / 2, run((-root - a1) / 2, v.to(C128))).real


class AllPole(torch.autograd.Function):
    """w = v / (1 + a1·z⁻¹ + a2·z⁻²) per batch row; adjoint: the same filter backwards in time,
    grad a_j = -Σ λ[t]·w[t-j]."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        w = _all_pole(v, a)
        ctx.save_for_backward(a, w)
        return w

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        a, w = ctx.saved_tensors
        lam = _all_pole(grad_w, a, backwards=True)
        grad_a = -torch.stack([(lam * delayed(w, j)).sum(-1) for j in (1, 2)], dim=-1)
        return lam, grad_a


def sos_filter(x: torch.Tensor, sos: torch.Tensor) -> torch.Tensor:
    """Each row of x (batch, samples) through its cascade sos (batch, sections, 5), direct form
    I as the Numba kernel: the FIR part by autograd, the all-pole part by :class:`AllPole`."""
    y = x.to(F64)
    sos = sos.to(F64)
    for k in range(sos.shape[1]):
        b = sos[:, k, :3, None]
        fir = b[:, 0] * y + b[:, 1] * delayed(y, 1) + b[:, 2] * delayed(y, 2)
        y = AllPole.apply(fir, sos[:, k, 3:])
    return y.to(x.dtype)


class Ballistics(torch.autograd.Function):
    """r[t] = a[t]·r[t-1] + (1 - a[t])·s[t], a[t] = attack if s[t] > r[t-1] else release, from
    r = 0; the recorded branches make the adjoint a time-varying one-pole run backwards."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, target: torch.Tensor, attack: torch.Tensor, release: torch.Tensor
    ) -> torch.Tensor:
        rising = target > delayed(target, 1)  # a first guess: the target itself rising
        for _ in range(target.shape[-1] + 1):
            coef = torch.where(rising, attack, release)
            reduction = linear_scan(coef, (1 - coef) * target)
            branches = target > delayed(reduction, 1)
            if torch.equal(branches, rising):
                break
            rising = branches
        else:  # unreachable: the first wrong branch moves forward every pass
            raise RuntimeError("compressor ballistics did not reach their fixed point")
        ctx.save_for_backward(target, reduction, coef, rising)
        return reduction

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_r: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        target, reduction, coef, rising = ctx.saved_tensors
        lam = _flip_scan(torch.nn.functional.pad(coef[:, 1:], (0, 1)), grad_r)
        per_sample = lam * (delayed(reduction, 1) - target)
        return ((1 - coef) * lam, (per_sample * rising).sum(-1, keepdim=True),
                (per_sample * ~rising).sum(-1, keepdim=True))


def static_reduction(x: torch.Tensor, threshold: torch.Tensor, ratio: torch.Tensor,
                     knee: torch.Tensor, floor_db: float, eps: float) -> torch.Tensor:
    """The compressor's static gain reduction (dB) of x, parameters as (batch, 1) columns: level
    max(20·log10(|x| + eps), floor), soft knee of width ``knee`` (:mod:`bench.dsp.compressor`)."""
    level = torch.clamp(20 * torch.log10(x.abs() + eps), min=floor_db)
    over = level - threshold
    width = torch.where(knee > 0, knee, torch.ones_like(knee))
    curve = torch.where(2 * over.abs() < knee, (over + knee / 2) ** 2 / (2 * width),
                        torch.clamp(over, min=0.0))
    return (1 - 1 / ratio) * curve


def compress(x: torch.Tensor, params: torch.Tensor, floor_db: float, eps: float) -> torch.Tensor:
    """:func:`bench.dsp.ops.compress` on x's device: torch ops for the level, the static curve
    and the gain; :class:`Ballistics` for the smoothing."""
    x64 = x.to(F64)
    threshold, ratio, knee, attack, release, makeup = params.to(F64).split(1, dim=-1)
    target = static_reduction(x64, threshold, ratio, knee, floor_db, eps)
    reduction = Ballistics.apply(target, attack, release)
    return (x64 * torch.exp(NEPER_PER_DB * (makeup - reduction))).to(x.dtype)


def _taps(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Catmull-Rom read weights c_k(f) and their derivatives, (batch, 4) each (as the kernel)."""
    f2, f3 = f * f, f * f * f
    taps = torch.stack([-0.5 * f + f2 - 0.5 * f3, 1.0 - 2.5 * f2 + 1.5 * f3,
                        0.5 * f + 2.0 * f2 - 1.5 * f3, -0.5 * f2 + 0.5 * f3], dim=-1)
    slopes = torch.stack([-0.5 + 2.0 * f - 1.5 * f2, -5.0 * f + 4.5 * f2,
                          0.5 + 4.0 * f - 4.5 * f2, -f + 1.5 * f2], dim=-1)
    return taps, slopes


class FeedbackComb(torch.autograd.Function):
    """The damped feedback comb of :mod:`bench.dsp._kernels_comb` block by block; gradients
    w.r.t. x, delay (samples) and feedback."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, x: torch.Tensor, delay: torch.Tensor, feedback: torch.Tensor, damping: float
    ) -> torch.Tensor:
        n = x.shape[-1]
        whole = torch.floor(delay)
        if bool((whole < 2).any()):
            raise ValueError("comb delay must be at least 2 samples")
        block = min(int(whole.min()) - 1, COMB_BLOCK, n)
        taps, slopes = _taps(delay - whole)
        k = torch.arange(4, device=x.device)
        t = torch.arange(n, device=x.device)
        reads = t[None, :, None] - whole.long()[:, None, None] + 1 - k  # w read at t, tap k
        decay = _Decay(damping, block, x.device)
        s, w = torch.zeros_like(x), torch.zeros_like(x)
        last = torch.zeros_like(x[:, :1])
        g = feedback[:, None]
        for start in range(0, n, block):
            rows = slice(start, min(start + block, n))
            v = _read(w, reads[:, rows], taps)
            size = v.shape[-1]
            s[:, rows] = ((1 - damping) * v @ decay.matrix[:size, :size].T
                          + last * decay.powers[:size])
            w[:, rows] = x[:, rows] + g * s[:, rows]
            last = s[:, rows.stop - 1:rows.stop]
        ctx.state = (block, reads, taps, slopes, decay, damping)
        ctx.save_for_backward(s, w, delay, feedback)
        return s

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        block, reads, taps, slopes, decay, damping = ctx.state
        s, w, delay, feedback = ctx.saved_tensors
        n = s.shape[-1]
        t = torch.arange(n, device=s.device)
        writes = t[None, :, None] + torch.floor(delay).long()[:, None, None] - 1 + torch.arange(
            4, device=s.device)  # where the sample written at t is read, tap k
        grad_v, grad_w = torch.zeros_like(s), torch.zeros_like(s)
        later = torch.zeros_like(s[:, :1])  # sigma one past the block
        g = feedback[:, None]
        for start in reversed(range(0, n, block)):
            rows = slice(start, min(start + block, n))
            grad_w[:, rows] = _read(grad_v, writes[:, rows], taps)
            size = rows.stop - rows.start
            sigma = ((grad_s[:, rows] + g * grad_w[:, rows]) @ decay.matrix[:size, :size]
                     + later * decay.powers[:size].flip(0))
            grad_v[:, rows] = (1 - damping) * sigma
            later = sigma[:, :1]
        grad_delay = (grad_v[:, :, None] * _gather(w, reads) * slopes[:, None]).sum((1, 2))
        return grad_w, grad_delay, (grad_w * s).sum(-1), None


class _Decay:
    """The damping one-pole over a block: matrix[i, j] = d^(i-j) (i >= j), powers[i] = d^(i+1)."""

    def __init__(self, damping: float, size: int, device: torch.device) -> None:
        i = torch.arange(size, device=device)
        lag = i[:, None] - i[None, :]
        powers = damping ** torch.arange(size + 1, device=device, dtype=F64)
        self.matrix = torch.where(lag >= 0, powers[lag.clamp(min=0)], 0.0)
        self.powers = powers[1:]


def _gather(signal: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """signal[b, index[b, t, k]] (batch, T, 4), zero where the index falls outside the signal."""
    n = signal.shape[-1]
    inside = (index >= 0) & (index < n)
    values = torch.gather(signal, 1, index.clamp(0, n - 1).flatten(1)).view(index.shape)
    return torch.where(inside, values, 0.0)


def _read(signal: torch.Tensor, index: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Σ_k taps[b, k]·signal[b, index[b, t, k]]: a cubic read of the delay line."""
    return (_gather(signal, index) * taps[:, None]).sum(-1)


def comb(x: torch.Tensor, delay: torch.Tensor, feedback: torch.Tensor,
         damping: float) -> torch.Tensor:
    """:func:`bench.dsp.ops.comb` on x's device (float64 inside, x's dtype out)."""
    return FeedbackComb.apply(x.to(F64), delay.to(F64), feedback.to(F64), damping).to(x.dtype)
