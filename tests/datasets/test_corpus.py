"""The built-corpus machinery on a toy corpus: manifest, checksums, rebuilds, bad input, splits."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from bench.data import DataError
from datasets.corpus import BuiltCorpus, Job, Rendered, Source, excerpt_offsets
from datasets.requirements import tool
from datasets.splits import assign_splits
from tests.datasets.conftest import tone

GOOD = ("a", "b", "c", "d", "e")


def _render(job: Job, work: Path) -> Rendered:
    ToyCorpus.rendered.append(job.id)
    kind, sr = job.params["kind"], 22050
    x = tone(3.0, sr, freq=200 + 50 * job.seed % 7, seed=job.seed, amp=0.5)
    if kind == "broken":
        raise DataError("cannot read broken.ogg: not an audio file")
    if kind == "glitch":  # inside the first of the two excerpts
        x[sr // 2], x[sr // 2 + 1] = 0.5, -0.5
    if kind == "nan":
        x[sr // 2] = np.nan
    if kind == "short":
        x = x[: sr // 4]
    if kind == "stereo":
        x, sr = tone(3.0, 32003, channels=2, amp=3.0), 32003  # odd rate, too loud, stereo
    return Rendered(x.reshape(len(x), -1), sr, [f"toy {kind}"], {"instrument": kind})


class ToyCorpus(BuiltCorpus):
    """A corpus of generated tones, one job per kind of input (good and bad)."""

    version = "1"
    domain = "music"
    sources = {"toy": Source("toy", "generated tones", "toy-pkg", "CC0-1.0", "nobody",
                             (tool("sh", "dash"),))}
    rendered: list[str] = []

    def clip_seconds(self) -> float:
        return 1.0

    def plan(self) -> list[Job]:
        kinds = [*GOOD, "broken", "glitch", "nan", "short", "stereo"]
        split = assign_splits(kinds, seed=3)
        return [Job(f"toy_{k}", "toy", k, split[k], i, 2, {"kind": k})
                for i, k in enumerate(kinds)]

    def source_renderer(self):
        return _render


ToyCorpus.name = "toy_corpus"  # set after class creation: a test corpus is not registered


@pytest.fixture
def built(tmp_path, capsys):
    ToyCorpus.rendered.clear()
    corpus = ToyCorpus(cache_dir=tmp_path / "cache", tier="default")
    corpus.prepare()
    return corpus, json.loads(corpus.manifest_path.read_text()), capsys.readouterr().out


def test_manifest_records_provenance_loudness_and_checksums(built):
    corpus, manifest, _ = built
    from datasets.audio_io import sha256_file

    assert manifest["sample_rate"] == 44100 and manifest["tier"] == "default"
    for clip in manifest["clips"]:
        for key in ("source", "package", "package_version", "license", "seed", "chain",
                    "loudness_lufs", "peak_dbfs", "sha256", "split", "group", "instrument"):
            assert key in clip, key
        assert clip["peak_dbfs"] <= -1.0 + 1e-3
        assert sha256_file(corpus.root / clip["path"]) == clip["sha256"]
    good = [c for c in manifest["clips"] if c["group"] in GOOD]
    assert all(c["loudness_lufs"] == pytest.approx(-23.0, abs=0.3) for c in good)
    assert (corpus.root / "LICENSES.md").read_text().count("CC0-1.0") == 1


def test_bad_inputs_are_skipped_counted_and_reported(built):
    _, manifest, out = built
    problems = {p["job"]: p for p in manifest["problems"]}
    assert problems["toy_broken"]["kind"] == "skipped"
    assert "not an audio file" in problems["toy_broken"]["reason"]
    assert "glitch" in problems["toy_glitch"]["reason"]
    assert "non-finite" in problems["toy_nan"]["reason"]
    assert "too short" in problems["toy_short"]["reason"]
    assert [c["id"] for c in manifest["clips"] if c["group"] == "glitch"] == ["toy_glitch-01"]
    stereo = [c for c in manifest["clips"] if c["group"] == "stereo"]
    assert len(stereo) == 2 and stereo[0]["native_sample_rate"] == 32003
    assert "3 jobs with rejected excerpts, 1 skipped" in out
    assert "target < 900 s" in out


def test_a_build_says_what_it_builds_then_counts_per_source(built):
    _, manifest, out = built
    first, *_ = out.splitlines()
    assert first == ("building the default toy_corpus corpus: up to 20 clips from 1 source "
                     "(toy), 10 render jobs")
    assert "10/10" in out  # the per-job progress bar
    assert f"from 1 sources (toy {len(manifest['clips'])} clips)" in out


class TwoSourceCorpus(ToyCorpus):
    """The toy corpus plus a second source whose renderer has a bug."""

    sources = {**ToyCorpus.sources,
               "buggy": Source("buggy", "tones", "toy-pkg", "CC0-1.0", "nobody", ())}

    def plan(self) -> list[Job]:
        return [*super().plan(), *(Job(f"buggy_{k}", "buggy", f"b{k}", "train", k, 1,
                                       {"kind": "bug"}) for k in range(2))]

    def source_renderer(self):
        def render(job: Job, work: Path) -> Rendered:
            if job.source == "buggy":
                return job.params["missing"]  # a bug: KeyError on every job of the source
            return _render(job, work)
        return render


def test_a_source_that_yields_nothing_fails_the_build(tmp_path):
    corpus = TwoSourceCorpus(cache_dir=tmp_path, tier="default")
    with pytest.raises(DataError, match=r"source 'buggy' yielded no clip \(buggy_0: KeyError: "
                                        r"'missing'; buggy_1: KeyError: 'missing'\)"):
        corpus.prepare(progress=False)
    assert not corpus.manifest_path.exists()


def test_an_optional_source_may_yield_nothing(tmp_path, monkeypatch, capsys):
    optional = dataclasses.replace(TwoSourceCorpus.sources["buggy"], optional=True)
    monkeypatch.setitem(TwoSourceCorpus.sources, "buggy", optional)
    corpus = TwoSourceCorpus(cache_dir=tmp_path, tier="default")
    corpus.prepare()
    manifest = json.loads(corpus.manifest_path.read_text())
    assert {c["source"] for c in manifest["clips"]} == {"toy"}
    assert "from 1 sources (toy " in capsys.readouterr().out


def test_splits_are_disjoint_by_group_and_recorded(built):
    corpus, manifest, _ = built
    groups = {s: {c.group for c in corpus.clips(s)} for s in ("train", "val", "test")}
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"]
                or groups["val"] & groups["test"])
    assert {s: set(g) for s, g in manifest["splits"].items()} == {
        s: groups[s] for s in groups}


def test_two_builds_give_identical_bytes(built, tmp_path):
    corpus, _, _ = built
    again = ToyCorpus(cache_dir=tmp_path / "other", tier="default")
    again.prepare(progress=False)
    assert again.manifest_path.read_bytes() == corpus.manifest_path.read_bytes()
    for clip in corpus.clips("train"):
        assert (again.root / "clips" / clip.path.name).read_bytes() == clip.path.read_bytes()


def test_damaged_file_is_detected_and_only_its_job_rebuilt(built):
    corpus, manifest, _ = built
    victim = corpus.root / manifest["clips"][0]["path"]
    original = victim.read_bytes()
    victim.write_bytes(original[:100] + b"\x00" * (len(original) - 100))
    stale = corpus.root / "clips" / "toy_removed-00.wav"
    stale.write_bytes(original)
    ToyCorpus.rendered.clear()
    corpus.prepare(progress=False)
    assert ToyCorpus.rendered == [manifest["clips"][0]["job"]]
    assert victim.read_bytes() == original and not stale.exists()
    corpus.prepare(progress=False)
    assert ToyCorpus.rendered == [manifest["clips"][0]["job"]]  # nothing left to rebuild


def test_missing_file_is_rebuilt_on_use(built):
    corpus, _, _ = built
    clip = corpus.clips("train")[0]
    clip.path.unlink()
    assert corpus.clips("train")[0].path.exists()


def test_first_use_builds_the_cache_and_says_so(tmp_path, capsys):
    corpus = ToyCorpus(cache_dir=tmp_path, tier="smoke")
    assert not corpus.manifest_path.exists()
    assert corpus.clips("train") and corpus.manifest_path.exists()
    out = capsys.readouterr().out
    assert out.startswith("building the smoke toy_corpus corpus: up to 20 clips") and "10/10" in out


def test_missing_tool_stops_before_rendering(tmp_path, monkeypatch):
    src = Source("toy", "generated tones", "toy-pkg", "CC0-1.0", "nobody",
                 (tool("toy-synth-not-installed", "toy-synth"),))
    monkeypatch.setattr(ToyCorpus, "sources", {"toy": src})
    ToyCorpus.rendered.clear()
    with pytest.raises(DataError, match=r"toy-synth-not-installed.*apt-get install .*toy-synth"):
        ToyCorpus(cache_dir=tmp_path).prepare()
    assert ToyCorpus.rendered == []


def test_unknown_tier_and_split_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="unknown tier"):
        ToyCorpus(cache_dir=tmp_path, tier="huge").prepare()
    with pytest.raises(DataError, match="unknown split"):
        ToyCorpus(cache_dir=tmp_path).clips("dev")


def test_excerpts_are_spread_and_do_not_overlap():
    offsets = excerpt_offsets(100.0, 5, 10.0)
    assert offsets[0] == 5.0 and offsets[-1] == 85.0
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(offsets))
    assert excerpt_offsets(5.0, 3, 10.0) == [0.0]
    assert len(excerpt_offsets(25.0, 9, 10.0)) == 2


def test_load_sources_standardizes_and_skips_unreadable_clips(built):
    from datasets.standardize import load_sources

    corpus, _, _ = built
    clips = corpus.clips("train")
    clips[0].path.write_bytes(b"not a wav file")
    arrays, ids, skipped = load_sources(corpus, "train", sample_rate=16000)
    assert skipped == 1 and clips[0].id not in ids and len(arrays) == len(clips) - 1
    assert all(a.shape == (16000,) and a.dtype == np.float32 for a in arrays)
