"""A change of a task's sizing or protocol bumps its version: study names and run keys carry
the version, so a resumed sweep must never mix two protocols under one key.

The chain-selection tasks are guarded by a fingerprint of what decides their runs: ``sized()``
at every budget, the effect library and its candidate chains, metrics, references and domain.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from bench.budgets import BUDGETS
from bench.registry import registry

EXPECTED = {  # task -> (version, protocol fingerprint)
    "chain_music": ("4", "eeb33259a9ca6bf1"),
    "chain_speech": ("4", "624802066f5b3115"),
}


def protocol(task) -> dict:
    """Everything of a chain-selection task that decides its runs, as plain data."""
    from tasks import chain

    return {
        "sized": {name: task.sized(budget).as_dict() for name, budget in sorted(BUDGETS.items())},
        "library": list(chain.library()), "max_effects": task.max_effects,
        "schedule": chain.SCHEDULE,
        "candidates": [list(c) for c in chain.candidates(task.max_effects)],
        "metrics": [[m.name, m.higher_is_better, m.unit] for m in task.metrics],
        "main_metric": task.main_metric, "references": list(task.references),
        "family": task.family, "domain": task.domain,
    }


def fingerprint(task) -> str:
    """A short digest of ``protocol(task)``."""
    text = json.dumps(protocol(task), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_chain_protocol_changes_bump_the_version(name):
    task = registry("task").get(name)()
    version, expected = EXPECTED[name]
    got = fingerprint(task)
    assert got == expected or task.version != version, (
        f"{name}: sizing or protocol changed (fingerprint {got}, was {expected}) under the same "
        f"version {version!r}: bump ChainSelection.version (ChainMusic and ChainSpeech in "
        f"tasks/chain.py), then store the new pair in EXPECTED")
    assert (task.version, got) == (version, expected), (
        f"{name}: version {task.version!r} (fingerprint {got}) is not the stored {version!r} "
        f"({expected}); after an intended bump store EXPECTED[{name!r}] = "
        f"({task.version!r}, {got!r})")
