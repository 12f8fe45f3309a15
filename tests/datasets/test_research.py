"""Loaders for the research datasets, each on a tiny tree in its published layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.data import DataError
from bench.registry import registry
from datasets.requirements import tool
from datasets.standardize import load_clip
from tests.datasets.conftest import skip_without, write_corrupt
from tests.datasets.layouts import (
    make_daps,
    make_libritts,
    make_mtg_jamendo,
    make_musdb18,
    make_musdb_hq,
    make_vctk,
)

SPLITS = ("train", "val", "test")


def _load(name: str, tmp_path: Path, data_root: Path):
    return registry("dataset").get(name)(cache_dir=tmp_path / "cache", data_root=data_root)


def _by_split(ds) -> dict[str, list]:
    return {s: ds.clips(s) for s in SPLITS}


def _assert_disjoint(clips: dict[str, list]) -> None:
    groups = {s: {c.group for c in cs} for s, cs in clips.items()}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert not (groups["val"] & groups["test"])


def test_libritts_official_subsets_give_speaker_disjoint_splits(tmp_path, capsys):
    make_libritts(tmp_path)
    ds = _load("libritts", tmp_path, tmp_path)
    ds.prepare()
    out = capsys.readouterr().out
    assert "2 skipped" in out and "too short" in out and "unreadable" in out
    clips = _by_split(ds)
    assert {c.group for c in clips["train"]} == {"19", "26", "32"}
    assert {c.group for c in clips["val"]} == {"84"} and {c.group for c in clips["test"]} == {"121"}
    assert clips["train"][0].sample_rate == 24000
    assert clips["train"][0].meta["text_path"].endswith(".normalized.txt")


def test_daps_uses_cleanraw_and_splits_by_speaker(tmp_path):
    make_daps(tmp_path)
    clips = _by_split(_load("daps", tmp_path, tmp_path / "daps"))
    everything = [c for cs in clips.values() for c in cs]
    assert len(everything) == 10 and all(c.meta["recording"] == "cleanraw" for c in everything)
    assert all(clips[s] for s in SPLITS)
    _assert_disjoint(clips)


def test_vctk_reads_mic1_flac_by_speaker(tmp_path):
    make_vctk(tmp_path)
    clips = _by_split(_load("vctk", tmp_path, tmp_path))
    everything = [c for cs in clips.values() for c in cs]
    assert len(everything) == 8 and all(c.path.name.endswith("_mic1.flac") for c in everything)
    assert all(c.sample_rate == 48000 for c in everything)
    assert {c.meta["text_path"] is None for c in everything if c.group == "p315"} == {True}
    _assert_disjoint(clips)


def test_musdb18hq_keeps_official_test_and_draws_validation_from_train(tmp_path):
    make_musdb_hq(tmp_path)
    clips = _by_split(_load("musdb18hq", tmp_path, tmp_path))
    assert [c.group for c in clips["test"]] == ["D - Four"]
    assert len(clips["val"]) == 1 and len(clips["train"]) == 3
    assert set(clips["train"][0].meta["stems"]) == {"drums", "bass", "other", "vocals"}
    y = load_clip(clips["train"][0], sample_rate=22050, seconds=0.5)
    assert y.shape == (11025,) and np.all(np.isfinite(y))


def test_musdb18_decodes_the_mixture_stream_with_ffmpeg(tmp_path):
    skip_without(tool("ffmpeg"), tool("ffprobe", "ffmpeg"))
    make_musdb18(tmp_path)
    ds = _load("musdb18", tmp_path, tmp_path)
    clips = _by_split(ds)
    assert [c.group for c in clips["test"]] == ["C - Three"]
    assert len(clips["train"]) + len(clips["val"]) == 2  # the broken file is skipped
    y = load_clip(clips["test"][0], sample_rate=44100, seconds=0.5)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 44100 / len(y) == pytest.approx(220.0, abs=4.0)  # stream 0


def test_musdb18_without_ffmpeg_says_why(tmp_path, monkeypatch):
    (tmp_path / "musdb18" / "train").mkdir(parents=True)
    real_which = shutil.which
    monkeypatch.setattr("datasets.requirements.shutil.which",
                        lambda name: None if name.startswith("ff") else real_which(name))
    with pytest.raises(DataError, match=r"musdb18 loader: ffmpeg.*apt-get install .*ffmpeg"):
        _load("musdb18", tmp_path, tmp_path).prepare()


def test_mtg_jamendo_splits_by_artist_from_the_metadata(tmp_path):
    make_mtg_jamendo(tmp_path)
    clips = _by_split(_load("mtg_jamendo", tmp_path, tmp_path))
    everything = [c for cs in clips.values() for c in cs]
    assert len(everything) == 6 and all(clips[s] for s in SPLITS)
    same = {c.split for c in everything if c.group == "artist_1"}
    assert len(same) == 1
    assert everything[0].meta["tags"] == "genre---rock mood/theme---happy"
    _assert_disjoint(clips)


def test_roots_come_from_the_environment(tmp_path, monkeypatch):
    make_musdb_hq(tmp_path / "elsewhere")
    monkeypatch.setenv("AFX_BENCH_MUSDB18HQ", str(tmp_path / "elsewhere" / "musdb18hq"))
    assert _load("musdb18hq", tmp_path, None).locate() == tmp_path / "elsewhere" / "musdb18hq"
    monkeypatch.delenv("AFX_BENCH_MUSDB18HQ")
    monkeypatch.setenv("AFX_BENCH_DATA_ROOT", str(tmp_path / "elsewhere"))
    assert _load("musdb18hq", tmp_path, None).locate() == tmp_path / "elsewhere" / "musdb18hq"


@pytest.mark.parametrize("name", ["libritts", "daps", "vctk", "musdb18hq", "mtg_jamendo"])
def test_missing_dataset_is_a_clear_error_and_never_a_download(name, tmp_path, monkeypatch):
    monkeypatch.delenv("AFX_BENCH_DATA_ROOT", raising=False)
    monkeypatch.delenv(f"AFX_BENCH_{name.upper()}", raising=False)
    with pytest.raises(DataError, match=f"AFX_BENCH_{name.upper()}.*never downloaded"):
        _load(name, tmp_path, tmp_path / "empty").clips("train")


def test_a_directory_of_only_corrupt_files_is_an_error_not_a_crash(tmp_path):
    write_corrupt(tmp_path / "daps" / "cleanraw" / "f1_script1_cleanraw.wav")
    with pytest.raises(DataError, match="no readable audio"):
        _load("daps", tmp_path, tmp_path).prepare(progress=False)


def test_load_clip_of_a_corrupt_file_raises_data_error(tmp_path):
    make_libritts(tmp_path)
    ds = _load("libritts", tmp_path, tmp_path)
    clip = ds.clips("train")[0]
    write_corrupt(clip.path)
    with pytest.raises(DataError, match="cannot read"):
        load_clip(clip, sample_rate=16000, seconds=0.5)
