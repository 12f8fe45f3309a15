"""The README's "add a strategy" example is real: extracted, registered and run by the contract."""

from __future__ import annotations

import importlib
import re
import sys

import pytest

from bench.contract import check
from bench.registry import registry
from tests.conftest import ROOT


def readme_strategy_source() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return next(b for b in blocks if "class FiniteDifferences" in b)


def register_readme_strategy(tmp_path, monkeypatch) -> type:
    """Save the README's strategy as a module, import it (it registers itself), return it."""
    (tmp_path / "readme_strategy.py").write_text(readme_strategy_source())
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("readme_strategy", None)
    importlib.import_module("readme_strategy")
    return registry("strategy").get("finite_differences")


@pytest.mark.slow
def test_readme_strategy_runs_the_contract(tmp_path, monkeypatch, isolated_registry):
    cls = register_readme_strategy(tmp_path, monkeypatch)
    verdict = check(cls, registry("task").get("synthetic_speech"), determinism=True)
    assert verdict.ok, verdict.problems
    assert verdict.main is not None


@pytest.mark.slow
def test_readme_strategy_is_measured_by_the_gradient_tasks(tmp_path, monkeypatch,
                                                         isolated_registry):
    """No code names it: its effect layer is measured like every gradient strategy's."""
    cls = register_readme_strategy(tmp_path, monkeypatch)
    for task in ("gradient_peq", "gradient_pb_distortion"):
        verdict = check(cls, registry("task").get(task), determinism=False)
        assert verdict.ok and verdict.skipped is None, verdict.problems
        assert verdict.main > 0.9  # central differences, 0.01 steps: close to the reference
