"""A change of a task's sizing or protocol bumps its version: study names and run keys carry
the version, so a resumed sweep must never mix two protocols under one key.

The chain-selection tasks are guarded by a fingerprint of what decides their runs: ``sized()``
at every budget, the effect library and its candidate chains, metrics, references and domain.
The gradient tasks likewise: sizing, effects, metrics, references, domains, the points (their
share at and near the ends of [0, 1]), the draws, the loss and the finite-difference rule.
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


def fingerprint(task, describe=protocol) -> str:
    """A short digest of ``describe(task)``."""
    text = json.dumps(describe(task), sort_keys=True)
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


GRADIENT_EXPECTED = {  # task -> (version, protocol fingerprint)
    "gradient_chain": ("1", "770ac946e8655987"),
    "gradient_compressor": ("1", "f8ea48559dab3a40"),
    "gradient_delay": ("1", "1482dfb92270e11c"),
    "gradient_distortion": ("1", "92eb7aee76fc7255"),
    "gradient_pb_compressor": ("1", "ce397d18aa416dc5"),
    "gradient_pb_delay": ("1", "4f2f3c90547cf181"),
    "gradient_pb_distortion": ("1", "0d29bc00e19eab7f"),
    "gradient_pb_peq": ("1", "c049dc07f7d1f3ba"),
    "gradient_pb_reverb": ("1", "99bad29c588e87dc"),
    "gradient_peq": ("1", "98050e94dc9dd9e9"),
    "gradient_reverb": ("1", "27ddee76964ecc1f"),
    "gradient_zam_comp": ("1", "b9210ffd35d504d9"),
    "gradient_zam_eq2": ("1", "c8b476c5930a4a3b"),
}


def gradient_protocol(task) -> dict:
    """Everything of a gradient task that decides its runs, as plain data."""
    from bench.metrics import gradient as measures
    from tasks import examples, gradient

    return {
        "sized": {name: task.sized(budget).as_dict() for name, budget in sorted(BUDGETS.items())},
        "effects": list(task.effects), "domains": list(task.domains),
        "metrics": [[m.name, m.higher_is_better, m.unit] for m in task.metrics],
        "main_metric": task.main_metric, "references": list(task.references),
        "family": task.family, "draws": [gradient.DRAWS, gradient.DEFAULT_DRAWS],
        "points": [examples.EDGE_SHARE, examples.NEAR_SHARE, examples.NEAR],
        "loss": [list(gradient.TRAIN_FFTS), gradient.L1_WEIGHT],
        "reference": [measures.FD_STEP, gradient.CHECK_FACTOR, measures.SIGN_FLOOR],
    }


@pytest.mark.parametrize("name", sorted(
    n for n in registry("task").names() if registry("task").get(n).family == "gradient"))
def test_gradient_protocol_changes_bump_the_version(name):
    task = registry("task").get(name)()
    got = fingerprint(task, gradient_protocol)
    assert (task.version, got) == GRADIENT_EXPECTED.get(name), (
        f"{name}: version {task.version!r} with protocol fingerprint {got}, stored "
        f"{GRADIENT_EXPECTED.get(name)}; a changed protocol bumps the task's version in "
        f"tasks/gradient.py, then store GRADIENT_EXPECTED[{name!r}] = ({task.version!r}, "
        f"{got!r})")


MODELING_EXPECTED = {  # task -> (version, protocol fingerprint)
    "modeling_compressor": ("1", "4cd9818bf945f6a4"),
    "modeling_delay": ("1", "1bbf4b6ff5c32f20"),
    "modeling_distortion": ("1", "d962414d57d08d27"),
    "modeling_peq": ("1", "38e5f039254b9ca4"),
    "modeling_reverb": ("1", "6379958998f428ee"),
    "modeling_zam_comp": ("1", "188775ab1d89c986"),
}


def modeling_protocol(task) -> dict:
    """Everything of a modeling task that decides its runs, as plain data (the models are the
    strategies': their sizes and training are in their cache keys and versions)."""
    from bench.metrics import modeling as measures
    from tasks import modeling

    sweep = measures.sine_sweep(16000, 0.0)
    return {
        "sized": {name: task.sized(budget).as_dict() for name, budget in sorted(BUDGETS.items())},
        "effects": list(task.effects), "domain": task.domain,
        "metrics": [[m.name, m.higher_is_better, m.unit] for m in task.metrics],
        "main_metric": task.main_metric, "references": list(task.references),
        "family": task.family, "levels": list(modeling.PEAK_DB),
        "aliasing": [modeling.ALIASING_SETTINGS, list(sweep.bins), sweep.length,
                     sweep.amplitude], "validation_seed": modeling.VALIDATION_SEED,
        "fit": [list(r) for r in measures.FIT_RANGES_DB],
    }


@pytest.mark.parametrize("name", sorted(
    n for n in registry("task").names() if registry("task").get(n).family == "modeling"))
def test_modeling_protocol_changes_bump_the_version(name):
    task = registry("task").get(name)()
    got = fingerprint(task, modeling_protocol)
    assert (task.version, got) == MODELING_EXPECTED.get(name), (
        f"{name}: version {task.version!r} with protocol fingerprint {got}, stored "
        f"{MODELING_EXPECTED.get(name)}; a changed protocol bumps the task's version in "
        f"tasks/modeling.py, then store MODELING_EXPECTED[{name!r}] = ({task.version!r}, "
        f"{got!r})")
