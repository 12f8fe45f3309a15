"""`python -m bench publish`: a small results directory the reports rebuild from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from bench.cli import main
from bench.errors import BenchError
from bench.publish import publish
from bench.report import build_reports
from bench.results import read_results


@pytest.fixture(scope="module")
def published(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("published")
    assert main(["publish", "--results-dir", str(results_dir), "--to", str(target)]) == 0
    return target


def test_rows_and_perf_files_are_kept_not_the_journal(results_dir: Path, published: Path):
    assert [p.name for p in (published / "runs").iterdir()] == ["published.parquet"]
    before, after = read_results(results_dir), read_results(published)
    key = ["run_key", "metric"]
    pd.testing.assert_frame_equal(before.sort_values(key).reset_index(drop=True),
                                  after.sort_values(key).reset_index(drop=True))
    assert (published / "perf" / "kernels.json").exists()
    assert (results_dir / "optuna.journal").exists()
    assert not (published / "optuna.journal").exists()


def test_one_short_mp3_per_signal(results_dir: Path, published: Path):
    clips = sorted(p.relative_to(published).as_posix() for p in published.rglob("*.mp3"))
    assert "audio/smoke/toy_a/seed0/input/0_reference.mp3" in clips
    assert "audio/smoke/toy_a/seed0/beta/0_output.mp3" in clips
    assert len(clips) == 5 and not list(published.rglob("*.flac"))
    audio, rate = sf.read(published / clips[0])
    assert rate == 8000 and len(audio) >= 4000


def test_reports_from_published_match_the_source(results_dir: Path, reports_dir: Path,
                                                 published: Path, tmp_path: Path):
    build_reports([published], tmp_path)
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.tex", "runtime.md"):
        assert (tmp_path / name).read_bytes() == (reports_dir / name).read_bytes(), name
    page = (tmp_path / "index.html").read_text()
    assert 'src="audio/smoke/toy_a/seed0/alpha/0_output.mp3"' in page


def test_published_rows_are_not_read_as_the_parent_results(results_dir: Path, tmp_path: Path):
    publish(results_dir, tmp_path / "results" / "published")
    assert read_results(tmp_path / "results").empty


def test_nothing_to_publish_is_one_clear_error(tmp_path: Path):
    with pytest.raises(BenchError, match="no results under"):
        publish(tmp_path, tmp_path / "out")


def test_with_journal_the_studies_travel_and_a_missing_journal_changes_nothing(
        results_dir: Path, tmp_path: Path):
    target = tmp_path / "chunk"
    written = publish(results_dir, target, with_journal=True)
    journal = target / "optuna.journal"
    assert journal in written
    assert journal.read_bytes() == (results_dir / "optuna.journal").read_bytes()
    no_journal = tmp_path / "other"
    no_journal.mkdir()
    for sub in ("runs", "perf"):
        (no_journal / sub).symlink_to(results_dir / sub)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    with pytest.raises(BenchError, match="no Optuna journal"):
        publish(no_journal, target, with_journal=True)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before


def test_chunks_merge_run_by_run_and_study_by_study(results_dir: Path, tmp_path: Path):
    """A second chunk run on a copy of the first (its studies resumed, one new) publishes with
    the first into one set: each run once, each study with its most trials, quietly."""
    import shutil

    import optuna

    from bench.optuna_storage import open_storage
    from bench.run_once import CLAIMS_STUDY, Claims
    from tests.conftest import bench_cmd
    from tests.report.conftest import write_results

    second = write_results(tmp_path / "second", shift=1.0)  # the same runs, other values
    shutil.copyfile(results_dir / "optuna.journal", second / "optuna.journal")
    storage = open_storage(None, second)
    optuna.load_study(study_name="toy_a@1/alpha@1/smoke/seed0", storage=storage).optimize(
        lambda t: t.suggest_float("lr", 0, 1) + t.suggest_int("k", 1, 3), n_trials=2)
    optuna.create_study(study_name="toy_b@1/alpha@1/smoke/seed0", storage=storage).optimize(
        lambda t: t.suggest_float("lr", 0, 1), n_trials=3)
    first = results_dir.parent / "first-chunk"  # the first chunk, with a claim of its own
    shutil.rmtree(first, ignore_errors=True)
    shutil.copytree(results_dir, first)
    for chunk, key in ((first, "run-a"), (second, "run-b")):
        claims = Claims(open_storage(None, chunk))
        claims.release(claims.acquire(key)[1], "ok", 1.0)

    target = tmp_path / "merged"
    done = bench_cmd("publish", "--results-dir", str(first), "--results-dir", str(second),
                     "--to", str(target), "--with-journal", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "A new study created" not in done.stderr  # not one line per copied study
    key = ["run_key", "metric"]
    pd.testing.assert_frame_equal(  # the first chunk's rows, not the shifted copies
        read_results(target).sort_values(key).reset_index(drop=True),
        read_results(results_dir).sort_values(key).reset_index(drop=True))
    merged = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(
        open_storage(None, target), include_best_trial=False)}
    assert merged == {"toy_a@1/alpha@1/smoke/seed0": 8, "toy_b@1/alpha@1/smoke/seed0": 3,
                      CLAIMS_STUDY: 2}  # every chunk's finished claims
    claims = Claims(open_storage(None, target))
    assert claims.acquire("run-a") == (Claims.DONE, 1.0) == claims.acquire("run-b")
    assert not list(target.glob("*.partial"))
    # every chunk's listening examples: one with a strategy's clip the other lacks
    extra = second / "audio/smoke/toy_a/seed0/gamma/0_output.flac"
    extra.parent.mkdir(parents=True)
    shutil.copyfile(results_dir / "audio/smoke/toy_a/seed0/alpha/0_output.flac", extra)
    publish([first, second], target)
    assert (target / "audio/smoke/toy_a/seed0/gamma/0_output.mp3").exists()
    assert (target / "audio/smoke/toy_a/seed0/alpha/0_output.mp3").exists()


def test_a_published_set_published_again_keeps_its_mp3s_byte_for_byte(published: Path,
                                                                         tmp_path: Path):
    again = tmp_path / "again"
    publish(published, again)
    clips = sorted(p.relative_to(published) for p in published.rglob("*.mp3"))
    assert clips and clips == sorted(p.relative_to(again) for p in again.rglob("*.mp3"))
    assert all((again / c).read_bytes() == (published / c).read_bytes() for c in clips)


def test_a_steering_only_directory_publishes_and_reports(results_dir: Path, tmp_path: Path):
    """`bench steer` writes a results directory with no runs: it merges into a published set,
    and its heatmap reports on its own; a directory with neither is still an error."""
    from tests.report.test_modeling import steering

    steer = tmp_path / "steer"
    steering(steer)
    target = tmp_path / "merged"
    publish([results_dir, steer], target)
    assert (target / "steer" / "compressor-smoke-seed0.json").exists()
    assert not read_results(target).empty
    out = tmp_path / "report"
    assert main(["report", "--results-dir", str(steer), "--reports-dir", str(out)]) == 0
    assert "## Steering from one example" in (out / "modeling.md").read_text()
    assert (out / "figures" / "steer_compressor_smoke_seed0.png").stat().st_size > 0
    (steer / "steer" / "compressor-smoke-seed0.json").unlink()
    with pytest.raises(BenchError, match="no runs, no steering experiments"):
        publish(steer, tmp_path / "nothing")
