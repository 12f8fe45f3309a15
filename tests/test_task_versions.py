"""A change of a task's sizing or protocol bumps its version: study names and run keys carry
the version, so a resumed sweep must never mix two protocols under one key.

The chain-selection tasks are guarded by a fingerprint of what decides their runs: what
``sized()`` changes of every budget, the effect library and its candidate chains, metrics,
references and domain.
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
    "chain_music": ("4", "e4f063ea9d77b8f6"),
    "chain_speech": ("4", "052be22f479de7cf"),
}


def protocol(task) -> dict:
    """Everything of a chain-selection task that decides its runs, as plain data."""
    from tasks import chain

    return {
        "sized": sizing(task),
        "library": list(chain.library()), "max_effects": task.max_effects,
        "schedule": chain.SCHEDULE,
        "candidates": [list(c) for c in chain.candidates(task.max_effects)],
        "metrics": [[m.name, m.higher_is_better, m.unit] for m in task.metrics],
        "main_metric": task.main_metric, "references": list(task.references),
        "family": task.family, "domain": task.domain,
    }


def sizing(task) -> dict:
    """What the task changes of each budget (``sized()`` against the budget itself): a change of
    a budget is the budget's own version (``Budget.tag`` in study names and run keys), not the
    task's."""
    out = {}
    for name, budget in sorted(BUDGETS.items()):
        sized, plain = task.sized(budget).as_dict(), budget.as_dict()
        out[name] = {k: v for k, v in sized.items() if v != plain[k]}
    return out


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
    "gradient_chain": ("1", "930cafa8c368bae3"),
    "gradient_compressor": ("1", "6127d7661dc47306"),
    "gradient_delay": ("1", "8cbc43b35ec91b50"),
    "gradient_distortion": ("1", "b8725cd729139ba6"),
    "gradient_pb_compressor": ("1", "d470234546fe9709"),
    "gradient_pb_delay": ("1", "ba26ea079f17d9ff"),
    "gradient_pb_distortion": ("1", "d32cc46478461f2e"),
    "gradient_pb_peq": ("1", "d2f6e3b9aac429f8"),
    "gradient_pb_reverb": ("1", "ce20395b0c218df2"),
    "gradient_peq": ("1", "560b5d3a7846c2fa"),
    "gradient_reverb": ("1", "eef8dce8c6b00e80"),
    "gradient_zam_comp": ("1", "af0a657c56f4cfc2"),
    "gradient_zam_eq2": ("1", "4d21a31030b73ba4"),
}


def gradient_protocol(task) -> dict:
    """Everything of a gradient task that decides its runs, as plain data."""
    from bench.metrics import gradient as measures
    from tasks import examples, gradient

    return {
        "sized": sizing(task),
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
    "modeling_compressor": ("2", "ca1db02f6ca0e0c3"),
    "modeling_delay": ("2", "e8200eb2b9ebefd0"),
    "modeling_distortion": ("2", "2a3a9c84a5a5fe02"),
    "modeling_peq": ("2", "a1bd3aa4927800a8"),
    "modeling_reverb": ("2", "da62db23170fcae1"),
    "modeling_zam_comp": ("2", "8fde004b2034f2c4"),
}


def modeling_protocol(task) -> dict:
    """Everything of a modeling task that decides its runs, as plain data (the models are the
    strategies': their sizes and training are in their cache keys and versions)."""
    from bench.metrics import modeling as measures
    from tasks import modeling

    sweep = measures.sine_sweep(16000, 0.0)
    return {
        "sized": sizing(task),
        "effects": list(task.effects), "domain": task.domain,
        "metrics": [[m.name, m.higher_is_better, m.unit] for m in task.metrics],
        "main_metric": task.main_metric, "references": list(task.references),
        "family": task.family, "levels": list(modeling.PEAK_DB),
        "aliasing": [modeling.ALIASING_SETTINGS, list(sweep.bins), sweep.length,
                     sweep.amplitude], "validation_seed": modeling.VALIDATION_SEED,
        "fit": [list(r) for r in measures.FIT_RANGES_DB],
        "fidelity_level_db": measures.FIDELITY_RMS_DB,  # version 2: fidelity at a common level
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
