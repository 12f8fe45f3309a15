"""Cached artefacts: saved with their key, reloaded, rebuilt when damaged, built once, never
unpickled."""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path

import torch

from bench import artefacts
from bench.artefacts import load_or_build
from bench.results import read_results
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
    path, log = tmp_path / "kind" / "a.safetensors", tmp_path / "log"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        reused = pool.starmap(_build_once, [(str(path), str(log))] * 2)
    assert log.read_text() == "built\n"
    assert sorted(reused) == [False, True]


def test_damaged_or_foreign_file_is_rebuilt(tmp_path: Path):
    path, log = tmp_path / "a.safetensors", tmp_path / "log"
    path.write_bytes(b"not a weights file")
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

    path, parts = tmp_path / "half.safetensors", {"k": 3}
    half = model()
    with torch.no_grad():
        half[0].weight.fill_(7.0)
        half[1].weight = torch.nn.Parameter(torch.zeros(2, 2))
    artefacts.save(path, half, {}, parts)
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
    (saved,) = (tmp_path / "cache" / "artefacts" / "toy").glob("*.safetensors")
    saved.write_bytes(b"damaged")
    again = bench_cmd(*args, "--seed", "1", cwd=tmp_path, plugins="tests.plugins.loud")
    assert again.returncode == 0, again.stderr
    assert "1 unloadable cached artefacts rebuilt" in again.stdout
    assert f"artefact {saved} could not be loaded" in again.stderr
    rows = read_results(tmp_path / "results").query("base_seed == 1 and phase == 'tune'")
    training = json.loads(rows.extra_json.iloc[0])["training"]
    assert training["reused"] is False
    assert training["rebuilt"].startswith("ValueError: checksum mismatch")


class _Payload:
    """Unpickling this runs ``Path.touch`` on a marker file: what a tampered pickle could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, caplog):
    """Weights replaced by a code-running pickle, even with a record that vouches for it, are
    never unpickled: the load fails, nothing runs, the artefact is rebuilt."""
    import pickle

    path, parts, marker = tmp_path / "evil.safetensors", {"k": 4}, tmp_path / "pwned"
    artefacts.save(path, torch.nn.Linear(1, 1), {}, parts)
    path.write_bytes(pickle.dumps({"state": _Payload(marker)}))
    record = json.loads(artefacts.record_path(path).read_text())
    record["sha256"] = artefacts.sha256(path)  # the attacker updates the checksum too
    artefacts.record_path(path).write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="bench.artefacts"):
        meta = load_or_build(path, torch.nn.Linear(1, 1), lambda: {"fresh": True}, parts)
    assert not marker.exists()
    assert meta["reused"] is False and meta["fresh"] is True and "rebuilt" in meta
    assert "could not be loaded" in caplog.text


def test_a_checksum_mismatch_is_rejected_before_reading_the_weights(tmp_path: Path):
    path, parts = tmp_path / "a.safetensors", {"k": 5}
    module = torch.nn.Linear(1, 1)
    artefacts.save(path, module, {"note": 1}, parts)
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    meta = load_or_build(path, torch.nn.Linear(1, 1), lambda: {"note": 2}, parts)
    assert meta["rebuilt"].startswith("ValueError: checksum mismatch: a.safetensors has sha256")
    assert meta["note"] == 2
