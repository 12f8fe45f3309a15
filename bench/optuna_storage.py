"""The Optuna storage of a sweep, from a URL: an embedded journal file by default, or a
database (PostgreSQL) whose trials carry heartbeats so that several machines can share it."""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

from bench.errors import BenchError, first_line

JOURNAL_NAME = "optuna.journal"
HEARTBEAT_ENV = "AFX_BENCH_HEARTBEAT_S"
GRACE_ENV = "AFX_BENCH_GRACE_S"
HEARTBEAT_S = 30
GRACE_S = 90
PG_DRIVERS = {  # module -> how to install it, in order of preference for a plain postgresql://
    "psycopg": "pip install 'psycopg[binary]' (psycopg 3)",
    "psycopg2": "pip install psycopg2-binary",
}


def quiet_optuna() -> None:
    """Optuna without its chatter: no line per study created or copied, none of the
    experimental-feature or heartbeat warnings; what afx-bench prints is what it means."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


def open_storage(url: str | None, results_dir: Path) -> Any:
    """An Optuna storage: default is an embedded journal file under ``results_dir``; a database
    URL gives an RDB storage with heartbeats (``AFX_BENCH_HEARTBEAT_S``, ``AFX_BENCH_GRACE_S``)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    quiet_optuna()
    if not url or url.startswith("journal:"):
        path = Path(url.removeprefix("journal:")) if url else Path(results_dir) / JOURNAL_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise BenchError(f"cannot open Optuna journal {path}: {exc.strerror or exc}; "
                             f"choose a writable --results-dir or --storage") from exc
    heartbeat_s = _env_seconds(HEARTBEAT_ENV, HEARTBEAT_S)
    grace_s = _env_seconds(GRACE_ENV, GRACE_S)
    url = with_postgres_driver(url)
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=heartbeat_s, grace_period=grace_s,
            engine_kwargs={"pool_pre_ping": True},
        )
    except Exception as exc:
        raise BenchError(f"cannot open storage {url!r}: {first_line(exc)}; check the URL and "
                         f"that the database server is reachable") from exc


def with_postgres_driver(url: str) -> str:
    """``url`` with an installed PostgreSQL driver named: a plain ``postgresql://`` gets psycopg
    3 when installed, else psycopg2 (SQLAlchemy 2.1 alone would pick psycopg 3 even when only
    psycopg2 is there); a driver that is not installed is an error that names what to install."""
    scheme, sep, rest = url.partition("://")
    dialect, _, driver = scheme.partition("+")
    if not sep or dialect != "postgresql" or driver not in ("", *PG_DRIVERS):
        return url
    wanted = [driver] if driver else list(PG_DRIVERS)
    for name in wanted:
        if importlib.util.find_spec(name) is not None:
            return f"postgresql+{name}://{rest}"
    raise BenchError(f"the {scheme}:// storage needs a PostgreSQL driver that is not "
                     f"installed; install one: {' or '.join(PG_DRIVERS[n] for n in wanted)}")


def _env_seconds(name: str, default: int) -> int:
    """A positive whole number of seconds from the environment (Optuna wants integers)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise BenchError(f"{name}={text!r} must be a whole number of seconds, at least 1")
    return int(text)


def storage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the storage itself failed (disk full, database gone)."""
    import optuna

    errors: tuple[type[BaseException], ...] = (OSError, optuna.exceptions.StorageInternalError)
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return errors
    return (*errors, SQLAlchemyError)
