"""Signal operations shared by the effects, dispatched on the array type.

NumPy inputs run the Numba kernels directly (the reference path); torch inputs run the same
kernels inside ``torch.autograd.Function``s with exact adjoints. Kernel modules are imported on
first use so that importing this module costs nothing.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from bench.dsp._xp import is_tensor


def sos_filter(x: Any, sos: Any) -> Any:
    """Filter each row of float64 x (batch, samples) by its cascade sos (batch, sections, 5)."""
    if is_tensor(x) or is_tensor(sos):
        from bench.dsp._autograd import SosFilter

        return SosFilter.apply(x, sos)
    from bench.dsp._kernels_biquad import cascade

    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    cascade(x, np.ascontiguousarray(sos), y, np.zeros((x.shape[0], 0, 0)))
    return y


def smooth(x: Any, attack: Any, release: Any) -> Any:
    """Attack/release one-pole smoothing of x (batch, samples) with per-item coefficients."""
    if is_tensor(x):
        from bench.dsp._autograd import Ballistics

        return Ballistics.apply(x, attack, release)
    from bench.dsp._kernels_ballistics import smooth as kernel

    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    kernel(x, np.ascontiguousarray(attack), np.ascontiguousarray(release), y,
           np.empty(x.shape, dtype=np.bool_))
    return y


def comb(x: Any, delay: Any, feedback: Any, damping: float) -> Any:
    """Wet output of the damped feedback comb (delay in samples, >= 2) on x (batch, samples)."""
    if is_tensor(x):
        from bench.dsp._autograd import FeedbackComb

        return FeedbackComb.apply(x, delay, feedback, damping)
    from bench.dsp._kernels_comb import comb as kernel

    x = np.ascontiguousarray(x)
    s, w = np.empty_like(x), np.empty_like(x)
    kernel(x, np.ascontiguousarray(delay), np.ascontiguousarray(feedback), damping, s, w)
    return s


def fft_size(n: int) -> int:
    """Smallest power of two >= n."""
    return 1 << max(0, math.ceil(math.log2(n)))


def fft_convolve(xp: ModuleType, x: Any, h: Any) -> Any:
    """Causal linear convolution of rows x (batch, N) with h (batch or 1, L), cropped to N."""
    n = x.shape[-1]
    n_fft = fft_size(n + h.shape[-1] - 1)
    spectrum = xp.fft.rfft(x, n=n_fft) * xp.fft.rfft(h, n=n_fft)
    return xp.fft.irfft(spectrum, n=n_fft)[..., :n]


def sos_filter_freqsamp(x: Any, sos: Any) -> Any:
    """Frequency-sampling approximation of :func:`sos_filter` in torch (non-default option).

    The cascade's closed-form response is sampled on an n_fft = 2^ceil(log2(2N - 1)) grid, so
    the implied FIR is the impulse response time-aliased at n_fft: accurate only when the
    filter decays well within n_fft (poles not too close to the unit circle), as in DeepAFx-ST.
    """
    import torch

    n = x.shape[-1]
    n_fft = fft_size(2 * n - 1)
    z1 = torch.exp(-1j * torch.linspace(0, math.pi, n_fft // 2 + 1, dtype=torch.float64))
    z2 = z1 * z1
    c = sos[..., None].to(torch.complex128)  # (batch, sections, 5, 1)
    num = c[:, :, 0] + c[:, :, 1] * z1 + c[:, :, 2] * z2
    den = 1 + c[:, :, 3] * z1 + c[:, :, 4] * z2
    response = torch.prod(num / den, dim=1)
    return torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * response, n=n_fft)[..., :n]
