"""Reading any audio file into float arrays, deterministic 16-bit writing, and file checksums.

soundfile reads WAV/FLAC/OGG/MP3; everything else (G.722, MP4 stems) goes through ffmpeg.
Every failure becomes a ``DataError`` naming the file, so callers can skip and count it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.data import DataError

SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
RAW_FORMATS = {".g722": "g722"}  # headerless codecs that ffmpeg must be told about


def read_audio(path: Path | str, *, start_s: float = 0.0,
               seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Read ``path`` as float64 ``(frames, channels)`` and its rate; DataError if unreadable."""
    path = Path(path)
    if path.suffix.lower() not in SOUNDFILE_SUFFIXES:
        audio, sr = ffmpeg_decode(path, input_format=RAW_FORMATS.get(path.suffix.lower()))
        start = round(start_s * sr)
        stop = None if seconds is None else start + round(seconds * sr)
        return audio[start:stop], sr
    try:
        with sf.SoundFile(str(path)) as f:
            sr = f.samplerate
            start = min(round(start_s * sr), max(f.frames, 0))
            if start:
                f.seek(start)
            frames = -1 if seconds is None else round(seconds * sr)
            audio = f.read(frames, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return audio, sr


def ffmpeg_decode(path: Path | str, *, stream: int = 0,
                  input_format: str | None = None) -> tuple[np.ndarray, int]:
    """Decode audio stream ``stream`` of ``path`` with ffmpeg to float64 ``(frames, channels)``."""
    for exe in ("ffmpeg", "ffprobe"):
        if shutil.which(exe) is None:
            raise DataError(f"{exe} not found (needed to decode {Path(path).name}): "
                            "install with apt-get install -y --no-install-recommends ffmpeg")
    fmt = ["-f", input_format] if input_format else []
    probe = subprocess.run(
        ["ffprobe", "-v", "error", *fmt, "-select_streams", f"a:{stream}", "-show_entries",
         "stream=sample_rate,channels", "-of", "json", str(path)],
        capture_output=True, text=True, check=False)
    try:
        info = json.loads(probe.stdout)["streams"][0]
        sr, channels = int(info["sample_rate"]), int(info["channels"])
    except (ValueError, KeyError, IndexError):
        raise DataError(f"cannot read {path}: ffprobe found no audio stream {stream} "
                        f"({probe.stderr.strip()[:200] or 'no output'})") from None
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", *fmt, "-i", str(path), "-map", f"0:a:{stream}",
         "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise DataError(f"cannot read {path}: ffmpeg failed "
                        f"({done.stderr.decode(errors='replace').strip()[:200]})")
    audio = np.frombuffer(done.stdout, dtype="<f4").astype(np.float64)
    return audio[: len(audio) // channels * channels].reshape(-1, channels), sr


def write_pcm16(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono float audio in [-1, 1] as 16-bit WAV, without dither, atomically."""
    ints = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767.0), -32768, 32767)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), ints.astype(np.int16), sample_rate, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
