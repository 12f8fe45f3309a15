"""The one place that reads Optuna's private attributes.

Optuna's public API hides the storage behind a study and the storage ids of trials (a trial's
``number`` is per study, its storage id is global), yet the run-once coordinator needs both: a
heartbeat is recorded per storage trial id, stale trials are found per storage study id, and a
trial of a dead worker is failed through the storage because no ``Trial`` object for it exists
in this process. Optuna has no public equivalent (as of 4.x), so these reads live here alone.
"""

from __future__ import annotations

from typing import Any


def storage_of(study: Any) -> Any:
    """The storage behind an ``optuna.Study``."""
    return study._storage


def study_id(study: Any) -> int:
    """The storage id of an ``optuna.Study``."""
    return study._study_id


def trial_id(trial: Any) -> int:
    """The storage id of a ``Trial`` or ``FrozenTrial`` (not its per-study ``number``)."""
    return trial._trial_id


def stale_trial_ids(storage: Any, study_id: int) -> list[int]:
    """Storage ids of running trials whose heartbeat stopped (RDB storages with heartbeats)."""
    return storage._get_stale_trial_ids(study_id)
