"""Tiny synthetic results for the report tests, written with the real `ResultWriter`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.results import SCHEMA_VERSION, ResultWriter, canonical_json, run_key

MACHINE = "Linux-x86_64-TestCPU-2cpu-py3.11"
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PAIRS = ("bright->warm", "warm->bright")


def make_rows(task: str, strategy: str, seed: int, metrics: dict[str, float | None], *,
              main: str, higher: bool = False, reference: bool = False, status: str = "ok",
              error: str | None = None, extra: dict[str, Any] | None = None,
              machine: str = MACHINE, budget: str = "smoke", phase: str = "final",
              solve_s: float = 1.0) -> list[dict[str, Any]]:
    """Rows of one run: one per metric; ``None`` values are failed metrics."""
    key = run_key(task=task, strategy=strategy, seed=seed, budget=budget, phase=phase)
    when = START + timedelta(minutes=seed)
    base = {
        "schema_version": SCHEMA_VERSION, "run_key": key, "phase": phase,
        "study_name": None if reference else f"{task}@1/{strategy}@1/{budget}/seed{seed}",
        "trial_number": None, "strategy": strategy, "strategy_version": "" if reference else "1",
        "is_reference": reference, "task": task, "task_version": "1", "task_family": "toy",
        "budget": budget, "train_data": None, "test_data": None,
        "train_data_fingerprint": None, "test_data_fingerprint": None, "data_skipped": None,
        "split": "test", "seed": 100 + seed, "base_seed": seed,
        "repetition": 0, "params_json": "{}", "unit": "", "n_steps": 4, "n_dsp_evals": 8,
        "n_grad_estimates": 4, "best_step": None, "converged": None, "setup_s": 0.1,
        "solve_s": solve_s, "eval_s": 0.1, "cpu_s": solve_s + 0.2,
        "extra_json": canonical_json(extra) if extra else None, "device": "cpu",
        "machine_id": machine, "host_hash": "abc", "python_version": "3.11.7",
        "torch_version": "2.13.0", "numpy_version": "2.4.6", "optuna_version": "5.0.0",
        "bench_version": "0.1.0", "git_sha": "0123456789abcdef", "git_dirty": False,
        "started_at": when, "finished_at": when + timedelta(seconds=30),
    }
    return [{**base, "metric": m, "value": np.nan if v is None else v,
             "higher_is_better": higher, "is_main_metric": m == main,
             "status": status if status != "ok" or v is not None else "failed",
             "error": error if status != "ok" or v is not None else "metric failed"}
            for m, v in metrics.items()]


def training(step_s: float) -> dict[str, Any]:
    """An extra "training" entry like `TrainingLog.summary()` writes."""
    curve = [{"step": s, "dsp_evals": 2 * s, "grad_estimates": s, "val_loss": 1.0 / s}
             for s in (1, 2, 3, 4)]
    return {"training": {"curve": curve, "step_s_median": step_s, "step_s_iqr": step_s / 10,
                         "steps_timed": 4, "reused": False}}


def write_results(results: Path, shift: float = 0.0) -> Path:
    """Two tasks × strategies × 3 seeds, references, a failure, a skip, a per-pair table,
    proxies, audio examples, a perf file and an Optuna journal; ``shift`` moves alpha's
    values (for comparisons)."""
    w = ResultWriter(results, batch_id="fixture")
    rows: list[dict[str, Any]] = []
    proxies = {"proxies": {"peq": {"pretrain_s": 3.0, "pretrain_steps": 15, "mrstft": 0.5,
                                   "lufs_error": 0.4, "rtf": 0.01, "arch": "tcn",
                                   "parameters": 100, "reused": False}}}
    for seed in range(3):
        noise = 0.01 * seed
        rows += make_rows("toy_a", "alpha", seed, {"loss": 1.0 + shift + noise, "snr": 10.0},
                          main="loss", extra=training(0.02))
        rows += make_rows("toy_a", "beta", seed, {"loss": 2.0 + noise, "snr": None},
                          main="loss", extra={**training(0.05), **proxies})
        rows += make_rows("toy_a", "gamma", seed, {"loss": 0.5 + noise, "snr": 12.0},
                          main="loss")
        rows += make_rows("toy_a", "input", seed, {"loss": 3.0 + noise, "snr": 1.0},
                          main="loss", reference=True)
        rows += make_rows("toy_a", "oracle", seed, {"loss": 0.0, "snr": 40.0}, main="loss",
                          reference=True)
        for strategy, value in (("alpha", 5.0), ("beta", 4.0), ("input", 6.0)):
            per_pair = {p: {"msd": value + i + noise} for i, p in enumerate(PAIRS)}
            rows += make_rows("toy_b", strategy, seed, {"msd": value + shift * (
                strategy == "alpha") + noise}, main="msd", reference=strategy == "input",
                extra={"per_pair": per_pair})
        rows += make_rows("toy_b", "beta_other_machine", seed, {"msd": 9.0 + noise}, main="msd",
                          machine="Linux-other-machine", extra=training(0.5))
    rows += make_rows("toy_a", "delta", 0, {"loss": None}, main="loss", status="failed",
                      error="RuntimeError: boom")
    rows += make_rows("toy_b", "gamma", 0, {"msd": None}, main="msd", status="skipped",
                      error="gamma cannot do toy_b")
    rows += make_rows("toy_a", "alpha", 9, {"loss": 99.0}, main="loss", phase="tune")
    w.add(rows)
    write_audio(results)
    perf = results / "perf"
    perf.mkdir(parents=True, exist_ok=True)
    (perf / "kernels.json").write_text(json.dumps({
        "machine_id": MACHINE, "timestamp": "2026-01-02T03:04:05Z",
        "created_utc": "2026-01-02T03:04:05Z", "sample_rate": 44100,
        "machine": {"node": "n", "cpu": "c", "cpu_count": 2, "load_average": [0.5, 0.5, 0.5],
                    "torch": "2.13.0", "numba": "0.68"},
        "ratios": {"peq_forward_vs_scipy": {"value": 0.8, "target": 1.0, "op": "<=",
                                            "pass": True, "what": "6-band forward"},
                   "biquad_ns_per_sample": {"value": 1.7, "target": None, "op": None,
                                            "pass": None, "bound": 1.6, "what": "one biquad"}},
        "rtf": {"peq": {"reference": 3000.0, "torch_forward": 2000.0,
                        "torch_forward_backward": 800.0,
                        "pedalboard": {"rtf": 1000.0, "effect": "pb_peq"}}}}))
    write_journal(results)
    return results


def write_audio(results: Path) -> None:
    """Saved examples like `RunContext.save_audio` writes them."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    root = results / "audio" / "smoke" / "toy_a" / "seed0"
    signals = {"input": ("input", "reference", "target"), "alpha": ("output",),
               "beta": ("output",)}
    for who, names in signals.items():
        (root / who).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            for name in names:
                sf.write(root / who / f"{i}_{name}.flac", 0.1 * rng.standard_normal(4000),
                         8000, subtype="PCM_16")


def write_journal(results: Path) -> None:
    """An Optuna journal with one tunable study of alpha (two parameters, four trials)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(results / "optuna.journal")))
    study = optuna.create_study(study_name="toy_a@1/alpha@1/smoke/seed0", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 0, 1) ** 2 + 0.1 * t.suggest_int("k", 1, 3),
                   n_trials=6)


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results directory with the fixture rows (built once per session)."""
    return write_results(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="session")
def reports_dir(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reports built from ``results_dir`` (once per session)."""
    from bench.report import build_reports

    out = tmp_path_factory.mktemp("reports")
    build_reports([results_dir], out)
    return out
