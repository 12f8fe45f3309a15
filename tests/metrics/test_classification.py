"""Accuracy and F1 against hand-computed confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from bench.base import MetricFailure, safe_metric
from bench.metrics import MetricError, accuracy, confusion_matrix, macro_f1, per_class_f1

# true 0 0 1 1 2 2, predicted 0 1 1 1 0 2:
#   class 0: TP 1, FP 1, FN 1 -> F1 2/4;  class 1: TP 2, FP 1, FN 0 -> 4/5;
#   class 2: TP 1, FP 0, FN 1 -> 2/3;     accuracy 4/6
Y_TRUE, Y_PRED = [0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2]


def test_confusion_matrix_rows_are_true_classes():
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, 3),
                                  [[1, 1, 0], [0, 2, 0], [1, 0, 1]])


def test_accuracy_and_f1_match_hand_computation():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    np.testing.assert_allclose(per_class_f1(Y_TRUE, Y_PRED, 3), [0.5, 0.8, 2 / 3])
    assert macro_f1(Y_TRUE, Y_PRED, 3) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_class_never_predicted_has_f1_zero():
    # class 2 occurs once, never predicted; class 1: TP 1, FP 1 -> 2/3
    f1 = per_class_f1([0, 1, 2], [0, 1, 1], 3)
    np.testing.assert_allclose(f1, [1.0, 2 / 3, 0.0])
    assert macro_f1([0, 1, 2], [0, 1, 1], 3) == pytest.approx(5 / 9)


def test_class_absent_everywhere_has_no_f1_and_is_left_out_of_the_macro_mean():
    f1 = per_class_f1(Y_TRUE, Y_PRED, 4)
    assert np.isnan(f1[3])
    assert macro_f1(Y_TRUE, Y_PRED, 4) == pytest.approx(macro_f1(Y_TRUE, Y_PRED, 3))
    assert isinstance(safe_metric(lambda: f1[3]), MetricFailure)


def test_perfect_prediction():
    assert accuracy([2, 0, 1], [2, 0, 1]) == 1.0
    assert macro_f1([2, 0, 1], [2, 0, 1], 3) == 1.0


@pytest.mark.parametrize(("y_true", "y_pred", "message"), [
    ([0, 1], [0], "equal non-empty"),
    ([], [], "equal non-empty"),
    ([0, 3], [0, 1], r"in \[0, 3\)"),
    ([0.0, 1.0], [0, 1], "integer labels"),
])
def test_invalid_labels_raise(y_true, y_pred, message):
    with pytest.raises(MetricError, match=message):
        macro_f1(y_true, y_pred, 3)
