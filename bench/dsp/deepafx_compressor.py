"""How far DeepAFx-ST's differentiable compressor was from a compressor with release ballistics.

Its differentiable version (``deepafx_st/processors/autodiff/compressor.py``) ignored the release
time ("Release (dummy)") and low-passed the gain reduction with one first-order Butterworth at
1/(2·attack) Hz, while its DSP version switched between attack and release like ours. Both
smoothers are applied here to this compressor's static gain reduction on 2 Hz gated noise, so
the only difference is the ballistics. Run ``python -m bench.dsp.deepafx_compressor`` for the table.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 24000
GATE_HZ = 2.0
SECONDS = 2.0
SETTINGS = (  # a moderate, a fast-attack/slow-release and a slow setting
    {"threshold": -30.0, "ratio": 4.0, "attack": 0.005, "release": 0.1, "knee": 6.0},
    {"threshold": -20.0, "ratio": 10.0, "attack": 0.001, "release": 0.3, "knee": 3.0},
    {"threshold": -40.0, "ratio": 2.0, "attack": 0.05, "release": 0.5, "knee": 12.0},
)


def gated_noise(seed: int = 0) -> np.ndarray:
    """White noise (0.5 standard deviation) switched on and off at ``GATE_HZ``, shape (1, n)."""
    n = int(SECONDS * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    gate = (np.floor(2 * GATE_HZ * t) % 2 == 0).astype(np.float64)
    return (0.5 * gate * np.random.default_rng(seed).standard_normal(n))[None]


def _reduction(x: np.ndarray, setting: dict[str, float], attack: float,
               release: float) -> np.ndarray:
    """This compressor's gain reduction (dB) of ``x`` smoothed by one-pole coefficients
    ``attack`` and ``release`` (0 and 0: the static reduction), from its own kernel."""
    from bench.dsp._kernels_ballistics import compress
    from bench.dsp.compressor import EPS, FLOOR_DB

    raw = 20 * np.log10(np.abs(x) + EPS)
    red, mask = np.empty_like(raw), np.empty(raw.shape, dtype=np.bool_)
    compress(raw, *(np.array([v], dtype=np.float64) for v in (
        setting["threshold"], setting["ratio"], setting["knee"], attack, release)),
        FLOOR_DB, red, mask)
    return red


def static_reduction(x: np.ndarray, setting: dict[str, float]) -> np.ndarray:
    """This compressor's unsmoothed gain reduction (dB) of ``x`` for a physical ``setting``."""
    return _reduction(x, setting, 0.0, 0.0)


def ballistic_reduction(x: np.ndarray, setting: dict[str, float]) -> np.ndarray:
    """Gain reduction (dB) with attack and release ballistics: this compressor's own."""
    from bench.dsp.compressor import coefficient

    return _reduction(x, setting, coefficient(np, setting["attack"], SAMPLE_RATE),
                      coefficient(np, setting["release"], SAMPLE_RATE))


def single_pole_reduction(x: np.ndarray, setting: dict[str, float]) -> np.ndarray:
    """Gain reduction (dB) smoothed as DeepAFx-ST's differentiable compressor did: one
    first-order Butterworth low-pass at 1/(2·attack) Hz, the release ignored."""
    from scipy.signal import butter, lfilter

    b, a = butter(1, 1 / (2 * setting["attack"]), fs=SAMPLE_RATE)
    return lfilter(b, a, static_reduction(x, setting), axis=-1)


def mean_reductions(seed: int = 0) -> list[tuple[dict[str, float], float, float]]:
    """(setting, mean dB with release ballistics, mean dB with the single pole) per setting."""
    x = gated_noise(seed)
    return [(s, float(ballistic_reduction(x, s).mean()), float(single_pole_reduction(x, s).mean()))
            for s in SETTINGS]


def render_markdown(rows: list[tuple[dict[str, float], float, float]]) -> str:
    """The comparison as a Markdown table."""
    out = [f"Mean gain reduction on {SECONDS:g} s of {GATE_HZ:g} Hz gated noise at "
           f"{SAMPLE_RATE} Hz (dB):", "",
           "| threshold dB | ratio | attack ms | release ms | knee dB | attack + release "
           "(this compressor) | one pole, release ignored (DeepAFx-ST autodiff) |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {s['threshold']:g} | {s['ratio']:g} | {1e3 * s['attack']:g} | "
            f"{1e3 * s['release']:g} | {s['knee']:g} | {ballistic:.2f} | {single:.2f} |"
            for s, ballistic, single in rows]
    return "\n".join(out)


def main() -> None:
    """Print the table."""
    print(render_markdown(mean_reductions()))


if __name__ == "__main__":
    main()
