"""The README's compressor figure: DeepAFx-ST's release-ignoring smoother against ballistics."""

from __future__ import annotations

import numpy as np
import pytest

from bench.dsp.deepafx_compressor import (
    SETTINGS,
    gated_noise,
    mean_reductions,
    render_markdown,
    single_pole_reduction,
    static_reduction,
)


def test_single_pole_passes_a_steady_reduction_unchanged():
    x = np.full((1, 24000), 0.5)
    steady = static_reduction(x, SETTINGS[0])
    assert steady[0, -1] > 0
    assert single_pole_reduction(x, SETTINGS[0])[0, -1] == pytest.approx(steady[0, -1], rel=1e-6)


def test_ignoring_the_release_loses_gain_reduction_on_gated_noise():
    x = gated_noise()
    assert x.shape == (1, 48000) and np.all(x[0, 6000:12000] == 0)  # off in the second 1/4 s
    rows = mean_reductions()
    assert [(round(b, 2), round(s, 2)) for _, b, s in rows] == [
        (11.60, 7.13), (13.48, 4.46), (13.03, 7.18)]
    assert "| -30 | 4 | 5 | 100 | 6 | 11.60 | 7.13 |" in render_markdown(rows)
