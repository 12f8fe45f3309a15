"""Runs on chosen data: one smoke cell on a tiny tree of every supported layout, the
DeepAFx-ST protocol end to end (train on one dataset, test on others at another rate), and the
embedded corpora's held-out-source evaluation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import soundfile as sf

from bench.base import RunContext
from bench.budgets import get_budget
from bench.data import open_dataset
from bench.data_choice import DataChoice
from bench.results import label_data, read_results
from bench.runner import run
from bench.sweep import RunOptions
from datasets.requirements import tool
from tests.conftest import bench_cmd
from tests.datasets.conftest import skip_without
from tests.datasets.layouts import (
    make_daps,
    make_folder,
    make_libritts,
    make_mtg_jamendo,
    make_musdb18,
    make_musdb_hq,
    make_vctk,
)

LAYOUTS = {  # name -> (domain, tree maker, files left out as unreadable or too short)
    "libritts": ("speech", make_libritts, 2),
    "daps": ("speech", make_daps, 0),
    "vctk": ("speech", make_vctk, 0),
    "musdb18hq": ("music", make_musdb_hq, 0),
    "musdb18": ("music", lambda r: make_musdb18(r, ("A - One", "B - Two", "E - Five")), 1),
    "mtg_jamendo": ("music", make_mtg_jamendo, 0),
    "folder": ("speech", make_folder, 1),
}


@pytest.fixture(autouse=True)
def _no_dataset_variables(monkeypatch):
    for name in ("DATA_ROOT", *(n.upper() for n in LAYOUTS)):
        monkeypatch.delenv(f"AFX_BENCH_{name}", raising=False)


def _final(frame, strategy):
    return frame[(frame.phase == "final") & (frame.strategy == strategy) & frame.is_main_metric]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_one_smoke_cell_on_each_layout(name, tmp_path, capsys):
    domain, make, left_out = LAYOUTS[name]
    if name == "musdb18":
        skip_without(tool("ffmpeg"), tool("ffprobe", "ffmpeg"))
    made = make(tmp_path / "data")
    spec = f"folder:{made}" if name == "folder" else name
    summary = run(RunOptions(strategies="cmaes", tasks=f"synthetic_{domain}", budget="smoke",
                             trials=1, results_dir=tmp_path / "results",
                             data_root=tmp_path / "data", cache_dir=tmp_path / "cache",
                             data=[f"{domain}={spec}"], progress=False))
    assert summary.failed == 0 and summary.runs == 2
    frame = read_results(tmp_path / "results")
    final = _final(frame, "cmaes").iloc[0]
    canonical = open_dataset(spec, cache_dir=tmp_path / "cache",
                             data_root=tmp_path / "data").spec
    assert final.status == "ok" and final.train_data == final.test_data == canonical
    assert final.test_data_fingerprint and final.data_skipped == left_out
    assert set(frame.train_data) == {canonical}  # reference and tuning rows too
    if left_out:
        assert f"{canonical}: {left_out} files left out" in capsys.readouterr().err


def test_train_on_libritts_test_on_unseen_daps_and_vctk_at_another_rate(tmp_path, monkeypatch,
                                                                        capsys):
    from bench.cli import main
    from bench.report.leaderboard import build_tables

    for make in (make_libritts, make_daps, make_vctk):
        make(tmp_path / "data")
    args = ("run", "--task", "synthetic_speech", "--strategy", "autodiff", "--budget", "smoke",
            "--trials", "1", "--data", "speech=libritts", "--test-data", "speech=daps,vctk",
            "--test-rate", "22050", "--data-root", "data", "--cache-dir", "cache",
            "--no-progress")
    done = bench_cmd(*args, cwd=tmp_path, plugins="")
    assert done.returncode == 0, done.stderr
    assert "speech: training on libritts; testing on daps, vctk at 22050 Hz" in done.stdout
    assert "/seed0/train=libritts: final on daps@22050 " in done.stdout
    assert "/seed0/train=libritts: final on vctk@22050 " in done.stdout
    frame = read_results(tmp_path / "results")
    final = _final(frame, "autodiff")
    assert sorted(zip(final.train_data, final.test_data, strict=True)) == [
        ("libritts", "daps@22050"), ("libritts", "vctk@22050")]
    assert (final.status == "ok").all() and final.train_data_fingerprint.notna().all()
    tune = frame[frame.phase == "tune"]
    assert set(zip(tune.train_data, tune.test_data, strict=True)) == {("libritts", "libritts")}
    inputs = _final(frame, "input")
    assert set(inputs.test_data) == {"daps@22050", "vctk@22050"}
    output = (tmp_path / "results" / "audio" / "smoke" / "synthetic_speech@libritts_to_daps@22050"
              / "seed0" / "autodiff" / "0_output.flac")
    assert sf.info(output).samplerate == 22050

    monkeypatch.chdir(tmp_path)  # the same command again resumes, in this process
    assert main(list(args)) == 0
    assert "done: 0 runs (0 failed), 6 already done" in capsys.readouterr().out
    tables = build_tables(label_data(frame))
    assert [t.title for t in tables] == ["synthetic_speech [libritts → daps@22050] (smoke budget)",
                                         "synthetic_speech [libritts → vctk@22050] (smoke budget)"]
    assert all(t.references == ["input", "oracle"] for t in tables)


def test_an_unseen_test_dataset_is_read_whole_and_a_seen_one_by_its_test_split(tmp_path):
    from tasks import _audio

    make_libritts(tmp_path / "data")
    make_daps(tmp_path / "data")
    ctx = RunContext(budget=get_budget("smoke"), seed=0, split="test", results_dir=tmp_path,
                     cache_dir=tmp_path / "cache", data_root=tmp_path / "data", progress=False,
                     data=DataChoice((("speech", "libritts", "daps"),), 22050))
    unseen = _audio.sources("speech", "test", ctx)
    assert len(unseen) == 10 and {len(a) for a in unseen} == {22050}  # 1 s clips at 22.05 kHz
    seen = dataclasses.replace(ctx, data=DataChoice((("speech", "daps", "daps"),)))
    assert len(_audio.sources("speech", "test", seen)) == 2
    assert {len(a) for a in _audio.sources("speech", "train", ctx)} == {16000}  # the budget's
    assert ctx.data_read["test"]["speech"]["spec"] == "daps"
    assert ctx.data_read["skipped"]["libritts"] == {"indexed": 2, "train": 0}


def test_held_out_sources_train_on_synthetic_voices_and_test_on_real_recordings(tmp_path):
    summary = run(RunOptions(strategies="cmaes", tasks="synthetic_speech", budget="smoke",
                             trials=1, results_dir=tmp_path, data=["speech=speech:synthetic"],
                             test_data=["speech=speech:real"], progress=False))
    assert summary.failed == 0
    final = _final(read_results(tmp_path), "cmaes").iloc[0]
    assert (final.train_data, final.test_data) == ("speech:synthetic", "speech:real")
    assert final.test_data_fingerprint == open_dataset("speech:real", tier="smoke").digest()


def test_bad_data_is_one_line_and_writes_nothing(tmp_path):
    done = bench_cmd("run", "--task", "synthetic_speech", "--strategy", "cmaes", "--data",
                     "speech=vctk", "--data-root", "nowhere", cwd=tmp_path, plugins="")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "pass --data-root or set AFX_BENCH_VCTK" in done.stderr
    assert not Path(tmp_path / "results").exists()
