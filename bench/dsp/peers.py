"""`python -m bench perf --peers`: the exact effects against peer libraries, side by side.

Each differentiable peer (philtorch, torchlpc, dasp-pytorch for the 6-band EQ; torchcomp and
dasp-pytorch for the compressor) is fed the project's own parameter mapping (for the EQ, the
very biquad coefficients of ``peq.sos``), so the filters are identical. Before timing, each
peer's output is compared with the project's Numba reference and its gradients (w.r.t. the
signal and the normalized parameters) with the project's; a peer that disagrees is still timed
but flagged "not equivalent" with the reason. Timings: forward + backward of a mean-square loss,
one torch and one Numba thread, ``medians`` of calls interleaved pairwise: each peer with the
project in the same precision, and the project's float32 with its float64. pedalboard's
compressor is compared forward-only with the Numba reference.
Peers come from the optional extra ``afx-bench[peers]``; a missing one is skipped with a message.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.dsp.perf import (
    _write_atomic,
    machine_info,
    medians,
    write_runtime_section,
)
from bench.env import limit_threads

SAMPLE_RATE = 44100
EXTRA = "afx-bench[peers]"
MARKER = "peers"
"""runtime.md section marker: <!-- bench.peers:begin --> … <!-- bench.peers:end -->."""
TOLERANCE = {"float64": 1e-6, "float32": 1e-3}
"""Largest relative error (max |peer - project| / max |project|) of the output and of each
gradient for a peer to count as equivalent."""
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Sizes:
    """Batch, clip length and repeats of a run (``QUICK`` shrinks them for tests)."""

    batch: int = 8
    seconds: float = 2.0
    repeats: int = 9


QUICK = Sizes(batch=2, seconds=0.05, repeats=1)


@dataclass(frozen=True)
class Peer:
    """One implementation: ``build(torch)`` returns fn(x, p) -> y, or raises ImportError."""

    name: str
    module: str
    build: Callable[[Any], Callable[[Any, Any], Any]]
    differs: str | None = None
    """What the peer cannot express (and what the check therefore flags), None if nothing."""
    settings: dict[str, float] = field(default_factory=dict)
    """Normalized parameters overridden for this peer (and its reference), e.g. a hard knee."""
    backward: bool = True


def _effect(name: str) -> Any:
    from bench.dsp import get_effect

    return get_effect(name)


def _sos(p: Any, dtype: Any) -> Any:
    """The project's EQ coefficients (batch, 6, 5) for normalized p, in the signal's dtype."""
    import torch

    peq = _effect("peq")
    return peq.sos(torch, peq.physical(p, SAMPLE_RATE), SAMPLE_RATE).to(dtype)


def _philtorch(torch: Any) -> Callable[[Any, Any], Any]:
    from philtorch.lti import lfilter

    def run(x: Any, p: Any) -> Any:
        sos = _sos(p, x.dtype)
        for k in range(sos.shape[1]):  # direct form I: its fastest form here
            x = lfilter(sos[:, k, :3], sos[:, k, 3:], x, form="df1")
        return x
    return run


def _torchlpc(torch: Any) -> Callable[[Any, Any], Any]:
    from torchlpc import sample_wise_lpc

    def run(x: Any, p: Any) -> Any:
        sos = _sos(p, x.dtype)
        for k in range(sos.shape[1]):  # per biquad: 3-tap FIR, then the all-pole recursion
            padded = torch.nn.functional.pad(x, (2, 0))
            b = sos[:, k, :3, None]
            fir = b[:, 0] * x + b[:, 1] * padded[:, 1:-1] + b[:, 2] * padded[:, :-2]
            x = sample_wise_lpc(fir, sos[:, k, None, 3:].expand(-1, x.shape[1], -1))
        return x
    return run


def _dasp_eq(torch: Any) -> Callable[[Any, Any], Any]:
    from dasp_pytorch.signal import sosfilt_via_fsm

    def run(x: Any, p: Any) -> Any:
        sos = _sos(p, x.dtype)
        ones = torch.ones_like(sos[..., :1])
        full = torch.cat([sos[..., :3], ones, sos[..., 3:]], dim=-1)
        return sosfilt_via_fsm(full, x[:, None]).squeeze(1)
    return run


def _values(p: Any, dtype: Any) -> dict[str, Any]:
    """The compressor's physical values for normalized p, in the signal's dtype."""
    comp = _effect("compressor")
    return {k: v.to(dtype) for k, v in comp.physical(p, SAMPLE_RATE).items()}


def _smoothing(torch: Any, v: dict[str, Any]) -> tuple[Any, Any]:
    """torchcomp's smoothing coefficients (1 - the project's one-pole coefficients)."""
    from bench.dsp.compressor import coefficient

    return tuple(1 - coefficient(torch, v[k], SAMPLE_RATE) for k in ("attack", "release"))


def _torchcomp_db(torch: Any) -> Callable[[Any, Any], Any]:
    from torchcomp.core import compressor_core

    from bench.dsp._scan import static_reduction
    from bench.dsp.compressor import EPS, FLOOR_DB

    def run(x: Any, p: Any) -> Any:
        v = _values(p, x.dtype)  # the project's level detector and static curve, then torchcomp's
        static = static_reduction(x, *(v[k][:, None] for k in ("threshold", "ratio", "knee")),
                                  FLOOR_DB, EPS)
        at, rt = _smoothing(torch, v)
        # torchcomp attacks when its input falls below its state: smooth -reduction from 0
        neg = compressor_core(-static, torch.zeros_like(at), at, rt)
        return x * 10 ** ((v["makeup"][:, None] + neg) / 20)
    return run


def _torchcomp_gain(torch: Any) -> Callable[[Any, Any], Any]:
    import torchcomp

    from bench.dsp.compressor import EPS

    def run(x: Any, p: Any) -> Any:
        v = _values(p, x.dtype)
        at, rt = _smoothing(torch, v)  # the expander is parked at -1000 dB
        gain = torchcomp.compexp_gain(x.abs() + EPS, v["threshold"], v["ratio"], -1000.0, 0.5,
                                      at, rt)
        return x * gain * 10 ** (v["makeup"][:, None] / 20)
    return run


def _dasp_comp(torch: Any) -> Callable[[Any, Any], Any]:
    from dasp_pytorch.functional import compressor

    def run(x: Any, p: Any) -> Any:
        v = _values(p, x.dtype)
        return compressor(x[:, None], SAMPLE_RATE, v["threshold"], v["ratio"],
                          1e3 * v["attack"], 1e3 * v["release"], v["knee"],
                          v["makeup"]).squeeze(1)
    return run


def _pedalboard(torch: Any) -> Callable[[Any, Any], Any]:
    import pedalboard

    def run(x: Any, p: Any) -> Any:
        v = {k: a.numpy() for k, a in _values(p, torch.float64).items()}
        signal = x.numpy().astype(np.float32)
        rows = [pedalboard.Compressor(threshold_db=v["threshold"][b], ratio=v["ratio"][b],
                                      attack_ms=1e3 * v["attack"][b],
                                      release_ms=1e3 * v["release"][b])(signal[b], SAMPLE_RATE)
                * 10 ** (v["makeup"][b] / 20) for b in range(len(signal))]
        return torch.from_numpy(np.stack(rows).astype(x.numpy().dtype))
    return run


PEERS: dict[str, tuple[Peer, ...]] = {
    "peq": (
        Peer("philtorch", "philtorch", _philtorch),
        Peer("torchlpc", "torchlpc", _torchlpc),
        Peer("dasp-pytorch", "dasp_pytorch", _dasp_eq,
             differs="frequency sampling: the IIR as a time-aliased FIR"),
    ),
    "compressor": (
        Peer("torchcomp (ballistics on the dB reduction)", "torchcomp", _torchcomp_db),
        Peer("torchcomp (compexp_gain)", "torchcomp", _torchcomp_gain, settings={"knee": 0.0},
             differs="smooths the linear gain, not the dB reduction; no knee (set to 0 dB); "
                     "no -96 dB level floor"),
        Peer("dasp-pytorch", "dasp_pytorch", _dasp_comp,
             differs="ignores release (one attack-time one-pole, by frequency sampling); "
                     "level floor at 20·log10(1e-8) instead of -96 dB"),
        Peer("pedalboard (forward only)", "pedalboard", _pedalboard, backward=False,
             differs="JUCE compressor: ballistics on the level envelope, hard knee, float32"),
    ),
}
"""Peers per effect. Ratios are peer ÷ project in the same precision."""


def load(peer: Peer) -> tuple[Callable[[Any, Any], Any] | None, str | None]:
    """The peer's fn, or None and why it is skipped (not installed, or it pulls torchaudio)."""
    import torch

    if importlib.util.find_spec(peer.module) is None:
        return None, f"{peer.module} is not installed: pip install '{EXTRA}'"
    fn = peer.build(torch)
    if "torchaudio" in sys.modules:
        return None, f"{peer.module} imports torchaudio, which the project never depends on"
    return fn, None


def _inputs(effect: Any, sizes: Sizes, peer: Peer | None, seed: int = 0) -> tuple[Any, Any]:
    """White noise at -20 dBFS and uniform normalized settings (with the peer's overrides)."""
    import torch

    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((sizes.batch, int(sizes.seconds * SAMPLE_RATE)))
    p = rng.uniform(size=(sizes.batch, effect.n_params))
    names = [s.name for s in effect.params(SAMPLE_RATE)]
    for name, value in (peer.settings if peer else {}).items():
        p[:, names.index(name)] = value
    return torch.from_numpy(x), torch.from_numpy(p)


def _run(fn: Callable[[Any, Any], Any], x: Any, p: Any, backward: bool,
         grad: Any) -> tuple[Any, ...]:
    """Output and, with ``backward``, the gradients of <y, grad> w.r.t. x and p (zero where
    the peer has none)."""
    import torch

    x, p = x.clone().requires_grad_(backward), p.clone().requires_grad_(backward)
    with torch.set_grad_enabled(backward):
        y = fn(x, p)
    if not backward:
        return (y.detach(),)
    y.backward(grad.to(y.dtype))
    return y.detach(), *(torch.zeros_like(a) if a.grad is None else a.grad for a in (x, p))


def _rel(a: Any, b: Any) -> float:
    """max |a - b| / max |b| in float64 (NaN if a has NaN: then not equivalent)."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


def check(effect: Any, fn: Callable[[Any, Any], Any], peer: Peer | None, dtype: str,
          sizes: Sizes) -> dict[str, float]:
    """Relative errors of output (vs the Numba reference) and gradients (vs the project's)."""
    import torch

    x, p = _inputs(effect, sizes, peer)
    xd, pd = _cast(x, dtype), _cast(p, dtype)
    reference = torch.from_numpy(effect.process(xd.double().numpy(), pd.double().numpy(),
                                                SAMPLE_RATE))
    backward = peer is None or peer.backward
    grad = torch.from_numpy(np.random.default_rng(1).standard_normal(tuple(x.shape)))
    got = _run(fn, xd, pd, backward, grad)
    errors = {"output": _rel(got[0], reference)}
    if backward:
        own = _run(lambda a, b: effect.torch_process(a, b, SAMPLE_RATE), x, p, True, grad)
        errors["grad_x"], errors["grad_p"] = _rel(got[1], own[1]), _rel(got[2], own[2])
    return errors


def _timed(fn: Callable[[Any, Any], Any], x: Any, p: Any, backward: bool) -> Callable[[], None]:
    """One timed call: forward (+ backward of the mean-square loss)."""
    import torch

    def call() -> None:
        xg, pg = x.clone().requires_grad_(backward), p.clone().requires_grad_(backward)
        with torch.set_grad_enabled(backward):
            y = fn(xg, pg)
            if backward:
                y.square().mean().backward()
    return call


REFERENCE = "Numba reference (forward only)"
"""The row forward-only peers are divided by."""


def compare_effect(name: str, sizes: Sizes) -> dict[str, Any]:
    """Check, then time, the project and every peer of one effect in both precisions."""
    effect = _effect(name)
    rows: dict[str, dict[str, Any]] = {}
    calls: dict[tuple[str, str], Callable[[], None]] = {}
    for peer in (None, *PEERS[name]):
        fn, skipped = (_project(effect), None) if peer is None else load(peer)
        if fn is None:
            rows[row_name(peer)] = {"skipped": skipped}
            print(f"peers: {name}: skipping {row_name(peer)}: {skipped}", flush=True)
            continue
        backward = peer is None or peer.backward
        row = rows[row_name(peer)] = {"differs": peer and peer.differs, "backward": backward,
                                      "errors": {}, "equivalent": {}}
        x, p = _inputs(effect, sizes, peer)
        for dtype in DTYPES:
            row["errors"][dtype] = errors = check(effect, fn, peer, dtype, sizes)
            row["equivalent"][dtype] = all(e <= TOLERANCE[dtype] for e in errors.values())
            xd, pd = _cast(x, dtype), _cast(p, dtype)
            calls[(row_name(peer), dtype)] = _timed(fn, xd, pd, backward)
            if not backward:
                rows[REFERENCE] = {"differs": None, "backward": False, "errors": {},
                                   "equivalent": {d: True for d in DTYPES}}
                calls[(REFERENCE, dtype)] = _reference_call(effect, xd, pd)
    _time(rows, calls, sizes.repeats)
    return rows


def _time(rows: dict[str, dict[str, Any]], calls: dict[tuple[str, str], Callable[[], None]],
          repeats: int) -> None:
    """Fill ms and ratio: the project (and the reference) float64 against float32, then each
    peer against its base in the same precision, interleaved pairwise. Pairs rather than one
    interleaving of everything: a call right after a peer that churns hundreds of MB (dasp's
    FFTs) pays page faults, which would otherwise land on a random neighbour."""
    for base in ("project", REFERENCE):
        if base in rows:
            times = medians(*(calls[(base, d)] for d in DTYPES), repeats=repeats, min_seconds=0)
            rows[base]["ms"] = {d: 1e3 * t for d, t in zip(DTYPES, times, strict=True)}
    for (who, dtype), call in calls.items():
        base = "project" if rows[who]["backward"] else REFERENCE
        if who != base:
            own, peer = medians(calls[(base, dtype)], call, repeats=repeats, min_seconds=0)
            rows[who].setdefault("ms", {})[dtype] = 1e3 * peer
            rows[who].setdefault("ratio", {})[dtype] = peer / own


def _project(effect: Any) -> Callable[[Any, Any], Any]:
    return lambda x, p: effect.torch_process(x, p, SAMPLE_RATE)


def _cast(a: Any, dtype: str) -> Any:
    import torch

    return a.to(getattr(torch, dtype))


def _reference_call(effect: Any, x: Any, p: Any) -> Callable[[], None]:
    """One timed forward call of the Numba reference on NumPy arrays."""
    xn, pn = x.numpy(), p.numpy()
    return lambda: effect.process(xn, pn, SAMPLE_RATE)


def row_name(peer: Peer | None) -> str:
    """The row a candidate's numbers go to."""
    return "project" if peer is None else peer.name


def summary(effects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets: the project is the fastest differentiable implementation in both
    precisions, and its float32 is never slower than its float64."""
    out: dict[str, Any] = {}
    for name, rows in effects.items():
        own = rows["project"]["ms"]
        for dtype in DTYPES:
            rivals = [r["ratio"][dtype] for r in rows.values()
                      if r.get("backward") and "ratio" in r]
            out[f"{name}_fastest_{dtype}"] = {
                "pass": all(ratio > 1 for ratio in rivals),
                "value": min(rivals) if rivals else None,
                "what": f"{name}: fastest differentiable peer ÷ project, {dtype}"}
        out[f"{name}_float32_vs_float64"] = {
            "pass": own["float32"] <= own["float64"], "value": own["float32"] / own["float64"],
            "what": f"{name}: project float32 ÷ float64 (target <= 1)"}
    return out


def run_peers(json_path: Path | None = None, results_dir: Path = Path("results"), *,
              reports_dir: Path = Path("reports"), quick: bool = False) -> dict[str, Any]:
    """Compare every effect with its peers; write JSON and the runtime.md "Peers" section."""
    limit_threads()
    sizes = QUICK if quick else Sizes()
    started = datetime.now(UTC)
    from bench import env

    effects = {name: compare_effect(name, sizes) for name in PEERS}
    result = {
        "schema": 1, "kind": "peers", "machine_id": env.machine_id(),
        "created_utc": started.isoformat(timespec="seconds"), "quick": quick,
        "sample_rate": SAMPLE_RATE, "sizes": sizes.__dict__, "tolerance": TOLERANCE,
        "machine": {**machine_info(), **{name: env.package_version(name) for name in (
            "philtorch", "torchlpc", "torchcomp", "dasp-pytorch")}},
        "effects": effects, "targets": summary(effects),
    }
    result["machine"]["load_average_end"] = list(os.getloadavg())
    machine = re.sub(r"[^A-Za-z0-9_.-]+", "_", env.machine_id())
    paths = [Path(results_dir) / "perf" / f"peers-{machine}-{started:%Y%m%dT%H%M%SZ}.json"]
    paths += [Path(json_path)] if json_path is not None else []
    for path in paths:
        _write_atomic(path, json.dumps(result, indent=2) + "\n")
    text = render_markdown(result)
    write_runtime_section(Path(reports_dir) / "runtime.md", text, marker=MARKER)
    print(text)
    return result


def _errors(row: dict[str, Any], dtype: str) -> str:
    errors = row.get("errors", {}).get(dtype)
    if errors is None:
        return "-"
    return " / ".join(f"{errors[k]:.0e}" for k in ("output", "grad_x", "grad_p") if k in errors)


def _ms(row: dict[str, Any], dtype: str) -> str:
    ms, ratio = row["ms"][dtype], row.get("ratio", {}).get(dtype)
    return f"{ms:.1f}" + (f" ({ratio:.2f}×)" if ratio is not None else "")


def render_markdown(result: dict[str, Any]) -> str:
    """The "Peers" Markdown section of one run."""
    m, sizes = result["machine"], result["sizes"]
    load = ", ".join(f"{v:.2f}" for v in m["load_average"])
    lines = [
        "## Peers", "",
        f"{result['created_utc']} on {m['node']} ({m['cpu']}, {m['cpu_count']} cores, load "
        f"{load}); torch {m['torch']}, one torch and one Numba thread. Batch {sizes['batch']} × "
        f"{sizes['seconds']:g} s at {result['sample_rate']} Hz, forward + backward of a "
        f"mean-square loss, medians of {sizes['repeats']} repeats interleaved pairwise"
        f"{' (quick sizes)' if result['quick'] else ''}. Ratios: ÷ the project in the same "
        "precision, timed in the same pair (forward-only rows: ÷ the Numba reference); the "
        "project's own ms come from its float64/float32 pair. Errors: max |error| / max "
        "|value| of output (vs the Numba reference) / gradient w.r.t. the signal / w.r.t. the "
        "normalized parameters (vs the project's); equivalent when all are <= "
        f"{result['tolerance']['float64']:g} (float64) and {result['tolerance']['float32']:g} "
        "(float32).", "",
    ]
    for name, rows in result["effects"].items():
        lines += [f"### {name}", "",
                  "| implementation | float64 ms (ratio) | float32 ms (ratio) | errors float64 | "
                  "errors float32 | equivalent |", "|---|---|---|---|---|---|"]
        for who, row in rows.items():
            if "skipped" in row:
                lines.append(f"| {who} | skipped: {row['skipped']} | | | | |")
                continue
            same = all(row["equivalent"].values())
            verdict = "yes" if same else f"**not equivalent**: {row['differs'] or 'see errors'}"
            if same and row.get("differs"):
                verdict += f" (within tolerance here; {row['differs']})"
            cells = [_ms(row, d) for d in DTYPES] + [_errors(row, d) for d in DTYPES]
            lines.append(f"| {who} | " + " | ".join(cells) + f" | {verdict} |")
        lines.append("")
    lines += ["| target | value | pass |", "|---|---|---|"]
    for t in result["targets"].values():
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        lines.append(f"| {t['what']} | {value} | {'yes' if t['pass'] else '**no**'} |")
    return "\n".join(lines) + "\n"
