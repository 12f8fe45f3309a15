"""The tasks' example generators: style pairs, the five styles, blind and chain examples,
gradient-measurement points."""

from __future__ import annotations

import numpy as np
import pytest

from bench.registry import registry
from tasks.examples import (
    CHAIN_EFFECTS,
    EDGE_SHARE,
    NEAR,
    blind_examples,
    chain_examples,
    chain_params,
    edge_points,
    gradient_points,
    one_recording_style_pairs,
    setting_from_physical,
    style_examples,
    style_setting,
    style_transfer_pairs,
)
from tasks.styles import STYLES
from tests.datasets.conftest import tone

SR = 22050


@pytest.fixture
def sources():
    noise = np.random.default_rng(1).standard_normal(SR * 3) * 0.05
    return [tone(3.0, SR, freq=f, seed=k) for k, f in enumerate((220, 330, 440, 550, 660))] + [
        noise, np.zeros(SR * 3)]


def test_pairs_are_reproducible_and_target_shares_input_content(sources):
    a = style_transfer_pairs(sources, SR, n=3, seconds=0.5, seed=7)
    b = style_transfer_pairs(sources, SR, n=3, seconds=0.5, seed=7)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.target, y.target)
        np.testing.assert_array_equal(x.input_setting.normalized, y.input_setting.normalized)
    pair = a[0]
    assert pair.input.shape == pair.reference.shape == pair.target.shape == (SR // 2,)
    assert pair.input_setting.normalized.shape == (24,)
    assert not np.allclose(pair.input_setting.normalized, pair.target_setting.normalized)
    other = style_transfer_pairs(sources, SR, n=1, seconds=0.5, seed=8)[0]
    assert not np.array_equal(other.target, pair.target)


@pytest.mark.parametrize("style", list(STYLES))
def test_styles_are_physical_values_through_the_param_spec(style):
    setting = style_setting(style, 44100, np.random.default_rng(0))
    specs = dict(chain_params(("peq", "compressor"), 44100))
    for name, value in setting.physical.items():
        p = specs[name]
        assert p.min <= value <= p.max
        assert setting.normalized[list(specs).index(name)] == pytest.approx(
            p.to_normalized(value))
    if style == "warm":
        assert -26.0 <= setting.physical["peq.high_shelf_gain"] <= -20.0  # a cut, not a boost
        assert setting.physical["peq.low_shelf_gain"] >= 20.0
    if style in ("bright", "warm"):
        assert setting.physical["compressor.ratio"] == 1.0


def test_out_of_range_values_are_clamped_and_unknown_names_rejected():
    s = setting_from_physical(("peq",), {"peq.low_shelf_cutoff": 400.0}, 44100)
    assert s.physical["peq.low_shelf_cutoff"] == 200.0 and s.normalized[1] == 1.0
    with pytest.raises(Exception, match="unknown parameters"):
        setting_from_physical(("peq",), {"peq.nonsense": 1.0}, 44100)


def test_style_examples_cover_five_labelled_styles(sources):
    examples = style_examples(sources, SR, per_style=2, seconds=0.25, seed=3)
    assert [e.style for e in examples[::2]] == list(STYLES)
    assert {e.label for e in examples} == {0, 1, 2, 3, 4}
    for e in examples:
        assert e.audio.shape == (SR // 4,) and np.all(np.isfinite(e.audio))
        assert np.max(np.abs(e.audio)) == pytest.approx(10 ** (-1 / 20), rel=1e-6)


def test_one_recording_pairs_cut_input_and_reference_from_one_source(sources):
    tones = sources[:5]  # one frequency per recording
    pairs = [("neutral", "broadcast"), ("warm", "bright"), ("telephone", "neutral")] * 3
    x, ref, restyled = one_recording_style_pairs(tones, SR, pairs=pairs, seconds=0.25, seed=4)
    assert x.shape == ref.shape == restyled.shape == (len(pairs), SR // 4)
    np.testing.assert_allclose(np.max(np.abs(np.concatenate([x, ref, restyled])), axis=1),
                               10 ** (-1 / 20), rtol=1e-6)

    def pitch(clips):  # the strongest FFT bin, in Hz
        return np.argmax(np.abs(np.fft.rfft(clips, axis=1)), axis=1) * SR / clips.shape[1]

    np.testing.assert_allclose(pitch(x), pitch(ref), atol=8.0)  # one recording per row
    np.testing.assert_allclose(pitch(restyled), pitch(x), atol=8.0)
    # restyled is the input's clip in the reference's setting: a warm input made bright
    # gains treble over its own input
    def treble(clips):
        power = np.abs(np.fft.rfft(clips * np.hanning(clips.shape[1]), axis=1)) ** 2
        return power[:, power.shape[1] // 4:].sum(1) / power.sum(1)

    assert np.all(treble(restyled[1::3]) > treble(x[1::3]))
    assert len(set(np.round(pitch(x), -1))) > 1  # from several recordings
    again = one_recording_style_pairs(tones, SR, pairs=pairs, seconds=0.25, seed=4)
    np.testing.assert_array_equal(ref, again[1])
    np.testing.assert_array_equal(restyled, again[2])
    assert not np.allclose(x[:, :100], ref[:, :100])  # different halves, other styles


def test_blind_triples_carry_true_parameters(sources):
    triples = blind_examples(sources, SR, n=4, seconds=0.25, seed=5)
    assert len(triples) == 4
    for t in triples:
        assert t.setting.effects == ("peq", "compressor")
        assert t.dry.shape == t.wet.shape and np.all(np.isfinite(t.wet))
        assert np.all((t.setting.normalized >= 0) & (t.setting.normalized <= 1))
        assert len(t.setting.physical) == 24
    again = blind_examples(sources, SR, n=4, seconds=0.25, seed=5)
    np.testing.assert_array_equal(triples[2].wet, again[2].wet)


def test_chain_examples_are_ordered_chains_of_one_to_three_effects(sources):
    examples = chain_examples(sources, SR, n=12, seconds=0.25, seed=11)
    sizes = {len(e.setting.effects) for e in examples}
    assert sizes <= {1, 2, 3} and len(sizes) > 1
    for e in examples:
        assert len(set(e.setting.effects)) == len(e.setting.effects)
        assert set(e.setting.effects) <= set(CHAIN_EFFECTS)
        n_params = sum(registry("effect").get(x).n_params for x in e.setting.effects)
        assert e.setting.normalized.shape == (n_params,) and np.all(np.isfinite(e.wet))


def test_silent_short_and_nan_sources_do_not_crash(sources):
    bad = [np.zeros(100), np.full(SR, np.nan), np.zeros(SR)]
    out = blind_examples(bad, SR, n=2, seconds=0.5, seed=0)
    assert all(np.all(np.isfinite(t.wet)) and t.dry.shape == (SR // 2,) for t in out)
    with pytest.raises(Exception, match="no source audio"):
        blind_examples([], SR, n=1, seconds=0.5, seed=0)


def test_gradient_points_sit_at_and_near_the_ends_and_are_float32_exact():
    p = edge_points(np.random.default_rng(0), 400, 10)
    assert p.min() == 0.0 and p.max() == 1.0
    assert np.array_equal(p, p.astype(np.float32).astype(np.float64))
    at_ends = np.mean((p == 0) | (p == 1))
    near = np.mean(((p > 0) & (p <= NEAR)) | ((p < 1) & (p >= 1 - NEAR)))
    assert abs(at_ends - EDGE_SHARE) < 0.03 and 0.07 < near < 0.13


def test_gradient_points_are_reproducible_with_targets_at_another_setting(sources):
    a = gradient_points(sources, SR, n=3, seconds=0.25, seed=5, effects=("distortion",))
    b = gradient_points(sources, SR, n=3, seconds=0.25, seed=5, effects=("distortion",))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.target, y.target)
        np.testing.assert_array_equal(x.point, y.point)
    point = a[0]
    assert point.dry.shape == point.target.shape == (SR // 4,) and point.point.shape == (3,)
    assert not np.allclose(point.point, point.setting.normalized)
    assert np.array_equal(point.target, point.target.astype(np.float32).astype(np.float64))
