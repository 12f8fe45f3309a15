"""`python -m bench perf --scaling`: how the training-step time of each gradient strategy's
effect layer grows with clip length.

Measured in one run, on one torch thread, for every registered gradient strategy on the
DeepAFx-ST chain (``bench.baselines.DEEPAFX_ST_CHAIN``), so the numbers are comparable with each
other (never with another machine's). The JSON goes to
``<results>/perf/scaling-<timestamp>.json``, where the runtime report finds it.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.baselines import (
    DEEPAFX_ST_CHAIN,
    DEEPAFX_ST_GPU_STEP_SECONDS,
    DEEPAFX_ST_TIMING,
    EXACT_STRATEGY,
)
from bench.data import TrainingAudio
from bench.results import PERF_SUBDIR

LENGTHS_S = (0.5, 1.0, 2.0, 4.0)
PROXY_SECONDS = 2.0
WHAT = ("Forward and backward of each gradient strategy's effect layer on "
        f"{' → '.join(DEEPAFX_ST_CHAIN)} (L1 loss to a fixed target, default hyperparameters, "
        "proxies pre-trained at the smoke budget), one torch thread.")


def measure_step_scaling(results_dir: Path, lengths_s: tuple[float, ...] = LENGTHS_S, *,
                         strategies: list[str] | None = None, sample_rate: int = 16000,
                         batch: int = 2, repeats: int = 3, cache_dir: Path | None = None,
                         seed: int = 0, device: str = "cpu") -> Path:
    """Time one training step of every (or the named) gradient strategy's effect layer that
    trains learners, for each clip length on ``device``; write the JSON under
    ``<results_dir>/perf/`` and return its path.

    A strategy whose layer cannot be built or run is recorded with its error, not raised.
    """
    from bench import env
    from bench.device import name

    entries = time_steps(lengths_s, strategies=strategies, sample_rate=sample_rate, batch=batch,
                         repeats=repeats, cache_dir=cache_dir, seed=seed, device=device)
    now = datetime.now(UTC)
    data = {"kind": "scaling", "machine_id": env.machine_id(name(device)),
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "git_sha": env.git_state()[0],
            "what": WHAT, "chain": list(DEEPAFX_ST_CHAIN), "sample_rate": sample_rate,
            "batch": batch, "repeats": repeats, "lengths_s": list(lengths_s), "strategies": entries}
    path = Path(results_dir) / PERF_SUBDIR / f"scaling-{now:%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def deepafx_steps(device: str, quick: bool, cache_dir: Path | None) -> dict[str, Any]:
    """Each gradient strategy's training step at DeepAFx-ST's timing sizes (batch 4, 5-s clips
    at 24 kHz; ``quick``: batch 2, 0.25 s) on ``device``: its effect layer on the DeepAFx-ST
    chain, DeepAFx-ST's loss and the backward (no learner), next to DeepAFx-ST's GTX 1080 Ti
    seconds for its whole step."""
    batch, seconds = (2, 0.25) if quick else DEEPAFX_ST_TIMING
    steps = time_steps((seconds,), sample_rate=24000, batch=batch, repeats=2 if quick else 5,
                       cache_dir=cache_dir, device=device, loss="deepafx",
                       proxy_budget="smoke" if quick else "quick")
    base = (steps.get(EXACT_STRATEGY, {}).get("step_s") or [None])[0]
    rows = {}
    for strategy, entry in steps.items():
        step = (entry["step_s"] or [None])[0]
        rows[strategy] = {"step_s": step, "error": entry["error"],
                          "vs_exact": step / base if step and base else None,
                          "deepafx_st_gpu_s": DEEPAFX_ST_GPU_STEP_SECONDS.get(strategy)}
    return {"batch": batch, "seconds": seconds, "sample_rate": 24000, "strategies": rows}


def time_steps(lengths_s: tuple[float, ...], *, strategies: list[str] | None = None,
               sample_rate: int = 16000, batch: int = 2, repeats: int = 3,
               cache_dir: Path | None = None, seed: int = 0, device: str = "cpu",
               loss: str = "l1", proxy_budget: str = "smoke") -> dict[str, dict[str, Any]]:
    """Median step seconds per clip length of every (or the named) gradient strategy's effect
    layer on the DeepAFx-ST chain, on one torch thread and ``device``: its forward, ``loss``
    ("l1" to a fixed target, or "deepafx": DeepAFx-ST's MR-STFT + 100·L1) and backward, proxies
    pre-trained at ``proxy_budget`` on noise. A strategy that fails is recorded with its
    error."""
    import torch

    from bench import env
    from bench.gradient import GradientStrategy
    from bench.registry import registry

    threads = torch.get_num_threads()
    env.limit_threads()
    try:
        chosen = [c for c in registry("strategy").classes()
                  if issubclass(c, GradientStrategy) and c.trains_learner and not c.toy
                  and (strategies is None or c.name in strategies)]
        return {cls.name: _time_strategy(cls, lengths_s, sample_rate, batch, repeats,
                                         cache_dir, seed, device, loss, proxy_budget)
                for cls in chosen}
    finally:
        torch.set_num_threads(threads)


def _loss(kind: str, samples: int) -> Any:
    """The step's loss between output and target: plain L1, or DeepAFx-ST's training loss (its
    FFT sizes that fit ``samples``)."""
    if kind == "l1":
        return lambda y, target: (y - target).abs().mean()
    from bench.metrics import DEEPAFX_FFT_SIZES, mrstft_loss

    mrstft = mrstft_loss([n for n in DEEPAFX_FFT_SIZES if n // 2 < samples])
    return lambda y, target: mrstft(y[:, None], target[:, None]) + 100 * (y - target).abs().mean()


def _time_strategy(cls: type, lengths_s: tuple[float, ...], sample_rate: int, batch: int,
                   repeats: int, cache_dir: Path | None, seed: int, device: str, loss: str,
                   proxy_budget: str) -> dict[str, Any]:
    """Median step seconds per clip length for one strategy, or the error that stopped it."""
    import torch

    from bench.base import RunContext
    from bench.budgets import get_budget
    from bench.data import default_cache_dir
    from bench.device import synchronize, to_device
    from bench.dsp import Chain

    chain = Chain(list(DEEPAFX_ST_CHAIN))
    rng = np.random.default_rng(seed)
    ctx = RunContext(budget=get_budget(proxy_budget), seed=seed, split="train",
                     results_dir=Path("."), cache_dir=Path(cache_dir or default_cache_dir()),
                     progress=False, device=device)
    try:  # proxies pre-train on at least PROXY_SECONDS of audio (their loudness checks)
        train_audio = 0.1 * rng.standard_normal(
            (8, round(sample_rate * max(*lengths_s, PROXY_SECONDS))))
        layer = cls().effect_layer(chain, sample_rate, ctx, TrainingAudio("noise", train_audio))
        times = []
        for seconds in lengths_s:
            n = round(seconds * sample_rate)
            step_loss = _loss(loss, n)
            x, target = (to_device(0.1 * rng.standard_normal((batch, n)), device,
                                   dtype=torch.float32) for _ in range(2))
            p0 = to_device(rng.uniform(0.2, 0.8, (batch, chain.n_params)), device,
                           dtype=torch.float32)
            samples = []
            for i in range(repeats + 1):  # the first step warms up (JIT, caches) and is dropped
                p = p0.clone().requires_grad_(True)
                synchronize(device)
                start = time.perf_counter()
                step_loss(layer(x, p), target).backward()
                synchronize(device)
                if i:
                    samples.append(time.perf_counter() - start)
            times.append(statistics.median(samples))
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        return {"step_s": None, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return {"step_s": times, "error": None}
