"""Cached training artefacts (trained models, proxies) keyed by everything that determines them.

An artefact is a torch state dict saved as safetensors under ``<artefact_dir>/<kind>/<key>
.safetensors``, with a JSON record beside it (``<key>.json``: its key parts, metadata and the
weights' sha256). Loading never unpickles anything, so a tampered file cannot run code; the
checksum is verified before the weights are read. A damaged file is rebuilt, never trusted: the
failed load
is logged, whatever it half-loaded is discarded, the returned metadata says ``rebuilt`` (with the
reason; tasks keep it in the run's ``extra``) and ``REBUILT`` lists it for the run summary.
Building holds an exclusive lock on ``<key>.pt.lock``, so parallel workers wait for one build
and load it.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.results import canonical_json, run_key

log = logging.getLogger(__name__)
REBUILT: list[Path] = []
"""Artefacts this process rebuilt because their file could not be loaded."""


def artefact_path(artefact_dir: Path, kind: str, parts: dict[str, Any]) -> Path:
    """Where the artefact described by ``parts`` lives (``RunContext.artefact_dir``)."""
    return Path(artefact_dir) / kind / f"{run_key(**parts)}.safetensors"


def record_path(path: Path) -> Path:
    """The JSON record (parts, metadata, sha256) beside the weights at ``path``."""
    return path.with_suffix(".json")


def load_or_build(path: Path, module: Any, build: Callable[[], dict[str, Any]],
                  parts: dict[str, Any]) -> dict[str, Any]:
    """Load ``module``'s weights from ``path`` or call ``build()`` (which trains ``module`` in
    place and returns metadata) and save; returns the metadata with ``reused`` set, and
    ``rebuilt`` (the reason) when a file was there but could not be loaded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rebuilt: dict[str, str] = {}
    with _exclusive(path.with_name(path.name + ".lock")):
        if path.exists() or record_path(path).exists():
            try:
                return {**load(path, module, parts), "reused": True}
            except Exception as exc:  # noqa: BLE001 - a damaged file is rebuilt, never trusted
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                log.warning("artefact %s could not be loaded (%s); rebuilding it", path, reason)
                REBUILT.append(path)
                rebuilt = {"rebuilt": reason}
        meta = build()
        save(path, module, meta, parts)
    return {**meta, "reused": False, **rebuilt}


def save(path: Path, module: Any, meta: dict[str, Any], parts: dict[str, Any]) -> None:
    """Write the weights, then their record (the record last: it vouches for the weights)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().clone().contiguous() for k, v in module.state_dict().items()}
    _atomic(path, lambda tmp: save_file(state, tmp))
    record = {"parts": canonical_json(parts), "sha256": sha256(path), "meta": meta}
    text = json.dumps(record, sort_keys=True, indent=1)
    _atomic(record_path(path), lambda tmp: Path(tmp).write_text(text + "\n"))


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _atomic(path: Path, write: Callable[[str], Any]) -> None:
    """``write(tmp)`` to a temporary file in ``path``'s folder, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: Path, module: Any, parts: dict[str, Any]) -> dict[str, Any]:
    """Load ``module``'s weights saved for ``parts``; return their metadata. The record must be
    for these parts and the weights must have its checksum before they are read. On any failure
    ``module`` keeps its fresh state (a strict load copies what matches before it raises)."""
    from safetensors.torch import load_file

    record = json.loads(record_path(path).read_text())
    if record.get("parts") != canonical_json(parts):
        raise ValueError("the file was saved for other parts (a foreign or outdated artefact)")
    digest = sha256(path)
    if digest != record.get("sha256"):
        raise ValueError(f"checksum mismatch: {path.name} has sha256 {digest[:12]}…, its record "
                         f"says {str(record.get('sha256'))[:12]}… (a damaged or tampered file)")
    state = load_file(path)
    meta = record["meta"]
    fresh = copy.deepcopy(module.state_dict())
    try:
        module.load_state_dict(state)
    except Exception:
        module.load_state_dict(fresh)
        raise
    return meta


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock`` (released when the holder exits or dies)."""
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
