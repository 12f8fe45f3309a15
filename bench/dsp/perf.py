"""`python -m bench perf`: kernel speed ratios and real-time factors, one torch/Numba thread.

The machine is shared and noisy, so every target is a ratio of two timings taken in the same
process, interleaved (A B A B …), as medians of several repeats; absolute numbers are reported
for context only. Results go to JSON (``results/perf/perf-<machine>-<UTC>.json`` and an optional
extra path) and to the "Kernel ratios" / "Real-time factors" section of reports/runtime.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import env
from bench.baselines import DEEPAFX_ST_GPU_STEP_SECONDS, EXACT_STRATEGY

SAMPLE_RATE = 44100
LATENCY_BOUND_NS = 1.6
"""One biquad on one core: a multiply and a subtract on the loop-carried path (ecosystem §5)."""
COUNTERPARTS = {"peq": "pb_peq", "compressor": "pb_compressor", "distortion": "pb_distortion",
                "delay": "pb_delay", "reverb": "pb_reverb"}
"""Differentiable effect -> pedalboard effect with the same spec (or the closest one)."""


@dataclass(frozen=True)
class Sizes:
    """Signal sizes and repeat counts of a run (``quick`` shrinks them for tests)."""

    long_seconds: float = 10.0
    batch: int = 8
    batch_seconds: float = 2.0
    repeats: int = 7
    min_seconds: float = 0.3


QUICK = Sizes(long_seconds=0.5, batch=2, batch_seconds=0.25, repeats=2, min_seconds=0.0)


def medians(*fns: Callable[[], Any], repeats: int, min_seconds: float,
            device: str = "cpu") -> list[float]:
    """Median seconds per call of each fn, calls interleaved, after one warm-up call each;
    each call ends when ``device`` has done its queued work."""
    from bench.device import synchronize

    def call(fn: Callable[[], Any]) -> None:
        fn()
        synchronize(device)

    for fn in fns:
        call(fn)
    times: list[list[float]] = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < repeats or (time.perf_counter() - start < min_seconds
                                      and len(times[0]) < 10 * repeats):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            call(fn)
            out.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """Where and with what the numbers were measured (``device``: the torch side's, by name)."""
    import numba
    import torch

    return {
        "device": device,
        "node": platform.node(), "platform": platform.platform(), "cpu": env.cpu_model(),
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        **{name: env.package_version(name) for name in ("numpy", "scipy", "torch", "numba",
                                                          "pedalboard")},
        "torch_threads": torch.get_num_threads(), "numba_threads": numba.get_num_threads(),
        "load_average": list(os.getloadavg()),
    }


def _ratio(value: float, target: float, op: str, what: str) -> dict[str, Any]:
    ok = value <= target if op == "<=" else value >= target
    return {"value": value, "target": target, "op": op, "pass": bool(ok), "what": what}


def _noise(batch: int, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal((batch, int(seconds * SAMPLE_RATE)))


def kernel_ratios(sizes: Sizes, device: str = "cpu") -> dict[str, dict[str, Any]]:
    """The named ratios of the issue, each with its target and pass flag; the torch side on
    ``device``, the reference DSP on the CPU."""
    import scipy.signal

    from bench.device import to_device
    from bench.dsp import get_effect, ops

    peq, comp = get_effect("peq"), get_effect("compressor")
    rng = np.random.default_rng(1)
    x = _noise(1, sizes.long_seconds)
    p = rng.uniform(size=(1, peq.n_params))
    sos = peq.sos(np, peq.physical(p, SAMPLE_RATE), SAMPLE_RATE)[0]
    scipy_sos = np.concatenate([sos[:, :3], np.ones((len(sos), 1)), sos[:, 3:]], axis=1)
    ours, ref = medians(lambda: peq.process(x, p, SAMPLE_RATE),
                        lambda: scipy.signal.sosfilt(scipy_sos, x),
                        repeats=sizes.repeats, min_seconds=sizes.min_seconds)
    out = {"peq_forward_vs_scipy": _ratio(
        ours / ref, 1.0, "<=", f"6-band peq process ÷ scipy.signal.sosfilt, float64, "
        f"{sizes.long_seconds:g} s at {SAMPLE_RATE} Hz")}

    xb = to_device(_noise(sizes.batch, sizes.batch_seconds), device)
    batch_note = f"batch {sizes.batch} × {sizes.batch_seconds:g} s, float64"
    timing = {"repeats": sizes.repeats, "min_seconds": sizes.min_seconds, "device": device}

    pb = to_device(rng.uniform(size=(sizes.batch, peq.n_params)), device)
    fsm, exact = medians(torch_call(peq, xb, pb, "forward+backward", method="freqsamp"),
                         torch_call(peq, xb, pb, "forward+backward"),
                         **{**timing, "repeats": max(2, sizes.repeats // 2)})
    out["peq_grad_vs_freqsampling"] = _ratio(
        fsm / exact, 10.0, ">=", f"peq forward+backward: frequency sampling ÷ exact, {batch_note}")
    for name, effect in (("peq", peq), ("compressor", comp)):
        pe = to_device(rng.uniform(size=(sizes.batch, effect.n_params)), device)
        both, fwd, infer = medians(*(torch_call(effect, xb, pe, mode) for mode in
                                     ("forward+backward", "forward", "inference")), **timing)
        out[f"{name}_grad_vs_forward"] = _ratio(
            both / fwd, 4.0, "<=",
            f"{name} forward+backward ÷ forward (grad-enabled: records what the backward needs; "
            f"÷ no-grad forward = {both / infer:.2f}), {batch_note}")
        out[f"{name}_grad_vs_forward"]["vs_inference_forward"] = both / infer

    one = sos[None, :1]
    (t_one,) = medians(lambda: ops.sos_filter(x, one), repeats=sizes.repeats,
                       min_seconds=sizes.min_seconds)
    out["biquad_ns_per_sample"] = {
        "value": t_one / x.shape[1] * 1e9, "target": None, "op": None, "pass": None,
        "bound": LATENCY_BOUND_NS,
        "what": f"one biquad, float64, one core (latency bound ≈ {LATENCY_BOUND_NS} ns)"}
    out["spsa_step_2_threads_vs_1"] = spsa_speedup(sizes)
    out.update(scan_ratios(sizes, device))
    return out


def scan_ratios(sizes: Sizes, device: str) -> dict[str, dict[str, Any]]:
    """Forward + backward of each effect with a recursion on ``device``'s path (the parallel
    scans; on the CPU forced) ÷ the same on CPU tensors (the Numba kernels): what the GPU's
    algorithm costs on a CPU, and on a GPU how much faster it is (< 1)."""
    from bench.device import to_device
    from bench.dsp import get_effect, ops

    rng = np.random.default_rng(3)
    x = _noise(sizes.batch, sizes.batch_seconds)
    out = {}
    for name in ("peq", "compressor", "delay"):
        effect = get_effect(name)
        p = rng.uniform(size=(sizes.batch, effect.n_params))
        numba = torch_call(effect, *(to_device(a, "cpu") for a in (x, p)), "forward+backward")
        scan = torch_call(effect, *(to_device(a, device) for a in (x, p)), "forward+backward")

        def scanned(run: Callable[[], None] = scan) -> None:
            with ops.scan_path():
                run()

        t_scan, t_numba = medians(scanned, numba, repeats=max(2, sizes.repeats // 2),
                                  min_seconds=sizes.min_seconds, device=device)
        out[f"{name}_scan_vs_numba"] = {
            "value": t_scan / t_numba, "target": None, "op": None, "pass": None,
            "what": f"{name} forward+backward: parallel scans on {device} ÷ Numba kernels on "
                    f"the CPU, batch {sizes.batch} × {sizes.batch_seconds:g} s, float64 "
                    f"(informative: {t_scan * 1e3:.1f} ms ÷ {t_numba * 1e3:.1f} ms)"}
    return out


def spsa_speedup(sizes: Sizes, perturbations: int = 2) -> dict[str, Any]:
    """Speed-up of one SPSA step's renders (2·K·B chain renders of peq → compressor) on two
    threads over one: the Numba kernels release the GIL, so the pool should scale."""
    from bench.dsp import Chain
    from bench.parallel import render

    chain = Chain(["peq", "compressor"])
    rows = 2 * perturbations * sizes.batch
    x = _noise(rows, sizes.batch_seconds)
    p = np.random.default_rng(2).uniform(size=(rows, chain.n_params))
    one, two = medians(lambda: render(chain, x, p, SAMPLE_RATE, workers=1),
                       lambda: render(chain, x, p, SAMPLE_RATE, workers=2),
                       repeats=sizes.repeats, min_seconds=sizes.min_seconds)
    return _ratio(one / two, 1.6, ">=",
                  f"SPSA step renders ({rows} × {sizes.batch_seconds:g} s through peq → "
                  f"compressor, K={perturbations}): 1 thread ÷ 2 threads")


def torch_call(effect: Any, x: Any, p: Any, mode: str, **kw: Any) -> Callable[[], None]:
    """A timed call: "inference" (no grad), "forward" (grad-enabled) or "forward+backward"."""
    import torch

    def run() -> None:
        with torch.set_grad_enabled(mode != "inference"):
            xg, pg = x.clone().requires_grad_(True), p.clone().requires_grad_(True)
            y = effect.torch_process(xg, pg, SAMPLE_RATE, **kw)
            if mode == "forward+backward":
                y.square().mean().backward()
    return run


def effect_rtf(effect: Any, x: np.ndarray, sizes: Sizes, device: str = "cpu") -> dict[str, float]:
    """Real-time factors of one effect's reference (CPU) and, if it has one, differentiable
    version (on ``device``)."""
    from bench.device import to_device

    p = effect.defaults(SAMPLE_RATE)[None]
    times = dict(zip(["reference"], medians(lambda: effect.process(x, p, SAMPLE_RATE),
                                            repeats=sizes.repeats, min_seconds=sizes.min_seconds),
                     strict=True))
    if effect.differentiable:
        xt, pt = to_device(x, device), to_device(p, device)
        times["torch_forward"], times["torch_forward_backward"] = medians(
            torch_call(effect, xt, pt, "inference"), torch_call(effect, xt, pt, "forward+backward"),
            repeats=sizes.repeats, min_seconds=sizes.min_seconds, device=device)
    return {k: x.shape[1] / SAMPLE_RATE / v for k, v in times.items()}


def real_time_factors(sizes: Sizes, device: str = "cpu") -> dict[str, dict[str, Any]]:
    """Audio seconds per processing second of every available effect, mono float32."""
    from bench.dsp import get_effect
    from bench.dsp.chain import effect_names

    x = _noise(1, sizes.long_seconds).astype(np.float32)
    rtf: dict[str, dict[str, Any]] = {}
    for name in effect_names():
        effect = get_effect(name)
        reason = effect.available()
        rtf[name] = {"skipped": reason} if reason else effect_rtf(effect, x, sizes, device)
    for name, counterpart in COUNTERPARTS.items():
        if name in rtf and "reference" in rtf.get(counterpart, {}):
            rtf[name]["pedalboard"] = {"effect": counterpart,
                                       "rtf": rtf[counterpart]["reference"]}
    return rtf


def run_perf(json_path: Path | None = None, results_dir: Path = Path("results"), *,
             reports_dir: Path = Path("reports"), quick: bool = False, device: str = "cpu",
             steps: dict[str, Any] | None = None) -> dict:
    """Measure ratios and real-time factors with the torch side on ``device``; write them, and
    ``steps`` (``bench.step_scaling.deepafx_steps``) when given, to JSON and the runtime.md
    section."""
    from bench.device import name

    env.limit_threads()
    sizes = QUICK if quick else Sizes()
    started = datetime.now(UTC)
    where = name(device)
    perf = {
        "schema": 1,
        "machine_id": env.machine_id(where),
        "timestamp": started.isoformat(timespec="seconds"),
        "created_utc": started.isoformat(timespec="seconds"),
        "quick": quick,
        "sample_rate": SAMPLE_RATE,
        "sizes": sizes.__dict__,
        "machine": machine_info(where),
        "ratios": kernel_ratios(sizes, device),
        "rtf": real_time_factors(sizes, device),
    }
    if steps is not None:
        perf["deepafx_step"] = steps
    perf["machine"]["load_average_end"] = list(os.getloadavg())
    perf["all_pass"] = all(r["pass"] is not False for r in perf["ratios"].values())
    machine = re.sub(r"[^A-Za-z0-9_.-]+", "_", perf["machine_id"])
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    paths = [Path(results_dir) / "perf" / f"perf-{machine}-{stamp}.json"]
    if json_path is not None:
        paths.append(Path(json_path))
    for path in paths:
        write_json(path, perf)
    write_runtime_section(Path(reports_dir) / "runtime.md", render_markdown(perf))
    print(render_markdown(perf))
    return perf


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically."""
    _write_atomic(path, json.dumps(data, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_runtime_section(path: Path, section: str, marker: str = "dsp.perf") -> None:
    """Replace (or append) one section of a Markdown file, between the markers
    ``<!-- bench.{marker}:begin -->`` and ``<!-- bench.{marker}:end -->``."""
    begin, end = f"<!-- bench.{marker}:begin -->", f"<!-- bench.{marker}:end -->"
    block = f"{begin}\n{section.rstrip()}\n{end}\n"
    text = path.read_text() if path.exists() else "# Runtime\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    _write_atomic(path, text)


def render_markdown(perf: dict) -> str:
    """The "Kernel ratios" and "Real-time factors" Markdown sections of one perf run."""
    m = perf["machine"]
    load = ", ".join(f"{v:.2f}" for v in m["load_average"])
    lines = [
        "## Kernel ratios", "",
        f"{perf['created_utc']} on {m['node']} ({m['cpu']}, {m['cpu_count']} cores, load {load}); "
        f"torch {m['torch']}, numba {m['numba']}, one torch and one Numba thread; medians of "
        f"interleaved repeats{' (quick sizes)' if perf.get('quick') else ''}.", "",
        "| ratio | value | target | pass | what |", "|---|---|---|---|---|",
    ]
    for name, r in perf["ratios"].items():
        if "bound" in r:
            value, target, ok = f"{r['value']:.2f} ns", f"bound ≈ {r['bound']} ns", "-"
        elif r["target"] is None:
            value, target, ok = f"{r['value']:.2f}", "-", "-"
        else:
            value, target = f"{r['value']:.2f}", f"{r['op']} {r['target']:g}"
            ok = "yes" if r["pass"] else "**no**"
        lines.append(f"| {name} | {value} | {target} | {ok} | {r['what']} |")
    lines += [
        "", "## Real-time factors", "",
        f"Audio seconds processed per second, mono float32, {perf['sample_rate']} Hz, default "
        "parameters, one thread.", "",
        "| effect | reference | torch forward (no grad) | torch forward+backward | pedalboard |",
        "|---|---|---|---|---|",
    ]
    for name, row in perf["rtf"].items():
        if "skipped" in row:
            lines.append(f"| {name} | skipped: {row['skipped']} | | | |")
            continue
        pedal = row.get("pedalboard")
        cells = [_fmt(row.get(k)) for k in ("reference", "torch_forward", "torch_forward_backward")]
        cells.append(f"{_fmt(pedal['rtf'])} ({pedal['effect']})" if pedal else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "deepafx_step" in perf:
        lines += _deepafx_step_markdown(perf["deepafx_step"], m.get("device", "cpu"))
    return "\n".join(lines) + "\n"


def _deepafx_step_markdown(step: dict[str, Any], device: str) -> list[str]:
    """The "Training step at DeepAFx-ST's sizes" table."""
    lines = [
        "", "## Training step at DeepAFx-ST's sizes", "",
        f"Seconds per step on {device}: batch {step['batch']} × {step['seconds']:g}-s clips at "
        f"{step['sample_rate']} Hz of noise through each gradient strategy's effect layer on "
        "peq → compressor, DeepAFx-ST's MR-STFT + 100·L1 loss and the backward (no encoder or "
        "controller, which DeepAFx-ST's step includes); one torch thread, median of repeats. "
        "DeepAFx-ST's column is its GTX 1080 Ti step (batch 4, 5-s clips at 24 kHz, encoder, "
        "controller, effect, loss, backward and Adam).", "",
        f"| strategy | s per step | vs {EXACT_STRATEGY} | DeepAFx-ST GTX 1080 Ti (s) | "
        "DeepAFx-ST vs autodiff |", "|---|---|---|---|---|"]
    for strategy, row in step["strategies"].items():
        if row["step_s"] is None:
            lines.append(f"| {strategy} | failed: {row['error']} | | | |")
            continue
        paper, ratio = row["deepafx_st_gpu_s"], row["vs_exact"]
        paper_ratio = paper and paper / DEEPAFX_ST_GPU_STEP_SECONDS[EXACT_STRATEGY]
        lines.append(f"| {strategy} | {row['step_s']:.3f} | {_times(ratio)} | "
                     f"{'-' if paper is None else f'{paper:.3f}'} | {_times(paper_ratio)} |")
    return lines


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}×"


def _fmt(rtf: float | None) -> str:
    return "-" if rtf is None else f"{rtf:,.0f}×"
