"""Gradient-fidelity measures and the finite-difference reference on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import MetricError
from bench.metrics.gradient import (
    FD_STEP,
    bias_variance,
    cosine,
    finite_difference,
    relative_error,
    sign_counts,
    stencil,
)


def test_cosine_relative_error_and_signs_by_hand():
    ref = np.array([[1.0, 0.0, -2.0], [0.0, 3.0, 4.0]])
    est = np.array([[2.0, 0.0, -4.0], [0.0, -3.0, -4.0]])
    np.testing.assert_allclose(cosine(est, ref), [1.0, -1.0])
    np.testing.assert_allclose(relative_error(est, ref), [1.0, 2.0])
    agree, counted = sign_counts(est, ref)
    # the zero reference entries are not counted; row 2 disagrees on both of its
    assert agree.tolist() == [1, 0, 1] and counted.tolist() == [1, 1, 2]
    agree, counted = sign_counts(est, ref, where=np.array([[True, True, False]] * 2))
    assert agree.tolist() == [1, 0, 0] and counted.tolist() == [1, 1, 0]
    assert cosine(np.zeros((1, 3)), ref[:1]).tolist() == [0.0]
    with pytest.raises(MetricError, match="match in shape"):
        cosine(est, ref[:1])


def test_sign_agreement_ignores_numerically_zero_reference_entries():
    ref = np.array([[1.0, 1e-9, -1.0]])
    agree, counted = sign_counts(np.array([[1.0, -1.0, -1.0]]), ref)
    assert counted.tolist() == [1, 0, 1] and agree.tolist() == [1, 0, 1]


def test_bias_and_variance_of_known_draws():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 6))
    scale = np.linalg.norm(ref, axis=1, keepdims=True)
    bias = 0.3 * scale * np.eye(6)[0]            # ‖bias‖ = 0.3 ‖g*‖ at every point
    noise = 0.5 * scale / np.sqrt(6)             # total variance 0.25 ‖g*‖²
    draws = ref + bias + noise * rng.normal(size=(400, 50, 6))
    bv = bias_variance(draws, ref)
    assert bv["bias"] == pytest.approx(0.3, abs=0.02)
    assert bv["std"] == pytest.approx(0.5, abs=0.02) and bv["draws"] == 400
    tiny = ref.copy()
    tiny[0] *= 1e-6  # a point whose reference is nearly zero does not dominate
    assert bias_variance(draws * np.where(np.arange(50) == 0, 1e-6, 1.0)[None, :, None],
                         tiny)["bias"] == pytest.approx(0.3, abs=0.02)
    fixed = bias_variance(np.stack([ref * 1.1, ref * 1.1]), ref)
    assert fixed["std"] == 0.0 and fixed["bias"] == pytest.approx(0.1)
    assert fixed["cosine_of_mean"] == pytest.approx(1.0)
    with pytest.raises(MetricError, match="at least 2 draws"):
        bias_variance(draws[:1], ref)


def _f(points: np.ndarray) -> np.ndarray:
    return np.sin(3 * points).sum(1) + points[:, 0] * points[:, 1] + np.exp(points[:, 2])


def _grad(p: np.ndarray) -> np.ndarray:
    return 3 * np.cos(3 * p) + np.array([p[1], p[0], np.exp(p[2])])


@pytest.mark.parametrize("p", [[0.3, 0.6, 0.5], [0.0, 1.0, 1e-3], [1.0, 0.999, 0.0]])
def test_finite_difference_is_second_order_inside_and_at_the_ends(p):
    p = np.array(p)
    points, _ = stencil(p, FD_STEP)
    assert points.min() >= 0.0 and points.max() <= 1.0 and len(points) == 1 + 2 * len(p)
    errors = [np.abs(finite_difference(_f, p, h) - _grad(p)).max() for h in (0.02, 0.01)]
    assert errors[0] < 2e-2 and 3.0 < errors[0] / errors[1] < 5.0  # O(h²): halving h → ÷4
    np.testing.assert_allclose(finite_difference(_f, p), _grad(p), rtol=1e-3, atol=1e-3)


def test_the_step_rule_is_the_cube_root_of_float32_precision():
    assert FD_STEP == pytest.approx(np.finfo(np.float32).eps ** (1 / 3))
    assert 4.8e-3 < FD_STEP < 5.0e-3
