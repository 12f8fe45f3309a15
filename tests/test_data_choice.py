"""Choosing data: the --data/--test-data/--test-rate flags, the choices a task runs on, their
labels and run keys (none added for the default), and the one-line errors on bad input."""

from __future__ import annotations

import pytest

from bench.budgets import get_budget
from bench.data_choice import DataChoice, DataPlan, data_plan, parse_data_flags
from bench.errors import BenchError
from bench.registry import registry
from bench.results import run_key
from bench.run_keys import final_key, reference_key, skip_key, study_name
from tests.datasets.conftest import write_audio, write_corrupt


def test_flags_repeat_and_take_comma_lists_continuing_the_domain():
    got = parse_data_flags(["speech=libritts", "speech=daps,vctk,music=musdb18,folder:/x=y"],
                           "--test-data")
    assert got == {"speech": ("libritts", "daps", "vctk"),
                   "music": ("musdb18", "folder:/x=y")}


@pytest.mark.parametrize("value", ["libritts", "speech=", "speech=daps,,vctk"])
def test_a_flag_without_a_domain_or_spec_says_the_form(value):
    with pytest.raises(BenchError, match=r"give DOMAIN=SPEC\[,SPEC…\], e\.g\. --data speech="):
        parse_data_flags([value], "--data")


def test_each_training_spec_is_tested_on_each_test_spec_of_its_domain():
    plan = DataPlan({"speech": ("libritts",)}, {"speech": ("daps", "vctk")}, 44100)
    assert [(c.train_label(), c.test_label()) for c in plan.choices(("speech",))] == [
        ("libritts", "daps@44100"), ("libritts", "vctk@44100")]
    both = DataPlan({"music": ("mtg_jamendo",)}).choices(("speech", "music"))
    assert [(c.train_label(), c.test_label()) for c in both] == [
        ("speech+mtg_jamendo", "speech+mtg_jamendo")]
    assert DataPlan(test_rate=44100).choices(()) == [DataChoice()]  # the toy reads no data


def test_training_and_validation_read_the_training_data_and_the_test_its_own_rate():
    choice = DataChoice((("speech", "libritts", "daps"),), 44100)
    assert [choice.spec("speech", s) for s in ("train", "val", "test")] == [
        "libritts", "libritts", "daps"]
    assert choice.spec("music", "test") == "music"
    assert [choice.sample_rate(s, 24000) for s in ("train", "val", "test")] == [
        24000, 24000, 44100]


def test_the_default_choice_leaves_every_run_key_as_it_was():
    task, budget = registry("task").get("synthetic_speech")(), get_budget("smoke")
    cls = registry("strategy").get("spsa")
    default = DataChoice((("speech", "speech", "speech"),))
    assert default.default and default.key() == {} and default.slug() == ""
    study = study_name(task, cls, budget, 0, {}, default)
    assert study == "synthetic_speech@2/spsa@1/smoke/seed0"
    assert reference_key(task, "input", budget, 0, 0, default) == run_key(
        task="synthetic_speech", task_version="2", reference="input", budget="smoke",
        base_seed=0, rep=0)
    assert final_key(task, cls, budget, 0, study, 0, {"lr": 0.1}, default) == run_key(
        task="synthetic_speech", task_version="2", strategy="spsa", version="1",
        budget="smoke", base_seed=0, rep=0, params='{"lr":0.1}')
    assert skip_key(task, cls, budget, 0, default) == run_key(
        task="synthetic_speech", strategy="spsa", skip=True, version="1", budget="smoke",
        base_seed=0)


def test_other_data_gets_other_keys_and_tuning_is_shared_by_its_tests():
    task, budget = registry("task").get("synthetic_speech")(), get_budget("smoke")
    cls = registry("strategy").get("spsa")
    default = DataChoice((("speech", "speech", "speech"),))
    daps, vctk = (DataChoice((("speech", "libritts", t),)) for t in ("daps", "vctk"))
    rate = DataChoice((("speech", "speech", "speech"),), 44100)
    studies = {c: study_name(task, cls, budget, 0, {}, c) for c in (default, daps, vctk, rate)}
    assert studies[daps] == studies[vctk] == "synthetic_speech@2/spsa@1/smoke/seed0/train=libritts"
    assert studies[rate] == studies[default]  # same training, tested at another rate
    keys = {reference_key(task, "input", budget, 0, 0, c) for c in (default, daps, vctk, rate)}
    finals = {final_key(task, cls, budget, 0, studies[c], 0, {"lr": 0.1}, c)
              for c in (default, daps, vctk, rate)}
    assert len(keys) == len(finals) == 4


def _plan(tmp_path, train=(), test=(), rate=None):
    return data_plan(list(train), list(test), rate, cache_dir=tmp_path / "cache",
                     data_root=tmp_path / "data")


def test_a_missing_dataset_root_names_the_flag_and_the_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("AFX_BENCH_LIBRITTS", raising=False)
    monkeypatch.delenv("AFX_BENCH_DATA_ROOT", raising=False)
    with pytest.raises(BenchError, match=r"libritts not found .*pass --data-root or set "
                                         r"AFX_BENCH_LIBRITTS or AFX_BENCH_DATA_ROOT"):
        _plan(tmp_path, ["speech=libritts"])


@pytest.mark.parametrize(("flags", "message"), [
    (["sound=libritts"], r"unknown domain 'sound'; use one of music, speech"),
    (["speech=libriTTS"], r"unknown dataset 'libriTTS': did you mean libritts"),
    (["speech=musdb18"], r"musdb18 is a music dataset; write --data music=musdb18"),
    (["speech=speech:studio"], r"corpus 'speech' has no subset 'studio': use speech:real, "
                               r"speech:synthetic, speech:piper"),
    (["music=folder"], r"folder needs a directory: write folder:PATH"),
    (["music=folder:nowhere"], r"folder:/.*/nowhere: no such directory"),
    (["music=libritts:x"], r"dataset 'libritts' takes no argument"),
])
def test_bad_specs_are_one_line_errors(tmp_path, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BenchError, match=message) as err:
        _plan(tmp_path, flags)
    assert "\n" not in str(err.value)


def test_a_test_rate_out_of_range_says_the_range(tmp_path):
    with pytest.raises(BenchError, match=r"--test-rate 100: give a sample rate in Hz between "
                                         r"8000 and 192000"):
        _plan(tmp_path, rate=100)


def test_a_folder_without_readable_audio_or_with_too_few_speakers_fails_before_any_run(
        tmp_path):
    empty = tmp_path / "notes"
    (empty / "a").mkdir(parents=True)
    (empty / "a" / "readme.txt").write_text("no audio here")
    with pytest.raises(BenchError, match=r"folder:.*/notes: no audio files \(looked for wav, "):
        _plan(tmp_path, [f"speech=folder:{empty}"])
    broken = tmp_path / "broken"
    write_corrupt(broken / "a" / "1.wav")
    with pytest.raises(BenchError, match=r"folder:.*/broken: no readable audio under "
                                         r".*broken \(1 unreadable or too short\)"):
        _plan(tmp_path, [f"speech=folder:{broken}"])
    two = tmp_path / "two"
    for speaker in ("a", "b"):
        write_audio(two / speaker / "1.wav", 1.0, 16000)
    with pytest.raises(BenchError, match=r"folder:.*/two: 0 val clips \(train 2, val 0, test 0\);"
                                         r" a run needs at least 1: add audio from more "):
        _plan(tmp_path, [f"speech=folder:{two}"])
    plan = _plan(tmp_path, test=[f"speech=folder:{two}"])  # unseen: read whole, so enough
    assert plan.test == {"speech": (f"folder:{two}",)}
