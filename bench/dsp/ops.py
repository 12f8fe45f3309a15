"""Signal operations shared by the effects, dispatched on the array type and device.

NumPy inputs, and CPU tensors that need no gradient, run the Numba kernels directly (the
reference path); CPU tensors that need a gradient run the same kernels inside
``torch.autograd.Function``s with exact adjoints. Tensors on any other device (a GPU) run the
same recursions as parallel scans in torch (:mod:`bench.dsp._scan`), which :func:`scan_path`
also forces on CPU tensors, so that CPU tests and ``bench perf`` exercise it. Kernel modules are
imported on first use so that importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from bench.dsp._xp import is_tensor

_FORCE_SCAN = [False]


@contextlib.contextmanager
def scan_path(enabled: bool = True) -> Iterator[None]:
    """Within the block, tensors on the CPU take the device path (parallel scans) too."""
    before, _FORCE_SCAN[0] = _FORCE_SCAN[0], enabled
    try:
        yield
    finally:
        _FORCE_SCAN[0] = before


def _scanned(*arrays: Any) -> bool:
    """True if the device path runs: a tensor argument off the CPU, or :func:`scan_path`."""
    tensors = [a for a in arrays if is_tensor(a)]
    return bool(tensors) and (_FORCE_SCAN[0] or any(t.device.type != "cpu" for t in tensors))


def _graph_needed(*arrays: Any) -> bool:
    """True if any tensor argument needs a gradient (and grad mode is on)."""
    tensors = [a for a in arrays if is_tensor(a)]
    if not tensors:
        return False
    torch = sys.modules["torch"]
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _as_numpy(*arrays: Any) -> list[np.ndarray]:
    """C-contiguous NumPy views/copies of arrays or (detached) tensors."""
    return [np.ascontiguousarray(a.detach().numpy() if is_tensor(a) else a) for a in arrays]


def _like(result: np.ndarray, *inputs: Any) -> Any:
    """``result`` as a tensor if any input was one (no-grad path), else as is."""
    return sys.modules["torch"].from_numpy(result) if any(map(is_tensor, inputs)) else result


def sos_filter(x: Any, sos: Any) -> Any:
    """Filter each row of x (batch, samples) by its cascade sos (batch, sections, 5).

    x may be float32 or float64 and the result has its dtype; the recursion runs in float64.
    """
    if _scanned(x, sos):
        from bench.dsp._scan import sos_filter as scanned

        return scanned(x, sos)
    if _graph_needed(x, sos):
        from bench.dsp._autograd import SosFilter

        return SosFilter.apply(x, sos)
    from bench.dsp._kernels_biquad import cascade

    xn, sn = _as_numpy(x, sos)
    y = np.empty_like(xn)
    cascade(xn, sn, y, np.zeros((len(xn), 0, 0)))
    return _like(y, x, sos)


def compress(x: Any, params: Any, floor_db: float, eps: float) -> Any:
    """The compressor on x (batch, samples): y = x · 10^((makeup - r)/20), r the smoothed
    static gain reduction of the level max(20·log10(|x| + eps), floor_db) (see
    :mod:`bench.dsp.compressor`).

    ``params`` (batch, 6) holds threshold (dB), ratio, knee (dB), attack and release one-pole
    coefficients and makeup (dB) per item. x may be float32 or float64 and the result has its
    dtype (computed in float64). The differentiable path uses exp for 10^(·/20), equal to the
    reference's power to rounding and a third of its cost in torch.
    """
    if _scanned(x, params):
        from bench.dsp._scan import compress as scanned

        return scanned(x, params, floor_db, eps)
    if _graph_needed(x, params):
        from bench.dsp._autograd import Compressor

        return Compressor.apply(x, params, floor_db, eps)
    from bench.dsp._kernels_ballistics import compress as kernel

    xn, pn = _as_numpy(x, params)
    x64 = xn.astype(np.float64, copy=False)
    raw = 20 * np.log10(np.abs(x64) + eps)
    red, mask = np.empty_like(raw), np.empty(raw.shape, dtype=np.bool_)
    kernel(raw, *pn.T[:5], floor_db, red, mask)
    y = x64 * 10 ** ((pn[:, 5:] - red) / 20)
    return _like(y.astype(xn.dtype, copy=False), x, params)


def comb(x: Any, delay: Any, feedback: Any, damping: float) -> Any:
    """Wet output of the damped feedback comb (delay in samples, >= 2) on x (batch, samples)."""
    if _scanned(x, delay, feedback):
        from bench.dsp._scan import comb as scanned

        return scanned(x, delay, feedback, damping)
    if _graph_needed(x, delay, feedback):
        from bench.dsp._autograd import FeedbackComb

        return FeedbackComb.apply(x, delay, feedback, damping)
    from bench.dsp._kernels_comb import comb as kernel

    xn, dn, fn = _as_numpy(x, delay, feedback)
    s, w = np.empty_like(xn), np.empty_like(xn)
    kernel(xn, dn, fn, damping, s, w)
    return _like(s, x, delay, feedback)


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
    z1 = torch.exp(-1j * torch.linspace(0, math.pi, n_fft // 2 + 1, dtype=torch.float64,
                                        device=x.device))
    z2 = z1 * z1
    c = sos[..., None].to(torch.complex128)  # (batch, sections, 5, 1)
    num = c[:, :, 0] + c[:, :, 1] * z1 + c[:, :, 2] * z2
    den = 1 + c[:, :, 3] * z1 + c[:, :, 4] * z2
    response = torch.prod(num / den, dim=1)
    return torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * response, n=n_fft)[..., :n]
