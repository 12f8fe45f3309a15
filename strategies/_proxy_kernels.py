"""Numba kernels for the TCN block's elementwise tail: ``PReLU(FiLM(c)) + r`` in one pass.

Unfused, torch runs the block's tail as five passes over (batch, channels, samples) tensors
forward (addcmul, PReLU, add, …) and about eight backward (PReLU backward, the two products
of the FiLM backward, the sums over time …): memory traffic that cost more than half a frozen
proxy's step. Here each direction is one loop that reads each sample once. The sums over time
(FiLM and PReLU weight gradients) may be reassociated so that they vectorize, which is 7× faster
than a strict left-to-right sum and as accurate as torch's own (lane-wise partial sums).
"""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def film_prelu_add(c, gamma, beta, slope, r, out):
    """out = PReLU(c·(1 + γ) + β) + r, with c, r, out (B, C, T), γ, β (B, C), slope (C)."""
    n_batch, n_chan, n = c.shape
    for i in range(n_batch):
        for j in range(n_chan):
            scale, shift, a = 1 + gamma[i, j], beta[i, j], slope[j]
            for t in range(n):
                v = c[i, j, t] * scale + shift
                out[i, j, t] = (v if v > 0 else a * v) + r[i, j, t]


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def film_prelu_add_backward(grad, c, gamma, beta, slope, grad_c, grad_gamma, grad_beta,
                            grad_slope):
    """Adjoint of :func:`film_prelu_add`: grad_c (B, C, T), grad_gamma and grad_beta (B, C),
    grad_slope (C) from the output gradient (r's gradient is ``grad`` itself). Branch-free
    selects keep the time loop vectorizable."""
    n_batch, n_chan, n = c.shape
    zero = c.dtype.type(0)
    for j in range(n_chan):
        grad_slope[j] = zero
    for i in range(n_batch):
        for j in range(n_chan):
            scale, shift, a = 1 + gamma[i, j], beta[i, j], slope[j]
            acc_gamma = acc_beta = acc_slope = zero
            for t in range(n):
                x = c[i, j, t]
                v = x * scale + shift
                g = grad[i, j, t]
                negative = v <= 0
                gv = a * g if negative else g
                acc_slope += g * v if negative else zero
                grad_c[i, j, t] = gv * scale
                acc_gamma += gv * x
                acc_beta += gv
            grad_gamma[i, j] = acc_gamma
            grad_beta[i, j] = acc_beta
            grad_slope[j] += acc_slope
