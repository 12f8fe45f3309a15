"""Black-box effects: same interface, deterministic, not differentiable, clear when missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.dsp import EffectUnavailable, NotDifferentiable, get_effect
from bench.dsp import blackbox_vst3 as blackbox
from bench.dsp.chain import effect_names
from tests.dsp.conftest import SR, normalized

BLACK_BOXES = [n for n in effect_names() if not get_effect(n).differentiable]


def usable(name: str):
    effect = get_effect(name)
    reason = effect.available()
    if reason is not None:
        pytest.skip(reason)
    return effect


def test_required_black_boxes_are_registered():
    assert {"pb_compressor", "pb_reverb", "pb_distortion", "pb_delay", "pb_peq", "zam_comp",
            "zam_eq2"} <= set(BLACK_BOXES)


@pytest.mark.parametrize("name", BLACK_BOXES)
def test_black_box_renders_deterministically_and_refuses_gradients(name, rng):
    effect = usable(name)
    x = (0.3 * rng.standard_normal((2, 4000))).astype(np.float32)
    p = rng.uniform(size=(2, effect.n_params))
    y = effect.process(x, p, SR)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.array_equal(y, effect.process(x, p, SR))
    assert np.array_equal(y[1], effect.process(x[1:], p[1:], SR)[0])  # no memory of item 0
    assert np.array_equal(effect.process(x.astype(np.float64), p, SR), y.astype(np.float64))
    with pytest.raises(NotDifferentiable, match="black box"):
        effect.torch_process(torch.from_numpy(x), torch.from_numpy(p), SR)


def test_pb_peq_is_the_same_eq_as_peq(rng):
    pb_peq = usable("pb_peq")
    x = 0.3 * rng.standard_normal((4, 20000))
    p = rng.uniform(size=(4, pb_peq.n_params))
    ref = get_effect("peq").process(x, p, SR)
    y = pb_peq.process(x, p, SR)
    snr = 10 * np.log10((ref ** 2).sum(axis=1) / ((y - ref) ** 2).sum(axis=1))
    assert snr.min() > 60  # float32 host vs float64 reference


def test_zam_comp_reduces_a_loud_signal(rng):
    comp = usable("zam_comp")
    x = 0.9 * rng.standard_normal((1, SR)).clip(-1, 1)
    p = normalized(comp, SR, threshold=-40.0, ratio=10.0, attack=0.001, release=0.05)
    y = comp.process(x, p, SR)
    assert np.sqrt((y[:, SR // 2:] ** 2).mean()) < 0.5 * np.sqrt((x[:, SR // 2:] ** 2).mean())


def test_zam_eq2_boosts_its_band():
    eq = usable("zam_eq2")
    x = np.zeros((1, 8192))
    x[0, 0] = 1.0
    flat = eq.process(x, eq.defaults(SR)[None], SR)
    boosted = eq.process(x, normalized(eq, SR, band1_gain=12.0, band1_cutoff=1000.0), SR)
    f = np.fft.rfftfreq(8192, 1 / SR)
    k = np.argmin(np.abs(f - 1000.0))
    gain = 20 * np.log10(np.abs(np.fft.rfft(boosted[0]))[k] / np.abs(np.fft.rfft(flat[0]))[k])
    assert gain == pytest.approx(12.0, abs=0.5)


def test_missing_plugin_registers_but_reports_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(blackbox, "VST3_DIRS", (str(tmp_path),))
    monkeypatch.delenv(blackbox.VST3_ENV, raising=False)
    effect = get_effect("zam_comp")
    reason = effect.available()
    assert "ZamComp.vst3 not found" in reason and "apt-get install zam-plugins" in reason
    with pytest.raises(EffectUnavailable, match="apt-get install zam-plugins"):
        effect.process(np.zeros((1, 16), np.float32), effect.defaults(SR), SR)
    from bench.dsp.verify import verify_effects

    assert verify_effects(["zam_comp"])  # skipped, not failed


@pytest.mark.parametrize("name", ["peq", "compressor", "zam_comp", "pb_reverb"])
def test_thread_pool_rendering_equals_serial(name, rng):
    from concurrent.futures import ThreadPoolExecutor

    effect = usable(name)
    x = (0.3 * rng.standard_normal((4, 3000))).astype(np.float32)
    p = rng.uniform(size=(4, effect.n_params))
    serial = effect.process(x, p, SR)
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(lambda i: effect.process(x[i:i + 2], p[i:i + 2], SR), (0, 2)))
    assert np.array_equal(np.concatenate(parts), serial)
