"""Numba kernels for the compressor's attack/release smoother and its exact adjoint.

Forward: y[t] = a[t] y[t-1] + (1 - a[t]) x[t] with a[t] = attack coefficient if x[t] > y[t-1]
(gain reduction rising) else release coefficient; the branch taken is recorded in ``mask``.
Backward treats the recorded branches as a time-varying one-pole filter (as torchcomp does) and
runs its adjoint backwards in time. The branch decision itself has zero derivative.
"""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def smooth(x, attack, release, y, mask):
    """Branching one-pole smoothing of x (batch, samples) float64 into y, recording branches."""
    n_batch, n = x.shape
    for b in range(n_batch):
        prev = 0.0
        for t in range(n):
            rising = x[b, t] > prev
            a = attack[b] if rising else release[b]
            prev = a * prev + (1.0 - a) * x[b, t]
            y[b, t] = prev
            mask[b, t] = rising


@njit(nogil=True, cache=True)
def smooth_adjoint(grad_y, x, y, mask, attack, release, grad_x, grad_attack, grad_release):
    """Vector-Jacobian product of :func:`smooth` given the recorded branch mask.

    lam[t] = g[t] + a[t+1] lam[t+1]; grad x[t] = (1 - a[t]) lam[t]; the coefficient used at t
    collects lam[t] (y[t-1] - x[t]).
    """
    n_batch, n = x.shape
    for b in range(n_batch):
        lam = 0.0
        a_next = 0.0
        ga = 0.0
        gr = 0.0
        for t in range(n - 1, -1, -1):
            a = attack[b] if mask[b, t] else release[b]
            lam = grad_y[b, t] + a_next * lam
            grad_x[b, t] = (1.0 - a) * lam
            prev = y[b, t - 1] if t > 0 else 0.0
            if mask[b, t]:
                ga += lam * (prev - x[b, t])
            else:
                gr += lam * (prev - x[b, t])
            a_next = a
        grad_attack[b] = ga
        grad_release[b] = gr
