"""`python -m bench verify --effects`: differentiable vs reference agreement and gradcheck.

For every registered effect with a differentiable version, on random settings that include the
range extremes (all 0, all 1, each parameter at 0 and at 1 with the others at their defaults):
- agreement on 1.25 s of gated noise: float64 max relative error <= 1e-9, and float32
  torch output vs the float64 reference (same rounded inputs) SNR >= 70 dB;
- ``torch.autograd.gradcheck`` in float64 w.r.t. the input and every parameter: full Jacobian
  on 64 samples per setting, and fast mode (random projections) on 1.25 s for chunks of
  settings so long delays and reverb tails are exercised too. Central differences need both
  sides inside the parameter box, so gradcheck points are clipped to [GRAD_MARGIN,
  1 - GRAD_MARGIN]: at an exact bound an effect may be only one-sided differentiable (the
  compressor at ratio 1 switches its ballistics branch).
Black-box effects are listed with the reason they have no differentiable version.

The differentiable side runs where it would in training: CPU tensors take the Numba kernels,
tensors on ``device`` (a GPU) the parallel scans, which ``scan=True`` forces on the CPU too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.dsp.chain import effect_names, get_effect
from bench.dsp.spec import Effect

MAX_REL_ERROR_F64 = 1e-9
MIN_SNR_F32_DB = 70.0
GRAD_MARGIN = 1e-3
GRAD_EPS = 1e-7
SHORT_SAMPLES = 64
LONG_SECONDS = 1.25
SEGMENT_SECONDS = 0.02
LONG_CHUNK = 10
"""Settings per fast-mode gradcheck call (a failing chunk is re-checked setting by setting)."""


@dataclass
class EffectCheck:
    """Outcome of verifying one effect."""

    name: str
    status: str = "ok"
    n_settings: int = 0
    rel_error_f64: float = 0.0
    snr_f32_db: float = float("inf")
    grad_passed: int = 0
    grad_total: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True unless a check failed (skipped and black-box effects pass)."""
        return not self.failures


def settings(effect: Effect, sample_rate: int, n_settings: int,
             rng: np.random.Generator) -> np.ndarray:
    """Normalized settings (S, n_params): all-0, all-1, per-parameter extremes, then random."""
    n = effect.n_params
    base = effect.defaults(sample_rate)
    rows = [np.zeros(n), np.ones(n)]
    for i in range(n):
        for bound in (0.0, 1.0):
            row = base.copy()
            row[i] = bound
            rows.append(row)
    n_random = max(n_settings - len(rows), 0)
    return np.vstack([*rows, rng.uniform(size=(n_random, n))])


def gated_noise(rng: np.random.Generator, batch: int, n: int, sample_rate: int) -> np.ndarray:
    """White noise whose level jumps every 20 ms between -50 and 0 dBFS (exercises dynamics)."""
    seg = max(1, int(SEGMENT_SECONDS * sample_rate))
    levels = rng.uniform(-50.0, 0.0, size=(batch, -(-n // seg)))
    envelope = np.repeat(10 ** (levels / 20), seg, axis=1)[:, :n]
    return 0.5 * envelope * rng.standard_normal((batch, n))


@dataclass(frozen=True)
class Placement:
    """Where the differentiable side runs: its tensors' device, and whether CPU tensors are
    forced onto the device path (``ops.scan_path``)."""

    device: str = "cpu"
    scan: bool = False

    def tensor(self, a: np.ndarray) -> Any:
        """``a`` as a float64/32 tensor on the device that requires grad."""
        import torch

        return torch.tensor(a, device=self.device, requires_grad=True)

    def path(self) -> Any:
        """The context that selects the Numba or the scan path."""
        from bench.dsp.ops import scan_path

        return scan_path(self.scan)

    def __str__(self) -> str:
        kind = "parallel scans" if self.scan or self.device != "cpu" else "Numba kernels"
        return f"{self.device}, {kind}"


def check_effect(effect: Effect, n_settings: int = 50, seed: int = 0,
                 sample_rate: int = 44100, where: Placement = Placement()) -> EffectCheck:
    """Run every check on one differentiable effect."""
    rng = np.random.default_rng(seed)
    return check_settings(effect, settings(effect, sample_rate, n_settings, rng), rng,
                          sample_rate, where)


def check_settings(effect: Effect, p: np.ndarray, rng: np.random.Generator, sample_rate: int,
                   where: Placement = Placement(), seconds: float = LONG_SECONDS) -> EffectCheck:
    """Every check on the settings ``p`` (S, n_params), on gated noise of ``seconds``."""
    result = EffectCheck(effect.name, n_settings=len(p))
    long_n = int(seconds * sample_rate)
    x = gated_noise(rng, len(p), long_n, sample_rate)
    with where.path():
        _agreement(effect, x, p, sample_rate, result, where)
        p_grad = np.clip(p, GRAD_MARGIN, 1 - GRAD_MARGIN)
        short = gated_noise(rng, len(p), SHORT_SAMPLES, sample_rate)
        for i in range(len(p)):
            _count(result, _gradcheck(effect, short[i:i + 1], p_grad[i:i + 1], sample_rate,
                                      False, where), p_grad[i], "full, 64 samples")
        for start in range(0, len(p), LONG_CHUNK):
            rows = slice(start, start + LONG_CHUNK)
            if _gradcheck(effect, x[rows], p_grad[rows], sample_rate, True, where) is None:
                result.grad_total += len(p_grad[rows])
                result.grad_passed += len(p_grad[rows])
                continue
            for i in range(start, min(start + LONG_CHUNK, len(p))):  # pinpoint the failures
                _count(result, _gradcheck(effect, x[i:i + 1], p_grad[i:i + 1], sample_rate,
                                          True, where), p_grad[i], f"fast, {seconds} s")
    result.status = "ok" if result.passed else "FAIL"
    return result


def _count(result: EffectCheck, error: str | None, p: np.ndarray, mode: str) -> None:
    result.grad_total += 1
    if error is None:
        result.grad_passed += 1
    else:
        result.failures.append(f"gradcheck ({mode}) at p={p.round(4).tolist()}: {error}")


def _torch_render(effect: Effect, x: np.ndarray, p: np.ndarray, sr: int,
                  where: Placement) -> np.ndarray:
    """torch_process with inputs that require grad, so the autograd Functions run."""
    return effect.torch_process(where.tensor(x), where.tensor(p), sr).detach().cpu().numpy()


def _agreement(effect: Effect, x: np.ndarray, p: np.ndarray, sr: int, result: EffectCheck,
               where: Placement) -> None:
    ref = effect.process(x, p, sr)
    out = _torch_render(effect, x, p, sr, where)
    scale = np.maximum(np.abs(ref).max(axis=1), np.finfo(float).tiny)
    rel = np.abs(out - ref).max(axis=1) / scale
    result.rel_error_f64 = float(rel.max())
    if result.rel_error_f64 > MAX_REL_ERROR_F64:
        worst = int(rel.argmax())
        result.failures.append(f"float64 relative error {rel[worst]:.2e} > {MAX_REL_ERROR_F64:g} "
                               f"at p={p[worst].round(4).tolist()}")

    x32, p32 = x.astype(np.float32), p.astype(np.float32)
    ref = effect.process(x32.astype(np.float64), p32.astype(np.float64), sr)
    out = _torch_render(effect, x32, p32, sr, where)
    tiny = np.finfo(float).tiny  # identical outputs give a huge finite SNR, not a warning
    snr = (10 * np.log10(np.maximum((ref ** 2).sum(axis=1), tiny))
           - 10 * np.log10(np.maximum(((out - ref) ** 2).sum(axis=1), tiny)))
    result.snr_f32_db = float(snr.min())
    if result.snr_f32_db < MIN_SNR_F32_DB:
        worst = int(snr.argmin())
        result.failures.append(f"float32 SNR {snr[worst]:.1f} dB < {MIN_SNR_F32_DB:g} dB "
                               f"at p={p[worst].round(4).tolist()}")


def _gradcheck(effect: Effect, x: np.ndarray, p: np.ndarray, sr: int, fast: bool,
               where: Placement) -> str | None:
    """None if gradcheck passes on (x, p), else the first line of its error.

    On a fast-mode failure torch recomputes both full Jacobians for its error message, which
    needs O(samples²) memory on long signals; that recomputation is replaced by a note.
    """
    import importlib
    from unittest import mock

    import torch

    inputs = (where.tensor(x), where.tensor(p))
    module = importlib.import_module("torch.autograd.gradcheck")
    skip_slow = mock.patch.object(module, "_run_slow_mode_and_get_error",
                                  lambda *args, **kwargs: " (slow-mode recomputation skipped)")
    try:
        with skip_slow:
            torch.autograd.gradcheck(lambda a, b: effect.torch_process(a, b, sr), inputs,
                                     eps=GRAD_EPS, fast_mode=fast)
    except Exception as exc:  # noqa: BLE001 - GradcheckError or a crash: both are failures
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def verify_effects(names: list[str] | None = None, n_settings: int = 50, seed: int = 0,
                   sample_rate: int = 44100, where: Placement = Placement()) -> bool:
    """Check every (or the named) effect, print a table; False if any check failed."""
    results = []
    for name in names or effect_names():
        effect = get_effect(name)
        reason = effect.available()
        if reason is not None:
            results.append(EffectCheck(name, status=f"skipped: {reason}"))
        elif not effect.differentiable:
            results.append(EffectCheck(
                name, status=f"no differentiable version: {effect.why_not_differentiable()}"))
        else:
            results.append(check_effect(effect, n_settings, seed, sample_rate, where))
    print(render_table(results, sample_rate, where))
    return all(r.passed for r in results)


def render_table(results: list[EffectCheck], sample_rate: int,
                 where: Placement = Placement()) -> str:
    """A Markdown table of the checks, then one line per failure."""
    lines = [
        f"effect verification at {sample_rate} Hz on {where} (f64 rel. error <= "
        f"{MAX_REL_ERROR_F64:g}, f32 SNR >= {MIN_SNR_F32_DB:g} dB, gradcheck float64)",
        "",
        "| effect | settings | f64 max rel. error | f32 min SNR (dB) | gradcheck | status |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.grad_total:
            lines.append(f"| {r.name} | {r.n_settings} | {r.rel_error_f64:.1e} | "
                         f"{r.snr_f32_db:.1f} | {r.grad_passed}/{r.grad_total} | {r.status} |")
        else:
            lines.append(f"| {r.name} | - | - | - | - | {r.status} |")
    lines += [f"FAIL {r.name}: {f}" for r in results for f in r.failures]
    return "\n".join(lines)
