"""What one `python -m bench run` asked for and what every study of it shares: the options, the
context its studies write through, and the summary it prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.base import Metric
from bench.budgets import Budget
from bench.results import ResultWriter, read_results
from bench.run_once import Claims


@dataclass
class RunOptions:
    """Everything `python -m bench run` was asked to do."""

    strategies: str = "all"
    tasks: str = "all"
    budget: str = "quick"
    seed: int = 0
    seeds: int = 1
    trials: int | None = None
    final_seeds: int | None = None
    storage: str | None = None
    results_dir: Path = Path("results")
    data_root: Path | None = None
    cache_dir: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    device: str = "auto"
    data: list[str] = field(default_factory=list)       # --data DOMAIN=SPEC[,SPEC…], repeated
    test_data: list[str] = field(default_factory=list)  # --test-data DOMAIN=SPEC[,SPEC…]
    test_rate: int | None = None                        # --test-rate HZ
    best_from: Path | None = None  # --best-from: fix each cell to its best setting there


@dataclass
class Summary:
    """Counts of what one `run` invocation did, printed at the end."""

    runs: int = 0
    skipped_done: int = 0  # final and reference runs already in the results
    done_elsewhere: int = 0  # ... that another worker ran while this one worked
    failed: int = 0
    artefacts_rebuilt: int = 0  # cached models or proxies whose file could not be loaded
    lines: list[str] = field(default_factory=list)

    def counts(self, other_workers: int = 0) -> str:
        """The run counts for the closing line: here, by the other workers, done before."""
        parts = [f"{self.runs} runs ({self.failed} failed)"]
        if other_workers or self.done_elsewhere:
            who = (f"{other_workers} more worker{'s' * (other_workers > 1)}" if other_workers
                   else "other workers")
            parts.append(f"{self.done_elsewhere} by {who}")
        parts.append(f"{self.skipped_done} already done")
        return ", ".join(parts)


@dataclass
class Sweep:
    """The context every study of one `run` shares: options, budget, the result writer, the run
    keys already done, the claims shared with other workers, and the summary being filled."""

    opts: RunOptions
    budget: Budget
    writer: ResultWriter
    done: set[str]
    claims: Claims
    summary: Summary
    device: str = "cpu"
    """Where its runs put torch work (``--device``, resolved)."""

    @property
    def results_dir(self) -> Path:
        """Where rows, audio and the default storage go."""
        return Path(self.opts.results_dir)

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Write one run's rows; a run with an ok or skipped row counts as done."""
        self.writer.add(rows)
        if any(r["status"] in ("ok", "skipped") for r in rows):
            self.done.add(rows[0]["run_key"])

    def refresh_done(self) -> None:
        """Re-read the done keys (a retried trial's rows may have been written before a crash)."""
        self.done |= done_keys(self.results_dir)

    def stored_value(self, key: str) -> float | None:
        """The main metric of a run already in the results (None when it has no ok value)."""
        frame = read_results(self.results_dir)
        rows = frame[(frame.run_key == key) & frame.is_main_metric & (frame.status == "ok")]
        return float(rows.value.iloc[0]) if len(rows) else None


def done_keys(results_dir: Path) -> set[str]:
    """Run keys that already have a successful (or deliberately skipped) row set."""
    frame = read_results(results_dir)
    return set(frame.loc[frame["status"].isin(["ok", "skipped"]), "run_key"])


def compared(metric: Metric, finals: list[float | None],
             references: dict[str, list[float | None]]) -> str:
    """``msd=41.31 (input 37.36, worse than input)``: the final values next to the reference
    rows' means, judged by the metric's direction (the oracle is shown but never judged)."""
    text = f"{metric.name}={', '.join(f'{v:.4g}' for v in finals if v is not None) or 'failed'}"
    means = {w: m for w, vs in references.items() if (m := _mean(vs)) is not None}
    if not means:
        return text
    notes = [f"{w} {v:.4g}" for w, v in means.items()]
    final = _mean(finals)
    if final is not None:
        notes += [_verdict(final, v, metric.higher_is_better, w)
                  for w, v in means.items() if w != "oracle"]
    return f"{text} ({', '.join(notes)})"


def _mean(values: list[float | None]) -> float | None:
    """Mean of the values that exist (None when none does)."""
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def _verdict(value: float, reference: float, higher_is_better: bool, name: str) -> str:
    """``better than input`` / ``worse than input`` / ``same as input`` (at 4 digits)."""
    if f"{value:.4g}" == f"{reference:.4g}":
        return f"same as {name}"
    better = value > reference if higher_is_better else value < reference
    return f"{'better' if better else 'worse'} than {name}"
