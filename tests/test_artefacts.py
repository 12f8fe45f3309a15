"""Cached artefacts: saved with their key, reloaded, rebuilt when damaged, built once."""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path

import torch

from bench import artefacts
from bench.artefacts import load_or_build
from bench.results import canonical_json, read_results
from tests.conftest import bench_cmd


def _build_once(path: str, log: str) -> bool:
    """Load or build a one-weight module; the build sleeps so that a second process overlaps."""
    module = torch.nn.Linear(1, 1)

    def build() -> dict:
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(0.5)
        torch.nn.init.constant_(module.weight, 3.0)
        return {"note": "x"}

    meta = load_or_build(Path(path), module, build, {"k": 1})
    return meta["reused"] and module.weight.item() == 3.0


def test_parallel_workers_build_once_and_load(tmp_path: Path):
    path, log = tmp_path / "kind" / "a.pt", tmp_path / "log"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        reused = pool.starmap(_build_once, [(str(path), str(log))] * 2)
    assert log.read_text() == "built\n"
    assert sorted(reused) == [False, True]


def test_damaged_or_foreign_file_is_rebuilt(tmp_path: Path):
    path, log = tmp_path / "a.pt", tmp_path / "log"
    path.write_bytes(b"not a torch file")
    assert _build_once(str(path), str(log)) is False
    assert _build_once(str(path), str(log)) is True
    module = torch.nn.Linear(1, 1)
    meta = load_or_build(path, module, lambda: {"other": True}, {"k": 2})
    assert meta == {"other": True, "reused": False, "rebuilt": (
        "ValueError: the file was saved for other parts (a foreign or outdated artefact)")}
    assert log.read_text() == "built\n"


def test_a_failed_load_is_logged_discarded_and_counted(tmp_path: Path, caplog):
    """A file whose second layer has the wrong shape: a strict load copies the first layer
    before it raises; the rebuild must start from the fresh module, not from that half."""
    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))

    path, parts = tmp_path / "half.pt", {"k": 3}
    state = {**model().state_dict(), "0.weight": torch.full((1, 1), 7.0),
             "1.weight": torch.zeros(2, 2)}
    torch.save({"parts": canonical_json(parts), "state": state, "meta": {}}, path)
    module, seen = model(), []
    fresh = module[0].weight.item()

    def build() -> dict:
        seen.append(module[0].weight.item())
        return {"steps": 1}

    count = len(artefacts.REBUILT)
    with caplog.at_level(logging.WARNING, logger="bench.artefacts"):
        meta = load_or_build(path, module, build, parts)
    assert seen == [fresh] != [7.0]
    assert meta["reused"] is False and meta["steps"] == 1
    assert meta["rebuilt"].startswith("RuntimeError: Error(s) in loading state_dict")
    assert artefacts.REBUILT[count:] == [path]
    assert f"artefact {path} could not be loaded" in caplog.text
    assert load_or_build(path, model(), build, parts)["reused"] is True  # the rebuilt file


def test_a_run_reports_the_rebuilds_and_records_them(tmp_path: Path):
    args = ("run", "--task", "toy_cached", "--strategy", "toy_search_loud", "--budget", "smoke",
            "--trials", "1", "--no-progress", "--cache-dir", str(tmp_path / "cache"))
    first = bench_cmd(*args, cwd=tmp_path, plugins="tests.plugins.loud")
    assert first.returncode == 0, first.stderr
    assert "rebuilt" not in first.stdout
    (saved,) = (tmp_path / "cache" / "artefacts" / "toy").glob("*.pt")
    saved.write_bytes(b"damaged")
    again = bench_cmd(*args, "--seed", "1", cwd=tmp_path, plugins="tests.plugins.loud")
    assert again.returncode == 0, again.stderr
    assert "1 unloadable cached artefacts rebuilt" in again.stdout
    assert f"artefact {saved} could not be loaded" in again.stderr
    rows = read_results(tmp_path / "results").query("base_seed == 1 and phase == 'tune'")
    training = json.loads(rows.extra_json.iloc[0])["training"]
    assert training["reused"] is False and training["rebuilt"].startswith("UnpicklingError")
