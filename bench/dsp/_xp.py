"""Array-namespace helpers so one formula serves NumPy (reference) and torch (differentiable).

NumPy 2 and torch share the element-wise API used here (exp, log, sin, cos, sqrt, tanh, where,
clip(min=, max=), stack(axis=), fft.rfft(n=)), so effect code takes the namespace ``xp`` as an
argument instead of existing twice. torch is never imported here: a tensor can only exist if the
caller already imported it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np


def is_tensor(a: Any) -> bool:
    """True if ``a`` is a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def namespace(*arrays: Any) -> ModuleType:
    """The module (numpy or torch) whose functions apply to ``arrays``."""
    if any(is_tensor(a) for a in arrays):
        return sys.modules["torch"]
    return np


def to_float64(xp: ModuleType, a: Any) -> Any:
    """``a`` as float64 in namespace ``xp`` (differentiable for tensors)."""
    if xp is np:
        return np.asarray(a, dtype=np.float64)
    return a.to(xp.float64)


def constant(xp: ModuleType, values: Any, like: Any, dtype: Any = None) -> Any:
    """``values`` as an array of namespace ``xp``; a tensor lives on ``like``'s device, so
    constants never pull a computation back to the CPU."""
    if xp is np:
        return np.asarray(values, dtype=dtype)
    return xp.as_tensor(values, dtype=dtype, device=like.device)


def column(a: Any) -> Any:
    """A per-item vector (batch,) as a column (batch, 1) that broadcasts over samples."""
    return a[:, None]
