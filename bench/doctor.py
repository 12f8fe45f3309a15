"""`python -m bench doctor`: which Debian packages the project needs, what is missing, install.

Each plugin package may declare ``DEBIAN_PACKAGES`` in a ``requirements`` module
(``datasets/requirements.py``, ``bench/dsp/requirements.py`` …); this collects them.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess

from bench.errors import BenchError
from bench.registry import PLUGIN_PACKAGES


def debian_packages() -> list[str]:
    """Every Debian package declared by the harness and its plugin packages, sorted."""
    wanted: set[str] = set()
    for package in ("bench", *PLUGIN_PACKAGES):
        try:
            module = importlib.import_module(f"{package}.requirements")
        except ModuleNotFoundError:
            continue
        wanted.update(getattr(module, "DEBIAN_PACKAGES", ()))
    return sorted(wanted)


def missing_debian(packages: list[str]) -> list[str]:
    """The packages dpkg does not report as installed."""
    if shutil.which("dpkg-query") is None:
        return list(packages)
    absent = []
    for name in packages:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True,
                             text=True, check=False)
        if "install ok installed" not in out.stdout:
            absent.append(name)
    return absent


def doctor(install: bool) -> int:
    """Report missing Debian packages; install them when asked and running as root."""
    packages = debian_packages()
    absent = missing_debian(packages)
    if not absent:
        print(f"system packages: all {len(packages)} present")
        return 0
    command = "apt-get install -y --no-install-recommends " + " ".join(absent)
    if not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"missing Debian packages ({len(absent)}): {' '.join(absent)}")
        print(f"install them with: sudo apt-get update && sudo {command}")
        return 1
    print(f"installing {len(absent)} Debian packages: {' '.join(absent)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], command.split()):
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            raise BenchError(f"`{' '.join(cmd)}` failed; run it by hand to see why")
    still = missing_debian(absent)
    if still:
        raise BenchError(f"still missing after apt-get: {' '.join(still)}")
    return 0
