"""Running external renderers (festival, flite, fluidsynth, lmms, ffmpeg) with clear failures."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.data import DataError
from datasets.audio_io import read_audio

TIMEOUT_S = 600


def run(cmd: list[str], *, env: dict | None = None, timeout: float = TIMEOUT_S) -> None:
    """Run ``cmd``; a non-zero exit or timeout becomes a DataError with the tail of stderr."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, **env} if env else None)
    except subprocess.TimeoutExpired:
        raise DataError(f"{cmd[0]} timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise DataError(f"cannot run {cmd[0]}: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise DataError(f"{cmd[0]} failed (exit {done.returncode}): {' | '.join(tail)}")


def render_to_file(cmd: list[str], out: Path, **kwargs: object) -> tuple:
    """Run a renderer that writes ``out`` and read the result back as (audio, sample_rate)."""
    run(cmd, **kwargs)  # type: ignore[arg-type]
    if not out.exists() or out.stat().st_size == 0:
        raise DataError(f"{cmd[0]} wrote no audio to {out.name}")
    return read_audio(out)
