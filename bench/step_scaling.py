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

from bench.baselines import DEEPAFX_ST_CHAIN
from bench.data import TrainingAudio
from bench.results import PERF_SUBDIR

LENGTHS_S = (0.5, 1.0, 2.0, 4.0)
WHAT = ("Forward and backward of each gradient strategy's effect layer on "
        f"{' → '.join(DEEPAFX_ST_CHAIN)} (L1 loss to a fixed target, default hyperparameters, "
        "proxies pre-trained at the smoke budget), one torch thread.")


def measure_step_scaling(results_dir: Path, lengths_s: tuple[float, ...] = LENGTHS_S, *,
                         strategies: list[str] | None = None, sample_rate: int = 16000,
                         batch: int = 2, repeats: int = 3, cache_dir: Path | None = None,
                         seed: int = 0) -> Path:
    """Time one training step of every (or the named) gradient strategy's effect layer that
    trains learners, for each clip length; write the JSON under ``<results_dir>/perf/`` and
    return its path.

    A strategy whose layer cannot be built or run is recorded with its error, not raised.
    """
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
        entries = {cls.name: _time_strategy(cls, lengths_s, sample_rate, batch, repeats,
                                            cache_dir, seed) for cls in chosen}
    finally:
        torch.set_num_threads(threads)
    now = datetime.now(UTC)
    data = {"kind": "scaling", "machine_id": env.machine_id(),
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "git_sha": env.git_state()[0],
            "what": WHAT, "chain": list(DEEPAFX_ST_CHAIN), "sample_rate": sample_rate,
            "batch": batch, "repeats": repeats, "lengths_s": list(lengths_s), "strategies": entries}
    path = Path(results_dir) / PERF_SUBDIR / f"scaling-{now:%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def _time_strategy(cls: type, lengths_s: tuple[float, ...], sample_rate: int, batch: int,
                   repeats: int, cache_dir: Path | None, seed: int) -> dict[str, Any]:
    """Median step seconds per clip length for one strategy, or the error that stopped it."""
    import torch

    from bench.base import RunContext
    from bench.budgets import get_budget
    from bench.data import default_cache_dir
    from bench.dsp import Chain

    chain = Chain(list(DEEPAFX_ST_CHAIN))
    rng = np.random.default_rng(seed)
    ctx = RunContext(budget=get_budget("smoke"), seed=seed, split="train",
                     results_dir=Path("."), cache_dir=Path(cache_dir or default_cache_dir()),
                     progress=False)
    try:
        train_audio = 0.1 * rng.standard_normal((8, round(sample_rate * max(lengths_s))))
        layer = cls().effect_layer(chain, sample_rate, ctx, TrainingAudio("noise", train_audio))
        times = []
        for seconds in lengths_s:
            n = round(seconds * sample_rate)
            x = torch.from_numpy(0.1 * rng.standard_normal((batch, n))).float()
            target = torch.from_numpy(0.1 * rng.standard_normal((batch, n))).float()
            p0 = torch.from_numpy(rng.uniform(0.2, 0.8, (batch, chain.n_params))).float()
            samples = []
            for i in range(repeats + 1):  # the first step warms up (JIT, caches) and is dropped
                p = p0.clone().requires_grad_(True)
                start = time.perf_counter()
                (layer(x, p) - target).abs().mean().backward()
                if i:
                    samples.append(time.perf_counter() - start)
            times.append(statistics.median(samples))
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        return {"step_s": None, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return {"step_s": times, "error": None}
