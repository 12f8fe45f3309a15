"""When a training run has converged: the one rule that training, result files and reports share.

A run converged if it stopped early on a validation plateau, or if its *best* validation loss
improved by less than :data:`CONVERGED_CHANGE` over the last :data:`CONVERGED_TAIL` of its steps.
The best so far is what training restores, so the rule judges the model that is evaluated; two
single checks (the rule before) differ by the check-to-check noise alone (2–3 % at the standard
sizes), which called flat tails unconverged and falling ones converged by chance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

CONVERGED_CHANGE = 0.02
"""Largest relative gain of the best validation loss over the tail that still counts as flat."""
CONVERGED_TAIL = 0.2
"""The tail: this fraction of the steps run, at the end."""


def converged(curve: Sequence[Mapping[str, float]], steps_run: int,
              stopped_early: bool) -> bool | None:
    """Whether a run with this validation ``curve`` (checks of ``step`` and ``val_loss``)
    converged; None without a curve."""
    if stopped_early:
        return True
    if not curve:
        return None
    return bool(tail_gain(curve, steps_run) <= CONVERGED_CHANGE)


def tail_gain(curve: Sequence[Mapping[str, float]], steps_run: int) -> float:
    """How much the best validation loss fell over the last :data:`CONVERGED_TAIL` of the
    steps, relative to the best before them (0 when it did not fall)."""
    start = (1 - CONVERGED_TAIL) * steps_run
    losses = [c["val_loss"] for c in curve]
    before = [c["val_loss"] for c in curve if c["step"] <= start] or losses[:1]
    best_before, best = min(before), min(losses)
    return (best_before - best) / abs(best_before) if best_before else 0.0


def stored_training(extra_json: Any) -> tuple[list[dict[str, float]], int, bool] | None:
    """(curve, steps run, stopped early) of a result row's stored training summary (its
    ``extra_json``), or None where the row holds no validation curve."""
    if not isinstance(extra_json, str):
        return None
    summary = json.loads(extra_json).get("training") or {}
    curve, steps = summary.get("curve"), summary.get("steps_run")
    if not curve or steps is None or (isinstance(steps, float) and math.isnan(steps)):
        return None
    return curve, int(steps), bool(summary.get("stopped_early"))


def summary_converged(extra_json: Any) -> bool | None:
    """The rule applied to a result row's stored training summary, or None without a curve."""
    stored = stored_training(extra_json)
    return None if stored is None else converged(*stored)
