"""Cached training artefacts (trained models, proxies) keyed by everything that determines them.

An artefact is a torch state dict plus JSON-able metadata, saved atomically under
``<artefact_dir>/<kind>/<key>.pt``; a damaged file is rebuilt, never trusted. Building holds
an exclusive lock on ``<key>.pt.lock``, so parallel workers wait for one build and load it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.results import canonical_json, run_key


def artefact_path(artefact_dir: Path, kind: str, parts: dict[str, Any]) -> Path:
    """Where the artefact described by ``parts`` lives (``RunContext.artefact_dir``)."""
    return Path(artefact_dir) / kind / f"{run_key(**parts)}.pt"


def load_or_build(path: Path, module: Any, build: Callable[[], dict[str, Any]],
                  parts: dict[str, Any]) -> dict[str, Any]:
    """Load ``module``'s weights from ``path`` or call ``build()`` (which trains ``module`` in
    place and returns metadata) and save; returns the metadata with ``reused`` set."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(path.with_name(path.name + ".lock")):
        if path.exists():
            try:
                saved = torch.load(path, map_location="cpu", weights_only=False)
                if saved.get("parts") == canonical_json(parts):
                    module.load_state_dict(saved["state"])
                    return {**saved["meta"], "reused": True}
            except Exception:  # noqa: BLE001 - a damaged file is rebuilt
                pass
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
    return {**meta, "reused": False}


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock`` (released when the holder exits or dies)."""
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
