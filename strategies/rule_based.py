"""Rule-based DSP: no learning, analysis rules map (input, reference) to chain parameters.

The EQ is fitted (least squares on its measured response) to the smoothed spectral difference
between reference and input; the compressor's threshold/ratio are picked to match the
reference's crest factor and the makeup gain to match its level. The result is a parameter
vector of the same chain every other strategy controls.
"""

from __future__ import annotations

import numpy as np

from bench.base import Counters, RunContext, Task
from bench.dsp import Effect
from bench.search import SearchProblem, SearchStrategy

GRID_POINTS = 64
IMPULSE = 8192


def log_grid(sample_rate: int) -> np.ndarray:
    """Log-spaced analysis frequencies from 40 Hz to 0.45·sr."""
    return np.geomspace(40.0, 0.45 * sample_rate, GRID_POINTS)


def smoothed_spectrum_db(audio: np.ndarray, sample_rate: int, octave: float) -> np.ndarray:
    """Mean power spectrum (Welch) in dB, averaged within ±``octave``/2 around each grid point."""
    from scipy.signal import welch

    nper = min(4096, audio.shape[-1])
    f, psd = welch(audio, fs=sample_rate, nperseg=nper)
    psd = np.atleast_2d(psd).mean(axis=0)
    grid = log_grid(sample_rate)
    lo, hi = grid * 2 ** (-octave / 2), grid * 2 ** (octave / 2)
    out = np.empty(len(grid))
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        band = psd[(f >= a) & (f <= b)]
        out[i] = band.mean() if band.size else np.interp(grid[i], f, psd)
    return 10 * np.log10(out + 1e-20)


def response_db(effect: Effect, p: np.ndarray, sample_rate: int,
                counters: Counters) -> np.ndarray:
    """Magnitude response (dB) of a linear effect at the grid, from its impulse response (one
    counted evaluation)."""
    impulse = np.zeros((1, IMPULSE))
    impulse[0, 0] = 1.0
    h = counters.render(effect, impulse, p[None], sample_rate)[0]
    mag = np.abs(np.fft.rfft(h))
    freqs = np.fft.rfftfreq(IMPULSE, 1 / sample_rate)
    return 20 * np.log10(np.interp(log_grid(sample_rate), freqs, mag) + 1e-12)


def fit_eq(effect: Effect, x: np.ndarray, ref: np.ndarray, sample_rate: int,
           counters: Counters, octave: float) -> np.ndarray:
    """EQ parameters whose response shape best matches smoothed(ref) − smoothed(x) in dB."""
    from scipy.optimize import least_squares

    target = (smoothed_spectrum_db(ref, sample_rate, octave)
              - smoothed_spectrum_db(x, sample_rate, octave))
    target -= target.mean()

    def residual(p: np.ndarray) -> np.ndarray:
        h = response_db(effect, np.clip(p, 0.0, 1.0), sample_rate, counters)
        return (h - h.mean()) - target

    start = effect.defaults(sample_rate)
    fit = least_squares(residual, start, bounds=(0.0, 1.0), max_nfev=60, diff_step=1e-3)
    return np.clip(fit.x, 0.0, 1.0)


def level_db(y: np.ndarray) -> np.ndarray:
    """RMS level in dB (log10), floored, along the last axis."""
    return 20 * np.log10(np.sqrt(np.mean(y**2, axis=-1)) + 1e-8)


def crest_db(y: np.ndarray) -> np.ndarray:
    """Crest factor (peak over RMS) in dB, along the last axis."""
    return 20 * np.log10(np.max(np.abs(y), axis=-1) + 1e-8) - level_db(y)


def fit_compressor(effect: Effect, x: np.ndarray, ref: np.ndarray, sample_rate: int,
                   counters: Counters) -> np.ndarray:
    """Threshold/ratio matching the reference crest factor, then makeup matching its level."""
    specs = effect.params(sample_rate)
    index = {s.name: i for i, s in enumerate(specs)}
    base = effect.defaults(sample_rate)
    candidates = []
    for threshold in (-48.0, -40.0, -32.0, -24.0, -16.0, -8.0, 0.0):
        for ratio in (1.5, 2.0, 4.0, 8.0):
            p = base.copy()
            p[index["threshold"]] = specs[index["threshold"]].to_normalized(threshold)
            p[index["ratio"]] = specs[index["ratio"]].to_normalized(ratio)
            p[index["makeup"]] = specs[index["makeup"]].to_normalized(0.0)
            candidates.append(p)
    cand = np.array(candidates)
    y = counters.render(effect, np.repeat(x[None], len(cand), axis=0), cand, sample_rate)
    pick = int(np.argmin(np.abs(crest_db(y) - crest_db(ref))))
    best = cand[pick].copy()
    gain = float(level_db(ref) - level_db(y[pick]))
    makeup = specs[index["makeup"]]
    best[index["makeup"]] = makeup.to_normalized(float(np.clip(gain, makeup.min, makeup.max)))
    return best


class RuleBased(SearchStrategy):
    """Hand-written analysis rules: spectral-balance EQ fit, loudness/crest compressor match."""

    name = "rule_based"
    version = "1"
    defaults = {"smoothing_octaves": 1 / 3}

    def skip_reason(self, task: Task) -> str | None:
        """Rules need a style reference and a chain made of an EQ and/or a compressor (and,
        as every search, a task that measures neither gradients nor models)."""
        if task.capabilities.measures_gradients or task.capabilities.models_effect:
            return super().skip_reason(task)
        if not task.capabilities.style_reference:
            return "rule-based DSP needs a style reference (style-transfer tasks only)"
        effects = task.chain.effects if task.capabilities.chain else []
        unknown = [e.name for e in effects if e.matching_rule == "none"]
        return f"no rule for effects {unknown}" if unknown else None

    def solve(self, problem: SearchProblem, ctx: RunContext) -> np.ndarray:
        """Apply the rules effect by effect along the chain, example by example."""
        if problem.reference is None:
            raise ValueError("rule_based needs problem.reference (the style reference audio)")
        sr = problem.sample_rate
        out = []
        counters = ctx.counters
        for x, ref in zip(problem.x, problem.reference, strict=True):
            parts, current = [], x
            for effect in problem.chain.effects:
                if effect.matching_rule == "eq":
                    p = fit_eq(effect, current, ref, sr, counters,
                               float(self.params["smoothing_octaves"]))
                else:
                    p = fit_compressor(effect, current, ref, sr, counters)
                current = counters.render(effect, current[None], p[None], sr)[0]
                parts.append(p)
            counters.steps += 1
            out.append(np.concatenate(parts))
        return np.array(out)
