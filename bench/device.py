"""Where torch work runs (``--device auto|cpu|cuda[:N]``), its name in the results, and the
explicit, pinned, counted transfers between it and the CPU, where the reference DSP runs.

Learners, proxies, losses, metrics and the exact differentiable effects run on the device; the
Numba reference DSP (SPSA, the hybrid's forward, CMA-ES, rule-based DSP, every final render)
stays on the CPU, and every array that crosses goes through :func:`to_device` or
:func:`to_host`, which count the crossings (``Counters.transfers``, shown by ``bench perf
--steps``). On the CPU both are plain conversions and count nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BenchError

if TYPE_CHECKING:
    import torch

    from bench.base import Counters

CHOICES = "auto, cpu, cuda or cuda:N"
_CURRENT = ["cpu"]


def resolve(spec: str) -> str:
    """The device ``spec`` names, as torch spells it: ``cpu`` or ``cuda:N``; ``auto`` is the
    current CUDA device when there is one, else the CPU. A device that is not here is a
    one-line error that says what to pass instead."""
    import torch

    text = spec.strip().lower()
    if text in ("auto", "cpu"):
        if text == "cpu" or not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{torch.cuda.current_device()}"
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise BenchError(f"--device {spec!r} is not a device: give {CHOICES}")
    if not torch.cuda.is_available():
        why = ("this torch is a CPU-only build" if torch.version.cuda is None
               else "torch finds no CUDA GPU")
        raise BenchError(f"--device {spec}: CUDA is not available here ({why}, torch "
                         f"{torch.__version__}); use --device cpu, or --device auto to take a "
                         f"GPU only where there is one")
    index = int(match.group(1) or torch.cuda.current_device())
    count = torch.cuda.device_count()
    if index >= count:
        raise BenchError(f"--device {spec}: this machine has {count} CUDA device"
                         f"{'s' * (count > 1)} (cuda:0 … cuda:{count - 1}); pick one of them")
    return f"cuda:{index}"


def name(device: str) -> str:
    """What the results record: ``cpu``, or ``cuda:0 (NVIDIA H200)``."""
    if device == "cpu":
        return "cpu"
    import torch

    return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"


def current() -> str:
    """The device of the run in progress (:func:`use`): where metrics compute in torch."""
    return _CURRENT[0]


@contextlib.contextmanager
def use(device: str) -> Iterator[None]:
    """Make ``device`` :func:`current` within the block (the runner wraps each run in it)."""
    before, _CURRENT[0] = _CURRENT[0], device
    try:
        yield
    finally:
        _CURRENT[0] = before


def of(module: Any) -> Any:
    """The device a torch module's weights (or buffers) live on; the CPU for one with none."""
    import torch

    for t in (*module.parameters(), *module.buffers()):
        return t.device
    return torch.device("cpu")


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (timings of asynchronous devices need it)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def to_device(a: np.ndarray, device: Any, counters: Counters | None = None,
              dtype: torch.dtype | None = None) -> torch.Tensor:
    """``a`` as a tensor on ``device`` (``dtype``: default a's own): off the CPU counted in
    ``counters``, and to a GPU through pinned memory, asynchronously."""
    import torch

    host = torch.from_numpy(np.ascontiguousarray(a))
    if dtype is not None:
        host = host.to(dtype)
    kind = torch.device(device).type
    if kind == "cpu":
        return host
    _count(counters, host)
    if kind == "cuda":
        return host.pin_memory().to(device, non_blocking=True)
    return host.to(device)


def to_host(t: torch.Tensor, counters: Counters | None = None) -> np.ndarray:
    """A (detached) tensor's values as a NumPy array: off the CPU counted in ``counters``, and
    from a GPU through pinned memory."""
    import torch

    t = t.detach()
    if t.device.type == "cpu":
        return t.numpy()
    _count(counters, t)
    host = torch.empty(t.shape, dtype=t.dtype, pin_memory=t.device.type == "cuda")
    host.copy_(t)
    return host.numpy()


def _count(counters: Counters | None, t: torch.Tensor) -> None:
    if counters is not None:
        counters.transfers += 1
        counters.transfer_bytes += t.numel() * t.element_size()
