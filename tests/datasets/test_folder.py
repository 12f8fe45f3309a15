"""``folder:PATH`` datasets in every layout, the embedded corpora's source subsets, and how many
clips a run reads of a large dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.data import SPLITS, Clip, DataError, open_dataset
from datasets.standardize import load_sources, spread
from tests.datasets.conftest import write_audio, write_corrupt


def _open(tmp_path: Path, spec: str):
    return open_dataset(spec, cache_dir=tmp_path / "cache")


def _groups(ds) -> dict[str, set[str]]:
    return {s: {c.group for c in ds.clips(s)} for s in SPLITS}


def test_split_subfolders_are_kept_and_other_files_ignored(tmp_path):
    root = tmp_path / "mine"
    for split, speakers in (("train", "abc"), ("val", "d"), ("test", "e")):
        for speaker in speakers:
            write_audio(root / split / speaker / "1.wav", 1.0, 16000)
    write_audio(root / "test" / "f.wav", 1.0, 16000)  # a file directly in a split folder
    write_audio(root / "stray.wav", 1.0, 16000)
    ds = _open(tmp_path, f"folder:{root}")
    assert ds.spec == f"folder:{root.resolve()}"
    assert _groups(ds) == {"train": {"train/a", "train/b", "train/c"}, "val": {"val/d"},
                           "test": {"test/e", "test/f"}}


def test_without_split_folders_each_subfolder_stays_in_one_split(tmp_path):
    root = tmp_path / "songs"
    for song in range(8):
        for part in range(3):
            write_audio(root / f"song{song}" / f"part{part}.flac", 1.0, 22050, seed=part)
    first = _groups(_open(tmp_path, f"folder:{root}"))
    assert all(first.values())
    assert sum(map(len, first.values())) == 8  # no song crosses splits
    again = _groups(_open(tmp_path / "other", f"folder:{root}"))  # a fresh index, same splits
    assert again == first


def test_files_at_the_top_are_their_own_sources(tmp_path):
    for k in range(6):
        write_audio(tmp_path / "flat" / f"take{k}.wav", 1.0, 16000)
    groups = _groups(_open(tmp_path, f"folder:{tmp_path / 'flat'}"))
    assert set().union(*groups.values()) == {f"take{k}" for k in range(6)}


def test_any_format_channels_and_rate_are_read_mono_at_the_run_rate(tmp_path):
    root = tmp_path / "mixed"
    sources = [("a/1.wav", 8000, 1), ("b/1.flac", 44100, 2), ("c/1.ogg", 48000, 2),
               ("d/1.mp3", 22050, 1), ("e/1.aiff", 96000, 1)]
    for name, sr, channels in sources:
        write_audio(root / name, 1.5, sr, channels=channels, freq=500.0)
    ds = _open(tmp_path, f"folder:{root}")
    arrays, ids, skipped = load_sources(ds, SPLITS, sample_rate=16000)
    assert skipped == 0 and sorted(ids) == sorted(name for name, _, _ in sources)
    for a in arrays:
        assert a.dtype == np.float32 and a.ndim == 1
        assert abs(len(a) - 24000) <= 32  # 1.5 s at 16 kHz, mp3 decoder padding aside
        spectrum = np.abs(np.fft.rfft(a))
        assert np.argmax(spectrum) * 16000 / len(a) == pytest.approx(500.0, abs=5.0)


def test_unreadable_files_are_skipped_counted_and_reindexed_when_the_folder_changes(tmp_path):
    root = tmp_path / "voices"
    for speaker in "abc":
        write_audio(root / speaker / "1.wav", 1.0, 16000)
    write_corrupt(root / "a" / "2.wav")
    write_audio(root / "b" / "short.wav", 0.1, 16000)
    ds = _open(tmp_path, f"folder:{root}")
    assert {Path(s["path"]).name for s in ds.skipped()} == {"2.wav", "short.wav"}
    before = ds.digest()
    write_audio(root / "d" / "1.wav", 1.0, 16000)
    fresh = _open(tmp_path, f"folder:{root}")
    assert sum(fresh.sizes().values()) == 4 and fresh.digest() != before


def test_a_corpus_subset_keeps_its_sources_and_knows_what_it_shares():
    speech = open_dataset("speech", tier="smoke")
    real, synthetic = (open_dataset(f"speech:{s}", tier="smoke") for s in ("real", "synthetic"))
    assert {c.meta["source"] for c in real.clips("test")} == {"asterisk"}
    assert "asterisk" not in {c.meta["source"] for s in SPLITS for c in synthetic.clips(s)}
    assert real.shares_sources(speech) and speech.shares_sources(real)
    assert not real.shares_sources(synthetic)
    assert not real.shares_sources(open_dataset("music:real", tier="smoke"))
    assert len({real.digest(), synthetic.digest(), speech.digest()}) == 3
    fof = open_dataset("music:fof", tier="smoke")
    assert {c.meta["source"] for s in SPLITS for c in fof.clips(s)} == {"fof"}


def test_folders_share_sources_when_one_holds_the_other(tmp_path):
    for path in ("all/x/1.wav", "all/y/1.wav", "other/z/1.wav"):
        write_audio(tmp_path / path, 1.0, 16000)
    whole, part, other = (_open(tmp_path, f"folder:{tmp_path / p}")
                          for p in ("all", "all/x", "other"))
    assert whole.shares_sources(part) and part.shares_sources(whole)
    assert not whole.shares_sources(other)


def test_a_large_split_is_read_spread_over_its_speakers():
    clips = [Clip(f"{g}{k}", Path(f"{g}{k}.wav"), g, "train", 16000)
             for g in "abcdefgh" for k in range(5)]
    kept = spread(clips, 10)
    assert len(kept) == 10 and {c.group for c in kept} == set("abcdefgh")
    assert kept == sorted(kept, key=clips.index)  # in the listed order
    assert spread(clips, None) == clips and spread(clips, 100) == clips


def test_long_research_files_are_read_as_their_central_excerpt(tmp_path):
    root = tmp_path / "long"
    for speaker in "abc":
        path = root / speaker / "1.wav"
        path.parent.mkdir(parents=True)
        t = np.arange(30 * 8000) / 8000
        sf.write(path, np.where(t < 10, 0.0, 0.3) * np.sin(2 * np.pi * 200 * t), 8000)
    ds = _open(tmp_path, f"folder:{root}")
    arrays, _, _ = load_sources(ds, SPLITS, sample_rate=8000)
    assert [len(a) for a in arrays] == [80000] * 3  # 10 s of 30
    assert all(np.abs(a[:4000]).max() > 0.01 for a in arrays)  # 10-20 s: not the silent start


def test_an_unknown_folder_spec_argument_is_required():
    with pytest.raises(DataError, match="folder needs a directory"):
        open_dataset("folder")


def test_a_format_only_ffmpeg_reads_is_skipped_naming_the_fix_without_it(tmp_path, monkeypatch):
    root = tmp_path / "phone"
    for speaker in "abc":
        write_audio(root / speaker / "1.wav", 1.0, 16000)
    (root / "a" / "2.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A ")
    monkeypatch.setattr("shutil.which", lambda name: None)
    ds = _open(tmp_path, f"folder:{root}")
    assert [s["reason"] for s in ds.skipped()] == [
        "unreadable without ffmpeg (.m4a files): install it with apt-get install -y "
        "--no-install-recommends ffmpeg"]
    assert sum(ds.sizes().values()) == 3
