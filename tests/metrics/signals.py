"""Test signals with known properties for the metric tests."""

from __future__ import annotations

import numpy as np

SR = 24000


def sine(freq: float, seconds: float, sr: int = SR, amplitude: float = 1.0) -> np.ndarray:
    """A sine of ``freq`` Hz starting at phase 0."""
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)


def speechlike(seconds: float, sr: int = SR) -> np.ndarray:
    """A gliding harmonic tone gated into 3 Hz syllables, which PESQ's voice detector accepts."""
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.5 * t)) / sr
    source = sum(np.sin(k * phase) / k for k in range(1, 30))
    return 0.3 * source * np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2 / np.abs(source).max()


def noise(samples: int = 18000, seed: int = 0) -> np.ndarray:
    """White noise of standard deviation 0.1; 18000 samples exceed MR-STFT's 16384 minimum."""
    return 0.1 * np.random.default_rng(seed).standard_normal(samples)
