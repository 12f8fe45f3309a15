"""Seeded example generators: style-transfer pairs, the five styles, blind-estimation triples,
effect-chain examples, gradient-measurement points. Effects come from ``bench.dsp``; settings
are physical values mapped through each effect's Param spec, so they stay valid when a range
changes.

Every generator takes standardized source arrays (e.g. from
``datasets.standardize.load_sources``), a sample rate and a seed, and returns the same examples
for the same inputs. Part of the task protocol, not a dataset loader: the tasks decide what an
example is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.data import DataError
from datasets.standardize import finite
from tasks.styles import STYLE_EFFECTS, STYLE_LABELS, STYLES

CHAIN_EFFECTS = ("peq", "compressor", "distortion", "delay", "reverb")
SILENT_RMS = 10 ** (-50 / 20)
WINDOW_TRIES = 20


@dataclass
class ExampleSet:
    """A task's examples as aligned rows: the audio the chain processes (``dry``: a clip, or the
    style-transfer input), what it should become (``wet``: the wet signal or the target; None
    without ground truth), and whatever else the task knows about each row."""

    dry: np.ndarray
    wet: np.ndarray | None
    params: np.ndarray | list[np.ndarray] | None = None
    """True normalized parameters (one array per row when the chains differ)."""
    reference: np.ndarray | None = None
    """The style reference of each row (style transfer)."""
    chains: list[tuple[str, ...]] | None = None
    """The effect chain that made each row (chain selection)."""
    labels: list[str] | None = None
    """A label per row (the style pair of realistic style transfer)."""


@dataclass(frozen=True, eq=False)
class Setting:
    """An ordered effect chain, its normalized parameter vector and the physical values."""

    effects: tuple[str, ...]
    normalized: np.ndarray
    physical: dict[str, float]


@dataclass(frozen=True, eq=False)
class StylePair:
    """Self-supervised pair: input = A(x1), reference = B(x2), target = B(x1) (x1, x2 halves)."""

    input: np.ndarray
    reference: np.ndarray
    target: np.ndarray
    input_setting: Setting
    target_setting: Setting
    source: int


@dataclass(frozen=True, eq=False)
class StyleExample:
    """A clip processed in one of the five production styles (label as in DeepAFx-ST)."""

    audio: np.ndarray
    style: str
    label: int
    setting: Setting
    source: int


@dataclass(frozen=True, eq=False)
class GradientPoint:
    """Dry audio, a parameter point at which a loss gradient is taken, and the target: the dry
    audio rendered with another (random) setting, so the loss is not at its minimum."""

    dry: np.ndarray
    target: np.ndarray
    point: np.ndarray
    setting: Setting
    source: int


@dataclass(frozen=True, eq=False)
class Rendering:
    """Dry audio, the wet audio an effect chain made of it, and the chain's true setting."""

    dry: np.ndarray
    wet: np.ndarray
    setting: Setting
    source: int


def chain_params(effects: Sequence[str], sample_rate: int) -> list[tuple[str, object]]:
    """``("effect.param", Param)`` for every parameter of the chain, in vector order."""
    from bench.dsp import Chain

    chain = Chain(list(effects))
    return [(f"{name}.{p.name}", p) for name, effect in zip(chain.names, chain.effects,
                                                             strict=True)
            for p in effect.params(sample_rate)]


def setting_from_physical(effects: Sequence[str], values: dict[str, float],
                          sample_rate: int) -> Setting:
    """A setting from physical values (``"effect.param"`` keys); others keep their defaults.

    Values outside a parameter's range are clamped to it (e.g. a 400 Hz low shelf when the
    spec stops at 200 Hz), and the clamped value is what ``physical`` records.
    """
    specs = chain_params(effects, sample_rate)
    unknown = set(values) - {name for name, _ in specs}
    if unknown:
        raise DataError(f"unknown parameters {sorted(unknown)} for chain {list(effects)}")
    physical = {name: float(np.clip(values.get(name, p.default), p.min, p.max))
                for name, p in specs}
    normalized = np.array([np.clip(p.to_normalized(physical[name]), 0.0, 1.0)
                           for name, p in specs])
    return Setting(tuple(effects), normalized, physical)


PLAUSIBLE: dict[str, tuple[float, float]] = {
    **{f"peq.{band}_gain": (-12.0, 12.0)
       for band in ("low_shelf", "band1", "band2", "band3", "band4", "high_shelf")},
    **{f"peq.{band}_q": (0.3, 3.0) for band in ("band1", "band2", "band3", "band4")},
    "compressor.threshold": (-50.0, -5.0), "compressor.ratio": (1.0, 8.0),
    "compressor.makeup": (-6.0, 12.0),
    "distortion.output_gain": (-12.0, 0.0),
}
"""Physical sub-ranges for settings that sound like production choices rather than extremes
(uniform on each Param's own scale inside them); other parameters use their full range."""


def random_setting(effects: Sequence[str], sample_rate: int, rng: np.random.Generator,
                   ranges: dict[str, tuple[float, float]] | None = None) -> Setting:
    """A random setting, uniform on each Param's scale over its full range or over the
    physical sub-range ``ranges`` gives for it (e.g. ``PLAUSIBLE``)."""
    specs = chain_params(effects, sample_rate)
    lo_hi = np.array([[0.0, 1.0] if name not in (ranges or {}) else
                      np.clip([p.to_normalized(v) for v in ranges[name]], 0.0, 1.0)
                      for name, p in specs])
    normalized = rng.uniform(lo_hi[:, 0], lo_hi[:, 1])
    physical = {name: float(p.to_physical(u)) for (name, p), u in zip(specs, normalized,
                                                                      strict=True)}
    return Setting(tuple(effects), normalized, physical)


def apply_settings(audio: np.ndarray, settings: Sequence[Setting],
                   sample_rate: int) -> np.ndarray:
    """Process each row of ``audio`` (batch, samples) through its own setting, batched by chain."""
    from bench.dsp import Chain

    out = np.zeros_like(audio, dtype=np.float64)
    for effects in dict.fromkeys(s.effects for s in settings):
        rows = [i for i, s in enumerate(settings) if s.effects == effects]
        p = np.stack([settings[i].normalized for i in rows])
        wet = Chain(list(effects)).process(audio[rows].astype(np.float64), p, sample_rate)
        out[rows] = finite(np.asarray(wet, dtype=np.float64))
    return out


def _window(sources: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                     int]:
    """A random ``n``-sample window of a random source, preferring non-silent ones."""
    if not sources:
        raise DataError("no source audio to make examples from")
    best, best_rms, best_index = None, -1.0, 0
    for _ in range(WINDOW_TRIES):
        index = int(rng.integers(len(sources)))
        x = finite(np.asarray(sources[index], dtype=np.float64).ravel())
        if len(x) < n:
            x = np.concatenate([x, np.zeros(n - len(x))])
        start = int(rng.integers(len(x) - n + 1))
        window = x[start:start + n]
        rms = float(np.sqrt(np.mean(window**2))) if n else 0.0
        if rms > best_rms:
            best, best_rms, best_index = window, rms, index
        if rms >= SILENT_RMS:
            break
    return best, best_index


def style_transfer_pairs(sources: Sequence[np.ndarray], sample_rate: int, *, n: int,
                         seconds: float, seed: int, effects: Sequence[str] = STYLE_EFFECTS,
                         ranges: dict[str, tuple[float, float]] | None = PLAUSIBLE,
                         ) -> list[StylePair]:
    """``n`` pairs from 2·``seconds`` windows and two random settings A and B of ``effects``
    (drawn within ``ranges``; ``None`` for the full parameter ranges)."""
    rng = np.random.default_rng(seed)
    half = round(seconds * sample_rate)
    windows, origin, settings = [], [], []
    for _ in range(n):
        window, index = _window(sources, 2 * half, rng)
        first, second = (window[:half], window[half:]) if rng.random() < 0.5 else (
            window[half:], window[:half])
        a, b = (random_setting(effects, sample_rate, rng, ranges) for _ in range(2))
        windows += [first, second, first]
        settings += [a, b, b]
        origin.append(index)
    wet = apply_settings(np.stack(windows), settings, sample_rate) if n else np.zeros((0, half))
    return [StylePair(wet[3 * i], wet[3 * i + 1], wet[3 * i + 2], settings[3 * i],
                      settings[3 * i + 1], origin[i]) for i in range(n)]


def style_setting(style: str, sample_rate: int, rng: np.random.Generator) -> Setting:
    """A random instance of ``style`` (physical ranges from ``tasks.styles``)."""
    if style not in STYLES:
        raise DataError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
    values = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in STYLES[style].items()}
    return setting_from_physical(STYLE_EFFECTS, values, sample_rate)


def style_examples(sources: Sequence[np.ndarray], sample_rate: int, *, per_style: int,
                   seconds: float, seed: int) -> list[StyleExample]:
    """``per_style`` clips in each of the five styles, as in DeepAFx-ST's style datasets.

    Each window is peak-normalized with 3–9 dB random headroom, processed, then peak-normalized
    to -1 dBFS. Styles draw from disjoint blocks of the sources when there are enough of them.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate)
    names = list(STYLES)
    block = len(sources) // len(names)
    windows, settings, labels, origin = [], [], [], []
    for k, style in enumerate(names):
        pool = sources[k * block:(k + 1) * block] if block else sources
        for _ in range(per_style):
            window, index = _window(pool, n, rng)
            windows.append(_with_headroom(window, rng))
            settings.append(style_setting(style, sample_rate, rng))
            labels.append(style)
            origin.append(index + (k * block if block else 0))
    if not windows:
        return []
    wet = _styled(windows, settings, sample_rate)
    return [StyleExample(wet[i], labels[i], STYLE_LABELS[labels[i]], settings[i], origin[i])
            for i in range(len(windows))]


def one_recording_style_pairs(sources: Sequence[np.ndarray], sample_rate: int, *,
                              pairs: Sequence[tuple[str, str]], seconds: float, seed: int,
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, references, restyled inputs) for style ``pairs`` (a, b) with both clips cut
    from one recording: the two halves of a 2·``seconds`` window, in random order, the input
    in an instance of style a and the reference in one of style b, each made as
    :func:`style_examples` makes its clips; the restyled input is the input's half in the
    reference's own instance of style b (its processing recovered exactly). The realistic
    tasks' ablation of their cross-recording references."""
    rng = np.random.default_rng(seed)
    half = round(seconds * sample_rate)
    windows, settings = [], []
    for a, b in pairs:
        window, _ = _window(sources, 2 * half, rng)
        first, second = (window[:half], window[half:]) if rng.random() < 0.5 else (
            window[half:], window[:half])
        first, second = _with_headroom(first, rng), _with_headroom(second, rng)
        style_a, style_b = style_setting(a, sample_rate, rng), style_setting(b, sample_rate, rng)
        windows += [first, second, first]
        settings += [style_a, style_b, style_b]
    if not windows:
        return np.zeros((0, half)), np.zeros((0, half)), np.zeros((0, half))
    wet = _styled(windows, settings, sample_rate)
    return wet[0::3], wet[1::3], wet[2::3]


def _with_headroom(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``window`` peak-normalized with 3–9 dB of random headroom (a style clip's input)."""
    headroom = 10 ** (-rng.uniform(3.0, 9.0) / 20)
    return window * headroom / max(float(np.max(np.abs(window))), 1e-9)


def _styled(windows: Sequence[np.ndarray], settings: Sequence[Setting],
            sample_rate: int) -> np.ndarray:
    """Each window through its setting, then peak-normalized to -1 dBFS (a style clip)."""
    wet = apply_settings(np.stack(windows), settings, sample_rate)
    peaks = np.maximum(np.max(np.abs(wet), axis=1, keepdims=True), 1e-9)
    return wet * (10 ** (-1 / 20)) / peaks


def blind_examples(sources: Sequence[np.ndarray], sample_rate: int, *, n: int, seconds: float,
                   seed: int, effects: Sequence[str] = STYLE_EFFECTS,
                   ranges: dict[str, tuple[float, float]] | None = PLAUSIBLE,
                   ) -> list[Rendering]:
    """``n`` (dry, wet, true setting) triples with random settings of ``effects`` (within
    ``ranges``; ``None`` for the full parameter ranges)."""
    rng = np.random.default_rng(seed)
    length = round(seconds * sample_rate)
    drawn = [(*_window(sources, length, rng), random_setting(effects, sample_rate, rng, ranges))
             for _ in range(n)]
    return _render(drawn, sample_rate)


def chain_examples(sources: Sequence[np.ndarray], sample_rate: int, *, n: int, seconds: float,
                   seed: int, candidates: Sequence[str] = CHAIN_EFFECTS,
                   max_effects: int = 3,
                   ranges: dict[str, tuple[float, float]] | None = PLAUSIBLE,
                   ) -> list[Rendering]:
    """``n`` examples made by a random ordered chain of 1…``max_effects`` distinct effects
    (settings within ``ranges``; ``None`` for the full parameter ranges)."""
    rng = np.random.default_rng(seed)
    length = round(seconds * sample_rate)
    drawn = []
    for _ in range(n):
        window, index = _window(sources, length, rng)
        size = int(rng.integers(1, min(max_effects, len(candidates)) + 1))
        effects = tuple(str(e) for e in rng.choice(list(candidates), size, replace=False))
        drawn.append((window, index, random_setting(effects, sample_rate, rng, ranges)))
    return _render(drawn, sample_rate)


def _render(drawn: list[tuple[np.ndarray, int, Setting]], sample_rate: int) -> list[Rendering]:
    if not drawn:
        return []
    dry = np.stack([d[0] for d in drawn])
    wet = apply_settings(dry, [d[2] for d in drawn], sample_rate)
    return [Rendering(dry[i], wet[i], s, index) for i, (_, index, s) in enumerate(drawn)]


EDGE_SHARE = 0.2
"""Share of a gradient point's coordinates drawn exactly at 0 or 1 (half each)."""
NEAR_SHARE, NEAR = 0.1, 0.01
"""Share of coordinates drawn uniformly within ``NEAR`` of 0 or 1 (inside a typical SPSA or
finite-difference step); the rest are uniform on [0, 1]."""


def edge_points(rng: np.random.Generator, n: int, n_params: int) -> np.ndarray:
    """``n`` normalized points: coordinates at an end of [0, 1] (``EDGE_SHARE``), near one
    (``NEAR_SHARE``) or uniform; float32-representable, so float32 and float64 computations
    take their gradients at the same point."""
    kind = rng.uniform(size=(n, n_params))
    top = rng.uniform(size=(n, n_params)) < 0.5
    near = rng.uniform(0.0, NEAR, size=(n, n_params))
    p = rng.uniform(size=(n, n_params))
    p = np.where(kind < NEAR_SHARE + EDGE_SHARE, np.where(top, 1.0 - near, near), p)
    p = np.where(kind < EDGE_SHARE, top.astype(np.float64), p)
    return p.astype(np.float32).astype(np.float64)


def gradient_points(sources: Sequence[np.ndarray], sample_rate: int, *, n: int,
                    seconds: float, seed: int, effects: Sequence[str]) -> list[GradientPoint]:
    """``n`` random windows, each with a parameter point of ``effects`` (:func:`edge_points`)
    and a target rendered by the chain at a uniform random setting of its full ranges; audio
    float32-representable, as training feeds it."""
    rng = np.random.default_rng(seed)
    length = round(seconds * sample_rate)
    drawn = [(*_window(sources, length, rng), random_setting(effects, sample_rate, rng))
             for _ in range(n)]
    if not drawn:
        return []
    dry = np.stack([d[0] for d in drawn]).astype(np.float32).astype(np.float64)
    n_params = len(drawn[0][2].normalized)
    points = edge_points(rng, n, n_params)
    target = apply_settings(dry, [d[2] for d in drawn], sample_rate)
    target = target.astype(np.float32).astype(np.float64)
    return [GradientPoint(dry[i], target[i], points[i], s, index)
            for i, (_, index, s) in enumerate(drawn)]


def modeling_examples(sources: Sequence[np.ndarray], sample_rate: int, *, n: int, seconds: float,
                      seed: int, n_params: int,
                      peak_db: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random windows, float32, each scaled to a uniformly random peak level in
    ``peak_db`` (dBFS), with uniform random normalized parameters (n, ``n_params``): held-out
    inputs and settings for a model of an effect."""
    rng = np.random.default_rng(seed)
    length = round(seconds * sample_rate)
    dry = np.stack([_window(sources, length, rng)[0] for _ in range(n)])
    peak = np.maximum(np.abs(dry).max(axis=1, keepdims=True), 1e-4)
    dry = dry * (10 ** (rng.uniform(*peak_db, size=(n, 1)) / 20) / peak)
    return dry.astype(np.float32), rng.uniform(size=(n, n_params))
