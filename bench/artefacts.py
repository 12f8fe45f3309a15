"""Cached training artefacts (trained models, proxies) keyed by everything that determines them.

An artefact is a torch state dict plus JSON-able metadata, saved atomically under
``<artefact_dir>/<kind>/<key>.pt``; a damaged file is rebuilt, never trusted: the failed load
is logged, whatever it half-loaded is discarded, the returned metadata says ``rebuilt`` (with the
reason; tasks keep it in the run's ``extra``) and ``REBUILT`` lists it for the run summary.
Building holds an exclusive lock on ``<key>.pt.lock``, so parallel workers wait for one build
and load it.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
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
    return Path(artefact_dir) / kind / f"{run_key(**parts)}.pt"


def load_or_build(path: Path, module: Any, build: Callable[[], dict[str, Any]],
                  parts: dict[str, Any]) -> dict[str, Any]:
    """Load ``module``'s weights from ``path`` or call ``build()`` (which trains ``module`` in
    place and returns metadata) and save; returns the metadata with ``reused`` set, and
    ``rebuilt`` (the reason) when a file was there but could not be loaded."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    rebuilt: dict[str, str] = {}
    with _exclusive(path.with_name(path.name + ".lock")):
        if path.exists():
            try:
                return {**_load(path, module, parts), "reused": True}
            except Exception as exc:  # noqa: BLE001 - a damaged file is rebuilt, never trusted
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
                log.warning("artefact %s could not be loaded (%s); rebuilding it", path, reason)
                REBUILT.append(path)
                rebuilt = {"rebuilt": reason}
        meta = build()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            torch.save({"parts": canonical_json(parts), "state": module.state_dict(),
                        "meta": meta}, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {**meta, "reused": False, **rebuilt}


def _load(path: Path, module: Any, parts: dict[str, Any]) -> dict[str, Any]:
    """Load ``module``'s weights saved for ``parts``; return their metadata. On any failure
    ``module`` keeps its fresh state (a strict load copies what matches before it raises)."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=False)
    if saved.get("parts") != canonical_json(parts):
        raise ValueError("the file was saved for other parts (a foreign or outdated artefact)")
    meta = saved["meta"]
    fresh = copy.deepcopy(module.state_dict())
    try:
        module.load_state_dict(saved["state"])
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
