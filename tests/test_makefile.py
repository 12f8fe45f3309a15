"""`make demo` runs a small main job into its own directories and says where the report is;
`make matrix` keeps the whole matrix. Checked with `make -n` (nothing runs)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def recipe(target: str) -> list[list[str]]:
    """The commands ``make -n target`` would run (the virtualenv stamp taken as done). Run
    under `make test` too, so the outer make's flags are dropped (else "make[1]: Entering
    directory" lines appear)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "--no-print-directory", "-n", target, "VENV=.venv", "-o",
                          ".venv/.installed"], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return [shlex.split(line) for line in out.stdout.splitlines() if line.strip()]


def option(command: list[str], flag: str) -> str:
    """The value after ``flag`` in ``command``."""
    return command[command.index(flag) + 1]


def test_demo_runs_the_speech_style_transfer_tasks_into_its_own_directories():
    from bench.registry import discover, registry

    commands = recipe("demo")
    run = next(c for c in commands if c[2:4] == ["bench", "run"])
    report = next(c for c in commands if c[2:4] == ["bench", "report"])
    assert option(run, "--strategy") == "all" and option(run, "--budget") == "quick"
    assert "--seeds" not in run  # one seed
    tasks = option(run, "--task").split(",")
    assert tasks == ["synthetic_speech", "realistic_speech", "probe_speech"]
    build = next(c for c in commands if c[2:5] == ["bench", "data", "build"])
    assert option(build, "--corpus") == "speech"  # only the corpus its tasks read
    discover()
    assert set(tasks) <= set(registry("task").names())
    assert option(run, "--results-dir") == option(report, "--results-dir") == "results/demo"
    assert option(report, "--reports-dir") == "results/demo/report"  # not the committed reports/
    assert commands[-1][0] == "echo"
    assert commands[-1][1].startswith("demo report: results/demo/report/index.html")


def test_matrix_keeps_the_whole_matrix():
    run = next(c for c in recipe("matrix") if c[2:4] == ["bench", "run"])
    assert [option(run, f) for f in ("--strategy", "--task", "--budget", "--seeds")] == [
        "all", "all", "quick", "3"]
    assert option(run, "--results-dir") == "results/matrix"
