"""The top-level ``datasets`` package is ours, registers its datasets and imports fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_datasets_is_this_repository_not_hugging_face():
    import datasets

    assert Path(datasets.__file__).resolve() == ROOT / "datasets" / "__init__.py"


def test_all_datasets_are_registered_with_their_embedded_flag():
    from bench.registry import registry

    reg = registry("dataset")
    embedded = {n: reg.get(n).embedded for n in ("speech", "music", "libritts", "daps", "vctk",
                                                  "musdb18hq", "musdb18", "mtg_jamendo")}
    assert embedded == {"speech": True, "music": True, "libritts": False, "daps": False,
                        "vctk": False, "musdb18hq": False, "musdb18": False,
                        "mtg_jamendo": False}
    assert {reg.get(n).domain for n in ("speech", "libritts", "daps", "vctk")} == {"speech"}


def test_discovery_imports_no_heavy_library_and_is_fast():
    code = ("import sys, time; t = time.perf_counter(); from bench.registry import discover, "
            "FAILURES; discover(); print(time.perf_counter() - t); "
            "print([f.module for f in FAILURES if f.module.startswith('datasets')]); "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'music21', 'piper') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[1] == "[]", out
    assert "onnxruntime" not in out[2] and "music21" not in out[2] and "piper" not in out[2]
    assert float(out[0]) < 3.0
