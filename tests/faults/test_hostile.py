"""Hostile input: broken audio under --data-root, out-of-range parameters, broken plugins,
unwritable or full results directories, unreachable storages. Each ends in one clear error line
(or a recorded failed trial), never a partial Parquet file or lost earlier results."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.errors import BenchError
from bench.optuna_storage import GRACE_ENV, HEARTBEAT_ENV, open_storage
from bench.registry import registry
from bench.results import read_results, result_files
from tests.conftest import bench_cmd

TOY = ("run", "--task", "toy", "--strategy", "toy_search", "--budget", "smoke", "--trials", "2",
       "--no-progress")
SR = 16000


def one_line_error(out: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert exit code 2 and a single ``error:`` line on stderr containing ``needles``."""
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def snapshot(results: Path) -> dict[str, bytes]:
    """Every file under a results directory, by relative path (partial files included)."""
    return {str(p.relative_to(results)): p.read_bytes() for p in results.rglob("*") if p.is_file()}


# -- audio files --------------------------------------------------------------------------------
def tone(seconds: float) -> np.ndarray:
    """A quiet sine, the healthy clip."""
    return 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SR)) / SR)


def huge_sparse_wav(path: Path, hours: float) -> None:
    """A valid 16-bit WAV of ``hours`` of silence that takes no disk space (sparse file)."""
    data = int(hours * 3600 * SR) * 2
    header = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, SR, SR * 2, 2, 16) + b"data"
              + struct.pack("<I", data))
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data)


def write_hostile(folder: Path) -> int:
    """One file of each hostile kind (speaker f1…f6) in a DAPS layout; return how many
    of them are readable and long enough to be used (silent, NaN-filled, huge, truncated)."""
    folder.mkdir(parents=True, exist_ok=True)

    def name(speaker: str) -> Path:
        return folder / f"{speaker}_script1_cleanraw.wav"

    name("f1").write_bytes(b"RIFF\x00\x00garbage" * 3)                    # corrupt
    name("f2").write_bytes(b"")                                             # empty
    sf.write(name("f3"), np.zeros(2 * SR), SR)                              # silent
    sf.write(name("f4"), np.full(2 * SR, np.nan), SR, subtype="FLOAT")      # NaN-filled
    huge_sparse_wav(name("f5"), hours=2.0)                                  # huge
    sf.write(name("f6"), tone(2.0), SR)                                     # truncated
    with open(name("f6"), "r+b") as f:
        f.truncate(44 + SR * 2)
    return 4


def run_toy_daps(tmp_path):
    """One smoke trial of the DAPS-reading toy task on ``tmp_path/data``, through the CLI."""
    return bench_cmd("run", "--task", "toy_daps", "--strategy", "toy_search_any", "--budget",
                     "smoke", "--trials", "1", "--no-progress", "--data-root",
                     str(tmp_path / "data"), "--cache-dir", str(tmp_path / "cache"),
                     cwd=tmp_path, plugins="tests.faults.plugins")


def test_hostile_audio_under_data_root_does_not_crash_a_run(tmp_path):
    folder = tmp_path / "data" / "daps" / "cleanraw"
    usable = write_hostile(folder)
    for speaker in ("m1", "m2", "m3", "m4", "m5", "m6"):
        sf.write(folder / f"{speaker}_script1_cleanraw.wav", tone(1.0), SR)
    out = run_toy_daps(tmp_path)
    assert out.returncode == 0, out.stderr
    frame = read_results(tmp_path / "results").query("strategy == 'toy_search_any'")
    assert set(frame.status) == {"ok"} and frame.value.notna().all()
    clips = {json.loads(e)["local_clips"] for e in frame.extra_json}
    assert clips == {usable + 6}


def test_a_data_root_of_only_broken_files_is_a_failed_trial_not_a_crash(tmp_path):
    folder = tmp_path / "data" / "daps" / "cleanraw"
    folder.mkdir(parents=True)
    for speaker in ("f1", "f2"):
        (folder / f"{speaker}_script1_cleanraw.wav").write_bytes(b"RIFF\x00\x00garbage")
    out = run_toy_daps(tmp_path)
    assert out.returncode == 0, out.stderr
    runs = read_results(tmp_path / "results").query("strategy == 'toy_search_any'")
    assert set(runs.status) == {"failed"}
    tune = runs[runs.phase == "tune"].error.iloc[0]
    assert tune.startswith("DataError: daps: no readable audio") and "\n" not in tune
    assert runs[runs.phase == "final"].error.iloc[0] == "no tuning trial succeeded"


# -- parameters ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1.5, -0.2, math.nan, math.inf])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_parameters_outside_unit_range_are_one_clear_line(value, backend):
    effect = registry("effect").get("distortion")()
    p = np.full((1, effect.n_params), 0.5)
    p[0, 1] = value
    x = np.zeros((1, 256))
    with pytest.raises(ValueError) as info:
        if backend == "torch":
            import torch

            effect.torch_process(torch.as_tensor(x), torch.as_tensor(p), SR)
        else:
            effect.process(x, p, SR)
    message = str(info.value)
    assert "\n" not in message and "is outside [0, 1]" in message
    assert message.startswith(f"distortion.{effect.params(SR)[1].name} = ")


# -- plugins ------------------------------------------------------------------------------------
BROKEN_EFFECT = '''
from bench.dsp.spec import DspEffect, Param


class Backwards(DspEffect):
    """An effect whose declared range is empty: the class cannot be created."""

    name = "backwards"
    version = "1"
    description = "broken on purpose"

    @classmethod
    def params(cls, sample_rate):
        return (Param("gain", "dB", 12.0, -12.0, 0.0),)

    def render(self, xp, x, v, sample_rate):
        return x
'''


def test_an_effect_plugin_that_fails_to_load_is_listed_and_the_rest_works(tmp_path):
    (tmp_path / "broken_effect.py").write_text(BROKEN_EFFECT)
    listing = bench_cmd("list", "--json", cwd=tmp_path, plugins="broken_effect")
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert [b["module"] for b in data["broken_plugins"]] == ["broken_effect"]
    assert "empty range" in data["broken_plugins"][0]["error"]
    assert {"peq", "compressor", "distortion"} <= {e["name"] for e in data["effect"]}
    text = bench_cmd("list", cwd=tmp_path, plugins="broken_effect").stdout
    assert "Broken plugins" in text and "broken_effect" in text
    run = bench_cmd(*TOY, cwd=tmp_path, plugins="broken_effect")
    assert run.returncode == 0, run.stderr
    assert "plugin module broken_effect failed to import" in run.stderr


# -- results directory --------------------------------------------------------------------------
@pytest.fixture
def mount_tmpfs(tmp_path):
    """Mount a tmpfs of a given size (root only; the mounts are undone afterwards)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = []

    def mount(size: str) -> Path:
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def make_read_only(directory: Path) -> None:
    """Root ignores permissions, so remount the tmpfs read-only; others just chmod."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(directory.parent)], check=True)
    else:
        for d in (directory, directory / "runs"):
            d.chmod(0o555)


@pytest.fixture
def results_home(request, tmp_path):
    """A results directory that can be made read-only: on a tmpfs when root, else anywhere."""
    if os.geteuid() != 0:
        return tmp_path / "results"
    return request.getfixturevalue("mount_tmpfs")("4m") / "results"


def test_read_only_results_dir_is_one_line_and_keeps_earlier_results(results_home, tmp_path):
    results = results_home
    journal = tmp_path / "optuna.journal"
    assert bench_cmd(*TOY, "--results-dir", str(results), cwd=tmp_path).returncode == 0
    shutil.copy(results / "optuna.journal", journal)
    before = snapshot(results)
    make_read_only(results)
    for storage, needle in (([], str(results)),
                            (["--storage", f"journal:{journal}"], "cannot write results")):
        out = bench_cmd(*TOY, "--seed", "1", "--results-dir", str(results), *storage,
                        cwd=tmp_path)
        one_line_error(out, needle, str(results))
    assert snapshot(results) == before


def fill(directory: Path) -> Path:
    """Write zeros into ``directory`` until the file system is full; return the filler."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_full_results_dir_is_one_line_keeps_earlier_results_and_resumes(mount_tmpfs, tmp_path):
    tiny = mount_tmpfs("512k")
    results = tiny / "results"
    journal = f"journal:{tmp_path / 'optuna.journal'}"  # the Parquet writer is what fails
    assert bench_cmd(*TOY, "--results-dir", str(results), "--storage", journal,
                     cwd=tmp_path).returncode == 0
    before = read_results(results)
    files = snapshot(results)
    filler = fill(tiny)
    out = bench_cmd(*TOY, "--seed", "1", "--results-dir", str(results), "--storage", journal,
                    cwd=tmp_path)
    one_line_error(out, "cannot write results", "No space left on device")
    assert snapshot(results) == files  # no partial or temporary file, nothing overwritten
    filler.unlink()
    again = bench_cmd(*TOY, "--seed", "1", "--results-dir", str(results), "--storage", journal,
                      cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    after = read_results(results)
    assert set(before.run_key) < set(after.run_key) and set(after.base_seed) == {0, 1}


# -- storage ------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, needle", [
    ("postgresql://nobody@127.0.0.1:1/none", "cannot open storage"),
    ("mysql+notadriver://u@127.0.0.1/db", "cannot open storage"),
    ("notascheme://somewhere", "cannot open storage"),
    ("sqlite:////no/such/dir/optuna.db", "cannot open storage"),
    ("journal:/proc/none/optuna.journal", "cannot open Optuna journal"),
])
def test_unusable_storage_urls_are_one_clear_line(tmp_path, url, needle):
    with pytest.raises(BenchError) as info:
        open_storage(url, tmp_path)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_a_missing_database_on_a_live_server_is_one_clear_line(postgres_server, tmp_path):
    out = bench_cmd(*TOY, "--storage", f"{postgres_server}/no_such_db", cwd=tmp_path)
    one_line_error(out, "cannot open storage", "no_such_db")
    assert not result_files(tmp_path / "results")


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg2"])
def test_both_postgresql_url_forms_open_a_live_database(postgres_url, tmp_path, scheme):
    import optuna

    url = postgres_url.replace("postgresql+psycopg2://", f"{scheme}://")
    storage = open_storage(url, tmp_path)
    study = optuna.create_study(storage=storage, study_name=f"url-{scheme}")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    again = open_storage(url, tmp_path)
    assert len(optuna.load_study(study_name=f"url-{scheme}", storage=again).trials) == 1


@pytest.mark.parametrize("url, needle", [
    ("postgresql://u@127.0.0.1:1/db", "pip install psycopg2-binary"),
    ("postgresql+psycopg://u@127.0.0.1:1/db", "pip install 'psycopg[binary]' (psycopg 3)"),
])
def test_a_missing_postgresql_driver_is_named(tmp_path, monkeypatch, url, needle):
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(BenchError, match="needs a PostgreSQL driver that is not installed") as info:
        open_storage(url, tmp_path)
    assert needle in str(info.value)


@pytest.mark.parametrize("name, value", [(HEARTBEAT_ENV, "fast"), (GRACE_ENV, "0")])
def test_bad_heartbeat_settings_are_one_clear_line(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(BenchError, match=f"{name}=.*whole number of seconds"):
        open_storage("postgresql://nobody@127.0.0.1:1/none", tmp_path)


# -- strategies ---------------------------------------------------------------------------------
def test_a_loss_that_turns_nan_mid_training_stops_the_run_with_one_line(tmp_path):
    import torch

    from bench.base import RunContext
    from bench.budgets import get_budget
    from bench.gradient import Training, train

    layer = torch.nn.Linear(1, 1)
    ctx = RunContext(budget=get_budget("smoke"), seed=0, split="val", results_dir=tmp_path,
                     cache_dir=tmp_path, progress=False)

    def loss(step: int) -> torch.Tensor:
        return layer.weight.sum() ** 2 * (math.nan if step == 3 else 1.0)

    with pytest.raises(FloatingPointError, match=r"^training loss became nan at step 3$"):
        train(Training([layer], loss), ctx, lr=0.01, grad_clip=1.0)
    assert ctx.counters.steps == 3  # the three good steps ran, then the run stopped
