"""Optuna glue: storage from a URL, one study per (task, strategy, seed), crash recovery.

A trial whose worker died (SIGKILL, power loss) is found either by the RDB heartbeat or, on the
same host, because its recorded process is gone; it is marked failed+stale and re-queued with the
same parameters and the same run key, so its Parquet rows are reused instead of duplicated.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.errors import BenchError

JOURNAL_NAME = "optuna.journal"
HEARTBEAT_S = 30
GRACE_S = 90


def open_storage(url: str | None, results_dir: Path) -> Any:
    """An Optuna storage: default is an embedded journal file under ``results_dir``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not url:
        path = Path(results_dir) / JOURNAL_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise BenchError(f"cannot create Optuna journal {path}: {exc.strerror}; "
                             f"choose a writable --results-dir") from exc
    if url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
            engine_kwargs={"pool_pre_ping": True},
        )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot open storage {url!r}: {first}; check the URL and that the "
                         f"database server is reachable") from exc


def worker_tag() -> dict[str, Any]:
    """Who runs a trial: host, pid and process start time (pids are reused)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _proc_start(os.getpid())}


def _proc_start(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _dead_here(tag: dict[str, Any] | None) -> bool:
    """True when ``tag`` names a process on this host that no longer exists."""
    if not tag or tag.get("host") != socket.gethostname():
        return False
    pid = int(tag["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _proc_start(pid) != tag.get("start")


def reclaim_stale(study: Any) -> int:
    """Fail trials whose worker died and re-queue them with the same params; return how many."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    by_heartbeat = set(storage._get_stale_trial_ids(study._study_id)
                       if _heartbeat_interval(storage) else [])
    reclaimed = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t._trial_id not in by_heartbeat and not _dead_here(t.user_attrs.get("worker")):
            continue
        try:  # mark first: a finished trial can no longer take attributes
            storage.set_trial_user_attr(t._trial_id, "stale", True)
            storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker reclaimed (or finished) it first
        study.enqueue_trial(t.params, user_attrs={"run_key": t.user_attrs.get("run_key"),
                                                  "retry_of": t.number})
        reclaimed += 1
    return reclaimed


def _heartbeat_interval(storage: Any) -> int | None:
    getter = getattr(storage, "get_heartbeat_interval", None)
    return getter() if callable(getter) else None


@contextmanager
def heartbeat(study: Any, trial: Any) -> Iterator[None]:
    """Record the trial's heartbeat in the background while it runs (RDB storages only)."""
    storage = study._storage
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            storage.record_heartbeat(trial._trial_id)

    storage.record_heartbeat(trial._trial_id)
    thread = threading.Thread(target=beat, daemon=True, name="optuna-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def counted(trial: Any) -> bool:
    """Whether a trial counts toward the requested number (stale and surplus ones do not)."""
    return not (trial.user_attrs.get("stale") or trial.user_attrs.get("surplus"))


def wait_a_moment(seconds: float = 2.0) -> None:
    """Pause while other workers finish the last trials of a study."""
    time.sleep(seconds)
