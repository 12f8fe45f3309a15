"""Why learners miss loudness (issue 14, point 5): train autodiff on a synthetic style task at
the standard sizes with a few waveform-L1 weights, then split each model's LUFS error into bias
and spread and ask which level its loss and the MR-STFT metric prefer.

    python scripts/loudness_study.py --task synthetic_speech --weights 100,10,0 --steps 1200

Trained models are cached under ``--artefacts`` (one folder per weight), so a rerun only
re-analyses. Prints one JSON object per weight and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tasks.examples import ExampleSet
    from tasks.style_transfer import StyleTransfer


def analyse(task: StyleTransfer, test: ExampleSet, p: np.ndarray, sr: int) -> dict[str, float]:
    """Level-error decomposition of the outputs rendered with ``p`` against the targets."""
    import torch

    import tasks.style_transfer as st
    from bench.base import Counters
    from bench.metrics import METRICS, mrstft_loss
    from bench.metrics.audio import integrated_loudness

    y = Counters().render(task.chain, test.dry, p, sr)
    ly, lt, lr = (integrated_loudness(a, sr) for a in (y, test.wet, test.reference))
    err = ly - lt
    mrstft = METRICS["mrstft"].fn
    loss_fn, target = mrstft_loss(st.TRAIN_FFTS), torch.from_numpy(test.wet).float()

    def train_loss(gain_db: float) -> float:
        out = torch.from_numpy(y * 10 ** (gain_db / 20)).float()
        with torch.no_grad():
            return float(loss_fn(out[:, None], target[:, None])
                         + st.L1_WEIGHT * (out - target).abs().mean())

    offsets = np.arange(-3.0, 4.5, 0.5)
    losses = [train_loss(g) for g in offsets]
    return {
        "lufs_abs_error": float(np.abs(err).mean()), "lufs_bias": float(err.mean()),
        "lufs_sd": float(err.std()),
        "mrstft": float(mrstft(y, test.wet, sr)),
        "mrstft_level_matched_to_target": float(mrstft(y * 10 ** (-err[:, None] / 20),
                                                       test.wet, sr)),
        "reference_vs_target_lufs": float(np.abs(lr - lt).mean()),
        "train_loss_best_offset_db": float(offsets[int(np.argmin(losses))]),
        "lufs_best_offset_db": float(-err.mean()),
    }


def level_differences(domain: str) -> dict[str, list[float]]:
    """Percentiles (5, 25, 50, 75, 95) of reference minus input loudness (LU): the synthetic
    task's training pairs against the realistic task's test pairs of ``domain``."""
    from bench.base import RunContext
    from bench.budgets import get_budget
    from bench.data import default_cache_dir
    from bench.metrics.audio import integrated_loudness
    from bench.registry import registry

    out = {}
    for name, split in ((f"synthetic_{domain}", "train"), (f"realistic_{domain}", "test")):
        task = registry("task").get(name)()
        budget = task.sized(get_budget("standard"))
        ctx = RunContext(budget=budget, seed=0, split=split, results_dir=Path("."),
                         cache_dir=default_cache_dir(), progress=False)
        ex = task.examples(split, ctx, 64 if split == "train" else budget.eval_examples)
        diff = (integrated_loudness(ex.reference, budget.sample_rate)
                - integrated_loudness(ex.dry, budget.sample_rate))
        out[f"{name}/{split}"] = [round(float(v), 1) for v in
                                  np.percentile(diff, [5, 25, 50, 75, 95])]
    return out


def main() -> None:
    """Train (or load) one model per L1 weight and print its loudness analysis."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="synthetic_speech")
    ap.add_argument("--weights", default="100,10,0", help="waveform-L1 weights (100: DeepAFx-ST)")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--artefacts", type=Path, default=Path("/tmp/l1exp"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from bench.env import limit_threads

    limit_threads()
    import tasks.style_transfer as st
    from bench.base import RunContext
    from bench.budgets import get_budget
    from bench.data import default_cache_dir
    from bench.registry import discover, registry
    from strategies.autodiff import Autodiff
    from tasks import _solve

    discover()
    task = registry("task").get(args.task)()
    budget = dataclasses.replace(task.sized(get_budget("standard")), steps=args.steps)
    rows = []
    for weight in (float(w) for w in args.weights.split(",")):
        st.L1_WEIGHT = weight
        ctx = RunContext(budget=budget, seed=args.seed, split="test", results_dir=args.artefacts,
                         cache_dir=default_cache_dir(), progress=False,
                         artefacts=args.artefacts / f"art-{args.task}-{weight:g}-{args.steps}")
        start = time.process_time()
        model, _ = task.trained(Autodiff(lr=args.lr), ctx)
        test = task.examples("test", ctx, budget.eval_examples)
        p = _solve.infer_params(model, test.dry, test.reference)
        row = {"task": args.task, "l1_weight": weight, "steps": args.steps, "seed": args.seed,
               "best_step": ctx.extra["training"].get("best_step"),
               **analyse(task, test, p, budget.sample_rate),
               "cpu_s": time.process_time() - start}
        print(json.dumps(row), flush=True)
        rows.append(row)
    levels = level_differences(task.domain)
    print(json.dumps({"reference_minus_input_lufs_percentiles": levels}))
    if args.out:
        args.out.write_text(json.dumps({"runs": rows, "reference_minus_input_lufs_percentiles":
                                        levels}, indent=1) + "\n")


if __name__ == "__main__":
    main()
