"""Name → class registries for strategies, tasks, datasets, effects and plugin commands, filled
by subclassing.

A concrete class registers itself when it declares ``name`` (and ``version``); discovery imports
the plugin packages and entry points so that ``bench`` never names a concrete plugin. A plugin
package adds a `python -m bench` subcommand by declaring a :class:`Command` in its ``commands``
module, which the CLI imports alone (:func:`discover_commands`) to build its parser quickly.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pkgutil
import traceback
from abc import ABC, abstractmethod
from argparse import ArgumentParser, Namespace
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import ClassVar

from bench.errors import BenchError

PLUGIN_PACKAGES = ("strategies", "tasks", "datasets", "bench.dsp")
ENTRY_POINT_GROUP = "afx_bench.plugins"
PLUGIN_ENV = "BENCH_PLUGINS"
COMMAND_MODULE = "commands"
"""The module of a plugin package that declares its commands (imported without the rest)."""


class RegistryError(BenchError):
    """A registry misuse that the user must fix (duplicate or unknown name)."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin module that could not be imported, kept so `list` can report it."""

    module: str
    error: str
    traceback: str


class Registry:
    """Holds the registered classes of one kind (strategy, task, dataset or effect)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type] = {}

    def add(self, cls: type) -> None:
        """Register ``cls`` under its ``name``; a second class with that name is an error."""
        name = cls.name  # type: ignore[attr-defined]
        old = self._classes.get(name)
        if old is not None and _qualname(old) != _qualname(cls):
            raise RegistryError(
                f"{self.kind} name {name!r} is registered twice: by {_qualname(old)} and by "
                f"{_qualname(cls)}; rename one of them"
            )
        self._classes[name] = cls

    def discard_module(self, module: str) -> None:
        """Forget the classes defined in ``module`` (it failed to import completely)."""
        self._classes = {n: c for n, c in self._classes.items() if c.__module__ != module}

    def get(self, name: str) -> type:
        """Return the class registered as ``name`` or raise with the closest names."""
        try:
            return self._classes[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._classes, n=3, cutoff=0.4)
            hint = f"did you mean {', '.join(close)}?" if close else "none is close"
            broken = (f"; plugin modules that failed to import: "
                      f"{', '.join(f.module for f in FAILURES)} (see `python -m bench list`)"
                      if FAILURES else "")
            raise RegistryError(
                f"unknown {self.kind} {name!r}: {hint} (known: {', '.join(self.names()) or '-'})"
                f"{broken}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._classes)

    def classes(self) -> list[type]:
        """Registered classes, sorted by name."""
        return [self._classes[n] for n in self.names()]

    def select(self, spec: str) -> list[type]:
        """Resolve ``all`` or a comma-separated list of names (``all`` skips toy plugins)."""
        if spec == "all":
            return [c for c in self.classes() if not getattr(c, "toy", False)]
        names = [n.strip() for n in spec.split(",") if n.strip()]
        if not names:
            raise RegistryError(f"empty {self.kind} selection; give 'all' or a comma list")
        return [self.get(n) for n in dict.fromkeys(names)]

    def left_out_of_all(self) -> list[str]:
        """What ``all`` leaves out, so a run can say so: toy plugins (on purpose) and whatever
        the plugin modules that failed to import would have registered."""
        toys = [n for n, c in sorted(self._classes.items()) if getattr(c, "toy", False)]
        notes = [f"toy plugins {', '.join(toys)}"] if toys else []
        return notes + [f"anything in broken plugin module {f.module} ({f.error.splitlines()[0]})"
                        for f in FAILURES]


REGISTRIES: dict[str, Registry] = {
    kind: Registry(kind) for kind in ("strategy", "task", "dataset", "effect", "command")
}
FAILURES: list[PluginFailure] = []


class Registered:
    """Mixin: a subclass that declares ``name`` joins the registry of its ``kind``."""

    kind: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    toy: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or inspect.isabstract(cls):
            return
        if not isinstance(cls.__dict__.get("version"), str):
            raise RegistryError(
                f"{_qualname(cls)} declares name {cls.name!r} but no version string")
        if not cls.__dict__.get("description"):
            doc = inspect.getdoc(cls) or ""
            cls.description = doc.splitlines()[0] if doc else ""
        REGISTRIES[cls.kind].add(cls)


class Command(ABC):
    """A `python -m bench` subcommand that a plugin package provides: a subclass that declares
    ``name`` (and ``help``, the one line `--help` lists) in the package's ``commands`` module
    joins the CLI. Keep that module import-light: `--help` imports it; ``run`` imports the rest.
    """

    kind: ClassVar[str] = "command"
    name: ClassVar[str]
    help: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and not inspect.isabstract(cls):
            REGISTRIES[cls.kind].add(cls)

    @abstractmethod
    def add_arguments(self, parser: ArgumentParser) -> None:
        """Declare the command's options (and subcommands) on its own ``parser``."""

    @abstractmethod
    def run(self, args: Namespace) -> int:
        """Run with the parsed ``args``; the exit status (a BenchError is a one-line error)."""


def registry(kind: str) -> Registry:
    """The registry for ``kind`` after plugin discovery."""
    discover()
    return REGISTRIES[kind]


_discovered = False


def discover() -> list[PluginFailure]:
    """Import every plugin module once; broken modules are recorded, duplicates raise."""
    global _discovered
    if _discovered:
        return FAILURES
    _discovered = True
    for package in PLUGIN_PACKAGES:
        try:
            pkg = importlib.import_module(package)
        except RegistryError:
            raise
        except ModuleNotFoundError as exc:
            if exc.name != package:  # an absent optional package is fine; a broken one is not
                _record(package, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - recorded, not raised
            _record(package, exc)
            continue
        for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
            if not info.name.rsplit(".", 1)[-1].startswith("_"):
                _import(info.name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _import(ep.value.split(":")[0])
    for name in filter(None, (m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(","))):
        _import(name)
    return FAILURES


def discover_commands() -> Registry:
    """The plugin commands: each plugin package's ``commands`` module is imported, and nothing
    else, so the CLI's parser stays quick to build (bench's own commands are built in)."""
    for package in PLUGIN_PACKAGES:
        if package.split(".")[0] == "bench":
            continue
        module = f"{package}.{COMMAND_MODULE}"
        _import(module, absent_ok=(package, module))  # a package without commands is fine
    return REGISTRIES["command"]


def _import(module: str, absent_ok: tuple[str, ...] = ()) -> None:
    """Import ``module``, recording (once) why it failed; a missing module named in
    ``absent_ok`` is no failure."""
    if any(f.module == module for f in FAILURES):
        return  # recorded once (the CLI may have tried it before discovery)
    try:
        importlib.import_module(module)
    except RegistryError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name not in absent_ok:
            _record(module, exc)
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        _record(module, exc)


def _record(module: str, exc: BaseException) -> None:
    """Remember a broken module and drop any class it registered before it failed."""
    FAILURES.append(
        PluginFailure(module, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    )
    for reg in REGISTRIES.values():
        reg.discard_module(module)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
