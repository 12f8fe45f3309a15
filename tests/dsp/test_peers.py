"""`perf --peers`: peers are checked against the reference before timing, flagged when they
differ, skipped with a message when missing; JSON and the runtime.md section (no timings
asserted)."""

from __future__ import annotations

import json
import sys
import types

import pytest

from bench.cli import build_parser
from bench.dsp import peers
from bench.dsp.peers import EXTRA, QUICK, Peer, check, compare_effect, load, run_peers
from bench.dsp.perf import write_runtime_section
from bench.report.html import markdown_html
from bench.report.runtime import PerfFiles, write_runtime
from bench.results import read_results


def _scaled(torch):
    """A wrong EQ: the project's output times 1.5."""
    effect = peers._effect("peq")
    return lambda x, p: 1.5 * effect.torch_process(x, p, peers.SAMPLE_RATE)


def _exact(torch):
    """A right EQ: the project's own torch implementation under another name."""
    effect = peers._effect("peq")
    return lambda x, p: effect.torch_process(x, p, peers.SAMPLE_RATE)


FAKE_PEERS = {"peq": (Peer("exact", "torch", _exact), Peer("scaled", "torch", _scaled),
                      Peer("missing", "no_such_peer_module", _exact))}


def test_missing_peer_is_skipped_naming_the_extra():
    fn, why = load(Peer("missing", "no_such_peer_module", _exact))
    assert fn is None and EXTRA in why and "no_such_peer_module" in why


def test_peer_that_imports_torchaudio_is_skipped(monkeypatch):
    def build(torch):
        monkeypatch.setitem(sys.modules, "torchaudio", types.ModuleType("torchaudio"))
        return _exact(torch)

    fn, why = load(Peer("sneaky", "torch", build))
    assert fn is None and "torchaudio" in why


def test_wrong_peer_is_timed_but_flagged(monkeypatch):
    monkeypatch.setattr(peers, "PEERS", FAKE_PEERS)
    rows = compare_effect("peq", QUICK)
    assert rows["missing"] == {"skipped": rows["missing"]["skipped"]}
    for dtype in ("float64", "float32"):
        assert rows["project"]["equivalent"][dtype] and rows["exact"]["equivalent"][dtype]
        assert rows["exact"]["errors"][dtype]["output"] <= peers.TOLERANCE[dtype]
        assert not rows["scaled"]["equivalent"][dtype]
        assert rows["scaled"]["errors"][dtype]["output"] == pytest.approx(0.5, rel=1e-3)
        assert rows["scaled"]["ratio"][dtype] > 0 and rows["project"]["ms"][dtype] > 0
    assert "ratio" not in rows["project"]


def test_check_compares_peer_gradients_with_the_projects():
    effect = peers._effect("compressor")

    def detached_gain(x, p):  # right output, but no gradient through the parameters
        return effect.torch_process(x, p.detach(), peers.SAMPLE_RATE)

    errors = check(effect, detached_gain, None, "float64", QUICK)
    assert errors["output"] < 1e-12 and errors["grad_x"] < 1e-12
    assert errors["grad_p"] == pytest.approx(1.0)


@pytest.mark.parametrize(("effect", "name", "equivalent"), [
    ("peq", "philtorch", True), ("peq", "torchlpc", True), ("peq", "dasp-pytorch", True),
    ("compressor", "torchcomp (ballistics on the dB reduction)", True),
    ("compressor", "torchcomp (compexp_gain)", False), ("compressor", "dasp-pytorch", False),
    ("compressor", "pedalboard (forward only)", False)])
def test_installed_peers_match_the_reference_where_they_can(effect, name, equivalent):
    (peer,) = [p for p in peers.PEERS[effect] if p.name == name]
    pytest.importorskip(peer.module)
    fn, why = load(peer)
    assert why is None
    errors = check(peers._effect(effect), fn, peer, "float64", QUICK)
    assert all(e <= peers.TOLERANCE["float64"] for e in errors.values()) == equivalent


def test_run_writes_json_and_its_own_runtime_section(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "PEERS", FAKE_PEERS)
    runtime = tmp_path / "reports" / "runtime.md"
    runtime.parent.mkdir()
    write_runtime_section(runtime, "## Kernel ratios\n\nkept\n")
    result = run_peers(tmp_path / "peers.json", tmp_path / "results",
                       reports_dir=tmp_path / "reports", quick=True)
    (written,) = (tmp_path / "results" / "perf").glob("peers-*-*.json")
    assert json.loads(written.read_text()) == result
    assert json.loads((tmp_path / "peers.json").read_text()) == result
    assert set(result["targets"]) == {"peq_fastest_float64", "peq_fastest_float32",
                                      "peq_float32_vs_float64"}
    text = runtime.read_text()
    assert text.count("<!-- bench.peers:begin -->") == text.count("<!-- bench.peers:end -->") == 1
    assert "<!-- bench.dsp.perf:begin -->" in text and "kept" in text
    assert "| scaled |" in text and "**not equivalent**" in text
    assert f"skipped: no_such_peer_module is not installed: pip install '{EXTRA}'" in text
    rebuilt = write_runtime(read_results(tmp_path / "results"),
                            PerfFiles.read([tmp_path / "results"]), tmp_path, {}).read_text()
    section = text[text.index("<!-- bench.peers:begin -->"):]
    assert rebuilt.endswith("\n\n" + section)  # the report rebuild writes the same section


def test_perf_has_a_peers_flag():
    assert build_parser().parse_args(["perf", "--peers"]).peers
    assert not build_parser().parse_args(["perf"]).peers


def test_targets_use_the_pairwise_ratios_of_differentiable_peers():
    rows = {"project": {"backward": True, "ms": {"float64": 10.0, "float32": 12.0}},
            "fast": {"backward": True, "ms": {"float64": 5.0, "float32": 30.0},
                     "ratio": {"float64": 0.9, "float32": 2.5}},
            "slow": {"backward": True, "ms": {"float64": 50.0, "float32": 40.0},
                     "ratio": {"float64": 4.0, "float32": 3.0}},
            "forward only": {"backward": False, "ratio": {"float64": 0.5, "float32": 0.5}},
            "absent": {"skipped": "not installed"}}
    targets = peers.summary({"peq": rows})
    assert targets["peq_fastest_float64"]["value"] == 0.9
    assert not targets["peq_fastest_float64"]["pass"]
    assert targets["peq_fastest_float32"]["value"] == 2.5
    assert targets["peq_fastest_float32"]["pass"]
    assert targets["peq_float32_vs_float64"]["value"] == 1.2
    assert not targets["peq_float32_vs_float64"]["pass"]


def test_section_markers_do_not_show_in_the_html_page():
    import re

    page = markdown_html("<!-- bench.peers:begin -->\n## Peers\n\ntext\n"
                         "<!-- bench.peers:end -->\n")
    visible = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    assert "bench.peers" not in visible and "<p>text</p>" in visible
