"""Helpers for the dataset tests: tiny generated audio files and a tool-availability skip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datasets.requirements import Requirement, missing


def tone(seconds: float, sr: int, *, freq: float = 440.0, channels: int = 1,
         amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A sine plus a little seeded noise, shaped (frames,) or (frames, channels)."""
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(
        len(t))
    return x if channels == 1 else np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)


def write_audio(path: Path, seconds: float = 1.0, sr: int = 16000, **kw) -> Path:
    """Write a tiny tone file; the format follows the suffix (wav, flac, mp3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, sr, **kw), sr)
    return path


def write_corrupt(path: Path) -> Path:
    """A file with an audio suffix whose bytes are not audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x00\x00garbage" * 3)
    return path


def skip_without(*requirements: Requirement) -> None:
    """Skip the calling test, naming what is missing, if any requirement is absent."""
    absent = missing(requirements)
    if absent:
        pytest.skip("needs " + ", ".join(r.target for r in absent))
