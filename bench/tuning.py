"""Optuna glue: storage from a URL, trial slots shared by several workers, crash recovery.

Several workers (processes, possibly on several machines) may run the same command against one
storage. They share each study's requested number of trials, and they share the final phase
through claims, so every trial and every final run happens once.

A trial whose worker died (SIGKILL, power loss) is found either by the RDB heartbeat or, on the
same host, because its recorded process is gone; it is marked stale, re-queued with the same
parameters and the same run key (so Parquet rows already written are reused), then failed.
"""

from __future__ import annotations

import importlib.util
import os
import random
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
HEARTBEAT_ENV = "AFX_BENCH_HEARTBEAT_S"
GRACE_ENV = "AFX_BENCH_GRACE_S"
HOST_ENV = "AFX_BENCH_HOST"
HEARTBEAT_S = 30
GRACE_S = 90
CLAIMS_STUDY = "afx-bench/claims"
PG_DRIVERS = {  # module -> how to install it, in order of preference for a plain postgresql://
    "psycopg": "pip install 'psycopg[binary]' (psycopg 3)",
    "psycopg2": "pip install psycopg2-binary",
}
PROCESS_START = time.time()


def open_storage(url: str | None, results_dir: Path) -> Any:
    """An Optuna storage: default is an embedded journal file under ``results_dir``; a database
    URL gives an RDB storage with heartbeats (``AFX_BENCH_HEARTBEAT_S``, ``AFX_BENCH_GRACE_S``)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
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


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def storage_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the storage itself failed (disk full, database gone)."""
    import optuna

    errors: tuple[type[BaseException], ...] = (OSError, optuna.exceptions.StorageInternalError)
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return errors
    return (*errors, SQLAlchemyError)


def worker_tag() -> dict[str, Any]:
    """Who runs a trial: host, pid and process start time (pids are reused)."""
    return {"host": _host(), "pid": os.getpid(), "start": _proc_start(os.getpid())}


def _host() -> str:
    """This machine for pid checks: ``$AFX_BENCH_HOST``, else host name and boot id (machines
    cloned from one image often share a host name)."""
    if os.environ.get(HOST_ENV):
        return os.environ[HOST_ENV]
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"


def _proc_start(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _dead_here(tag: dict[str, Any] | None) -> bool:
    """True when ``tag`` names a process on this host that no longer exists."""
    if not tag or tag.get("host") != _host():
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


def _abandoned(storage: Any, study_id: int) -> list[Any]:
    """Running trials of a study whose worker is dead (stale heartbeat or gone pid)."""
    from optuna.trial import TrialState

    by_heartbeat = set(storage._get_stale_trial_ids(study_id)
                       if _heartbeat_interval(storage) else [])
    return [t for t in storage.get_all_trials(study_id, deepcopy=False,
                                              states=(TrialState.RUNNING,))
            if t._trial_id in by_heartbeat or _dead_here(t.user_attrs.get("worker"))]


def reclaim_stale(study: Any) -> int:
    """Mark trials whose worker died stale, re-queue each once with the same params and run
    key, then fail it; return how many were re-queued by this call.

    The order (mark, re-queue, fail) means a reclaimer that dies half-way leaves a trial that the
    next pass reclaims again; two reclaimers may both re-queue, and :func:`slots` then counts
    only the first retry.
    """
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    requeued = 0
    for t in _abandoned(storage, study._study_id):
        try:  # a finished trial can no longer take attributes
            storage.set_trial_user_attr(t._trial_id, "stale", True)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker reclaimed (or finished) it first
        retried = any(r.user_attrs.get("retry_of") == t.number
                      for r in storage.get_all_trials(study._study_id, deepcopy=False))
        if not retried:
            study.enqueue_trial(t.params, user_attrs={"run_key": t.user_attrs.get("run_key"),
                                                      "retry_of": t.number})
            requeued += 1
        try:
            storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
    return requeued


def _superseded(trials: list[Any]) -> set[int]:
    """Numbers of trials that no longer count: stale ones with a retry, and every retry of a
    trial but the first (two workers may re-queue the same stale trial)."""
    first_retry: dict[int, int] = {}
    for t in sorted(trials, key=lambda t: t.number):
        of = t.user_attrs.get("retry_of")
        if of is not None:
            first_retry.setdefault(of, t.number)
    duplicates = {t.number for t in trials
                  if t.user_attrs.get("retry_of") is not None
                  and first_retry[t.user_attrs["retry_of"]] != t.number}
    return duplicates | {t.number for t in trials
                         if t.user_attrs.get("stale") and t.number in first_retry}


def slots(trials: list[Any]) -> list[Any]:
    """Trials that take one of a study's requested places: not surplus, not superseded."""
    gone = _superseded(trials)
    return [t for t in trials if not t.user_attrs.get("surplus") and t.number not in gone]


def surplus(trials: list[Any], trial: Any, n: int) -> bool:
    """Whether a just-asked ``trial`` is beyond the requested ``n`` (``trials``: a fresh read
    taken after the ask, so every earlier trial is in it)."""
    if trial.number in _superseded(trials):
        return True
    return sum(1 for t in slots(trials) if t.number < trial.number) >= n


def _heartbeat_interval(storage: Any) -> int | None:
    getter = getattr(storage, "get_heartbeat_interval", None)
    return getter() if callable(getter) else None


@contextmanager
def heartbeat(storage: Any, trial_id: int) -> Iterator[None]:
    """Record a trial's heartbeat in the background while it runs (RDB storages only)."""
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                storage.record_heartbeat(trial_id)
        except storage_errors():
            return  # the database is gone: the run's next storage call reports it, once

    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, daemon=True, name="optuna-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class Claims:
    """Final-phase work shared by the workers of one storage: each run key is run once.

    A claim is a trial of the study ``afx-bench/claims`` carrying the run key. To claim, a worker
    announces (creates a running claim), then looks again: if any other claim of the key is
    running or resolved it withdraws. Two workers can never both keep a claim (each looked after
    its own announcement, so one saw the other); both may withdraw, and then retry later. A claim
    of a dead worker (heartbeat or pid, as for trials) is failed so the key can be claimed again.
    Finished claims record the run's status and main metric. A failed run is final for the
    workers that were already running; a later command retries it, like a failed run key.
    """

    RUN, DONE, BUSY = "run", "done", "busy"

    def __init__(self, storage: Any) -> None:
        import optuna

        self.storage = storage
        self.study = optuna.create_study(study_name=CLAIMS_STUDY, storage=storage,
                                         load_if_exists=True)
        self.study_id = self.study._study_id

    def acquire(self, key: str) -> tuple[str, Any]:
        """(RUN, claim id) if this worker now holds ``key``; (DONE, main metric value) if it was
        run already; (BUSY, None) while another worker holds it (ask again later)."""
        from optuna.trial import TrialState

        self._fail_abandoned()
        claims = self._of(key)
        resolved = [t for t in claims if _resolved(t)]
        if resolved:
            return self.DONE, resolved[0].user_attrs.get("value")
        if any(t.state == TrialState.RUNNING for t in claims):
            return self.BUSY, None
        claim_id = self.storage.create_new_trial(self.study_id)  # running
        self.storage.set_trial_user_attr(claim_id, "worker", worker_tag())
        self.storage.set_trial_user_attr(claim_id, "claim", key)
        rivals = [t for t in self._of(key) if t._trial_id != claim_id
                  and (t.state == TrialState.RUNNING or _resolved(t))]
        if rivals:
            self.release(claim_id, "withdrawn", None)
            return self.BUSY, None
        return self.RUN, claim_id

    def release(self, claim_id: int, status: str, value: float | None) -> None:
        """Finish a claim with the run's status (``ok``, ``failed`` …) and main metric."""
        from optuna.trial import TrialState

        self.storage.set_trial_user_attr(claim_id, "status", status)
        self.storage.set_trial_user_attr(claim_id, "value", value)
        self.storage.set_trial_user_attr(claim_id, "ended", time.time())
        state = TrialState.FAIL if status == "withdrawn" else TrialState.COMPLETE
        self.storage.set_trial_state_values(claim_id, state=state,
                                            values=[0.0] if state == TrialState.COMPLETE else None)

    def _of(self, key: str) -> list[Any]:
        return [t for t in self.storage.get_all_trials(self.study_id, deepcopy=False)
                if t.user_attrs.get("claim") == key]

    def _fail_abandoned(self) -> None:
        import optuna
        from optuna.trial import TrialState

        for t in _abandoned(self.storage, self.study_id):
            try:
                self.storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass


def _resolved(claim: Any) -> bool:
    """A finished claim whose run succeeded, or failed after this process started."""
    from optuna.trial import TrialState

    if claim.state != TrialState.COMPLETE:
        return False
    return claim.user_attrs.get("status") != "failed" or claim.user_attrs["ended"] > PROCESS_START


def wait_a_moment(seconds: float = 2.0) -> None:
    """Pause (with jitter, so colliding workers drift apart) while other workers work."""
    time.sleep(seconds * random.uniform(0.5, 1.0))
