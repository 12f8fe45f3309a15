"""The gradient-free searches' style loss: known answers for level changes."""

import numpy as np
import pytest

from tasks.style_transfer import style_score


def test_style_score_is_zero_on_the_reference_and_tracks_level() -> None:
    """A copy scores 0; twice the amplitude moves every mel band and the RMS by 6.02 dB and the
    crest factor by nothing, so the loss is (64 + 1) · 0.602 / 66."""
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((3, 12000)) * 0.1
    score = style_score(reference, 16000)
    idx = np.arange(3)
    assert np.allclose(score(reference, idx), 0.0, atol=1e-12)
    six_db = 20 * np.log10(2) / 10
    assert score(2 * reference, idx) == pytest.approx(np.full(3, 65 * six_db / 66), rel=1e-6)
