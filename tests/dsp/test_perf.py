"""`run_perf` output structure and the runtime.md section (no timing assertions)."""

from __future__ import annotations

import json

from bench.dsp.perf import render_markdown, run_perf, write_runtime_section
from bench.step_scaling import deepafx_steps

SECTION_BEGIN, SECTION_END = "<!-- bench.dsp.perf:begin -->", "<!-- bench.dsp.perf:end -->"

RATIOS = ("peq_forward_vs_scipy", "peq_grad_vs_freqsampling", "peq_grad_vs_forward",
          "compressor_grad_vs_forward", "biquad_ns_per_sample")


def test_quick_run_writes_json_and_the_runtime_section(tmp_path):
    extra = tmp_path / "perf.json"
    steps = deepafx_steps("cpu", quick=True, cache_dir=tmp_path / "cache")
    perf = run_perf(extra, tmp_path / "results", reports_dir=tmp_path / "reports", quick=True,
                    steps=steps)
    assert set(RATIOS) <= set(perf["ratios"])
    for name, r in perf["ratios"].items():
        assert r["value"] > 0 and "what" in r
        if name != "biquad_ns_per_sample" and not name.endswith("_scan_vs_numba"):
            assert r["op"] in ("<=", ">=") and isinstance(r["pass"], bool)
    assert perf["ratios"]["biquad_ns_per_sample"]["bound"] == 1.6
    for name in ("peq", "compressor", "delay"):  # informative: no target
        assert perf["ratios"][f"{name}_scan_vs_numba"]["target"] is None
    step = perf["deepafx_step"]["strategies"]
    assert set(step) == {"autodiff", "spsa", "neural_proxy", "proxy_hybrid"}
    assert all(row["error"] is None and row["step_s"] > 0 for row in step.values())
    assert step["autodiff"]["vs_exact"] == 1.0 and step["spsa"]["deepafx_st_gpu_s"] == 0.4132
    assert {"platform", "cpu", "python", "torch", "numba", "load_average"} <= set(perf["machine"])
    assert perf["machine"]["torch_threads"] == 1
    for name in ("peq", "compressor", "distortion", "delay", "reverb"):
        row = perf["rtf"][name]
        assert row["reference"] > 0 and row["torch_forward_backward"] > 0
    assert json.loads(extra.read_text()) == perf
    (written,) = (tmp_path / "results" / "perf").glob("perf-*-*.json")
    assert json.loads(written.read_text()) == perf
    text = (tmp_path / "reports" / "runtime.md").read_text()
    assert "## Kernel ratios" in text and "## Real-time factors" in text
    assert "## Training step at DeepAFx-ST's sizes" in text
    assert "| spsa | " in text and " | 0.413 | 1.34× |" in text


def test_section_is_replaced_not_duplicated(tmp_path):
    path = tmp_path / "runtime.md"
    path.write_text("# Runtime\n\nkept above\n")
    write_runtime_section(path, "## Kernel ratios\n\nfirst\n")
    path.write_text(path.read_text() + "\nkept below\n")
    write_runtime_section(path, "## Kernel ratios\n\nsecond\n")
    text = path.read_text()
    assert text.count(SECTION_BEGIN) == text.count(SECTION_END) == 1
    assert "second" in text and "first" not in text
    assert "kept above" in text and "kept below" in text


def test_markdown_marks_failed_targets():
    perf = {
        "created_utc": "2026-01-01T00:00:00+00:00", "sample_rate": 44100, "quick": False,
        "machine": {"node": "m", "cpu": "c", "cpu_count": 2, "load_average": [1.0, 1.0, 1.0],
                    "torch": "t", "numba": "n"},
        "ratios": {"peq_forward_vs_scipy": {"value": 1.2, "target": 1.0, "op": "<=",
                                            "pass": False, "what": "w"},
                   "biquad_ns_per_sample": {"value": 1.7, "target": None, "op": None,
                                            "pass": None, "bound": 1.6, "what": "w"}},
        "rtf": {"peq": {"reference": 2000.0, "torch_forward": 900.0,
                        "torch_forward_backward": 300.0,
                        "pedalboard": {"effect": "pb_peq", "rtf": 600.0}},
                "zam_comp": {"skipped": "ZamComp.vst3 not found"}},
    }
    md = render_markdown(perf)
    assert "| peq_forward_vs_scipy | 1.20 | <= 1 | **no** |" in md
    assert "1.70 ns | bound ≈ 1.6 ns" in md
    assert "| peq | 2,000× | 900× | 300× | 600× (pb_peq) |" in md
    assert "skipped: ZamComp.vst3 not found" in md
