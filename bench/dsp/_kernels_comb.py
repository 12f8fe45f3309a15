"""Numba kernels for the damped feedback comb (delay effect) and its exact adjoint.

Per batch item, with delay D = M + f samples (M >= 2, 0 <= f < 1), feedback g, damping d:
    v[t] = sum_k c_k(f) w[t - M + 1 - k]        (Catmull-Rom read, k = 0..3, C1 in D)
    s[t] = (1 - d) v[t] + d s[t - 1]            (one-pole low-pass damping of the echoes)
    w[t] = x[t] + g s[t]                        (delay-line write)
``s`` is the wet signal (first echo at D). The cubic read makes the output continuously
differentiable in the delay time, so finite differences agree with the adjoint everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(inline="always")
def _taps(f):
    f2 = f * f
    f3 = f2 * f
    return (
        -0.5 * f + f2 - 0.5 * f3,
        1.0 - 2.5 * f2 + 1.5 * f3,
        0.5 * f + 2.0 * f2 - 1.5 * f3,
        -0.5 * f2 + 0.5 * f3,
    )


@njit(inline="always")
def _dtaps(f):
    f2 = f * f
    return (-0.5 + 2.0 * f - 1.5 * f2, -5.0 * f + 4.5 * f2, 0.5 + 4.0 * f - 4.5 * f2, -f + 1.5 * f2)


@njit(inline="always")
def _read(w, t):
    return w[t] if t >= 0 else 0.0


@njit(nogil=True, cache=True)
def comb(x, delay, feedback, damping, s, w):
    """Run the comb on x (batch, samples) float64: wet output into s, delay line into w."""
    n_batch, n = x.shape
    for b in range(n_batch):
        m = int(np.floor(delay[b]))
        if m < 2:
            raise ValueError("comb delay must be at least 2 samples")
        c0, c1, c2, c3 = _taps(delay[b] - m)
        g = feedback[b]
        line = w[b]
        prev = 0.0
        for t in range(n):
            i = t - m + 1
            v = c0 * _read(line, i) + c1 * _read(line, i - 1) + c2 * _read(line, i - 2)
            v += c3 * _read(line, i - 3)
            prev = (1.0 - damping) * v + damping * prev
            s[b, t] = prev
            line[t] = x[b, t] + g * prev


@njit(nogil=True, cache=True)
def comb_adjoint(grad_s, s, w, delay, feedback, damping, grad_x, grad_delay, grad_feedback):
    """Vector-Jacobian product of :func:`comb` w.r.t. x, delay (samples) and feedback.

    Backwards in time: the write adjoint wbar[t] is complete once every later read has pushed
    into it (reads are at least one sample back because M >= 2).
    """
    n_batch, n = grad_s.shape
    wbar = np.empty(n)
    for b in range(n_batch):
        m = int(np.floor(delay[b]))
        f = delay[b] - m
        c = _taps(f)
        dc = _dtaps(f)
        g = feedback[b]
        wbar[:] = 0.0
        sigma = 0.0
        gd = 0.0
        gg = 0.0
        for t in range(n - 1, -1, -1):
            grad_x[b, t] = wbar[t]
            gg += wbar[t] * s[b, t]
            sigma = grad_s[b, t] + g * wbar[t] + damping * sigma
            vbar = (1.0 - damping) * sigma
            i = t - m + 1
            for k in range(4):
                j = i - k
                if j >= 0:
                    wbar[j] += c[k] * vbar
                    gd += dc[k] * vbar * w[b, j]
        grad_delay[b] = gd
        grad_feedback[b] = gg
