"""Group-disjoint split assignment."""

from __future__ import annotations

import pytest

from datasets.splits import assign_splits, check_disjoint, stable_seed


@pytest.mark.parametrize("n", [3, 4, 8, 20, 110])
def test_every_split_gets_a_group_and_assignment_is_stable(n):
    groups = [f"g{i}" for i in range(n)]
    first = assign_splits(groups, seed=1)
    assert set(first) == set(groups)
    assert set(first.values()) == {"train", "val", "test"}
    assert assign_splits(list(reversed(groups)), seed=1) == first
    assert sum(s == "train" for s in first.values()) >= n // 2


def test_few_groups_go_to_train():
    assert set(assign_splits(["a", "b"], seed=0).values()) == {"train"}


def test_overlap_is_detected():
    with pytest.raises(ValueError, match="both"):
        check_disjoint([("spk1", "train"), ("spk1", "test")])


def test_stable_seed_is_fixed_text_hash():
    assert stable_seed("speech", "piper_joe", 0) == stable_seed("speech", "piper_joe", 0)
    assert stable_seed("a") != stable_seed("b") and 0 <= stable_seed("a") < 2**31
