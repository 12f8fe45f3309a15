"""`verify_effects`: the full check on every effect, and that it catches a wrong gradient."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from bench.dsp.distortion import Distortion
from bench.dsp.verify import check_effect, settings, verify_effects
from tests.dsp.conftest import SR


@pytest.mark.slow
def test_every_differentiable_effect_passes_verification(capsys):
    assert verify_effects(n_settings=50, seed=0, sample_rate=SR)
    table = capsys.readouterr().out
    for name in ("peq", "compressor", "distortion", "delay", "reverb"):
        assert f"| {name} | " in table
    assert "no differentiable version" in table


def test_settings_cover_extremes(rng):
    effect = Distortion()
    s = settings(effect, SR, 10, rng)
    assert len(s) == 10
    assert (s[0] == 0).all() and (s[1] == 1).all()
    for i in range(effect.n_params):
        assert {0.0, 1.0} <= set(s[:, i])
    assert len(settings(effect, SR, 3, rng)) == 2 + 2 * effect.n_params  # extremes always


class WrongGradient(Distortion):
    """A distortion whose torch version silently drops the drive gradient."""

    differentiable: ClassVar[bool] = True

    def render(self, xp, x, v, sample_rate):
        if xp is not np:
            v = {**v, "drive": v["drive"].detach()}
        return super().render(xp, x, v, sample_rate)


WrongGradient.name = "wrong_gradient"  # set after class creation: not registered


def test_a_wrong_gradient_is_caught():
    result = check_effect(WrongGradient(), n_settings=8, sample_rate=SR)
    assert not result.passed and result.status == "FAIL"
    assert result.rel_error_f64 < 1e-12  # values agree; only the gradient is wrong
    assert any("gradcheck" in f for f in result.failures)


def test_black_boxes_are_listed_with_their_reason(capsys):
    assert verify_effects(["pb_delay"])
    assert "no differentiable version: pb_delay runs inside pedalboard" in capsys.readouterr().out
