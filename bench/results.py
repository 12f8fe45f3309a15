"""The tidy Parquet record of every run: schema, row assembly, an atomic per-process writer and
a reader.

One row per (run, split, metric). Parquet is the record of truth; Optuna storage is only
search state, so reports are rebuilt from these files alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench import env
from bench.base import MetricFailure, Outcome, Task
from bench.budgets import Budget
from bench.convergence import summary_converged
from bench.data_choice import DataChoice
from bench.errors import BenchError

SCHEMA_VERSION = 4
"""2 added ``best_step`` and ``converged``, 3 ``cpu_s`` (older files are read with them null),
4 the data columns (older files read their datasets as the embedded corpora, see
:func:`default_data`)."""
RUNS_SUBDIR = "runs"
PERF_SUBDIR = "perf"
STEER_SUBDIR = "steer"
"""Where `python -m bench steer` writes its experiments (JSON) under a results directory."""
"""Where `python -m bench perf` writes its JSON files, next to the runs."""

SCHEMA = pa.schema([
    ("schema_version", pa.int16()),
    ("run_key", pa.string()),
    ("batch_id", pa.string()),
    ("phase", pa.string()),             # tune | final
    ("study_name", pa.string()),
    ("trial_number", pa.int32()),
    ("strategy", pa.string()),          # a registered strategy, or input / oracle
    ("strategy_version", pa.string()),
    ("is_reference", pa.bool_()),
    ("task", pa.string()),
    ("task_version", pa.string()),
    ("task_family", pa.string()),
    ("budget", pa.string()),
    ("train_data", pa.string()),        # e.g. speech, libritts, folder:/data/x, speech+music
    ("test_data", pa.string()),         # what the metrics were measured on, @RATE if another
    ("train_data_fingerprint", pa.string()),  # of the training data this run read
    ("test_data_fingerprint", pa.string()),   # of the data its metrics were measured on
    ("data_skipped", pa.int64()),       # files of that data skipped as unreadable or too short
    ("split", pa.string()),
    ("seed", pa.int64()),
    ("base_seed", pa.int64()),
    ("repetition", pa.int16()),
    ("params_json", pa.string()),
    ("metric", pa.string()),
    ("value", pa.float64()),
    ("unit", pa.string()),
    ("higher_is_better", pa.bool_()),
    ("is_main_metric", pa.bool_()),
    ("status", pa.string()),            # ok | failed | pruned | skipped
    ("error", pa.string()),
    ("n_steps", pa.int64()),
    ("n_dsp_evals", pa.int64()),
    ("n_grad_estimates", pa.int64()),
    ("best_step", pa.int64()),          # training step of the lowest validation loss
    ("converged", pa.bool_()),          # bench.convergence; re-derived on read
    ("setup_s", pa.float64()),
    ("solve_s", pa.float64()),
    ("eval_s", pa.float64()),
    ("cpu_s", pa.float64()),            # CPU seconds of the run's process, every thread
    ("extra_json", pa.string()),
    ("device", pa.string()),
    ("machine_id", pa.string()),
    ("host_hash", pa.string()),
    ("python_version", pa.string()),
    ("torch_version", pa.string()),
    ("numpy_version", pa.string()),
    ("optuna_version", pa.string()),
    ("bench_version", pa.string()),
    ("git_sha", pa.string()),
    ("git_dirty", pa.bool_()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("finished_at", pa.timestamp("us", tz="UTC")),
])
STATUSES = ("ok", "failed", "pruned", "skipped")


class ResultsError(BenchError):
    """A results file or directory that cannot be written or read."""


def run_key(**parts: Any) -> str:
    """Stable id of a unit of work: sha256 of its canonical JSON description."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def canonical_json(obj: Any) -> str:
    """Sorted, compact JSON: the same object always gives the same string."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def utcnow() -> datetime:
    """Current UTC time at microsecond precision."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunLabel:
    """What every row of one run shares: its key, phase, place in the sweep and who ran it (a
    strategy, or a reference row such as ``input``/``oracle``)."""

    run_key: str
    phase: str                        # tune | final
    strategy: str
    strategy_version: str             # "" for a reference row
    study_name: str | None            # None for a reference row
    budget: str
    seed: int
    base_seed: int
    trial_number: int | None = None
    repetition: int | None = None
    device: str = "cpu"               # where it ran, by name (``bench.device.name``)
    data: DataChoice = field(default_factory=DataChoice)

    @property
    def is_reference(self) -> bool:
        """A reference row set (input, oracle) rather than a strategy's run."""
        return self.study_name is None


def run_rows(label: RunLabel, task: Task, params: dict[str, Any], outcome: Outcome, *,
             status: str = "ok", error: str | None = None,
             started: datetime | None = None,
             cpu_s: float | None = None) -> list[dict[str, Any]]:
    """Tidy rows of one run, one per metric the task declares; a run that failed as a whole gets
    one main-metric row carrying the error."""
    finished = utcnow()
    sha, dirty = env.git_state()
    base = {
        "schema_version": SCHEMA_VERSION, "run_key": label.run_key, "phase": label.phase,
        "study_name": label.study_name, "trial_number": label.trial_number,
        "strategy": label.strategy, "strategy_version": label.strategy_version,
        "is_reference": label.is_reference, "task": task.name, "task_version": task.version,
        "task_family": task.family, "budget": label.budget,
        **data_columns(label, task, outcome.data),
        "split": "val" if label.phase == "tune" else "test", "seed": label.seed,
        "base_seed": label.base_seed, "repetition": label.repetition,
        "params_json": canonical_json(params),
        "n_steps": outcome.counters.steps, "n_dsp_evals": outcome.counters.dsp_evals,
        "n_grad_estimates": outcome.counters.grad_estimates,
        **training_facts(outcome.extra),
        "setup_s": outcome.seconds.get("setup", 0.0),
        "solve_s": outcome.seconds.get("solve", 0.0),
        "eval_s": outcome.seconds.get("eval", 0.0), "cpu_s": cpu_s,
        "extra_json": canonical_json(outcome.extra) if outcome.extra else None,
        "device": label.device, "machine_id": env.machine_id(label.device),
        "host_hash": env.host_hash(),
        **env.versions(), "git_sha": sha, "git_dirty": dirty,
        "started_at": started or finished, "finished_at": finished,
    }
    metrics = outcome.metrics if status == "ok" else {}
    if not metrics:
        metrics = {task.main_metric: MetricFailure(error or "no metrics")}
    rows = []
    for metric in task.metrics:
        if metric.name not in metrics:
            continue
        value = metrics[metric.name]
        failed = isinstance(value, MetricFailure)
        row_status = status if status != "ok" else ("failed" if failed else "ok")
        rows.append({
            **base, "metric": metric.name,
            "value": math.nan if failed else float(value),
            "unit": metric.unit, "higher_is_better": metric.higher_is_better,
            "is_main_metric": metric.name == task.main_metric,
            "status": row_status,
            "error": (value.error if failed and status == "ok" else error),
        })
    return rows


def data_columns(label: RunLabel, task: Task, read: dict[str, Any]) -> dict[str, Any]:
    """The data columns of a run's rows: the labels of its training data and of the data its
    metrics were measured on (a tuning trial's is the training data's validation split), the
    fingerprints of what it read of each (null where it read none) and the files skipped."""
    measured = "test" if label.phase == "final" else "train"

    def fingerprint(role: str) -> str | None:
        got = read.get(role, {})
        return "+".join(got[d]["fingerprint"] for d in task.domains if d in got) or None

    skipped = read.get("skipped", {})
    return {"train_data": label.data.train_label(),
            "test_data": label.data.test_label() if measured == "test" else (
                label.data.train_label()),
            "train_data_fingerprint": fingerprint("train"),
            "test_data_fingerprint": fingerprint(measured),
            "data_skipped": sum(v for counts in skipped.values() for v in counts.values())
            if skipped else None}


def training_facts(extra: dict[str, Any]) -> dict[str, Any]:
    """``best_step`` and ``converged`` of the run's trained model (its training summary in the
    extra facts), or nulls for runs that trained nothing."""
    summary = extra.get("training") or {}
    return {"best_step": summary.get("best_step"), "converged": summary.get("converged")}


class ResultWriter:
    """Accumulates this process's rows and rewrites its own Parquet file atomically."""

    def __init__(self, results_dir: Path, batch_id: str | None = None) -> None:
        self.batch_id = batch_id or (
            f"{utcnow():%Y%m%dT%H%M%S}-{socket.gethostname()}-{os.getpid()}"
        )
        self.path = Path(results_dir) / RUNS_SUBDIR / f"{self.batch_id}.parquet"
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Validate and append rows, then flush everything written so far to disk."""
        new = [validate_row({**row, "batch_id": self.batch_id}) for row in rows]
        self.rows.extend(new)
        self.flush()

    def flush(self) -> None:
        """Write all rows to a temporary file and rename it over this process's file."""
        if not self.rows:
            return
        table = pa.Table.from_pylist(self.rows, schema=SCHEMA)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                       dir=self.path.parent)
            os.close(fd)
            os.chmod(tmp, 0o644)
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise ResultsError(
                f"cannot write results to {self.path.parent}: {exc.strerror or exc}; "
                f"make it writable, free space or choose another --results-dir"
            ) from exc


def validate_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Check a row against the schema: no missing or unknown columns, known status."""
    names = set(SCHEMA.names)
    missing = names - set(row) - {"batch_id"}
    extra = set(row) - names
    if missing or extra:
        raise ResultsError(f"bad result row: missing {sorted(missing)}, unknown {sorted(extra)}")
    if row["status"] not in STATUSES:
        raise ResultsError(f"bad result row: status {row['status']!r} not in {STATUSES}")
    return dict(row)


def result_files(results_dir: Path) -> list[Path]:
    """Every Parquet file in ``results_dir/runs`` (temporary files excluded), sorted; a
    published set kept under ``results/`` is a results directory of its own, not read here."""
    return sorted(p for p in Path(results_dir, RUNS_SUBDIR).glob("*.parquet")
                  if not p.name.startswith("."))


def steering_files(results_dir: Path) -> list[Path]:
    """Every steering experiment's JSON in ``results_dir/steer`` (`python -m bench steer`),
    sorted: results of their own, which a directory may hold without any runs."""
    return sorted(Path(results_dir, STEER_SUBDIR).glob("*.json"))


def read_results(results_dir: Path | Iterable[Path]) -> pd.DataFrame:  # noqa: F821
    """Read, validate and concatenate result files; later rows of a (run_key, metric) win.
    ``converged`` is re-derived from each row's stored validation curve by today's rule
    (:mod:`bench.convergence`), so rows written under an older rule read like new ones."""

    dirs = [Path(results_dir)] if isinstance(results_dir, (str, Path)) else list(results_dir)
    tables = []
    for path in (f for d in dirs for f in result_files(d)):
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise ResultsError(f"cannot read results file {path}: {exc}") from exc
        tables.append(_conform(table, path))
    if not tables:
        return SCHEMA.empty_table().to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    frame = frame.sort_values(["finished_at", "batch_id"], kind="stable")
    frame = frame.drop_duplicates(["run_key", "metric"], keep="last").reset_index(drop=True)
    derived = [summary_converged(extra) for extra in frame.extra_json]
    frame["converged"] = [stored if new is None else new
                          for stored, new in zip(frame.converged, derived, strict=True)]
    return frame


ADDED_IN = {"best_step": 2, "converged": 2, "cpu_s": 3, "train_data": 4, "test_data": 4,
            "train_data_fingerprint": 4, "test_data_fingerprint": 4, "data_skipped": 4}
"""Columns later schema versions added: older files get them as nulls, but for the data, which
:func:`default_data` names."""
DOMAINS = ("speech", "music")
"""The domains whose embedded corpus (the dataset of the same name) a run reads by default."""


def default_data(task: str, family: str) -> str | None:
    """The data a task reads when no dataset is chosen, as the data columns name it: the
    corpus of the domain its name ends with (``synthetic_speech`` → ``speech``), both for a
    gradient task (``speech+music``), none otherwise (the toy task). Files of schema < 4 were
    all made so."""
    for domain in DOMAINS:
        if task.endswith(f"_{domain}"):
            return domain
    return "+".join(DOMAINS) if family == "gradient" else None


def budget_version(study_names: pd.Series) -> pd.Series:  # noqa: F821
    """The budget's protocol version in each study name (``…/standard@2/seed0``: 2; a bare
    budget name: 1; no study, as for reference rows: 0)."""
    tags = study_names.fillna("").astype(str).str.split("/").str[2].fillna("")
    return tags.map(lambda tag: Budget.tag_version(tag) if tag else 0)


def current_protocol(frame: pd.DataFrame) -> pd.DataFrame:  # noqa: F821
    """The rows that reports and gates compare: per (task, budget) the newest task version and
    the newest budget protocol, per (task, strategy, budget) the newest strategy version. A
    version bump marks a protocol change, so older rows stay in the files but are never
    averaged in beside newer ones. Reference rows (no study) carry no budget version."""
    import pandas as pd

    if frame.empty:
        return frame
    cell = [frame.task, frame.budget]
    task_v = pd.to_numeric(frame.task_version, errors="coerce").fillna(0)
    budget_v = budget_version(frame.study_name)
    strategy_v = pd.to_numeric(frame.strategy_version, errors="coerce").fillna(0)
    keep = ((task_v == task_v.groupby(cell).transform("max"))
            & ((budget_v == 0) | (budget_v == budget_v.groupby(cell).transform("max"))))
    frame = frame[keep]
    strategy_v = strategy_v[keep]
    newest = strategy_v.groupby([frame.task, frame.strategy, frame.budget]).transform("max")
    return frame[strategy_v == newest]


def label_data(frame: pd.DataFrame) -> pd.DataFrame:  # noqa: F821
    """``frame`` with each task named with its data where that is not the default
    (``synthetic_speech [libritts → daps]``), the plain name kept in ``task_name``: reports
    that group by task then group by (task, training data, test data) and never mix them."""
    import pandas as pd

    def label(task: str, train: Any, test: Any) -> str:
        train, test = (None if pd.isna(d) else d for d in (train, test))
        if train == test and (train is None or set(train.split("+")) <= set(DOMAINS)):
            return task  # each domain's embedded corpus, trained and tested on: the default
        return f"{task} [{train if train == test else f'{train} → {test}'}]"

    frame = frame.copy()
    frame["task_name"] = frame["task"]
    frame["task"] = [label(*row) for row in zip(frame.task, frame.train_data, frame.test_data,
                                                  strict=True)]
    return frame


def _conform(table: pa.Table, path: Path) -> pa.Table:
    """Check a file's columns and schema version; older versions get the newer columns as
    nulls."""
    versions = set(table.column("schema_version").to_pylist()) if (
        "schema_version" in table.schema.names) else set()
    for name, since in ADDED_IN.items():
        if name not in table.schema.names and versions and max(versions) < since:
            values = (pa.array([default_data(t, f) for t, f in zip(
                table.column("task").to_pylist(), table.column("task_family").to_pylist(),
                strict=True)], pa.string()) if name in ("train_data", "test_data")
                else pa.nulls(len(table), SCHEMA.field(name).type))
            table = table.append_column(SCHEMA.field(name), values)
    missing = [f.name for f in SCHEMA if f.name not in table.schema.names]
    if missing:
        raise ResultsError(f"results file {path} lacks columns {missing}; not an afx-bench file")
    if versions - set(range(1, SCHEMA_VERSION + 1)):
        raise ResultsError(
            f"results file {path} has schema version {sorted(versions)}; this afx-bench reads "
            f"{SCHEMA_VERSION}: upgrade afx-bench"
        )
    try:
        return table.select(SCHEMA.names).cast(SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ResultsError(f"results file {path} has mistyped columns: {exc}") from exc
