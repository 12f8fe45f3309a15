"""Numba kernels for the compressor: static curve + attack/release ballistics, and the exact
adjoint of the whole effect (run backwards in time).

Forward: with L[t] = max(raw level, floor) and s[t] = (1 - 1/R) h(L[t] - T) the static gain
reduction (h: soft knee of width W, see :mod:`bench.dsp.compressor`), the smoothed reduction is
r[t] = a[t] r[t-1] + (1 - a[t]) s[t] with a[t] = attack coefficient if s[t] > r[t-1] (reduction
rising) else release; the branch taken is recorded in ``mask``. The backward treats the recorded
branches as a time-varying one-pole filter (as torchcomp does) and runs its adjoint backwards in
time, fused with the adjoints of the output gain, the static curve and the level detector. The
branch decision itself has zero derivative.
"""

from __future__ import annotations

import math

from numba import njit

DB_PER_NEPER = 20.0 / math.log(10.0)
"""d(20·log10 v)/dv = DB_PER_NEPER / v."""
NEPER_PER_DB = math.log(10.0) / 20.0
"""10^(d/20) = exp(NEPER_PER_DB · d)."""


@njit(inline="always")
def _curve(over, knee, twice_knee):
    """h(over): the soft-knee part (quadratic) inside the knee, else max(over, 0)."""
    if 2 * abs(over) < knee:
        return (over + knee / 2) ** 2 / twice_knee
    return max(over, 0.0)


@njit(nogil=True, cache=True)
def compress(raw, threshold, ratio, knee, attack, release, floor, red, mask):
    """Smoothed gain reduction red (batch, samples) in dB from the raw level (dB) before the
    floor; records the branches taken. The same float operations as the NumPy formula."""
    n_batch, n = raw.shape
    for b in range(n_batch):
        slope = 1 - 1 / ratio[b]
        w = knee[b]
        twice_knee = 2 * (w if w > 0 else 1.0)
        prev = 0.0
        for t in range(n):
            s = slope * _curve(max(raw[b, t], floor) - threshold[b], w, twice_knee)
            rising = s > prev
            a = attack[b] if rising else release[b]
            prev = a * prev + (1.0 - a) * s
            red[b, t] = prev
            mask[b, t] = rising


@njit(nogil=True, cache=True)
def compress_adjoint(grad_y, x, raw, red, gain, mask, params, floor, eps, grad_x, grad_params):
    """Vector-Jacobian product of y = x · gain, gain = exp(NEPER_PER_DB (makeup - red)).

    ``params`` (batch, 6) holds threshold, ratio, knee, attack, release, makeup per item and
    ``grad_params`` receives their gradients. Smoothing adjoint: lam[t] = g[t] + a[t+1]
    lam[t+1], ds[t] = (1 - a[t]) lam[t], the coefficient used at t collects lam[t] (r[t-1] -
    s[t]). The level passes its gradient where raw >= floor (torch.clamp's convention), and
    |x| has derivative sign(x) (0 at 0).
    """
    n_batch, n = x.shape
    for b in range(n_batch):
        threshold, ratio, knee = params[b, 0], params[b, 1], params[b, 2]
        attack, release = params[b, 3], params[b, 4]
        slope = 1 - 1 / ratio
        twice_knee = 2 * (knee if knee > 0 else 1.0)
        lam = a_next = 0.0
        g_thr = g_ratio = g_knee = g_att = g_rel = g_makeup = 0.0
        for t in range(n - 1, -1, -1):
            xt = float(x[b, t])
            gy = float(grad_y[b, t])
            q = NEPER_PER_DB * gain[b, t] * gy * xt
            g_makeup += q
            rising = mask[b, t]
            a = attack if rising else release
            lam = a_next * lam - q
            over = max(raw[b, t], floor) - threshold
            h = _curve(over, knee, twice_knee)
            prev = red[b, t - 1] if t > 0 else 0.0
            if rising:
                g_att += lam * (prev - slope * h)
            else:
                g_rel += lam * (prev - slope * h)
            ds = (1.0 - a) * lam
            if 2 * abs(over) < knee:
                c = over + knee / 2
                dh = c / knee
                g_knee += ds * slope * (c / twice_knee) * (1.0 - c / knee)
            else:
                dh = 1.0 if over >= 0 else 0.0
            g_ratio += ds * h / (ratio * ratio)
            g_thr -= ds * slope * dh
            g_x = gy * gain[b, t]
            if raw[b, t] >= floor and xt != 0:
                g_x += ds * slope * dh * DB_PER_NEPER * math.copysign(1.0, xt) / (abs(xt) + eps)
            grad_x[b, t] = g_x
            a_next = a
        grad_params[b, 0] = g_thr
        grad_params[b, 1] = g_ratio
        grad_params[b, 2] = g_knee
        grad_params[b, 3] = g_att
        grad_params[b, 4] = g_rel
        grad_params[b, 5] = g_makeup
