"""Parameter MAE per effect and the chain metrics on hand-worked examples."""

from __future__ import annotations

import pytest

from bench.base import MetricFailure, safe_metric
from bench.metrics import (
    MetricError,
    effect_set_f1,
    exact_chain_accuracy,
    order_accuracy,
    param_mae,
)

SEGMENTS = [("eq", 3), ("comp", 2)]


def test_param_mae_per_effect():
    true = [[0.5, 0.5, 0.5, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0, 1.0]]
    pred = [[0.5, 0.8, 0.2, 0.1, 0.9], [0.3, 0.0, 0.0, 1.0, 0.6]]
    # eq: |0 .3 .3| and |.3 0 0| -> 0.9 / 6; comp: |.1 .1| and |0 .4| -> 0.6 / 4
    assert param_mae(pred, true, SEGMENTS) == pytest.approx({"eq": 0.15, "comp": 0.15})
    assert param_mae(pred[0], true[0], SEGMENTS) == pytest.approx({"eq": 0.2, "comp": 0.1})


@pytest.mark.parametrize(("pred", "true", "segments", "message"), [
    ([0.1] * 5, [0.1] * 4, SEGMENTS, "match in shape"),
    ([0.1] * 5, [0.1] * 4 + [2.0], SEGMENTS, r"normalized to \[0, 1\]"),
    ([0.1] * 5, [0.1] * 4 + [float("nan")], SEGMENTS, "NaN"),
    ([0.1] * 5, [0.1] * 5, [("eq", 3), ("comp", 1)], "do not cover"),
    ([0.1] * 5, [0.1] * 5, [("eq", 3), ("eq", 2)], "unique"),
])
def test_param_mae_rejects_invalid_input(pred, true, segments, message):
    with pytest.raises(MetricError, match=message):
        param_mae(pred, true, segments)


TRUE = [["eq", "comp", "dist"], ["eq", "comp", "dist"], ["eq", "comp"], ["reverb"]]
PRED = [["eq", "comp", "dist"], ["comp", "eq", "dist"], ["eq", "reverb"], ["reverb", "eq"]]


def test_exact_chain_accuracy_needs_same_effects_in_same_order():
    assert exact_chain_accuracy(PRED, TRUE) == pytest.approx(1 / 4)


def test_effect_set_f1_averages_per_example_f1():
    # 1, 1, 2·1/(2+2) = 0.5, 2·1/(2+1) = 2/3
    assert effect_set_f1(PRED, TRUE) == pytest.approx((1 + 1 + 0.5 + 2 / 3) / 4)
    assert effect_set_f1([[]], [[]]) == 1.0


def test_order_accuracy_pools_shared_pairs_over_the_batch():
    # pairs of shared effects: 3 kept, then eq/comp swapped (2 of 3 kept), then <2 shared
    assert order_accuracy(PRED, TRUE) == pytest.approx(5 / 6)
    assert order_accuracy([["c", "b", "a"]], [["a", "b", "c"]]) == 0.0
    assert order_accuracy([["a", "x", "c"]], [["a", "b", "c"]]) == 1.0  # b missing: set F1's job


def test_order_accuracy_without_shared_pairs_is_a_failed_metric():
    failure = safe_metric(lambda: order_accuracy([["eq"], ["comp", "x"]], [["eq"], ["comp"]]))
    assert isinstance(failure, MetricFailure) and "no example shares two effects" in failure.error


@pytest.mark.parametrize(("pred", "true", "message"), [
    ([["eq"]], [["eq"], ["comp"]], "equally many"),
    ([], [], "equally many"),
    ([["eq", "eq"]], [["eq"]], "repeats an effect"),
])
@pytest.mark.parametrize("metric", [exact_chain_accuracy, effect_set_f1, order_accuracy])
def test_chain_metrics_reject_invalid_input(metric, pred, true, message):
    with pytest.raises(MetricError, match=message):
        metric(pred, true)
