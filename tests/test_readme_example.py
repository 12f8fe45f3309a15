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


@pytest.mark.slow
def test_readme_strategy_runs_the_contract(tmp_path, monkeypatch, isolated_registry):
    (tmp_path / "readme_strategy.py").write_text(readme_strategy_source())
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("readme_strategy", None)
    importlib.import_module("readme_strategy")
    cls = registry("strategy").get("finite_differences")
    verdict = check(cls, registry("task").get("synthetic_speech"), determinism=True)
    assert verdict.ok, verdict.problems
    assert verdict.main is not None
