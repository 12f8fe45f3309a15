"""Run once across workers: claims on run keys, trial slots, heartbeats and stale-trial reclaim.

Several workers (processes, possibly on several machines) may run the same command against one
storage. They share each study's requested number of trials, and they share the final phase
through claims, so every trial and every final run happens once.

A trial whose worker died (SIGKILL, power loss) is found either by the RDB heartbeat or, on the
same host, because its recorded process is gone; it is marked stale, re-queued with the same
parameters and the same run key (so Parquet rows already written are reused), then failed.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.optuna_internals import stale_trial_ids, storage_of, study_id, trial_id
from bench.optuna_storage import storage_errors

HOST_ENV = "AFX_BENCH_HOST"
CLAIMS_STUDY = "afx-bench/claims"
PROCESS_START = time.time()

Job = Callable[[str], tuple[str, float | None]]
"""Takes its run key, writes its rows and returns (status, main metric value or None)."""


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


def _abandoned(storage: Any, of_study: int) -> list[Any]:
    """Running trials of a study whose worker is dead (stale heartbeat or gone pid)."""
    from optuna.trial import TrialState

    by_heartbeat = set(stale_trial_ids(storage, of_study)
                       if _heartbeat_interval(storage) else [])
    return [t for t in storage.get_all_trials(of_study, deepcopy=False,
                                              states=(TrialState.RUNNING,))
            if trial_id(t) in by_heartbeat or _dead_here(t.user_attrs.get("worker"))]


def reclaim_stale(study: Any) -> int:
    """Mark trials whose worker died stale, re-queue each once with the same params and run
    key, then fail it; return how many were re-queued by this call.

    The order (mark, re-queue, fail) means a reclaimer that dies half-way leaves a trial that the
    next pass reclaims again; two reclaimers may both re-queue, and :func:`slots` then counts
    only the first retry.
    """
    import optuna
    from optuna.trial import TrialState

    storage, of_study = storage_of(study), study_id(study)
    requeued = 0
    for t in _abandoned(storage, of_study):
        try:  # a finished trial can no longer take attributes
            storage.set_trial_user_attr(trial_id(t), "stale", True)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker reclaimed (or finished) it first
        retried = any(r.user_attrs.get("retry_of") == t.number
                      for r in storage.get_all_trials(of_study, deepcopy=False))
        if not retried:
            study.enqueue_trial(t.params, user_attrs={"run_key": t.user_attrs.get("run_key"),
                                                      "retry_of": t.number})
            requeued += 1
        try:
            storage.set_trial_state_values(trial_id(t), state=TrialState.FAIL)
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
def heartbeat(storage: Any, storage_trial_id: int) -> Iterator[None]:
    """Record a trial's heartbeat in the background while it runs (RDB storages only)."""
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                storage.record_heartbeat(storage_trial_id)
        except storage_errors():
            return  # the database is gone: the run's next storage call reports it, once

    storage.record_heartbeat(storage_trial_id)
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
        self.study_id = study_id(self.study)

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
        rivals = [t for t in self._of(key) if trial_id(t) != claim_id
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
                self.storage.set_trial_state_values(trial_id(t), state=TrialState.FAIL)
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


def run_once(claims: Claims, work: list[tuple[str, Job]], done: set[str],
             stored_value: Callable[[str], float | None],
             ) -> tuple[dict[str, float | None], int, int]:
    """Run each (run key, job) once across every worker of the storage, through claims; return
    the main metric value per key (None when failed or not reported), how many keys were done
    before (in the results) and how many another worker ran meanwhile.

    Keys in ``done`` (finished keys in the results) are skipped; keys another worker holds are
    retried until it finishes.
    """
    values: dict[str, float | None] = {}
    before = elsewhere = 0
    pending = dict(work)
    while pending:
        for key, job in list(pending.items()):
            if key in done:
                values[key] = stored_value(key)
                before += 1
                del pending[key]
                continue
            state, got = claims.acquire(key)
            if state == Claims.BUSY:
                continue
            if state == Claims.RUN:
                with heartbeat(claims.storage, got):
                    status, value = job(key)
                claims.release(got, status, value)
                got = value
            else:
                elsewhere += 1
            values[key] = got
            del pending[key]
        if pending:
            wait_a_moment()  # the rest is held by other workers
    return values, before, elsewhere
