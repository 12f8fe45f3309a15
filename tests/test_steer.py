"""`python -m bench steer`: a conditional TCN trained on one example, swept over its controls;
the heatmap's structure measures on known grids, a smoke run of the reverb's T60 map, and
one-line errors for what cannot be steered or measured."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.errors import BenchError
from tasks import _steer
from tests.conftest import bench_cmd


def test_structure_tells_a_smooth_map_from_noise():
    c1, c2 = np.meshgrid(np.linspace(-5, 5, 11), np.linspace(-5, 5, 11), indexing="ij")
    plane = _steer.structure(2 * c1 - c2)
    assert plane["range"] == pytest.approx(30.0) and plane["plane_r2"] == pytest.approx(1.0)
    assert plane["neighbour_step"] == pytest.approx(1.5 / 30)  # steps of 2 and 1, median 1.5
    bowl = _steer.structure(-(c1**2 + c2**2))
    assert bowl["plane_r2"] < 0.01 and bowl["neighbour_step"] < 0.15
    noise = _steer.structure(np.random.default_rng(0).standard_normal((11, 11)))
    assert noise["plane_r2"] < 0.1 and noise["neighbour_step"] > 0.2
    flat = _steer.structure(np.zeros((3, 3)))
    assert flat == {"range": 0.0, "plane_r2": None, "neighbour_step": None}
    gaps = _steer.structure(np.array([[np.nan, 1.0], [2.0, np.nan]]))
    assert gaps["range"] is None


def test_the_target_setting_is_the_declared_one():
    from bench.dsp import get_effect

    effect = get_effect("compressor")
    p = _steer.target_setting(effect, 24000)[0]
    values = {s.name: float(s.to_physical(v)) for s, v in zip(effect.params(24000), p,
                                                                strict=True)}
    assert values == pytest.approx(_steer.TARGET_SETTINGS["compressor"])


@pytest.mark.slow
def test_a_smoke_reverb_run_writes_a_t60_map_with_its_fidelity(tmp_path):
    path = _steer.run_steer("reverb", "smoke", None, 3, 2, 0, tmp_path, None, None)
    data = json.loads(path.read_text())
    assert data["measure"] == "t60" and data["effect"] == "reverb"
    assert data["controls"] == [-5.0, 5.0] and np.array(data["values"]).shape == (2, 2)
    assert data["target_value"] == pytest.approx(1.0, rel=0.1)  # the setting's 1-s decay
    assert data["input_value"] is None and data["training"]["steps"] == 3
    assert data["training"]["receptive_field_s"] == pytest.approx(2.0, rel=0.01)
    assert set(data["fidelity_at_zero"]) == {"train_clip", "heldout_clip"}
    assert set(data["fidelity_at_zero"]["train_clip"]) == {"mrstft", "esr", "lufs"}
    corners = tmp_path / "audio" / "smoke" / "steer_reverb" / "seed0"
    assert {p.name for p in corners.iterdir()} == {"dsp", *(_steer.corner_name(c)
                                                            for c in _steer.CORNERS)}


def test_bad_input_is_a_one_line_error(tmp_path):
    with pytest.raises(BenchError, match="--steps must be >= 1"):
        _steer.run_steer("compressor", "smoke", None, 0, None, 0, tmp_path, None, None)
    out = bench_cmd("steer", "--effect", "compresor", "--budget", "smoke", cwd=tmp_path,
                    plugins="")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "did you mean compressor" in out.stderr
