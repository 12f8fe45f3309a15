"""Property-based fuzzing of the parameter mapping and of the audio standardizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bench.dsp.spec import Param
from bench.registry import registry
from datasets.standardize import standardize

# Plugins loaded earlier in the session (JUCE/VST3) may set flush-to-zero for the whole
# process, so subnormal floats are not drawn.
UNIT = st.floats(0.0, 1.0, allow_subnormal=False)
CEILING = 10 ** (-1 / 20)


@st.composite
def params(draw: st.DrawFn) -> Param:
    """A valid linear or logarithmic parameter with a random range and default."""
    if draw(st.booleans()):
        low = draw(st.floats(-1e4, 1e4, allow_subnormal=False))
        high = low + draw(st.floats(1e-3, 1e4))
        scale = "lin"
    else:
        low = draw(st.floats(1e-3, 1e3))
        high = low * draw(st.floats(1.001, 1e5, allow_subnormal=False))
        scale = "log"
    default = low + draw(UNIT) * (high - low)
    return Param("p", "u", low, high, min(max(default, low), high), scale)


def close(a: float, b: float, p: Param) -> bool:
    """Equal up to float rounding relative to the parameter's magnitude."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * max(abs(p.min), abs(p.max)))


@settings(max_examples=200, deadline=None)
@given(p=params(), u=UNIT)
def test_normalized_values_round_trip_and_stay_in_range(p, u):
    v = p.to_physical(u)
    assert p.min <= v or close(v, p.min, p)
    assert v <= p.max or close(v, p.max, p)
    assert math.isclose(p.to_normalized(v), u, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(p=params(), u1=UNIT, u2=UNIT)
def test_mapping_is_monotonic(p, u1, u2):
    assume(u1 < u2)
    assert p.to_physical(u1) <= p.to_physical(u2)


@settings(max_examples=100, deadline=None)
@given(p=params())
def test_ends_map_to_the_range_and_arrays_match_scalars(p):
    assert close(p.to_physical(0.0), p.min, p) and close(p.to_physical(1.0), p.max, p)
    grid = np.linspace(0.0, 1.0, 11)
    assert np.allclose(p.to_physical(grid), [p.to_physical(float(u)) for u in grid],
                       rtol=1e-12, atol=0.0)
    assert 0.0 <= p.to_normalized(p.default) <= 1.0 + 1e-12


@pytest.mark.parametrize("sample_rate", [16000, 44100])
def test_every_registered_effect_parameter_round_trips(sample_rate):
    grid = np.linspace(0.0, 1.0, 101)
    for effect in registry("effect").classes():
        for p in effect.params(sample_rate):
            v = p.to_physical(grid)
            assert np.all(np.diff(v) > 0), f"{effect.name}.{p.name} is not increasing"
            assert np.allclose(p.to_normalized(v), grid, atol=1e-9), f"{effect.name}.{p.name}"


@settings(max_examples=60, deadline=None)
@given(audio=hnp.arrays(np.float64, st.integers(0, 20000),
                        elements=st.floats(allow_nan=True, allow_infinity=True, width=32,
                                          allow_subnormal=False)),
       sr=st.sampled_from([8000, 16000, 22050, 44100]),
       target_sr=st.sampled_from([16000, 24000]),
       seconds=st.floats(0.05, 1.0, allow_subnormal=False))
def test_standardize_turns_any_samples_into_finite_clips_of_the_asked_length(audio, sr,
                                                                               target_sr,
                                                                               seconds):
    y = standardize(audio, sr, target_sr=target_sr, seconds=seconds)
    assert y.dtype == np.float32 and y.shape == (round(seconds * target_sr),)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y), initial=0.0) <= CEILING + 1e-6


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 30000), channels=st.integers(1, 3),
       seconds=st.floats(0.05, 1.0, allow_subnormal=False))
def test_silence_stays_exact_silence(n, channels, seconds):
    y = standardize(np.zeros((n, channels)), 16000, target_sr=24000, seconds=seconds)
    assert not np.any(y)
