"""`--param KEY=VALUE`: values parse as JSON where they can (``0.001``, ``3``, ``true``), else
stay text, and are checked against each selected strategy's search space and defaults before
anything runs, so a typo stops the command instead of failing every trial."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.errors import BenchError

ARTICLE = {"float": "a", "int": "an", "bool": "a", "str": "a"}


def choose(value: str, choices: tuple[str, ...], flag: str, what: str = "unknown") -> list[str]:
    """``all`` or a comma list of ``choices`` given to ``flag``; a one-line error naming what
    is not among them (``what`` says how) and the choices."""
    names = list(choices) if value == "all" else value.split(",")
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise BenchError(f"{flag}: {what} {', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(choices)} or 'all'")
    return names


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["lr=0.001", "arch=tcn"]`` -> ``{"lr": 0.001, "arch": "tcn"}``."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--param {item!r} is not KEY=VALUE, e.g. --param lr=0.001")
        params[key] = _literal(value)
    return params


def best_params(results_dir: Path, budget: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(task, strategy) -> the hyperparameters of that strategy's final runs on that task in
    ``results_dir`` at ``budget`` (the best configuration its sweep chose; the newest protocol,
    the task's default data), for `run --best-from`."""
    from bench.results import current_protocol, label_data, read_results

    if not Path(results_dir).is_dir():
        raise BenchError(f"--best-from {results_dir}: no such results directory")
    frame = current_protocol(label_data(read_results(results_dir)))
    final = frame[(frame.phase == "final") & ~frame.is_reference.astype(bool)
                  & (frame.budget == budget) & (frame.task == frame.task_name)]
    if final.empty:
        raise BenchError(f"--best-from {results_dir}: no final runs at the {budget} budget on "
                         f"the default data there; pass the results of a {budget} sweep")
    return {key: json.loads(g.sort_values("run_key").params_json.iloc[0])
            for key, g in final.groupby(["task", "strategy"])}


def check_params(strategies: list[type], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against every selected strategy that has each key (ints widened
    where a float is expected); an unknown key or a value of the wrong type is an error."""
    known = {k for cls in strategies for k in cls.defaults}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BenchError(f"--param {', '.join(unknown)} is not a hyperparameter of the selected "
                         f"strategies; known: {', '.join(sorted(known)) or 'none'}")
    checked = dict(params)
    for cls in strategies:
        keys = sorted(set(params) & set(cls.defaults))
        space = _search_space(cls) if keys else {}
        for key in keys:
            checked[key] = _check(cls, key, checked[key], space.get(key))
    return checked


def _check(cls: type, key: str, value: Any, distribution: Any) -> Any:
    """``value`` if it fits ``cls``'s parameter ``key`` (an int where a float is expected is
    widened)."""
    from optuna.distributions import CategoricalDistribution

    default = cls.defaults[key]
    shown = f"--param {key}={_text(value)}"
    if isinstance(distribution, CategoricalDistribution):
        if value in distribution.choices:
            return value
        choices = ", ".join(_text(c) for c in distribution.choices)
        raise BenchError(f"{shown}: {key} of {cls.name} is one of {choices}, e.g. "
                         f"--param {key}={_text(default)}")
    kind = _kind(distribution, default)
    if kind is None or _fits(value, kind):
        return float(value) if kind == "float" else value
    raise BenchError(f"{shown}: {key} of {cls.name} takes {ARTICLE[kind]} {kind}, e.g. "
                     f"--param {key}={_text(default)}")


def _kind(distribution: Any, default: Any) -> str | None:
    """The type a parameter takes: from its search-space distribution, else its default."""
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(distribution, FloatDistribution):
        return "float"
    if isinstance(distribution, IntDistribution):
        return "int"
    kind = type(default).__name__
    return kind if kind in ARTICLE else None


def _fits(value: Any, kind: str) -> bool:
    """Whether a parsed ``value`` is of ``kind`` (booleans are not numbers here)."""
    if isinstance(value, bool) or kind == "bool":
        return isinstance(value, bool) and kind == "bool"
    if kind == "float":
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, int if kind == "int" else str)


def search_space_keys(cls: type) -> set[str]:
    """The hyperparameters ``cls`` tunes (those its search space suggests)."""
    return set(_search_space(cls))


def _search_space(cls: type) -> dict[str, Any]:
    """The distributions ``cls.search_space`` suggests, read from one in-memory trial."""
    import optuna

    from bench.optuna_storage import quiet_optuna

    quiet_optuna()
    trial = optuna.create_study(storage=optuna.storages.InMemoryStorage()).ask()
    cls.search_space(trial)
    return dict(trial.distributions)


def _literal(text: str) -> Any:
    """JSON where it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _text(value: Any) -> str:
    """How a value is typed on the command line."""
    return value if isinstance(value, str) else json.dumps(value)
