"""Cached artefacts: saved with their key, reloaded, rebuilt when damaged, built once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import torch

from bench.artefacts import load_or_build


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
    assert meta == {"other": True, "reused": False}
    assert log.read_text() == "built\n"
