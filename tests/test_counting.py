"""Work is counted by construction: every reference-DSP render of a strategy or a task's solver
goes through the counting renderer (``Counters.render``), and what it counts is what the DSP
really rendered."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import numpy as np
import pytest

from bench.base import Counters, RunContext
from bench.budgets import BUDGETS
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.dsp.spec import DspEffect
from bench.registry import registry
from tests.conftest import ROOT
from tests.strategies.conftest import SAMPLE_RATE, clips

SCANNED = ("strategies", "tasks", "bench/gradient.py", "bench/search.py")
UNCOUNTED = {
    ("tasks/examples.py", "*"): "makes the examples every strategy gets",
    ("tasks/*", "reference"): "reference rows (input, oracle, supervised) are no strategy's",
    ("strategies/_proxies.py", "__call__"): "proxy pre-training (cached, reported apart)",
    ("strategies/_proxies.py", "fidelity"): "proxy fidelity against the DSP (cached)",
    ("strategies/_proxies.py", "gradient_cosine"): "proxy gradient fidelity (cached)",
    ("strategies/_proxies.py", "fd_losses"): "a black box's proxy gradient fidelity (cached)",
}
"""(module, enclosing function) whose direct renders are not a strategy's work, and why."""


def _renders(path: Path) -> list[tuple[int, str, str]]:
    """(line, enclosing function, what) for every direct render or hand-made count in a module:
    a ``.process(…)`` call, a call of ``bench.parallel.render``, a ``dsp_evals`` update."""
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef) else function
            if isinstance(child, ast.Call):
                f = child.func
                if isinstance(f, ast.Attribute) and f.attr == "process":
                    found.append((child.lineno, function, ".process()"))
                if isinstance(f, ast.Name) and f.id == "render":
                    found.append((child.lineno, function, "render()"))
            if isinstance(child, (ast.AugAssign, ast.Assign)):
                targets = [child.target] if isinstance(child, ast.AugAssign) else child.targets
                if any(isinstance(t, ast.Attribute) and t.attr == "dsp_evals" for t in targets):
                    found.append((child.lineno, function, "dsp_evals update"))
            visit(child, inner)

    visit(ast.parse(path.read_text()), "<module>")
    return found


def _allowed(module: str, function: str) -> bool:
    folder = module.split("/")[0]
    return any(key in UNCOUNTED for key in ((module, "*"), (module, function),
                                             (f"{folder}/*", function)))


def test_no_strategy_or_solver_renders_or_counts_by_hand():
    paths = [p for s in SCANNED for p in ((ROOT / s).rglob("*.py") if (ROOT / s).is_dir()
                                          else [ROOT / s])]
    uncounted = [f"{p.relative_to(ROOT)}:{line} {what} in {function}()"
                 for p in paths for line, function, what in _renders(p)
                 if not _allowed(str(p.relative_to(ROOT)), function)]
    assert not uncounted, "render through Counters.render instead:\n" + "\n".join(uncounted)


def test_the_scan_finds_a_render_by_hand(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def solve(chain, x, p, ctx):\n"
                      "    ctx.counters.dsp_evals += len(x)\n"
                      "    return chain.process(x, p, 16000)\n")
    assert [what for _, _, what in _renders(sneaky)] == ["dsp_evals update", ".process()"]


@pytest.fixture
def rendered(monkeypatch):
    """Rows the reference DSP really rendered: a chain's rows once, a lone effect's rows too."""
    seen, lock, inside = {"rows": 0}, threading.Lock(), threading.local()
    chain_process, effect_process = Chain.process, DspEffect.process

    def count(n: int) -> None:
        with lock:
            seen["rows"] += n

    def chain_wrapper(self, x, p, sample_rate):
        count(len(x))
        inside.depth = getattr(inside, "depth", 0) + 1
        try:
            return chain_process(self, x, p, sample_rate)
        finally:
            inside.depth -= 1

    def effect_wrapper(self, x, p, sample_rate):
        if not getattr(inside, "depth", 0):
            count(len(x))
        return effect_process(self, x, p, sample_rate)

    monkeypatch.setattr(Chain, "process", chain_wrapper)
    monkeypatch.setattr(DspEffect, "process", effect_wrapper)
    return seen


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    """Proxies pre-trained once for the module."""
    return tmp_path_factory.mktemp("artefacts")


@pytest.mark.parametrize("strategy", [c.name for c in registry("strategy").select("all")])
def test_every_render_of_a_strategy_is_counted(strategy, rendered, artefacts, tmp_path):
    import torch

    from bench.gradient import GradientStrategy
    from bench.search import SearchProblem

    s = registry("strategy").get(strategy)()
    chain = Chain(["peq", "compressor"])
    ctx = RunContext(budget=BUDGETS["smoke"], seed=0, split="val", results_dir=tmp_path,
                     cache_dir=tmp_path, artefacts=artefacts, progress=False)
    audio = clips().astype(np.float64)
    x, reference = audio[:2], audio[2:4]
    p = np.random.default_rng(0).uniform(size=(2, chain.n_params))
    if isinstance(s, GradientStrategy):
        layer = s.effect_layer(chain, SAMPLE_RATE, ctx, TrainingAudio("test", clips()))
        rendered["rows"], before = 0, ctx.counters.dsp_evals  # proxy pre-training is apart
        pt = torch.from_numpy(p).float().requires_grad_(True)
        layer(torch.from_numpy(x).float(), pt).square().mean().backward()
        s.infer_audio(layer, chain, x, p, SAMPLE_RATE, ctx)
    else:
        rendered["rows"], before = 0, ctx.counters.dsp_evals
        s.solve(SearchProblem(chain, SAMPLE_RATE, x,
                              lambda y, idx: np.abs(y - reference[idx]).mean(1),
                              ctx.counters, reference=reference), ctx)
    assert rendered["rows"] > 0 or strategy == "neural_proxy"
    assert ctx.counters.dsp_evals - before == rendered["rows"]


def test_the_counting_renderer_counts_rows(rendered):
    counters = Counters()
    chain = Chain(["peq"])
    x = clips()[:3].astype(np.float64)
    y = counters.render(chain, x, np.full((3, chain.n_params), 0.5), SAMPLE_RATE)
    assert y.shape == x.shape and counters.dsp_evals == rendered["rows"] == 3
