"""Spectral building blocks without librosa or torch: centred STFT magnitudes, Slaney mel bank."""

from __future__ import annotations

import numpy as np

# Slaney's auditory-toolbox mel scale (librosa's default, htk=False): linear below 1 kHz at
# 200/3 Hz per mel, logarithmic above with 27 mels per factor 6.4.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Frequency in Hz to Slaney mels (librosa ``hz_to_mel(htk=False)``)."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Slaney mels to Hz, the inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, mel * _F_SP)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft//2+1) triangles from 0 Hz to Nyquist, each of unit area in Hz.

    The same matrix as ``librosa.filters.mel(sr, n_fft, n_mels)`` (htk=False, norm="slaney"),
    which DeepAFx-ST's MSD uses through auraloss, computed here in float64.
    """
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(sample_rate / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (fft_hz - lo) / (mid - lo)
    falling = (hi - fft_hz) / (hi - mid)
    return np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of length ``n`` (``torch.hann_window`` default)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)


def stft_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|² of (batch, samples), shape (batch, n_fft//2+1, frames), as torch.stft(center=True).

    Frames are centred: the signal is padded by n_fft//2 on both sides, by reflection as torch
    does when the clip is longer than n_fft//2, else with zeros (torch's reflection would fail).
    """
    pad = n_fft // 2
    mode = "reflect" if x.shape[-1] > pad else "constant"
    padded = np.pad(x, [(0, 0), (pad, pad)], mode=mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]
    spec = np.fft.rfft(frames * hann(n_fft), axis=-1)
    return (spec.real**2 + spec.imag**2).transpose(0, 2, 1)


def stft_magnitude(x: np.ndarray, n_fft: int, hop: int, floor: float = 0.0) -> np.ndarray:
    """|STFT| (:func:`stft_power`'s square root); ``floor`` clamps the power before the square
    root, as auraloss does with eps=1e-8."""
    return np.sqrt(np.maximum(stft_power(x, n_fft, hop), floor))
