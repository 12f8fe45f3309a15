"""Metrics for afx-bench tasks: audio (DeepAFx-ST's set, bugs fixed), classification, chains,
and gradient fidelity (``bench.metrics.gradient``: cosine, relative error, signs, bias and
variance over draws, and the finite-difference reference of black-box effects).

Import is torch-free; audio metrics that need torch, pesq or pyloudnorm import them on call.
Invalid inputs raise :class:`MetricError`, which ``bench.base.safe_metric`` records as failed.
"""

from bench.metrics.audio import (
    DEEPAFX_FFT_SIZES,
    METRICS,
    MetricSpec,
    crest_error,
    crest_error_per_example,
    crest_factor_db,
    integrated_loudness,
    level_db,
    lufs_error,
    lufs_error_per_example,
    mrstft,
    mrstft_loss,
    mrstft_per_example,
    msd,
    msd_per_example,
    pesq_wb,
    pesq_wb_per_example,
    rms_db,
    rms_error,
    rms_error_per_example,
    sce,
    sce_per_example,
    spectral_centroid,
)
from bench.metrics.checks import MetricError
from bench.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_f1
from bench.metrics.estimation import (
    effect_set_f1,
    exact_chain_accuracy,
    order_accuracy,
    param_mae,
)
from bench.metrics.spectral import hz_to_mel, mel_filterbank, mel_to_hz, stft_magnitude

__all__ = [
    "DEEPAFX_FFT_SIZES",
    "METRICS",
    "MetricError",
    "MetricSpec",
    "accuracy",
    "confusion_matrix",
    "crest_error",
    "crest_error_per_example",
    "crest_factor_db",
    "effect_set_f1",
    "exact_chain_accuracy",
    "hz_to_mel",
    "integrated_loudness",
    "level_db",
    "lufs_error",
    "lufs_error_per_example",
    "macro_f1",
    "mel_filterbank",
    "mel_to_hz",
    "mrstft",
    "mrstft_loss",
    "mrstft_per_example",
    "msd",
    "msd_per_example",
    "order_accuracy",
    "param_mae",
    "per_class_f1",
    "pesq_wb",
    "pesq_wb_per_example",
    "rms_db",
    "rms_error",
    "rms_error_per_example",
    "sce",
    "sce_per_example",
    "spectral_centroid",
    "stft_magnitude",
]
