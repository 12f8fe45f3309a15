"""Classification metrics for the style probes: accuracy, per-class F1, macro-F1.

Labels are integers in [0, n_classes). A class absent from both truth and prediction has no
F1 (NaN) and is left out of the macro mean; a class never predicted but present has F1 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bench.metrics.checks import MetricError


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted class."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape or t.size == 0:
        raise MetricError(f"labels must be two equal non-empty 1-D arrays, got {t.shape} {p.shape}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= n_classes:
            raise MetricError(f"{name} must hold integer labels in [0, {n_classes})")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of examples whose predicted label equals the true label."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape or t.size == 0:
        raise MetricError(f"labels must be two equal non-empty 1-D arrays, got {t.shape} {p.shape}")
    return float(np.mean(t == p))


def per_class_f1(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """F1 = 2TP / (2TP + FP + FN) per class; NaN for a class neither true nor predicted."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # (TP + FP) + (TP + FN)
    return np.divide(2 * tp, denom, out=np.full(n_classes, np.nan), where=denom > 0)


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> float:
    """Unweighted mean of the per-class F1 over classes that occur in truth or prediction."""
    return float(np.nanmean(per_class_f1(y_true, y_pred, n_classes)))
