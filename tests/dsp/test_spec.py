"""Parameter specs, normalized mapping, validation and the import-light contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from bench.dsp import Param, get_effect
from bench.dsp.chain import effect_names
from bench.registry import RegistryError
from tests.dsp.conftest import SR

DSP = ("peq", "compressor", "distortion", "delay", "reverb")


@pytest.mark.parametrize("scale", ["lin", "log"])
def test_mapping_round_trips_on_floats_arrays_and_tensors(scale):
    param = Param("x", "Hz", 20.0, 20000.0, 1000.0, scale)
    u = np.linspace(0, 1, 11)
    for values in (u, torch.from_numpy(u)):
        back = param.to_normalized(param.to_physical(values))
        assert np.allclose(np.asarray(back), u, atol=1e-12)
    assert param.to_physical(0.0) == pytest.approx(20.0)
    assert param.to_physical(1.0) == pytest.approx(20000.0)
    assert param.to_normalized(param.to_physical(0.3)) == pytest.approx(0.3)


def test_log_scale_is_geometric_and_differentiable():
    param = Param("t", "s", 0.001, 1.0, 0.01, "log")
    assert param.to_physical(0.5) == pytest.approx(np.sqrt(0.001))
    u = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    param.to_physical(u).backward()
    assert u.grad == pytest.approx(param.to_physical(0.25) * np.log(1000.0))


def test_invalid_params_are_rejected():
    with pytest.raises(ValueError, match="empty range"):
        Param("f", "Hz", 4000.0, 3600.0, 4000.0, "log")
    with pytest.raises(ValueError, match="log-scale"):
        Param("g", "dB", -24.0, 24.0, 0.0, "log")


@pytest.mark.parametrize("name", DSP)
def test_counts_defaults_and_vectorized_mapping(name):
    effect = get_effect(name)
    specs = effect.params(SR)
    assert effect.n_params == len(specs) == {"peq": 18, "compressor": 6, "distortion": 3,
                                             "delay": 3, "reverb": 4}[name]
    d = effect.defaults(SR)
    assert np.all((d >= 0) & (d <= 1))
    physical = [s.to_physical(u) for s, u in zip(specs, d, strict=True)]
    assert physical == pytest.approx([s.default for s in specs])
    u = np.random.default_rng(0).uniform(size=(3, len(specs)))
    v = effect.physical(u, SR)
    for i, s in enumerate(specs):
        assert np.allclose(v[s.name], s.to_physical(u[:, i]), rtol=1e-14)
    assert all(s.scale == "log" for s in specs if s.unit in ("Hz", "s") or s.name.endswith("_q"))


def test_peq_ranges_fix_the_reference_bugs():
    at24 = {p.name: p for p in get_effect("peq").params(24000)}
    assert at24["band2_cutoff"].min == 800.0
    assert at24["band4_cutoff"].max == at24["high_shelf_cutoff"].max == pytest.approx(10800.0)
    assert at24["band3_cutoff"].max == 8000.0
    at16 = {p.name: p for p in get_effect("peq").params(16000)}
    assert at16["band3_cutoff"].max == pytest.approx(7200.0)
    assert at16["high_shelf_cutoff"].default == pytest.approx(7200.0)
    comp = {p.name: p for p in get_effect("compressor").params(SR)}
    assert (comp["release"].min, comp["release"].max) == (0.005, 1.0)


@pytest.mark.parametrize("sr", [16000, 22050, 24000, 44100, 48000])
def test_every_cutoff_is_below_nyquist(sr):
    for name in effect_names():
        for p in get_effect(name).params(sr):
            if p.unit == "Hz":
                assert p.max <= 0.45 * sr + 1e-9, (name, p)


def test_out_of_range_value_names_parameter_value_and_fix():
    effect = get_effect("compressor")
    p = effect.defaults(SR)[None].copy()
    p[0, 1] = 1.2
    with pytest.raises(ValueError) as info:
        effect.process(np.zeros((1, 16)), p, SR)
    message = str(info.value)
    assert "\n" not in message
    assert "compressor.ratio" in message and "1.2" in message and "clip" in message
    p[0, 1] = 1 + 1e-7  # rounding is tolerated
    effect.process(np.zeros((1, 16)), p, SR)
    with pytest.raises(ValueError, match=r"compressor\.threshold"):
        effect.torch_process(torch.zeros(1, 16), torch.full((1, 6), -0.1), SR)


def test_shapes_dtypes_and_broadcast(rng):
    effect = get_effect("peq")
    x = rng.standard_normal((2, 256)).astype(np.float32)
    y = effect.process(x, effect.defaults(SR), SR)  # 1-D p broadcasts over the batch
    assert y.dtype == np.float32 and y.shape == x.shape
    yt = effect.torch_process(torch.from_numpy(x), torch.from_numpy(effect.defaults(SR)), SR)
    assert yt.dtype == torch.float32 and tuple(yt.shape) == x.shape
    with pytest.raises(ValueError, match="batch"):
        effect.process(x[0], effect.defaults(SR), SR)
    with pytest.raises(ValueError, match="n_params"):
        effect.process(x, np.zeros((2, 3)), SR)
    with pytest.raises(TypeError, match="float32 or float64"):
        effect.process(x.astype(np.int16), effect.defaults(SR), SR)


def test_unknown_effect_lists_close_names():
    with pytest.raises(RegistryError, match="compressor"):
        get_effect("compresor")


def test_effect_modules_import_without_torch_or_numba():
    code = ("import sys, pkgutil, importlib, bench.dsp\n"
            "for m in pkgutil.iter_modules(bench.dsp.__path__, 'bench.dsp.'):\n"
            "    if not m.name.rsplit('.', 1)[-1].startswith('_'):\n"
            "        importlib.import_module(m.name)\n"
            "from bench.dsp.chain import effect_names; effect_names()\n"
            "heavy = [m for m in ('torch', 'numba', 'pedalboard', 'scipy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)
