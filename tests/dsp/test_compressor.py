"""Compressor reference values: static curve (knee included) and attack/release times."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.dsp import get_effect
from bench.dsp.compressor import EPS, FLOOR_DB, coefficient
from tests.dsp.conftest import SR, normalized


def textbook_curve(level, threshold, ratio, knee):
    """Giannoulis, Massberg & Reiss (2012), eq. 4: the soft-knee static curve in dB."""
    over = level - threshold
    if 2 * over < -knee:
        return level
    if 2 * abs(over) <= knee:
        return level + (1 / ratio - 1) * (over + knee / 2) ** 2 / (2 * knee)
    return threshold + over / ratio


def render(effect, x: np.ndarray, p: np.ndarray, backend: str) -> np.ndarray:
    if backend == "numpy":
        return effect.process(x, p, SR)
    return effect.torch_process(torch.from_numpy(x), torch.from_numpy(p), SR).numpy()


@pytest.mark.parametrize("knee", [0.0, 12.0])
def test_steady_state_gain_follows_the_static_curve(knee):
    comp = get_effect("compressor")
    settings = dict(threshold=-30.0, ratio=4.0, knee=knee, makeup=3.0)
    p = normalized(comp, SR, **settings)
    levels = np.array([-70.0, -40.0, -36.5, -33.0, -30.0, -27.0, -24.5, -20.0, -6.0, 0.0])
    amplitude = 10 ** (levels / 20)
    x = np.repeat(amplitude[:, None], SR // 2, axis=1)  # 0.5 s of DC per level
    y = comp.process(x, np.repeat(p, len(levels), axis=0), SR)
    out_db = 20 * np.log10(y[:, -1])
    detected = 20 * np.log10(amplitude + 1e-8)
    expected = [lv + 3.0 - (d - textbook_curve(d, -30.0, 4.0, knee))
                for lv, d in zip(levels, detected, strict=True)]
    assert out_db == pytest.approx(expected, abs=1e-6)


def step_times(reduction: np.ndarray, start: int, rising: bool) -> float:
    """Seconds between the 10 % and 90 % crossings of a gain-reduction step after ``start``."""
    r = reduction[start:]
    r = (r - r.min()) / (r.max() - r.min())
    if not rising:
        r = 1 - r
    t10, t90 = (np.interp(level, r, np.arange(len(r))) for level in (0.1, 0.9))
    return (t90 - t10) / SR


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("attack", "release"), [(0.002, 0.05), (0.02, 0.4)])
def test_step_response_shows_attack_and_release_times(backend, attack, release):
    comp = get_effect("compressor")
    p = normalized(comp, SR, threshold=-40.0, ratio=10.0, knee=0.0, makeup=0.0,
                   attack=attack, release=release)
    quiet, loud = 10 ** (-60 / 20), 1.0
    n = int(0.2 * SR) + int(10 * release * SR)
    x = np.full((1, 3 * n), quiet)
    x[0, n:2 * n] = loud
    y = render(comp, x, p, backend)
    reduction = 20 * np.log10(x[0]) - 20 * np.log10(y[0])
    assert reduction[2 * n - 1] == pytest.approx(36.0, abs=1e-6)  # (1 - 1/10) · 40 dB
    # one-pole monotone steps: the 10-90 % time is the declared time (within one sample)
    assert step_times(reduction[: 2 * n], n, rising=True) == pytest.approx(attack, abs=1.5 / SR)
    assert step_times(reduction, 2 * n, rising=False) == pytest.approx(release, abs=1.5 / SR)


def test_ratio_one_is_a_pure_makeup_gain(rng):
    comp = get_effect("compressor")
    p = normalized(comp, SR, ratio=1.0, threshold=-80.0, makeup=-6.0)
    x = rng.standard_normal((1, 2000))
    assert np.allclose(comp.process(x, p, SR), x * 10 ** (-6 / 20), rtol=1e-12)


def test_release_changes_the_output_in_both_implementations(rng):
    comp = get_effect("compressor")
    x = rng.standard_normal((1, 8000)) * np.repeat([1.0, 0.01], 4000)
    fast, slow = (normalized(comp, SR, threshold=-30.0, ratio=8.0, release=r)
                  for r in (0.01, 0.5))
    for backend in ("numpy", "torch"):
        a, b = render(comp, x, fast, backend), render(comp, x, slow, backend)
        assert np.abs(a[0, 4000:] - b[0, 4000:]).max() > 1e-3


def elementwise_compressor(x: torch.Tensor, v: dict, sr: int) -> torch.Tensor:
    """The compressor as element-wise torch ops and a per-sample smoothing loop: the
    differentiable implementation before the fused op, kept as the equivalence oracle."""
    level = torch.clip(20 * torch.log10(x.abs() + EPS), min=FLOOR_DB)
    over, knee = level - v["threshold"][:, None], v["knee"][:, None]
    knee_part = (over + knee / 2) ** 2 / (2 * torch.where(knee > 0, knee, 1.0))
    curve = torch.where(2 * over.abs() < knee, knee_part, torch.clip(over, min=0.0))
    static = (1 - 1 / v["ratio"][:, None]) * curve
    attack, release = (coefficient(torch, v[k], sr) for k in ("attack", "release"))
    prev, smoothed = torch.zeros_like(static[:, 0]), []
    for t in range(x.shape[1]):
        a = torch.where(static[:, t] > prev, attack, release)
        prev = a * prev + (1 - a) * static[:, t]
        smoothed.append(prev)
    return x * 10 ** ((v["makeup"][:, None] - torch.stack(smoothed, dim=1)) / 20)


def test_fused_op_equals_the_elementwise_formula_with_gradients(rng):
    """Output and gradients w.r.t. x and every parameter within 1e-12 of the old formula."""
    comp = get_effect("compressor")
    x = rng.standard_normal((4, 500)) * np.repeat(10 ** (rng.uniform(-3, 0, (4, 5))), 100, 1)
    p = np.vstack([rng.uniform(size=(3, comp.n_params)),
                   normalized(comp, SR, threshold=-20.0, knee=12.0, attack=1e-3, release=0.01)])
    outputs = []
    for fused in (True, False):
        xt, pt = torch.tensor(x, requires_grad=True), torch.tensor(p, requires_grad=True)
        y = (comp.torch_process(xt, pt, SR) if fused
             else elementwise_compressor(xt, comp.physical(pt, SR), SR))
        y.backward(torch.from_numpy(np.sin(np.arange(500) / 7.0)).expand(4, -1))
        outputs.append((y.detach(), xt.grad, pt.grad))
    for new, old in zip(*outputs, strict=True):
        assert torch.allclose(new, old, rtol=0, atol=1e-12 * old.abs().max())
    assert (outputs[0][0] - torch.from_numpy(x)).abs().max() > 0.1  # it did compress
