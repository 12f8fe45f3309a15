"""`python -m bench publish`: copy a sweep into a small results directory worth committing.

The published directory is itself a results directory that `python -m bench report` reads: all
tidy rows in one Parquet file, the perf and steering JSON files and, instead of the full FLAC
dump, a few listening examples per task as short MP3s. The Optuna journal stays behind (search
state, not results), so reports rebuilt from a published set have no importance figures, unless
``--with-journal`` copies it: a long sweep published in chunks keeps its studies, and a sweep run
on a copy of the published directory resumes where the chunk stopped. Several results
directories publish as one set (chunks run apart, on other machines or journals, merged).

The committed ``reports/`` belong to ``results/published``: `report` writes there only when
built from exactly that directory (or when ``--reports-dir`` says so); a report of any other
results goes to ``results/report/`` by default, so a local run never replaces the published page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.optuna_storage import JOURNAL_NAME
from bench.report.audio import AUDIO_SUBDIR, find_examples
from bench.results import (
    PERF_SUBDIR,
    RUNS_SUBDIR,
    STEER_SUBDIR,
    read_results,
    result_files,
    steering_files,
)

PUBLISHED_FILE = "published.parquet"
RESULTS_DIR = Path("results")
PUBLISHED_DIR = RESULTS_DIR / "published"
PUBLISHED_REPORTS = Path("reports")
LOCAL_REPORTS = RESULTS_DIR / "report"
MP3_COMPRESSION = 0.8
"""libsndfile's MP3 compression level (0 = highest bit rate): 40 kbit/s mono at 24 kHz."""


def publish(sources: Path | list[Path], target: Path, examples: int = 1,
            with_journal: bool = False) -> list[Path]:
    """Write the rows, perf and steering files of ``sources`` (one results directory, or several
    chunks of one sweep merged), ``examples`` clips per task and, ``with_journal``, their Optuna
    studies to ``target`` (replacing what a previous publish wrote there); returns the files
    written.

    Chunks merge run by run: a run (``run_key``) found in several keeps the first chunk's rows;
    a study found in several keeps the copy with the most trials (a chunk run on a copy of an
    earlier published one holds that one's studies too); a perf or steering file found in
    several keeps the first. One source's journal is copied byte for byte.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.results import SCHEMA

    sources = [Path(s) for s in (sources if isinstance(sources, list) else [sources])]
    target = Path(target)
    frames = [read_results(s) for s in sources]
    for source, frame in zip(sources, frames, strict=True):
        if frame.empty and not steering_files(source):
            raise BenchError(f"no results under {source} (no runs, no steering experiments); "
                             f"run `python -m bench run` or `steer` first or pass --results-dir")
        if target.resolve() == source.resolve():
            raise BenchError("publish needs a target directory different from the results "
                             "directories")
    journals = [s / JOURNAL_NAME for s in sources]
    if with_journal and (missing := [j for j in journals if not j.exists()]):
        raise BenchError(f"no Optuna journal {missing[0]} to publish: the sweep used another "
                         "storage; publish without --with-journal")
    frame = merged_runs(frames)
    for sub in (RUNS_SUBDIR, PERF_SUBDIR, STEER_SUBDIR, AUDIO_SUBDIR):
        shutil.rmtree(target / sub, ignore_errors=True)
    frame = frame.sort_values(["task", "strategy", "budget", "run_key", "split", "metric"],
                              kind="stable").reset_index(drop=True)
    rows = target / RUNS_SUBDIR / PUBLISHED_FILE
    rows.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False), rows,
                   compression="zstd")
    written = [rows]
    for sub in (PERF_SUBDIR, STEER_SUBDIR):
        for path in sorted(p for s in sources for p in (s / sub).glob("*.json")):
            out = target / sub / path.name
            if out not in written:
                out.parent.mkdir(parents=True, exist_ok=True)
                written.append(Path(shutil.copyfile(path, out)))
    if with_journal:
        written.append(merge_journals(journals, target / JOURNAL_NAME))
    for source in sources:  # each chunk's examples: a task's strategies may sit in several
        for ex in find_examples([source], examples):
            for row in ex.files.values():
                for path in row.values():
                    out = (target / AUDIO_SUBDIR / ex.budget / ex.task / ex.seed
                           / path.parent.name / path.name).with_suffix(".mp3")
                    if out not in written:
                        written.append(to_mp3(path, out))
    return written


def merged_runs(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of several chunks, each run (``run_key``) from the first chunk that has it."""
    seen: set[str] = set()
    kept = []
    for frame in frames:
        kept.append(frame[~frame.run_key.isin(seen)])
        seen |= set(frame.run_key)
    return pd.concat(kept, ignore_index=True)


def merge_journals(journals: list[Path], out: Path) -> Path:
    """Write the studies of ``journals`` to the journal ``out``: one journal is copied as it is;
    of several, each study from the journal where it has the most trials (the first on a tie),
    and the workers' claims (:data:`bench.run_once.CLAIMS_STUDY`) of every chunk together, the
    finished ones (a running claim in a published set is a dead worker's). Written beside
    ``out`` and moved into place, so a failure leaves the old file."""
    if len(journals) == 1:
        return Path(shutil.copyfile(journals[0], out))
    import optuna

    from bench.optuna_storage import open_storage
    from bench.run_once import CLAIMS_STUDY

    best: dict[str, tuple[int, Any]] = {}
    claims = []
    for journal in journals:
        storage = open_storage(f"journal:{journal}", journal.parent)
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if summary.study_name == CLAIMS_STUDY:
                claims.append(optuna.load_study(study_name=CLAIMS_STUDY, storage=storage))
            elif summary.study_name not in best or summary.n_trials > best[summary.study_name][0]:
                best[summary.study_name] = (summary.n_trials, storage)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    merged = open_storage(f"journal:{partial}", out.parent)
    for name, (_, storage) in sorted(best.items()):
        optuna.copy_study(from_study_name=name, from_storage=storage, to_storage=merged)
    if claims:
        union = optuna.create_study(study_name=CLAIMS_STUDY, storage=merged)
        for study in claims:
            union.add_trials([t for t in study.get_trials(deepcopy=False)
                              if t.state.is_finished()])
    os.replace(partial, out)
    return out


def report_plan(results_dirs: list[Path] | None,
                reports_dir: Path | None) -> tuple[list[Path], Path, str | None]:
    """Where `report` reads and writes: (results dirs, reports dir, a note to print or None).

    Every results directory must hold results (a typo or an empty directory is an error that
    changes no file). Without ``--results-dir`` it reads ``results/``, or the published results
    when ``results/`` has no runs yet (a fresh clone). Without ``--reports-dir`` it writes the
    committed ``reports/`` only from ``results/published``, anything else to ``results/report/``.
    """
    note = None
    if results_dirs is None:
        results_dirs = [RESULTS_DIR]
        if not result_files(RESULTS_DIR) and result_files(PUBLISHED_DIR):
            results_dirs = [PUBLISHED_DIR]
            note = f"no runs under {RESULTS_DIR}/ yet: reporting the published results"
    for path in results_dirs:
        if not Path(path).is_dir():
            raise BenchError(f"results directory {path} does not exist; run `python -m bench "
                             f"run` first or pass the --results-dir it wrote to; nothing was "
                             f"written")
        if not (result_files(path) or steering_files(path)):
            raise BenchError(f"no results under {path} (no Parquet files in {path}/"
                             f"{RUNS_SUBDIR}, no steering experiments in {path}/"
                             f"{STEER_SUBDIR}); run `python -m bench run` first or pass "
                             f"another --results-dir; nothing was written")
    if reports_dir is None:
        published = all(Path(d).resolve() == PUBLISHED_DIR.resolve() for d in results_dirs)
        reports_dir = PUBLISHED_REPORTS if published else LOCAL_REPORTS
        if not published:
            note = (f"writing to {LOCAL_REPORTS}/ ({PUBLISHED_REPORTS}/ holds the published "
                    f"report; pass --reports-dir {PUBLISHED_REPORTS} to replace it)")
    return [Path(d) for d in results_dirs], Path(reports_dir), note


def to_mp3(path: Path, out: Path) -> Path:
    """Re-encode one listening example as a constant-bit-rate MP3 (plays in every browser); an
    MP3 (a published set published again) is copied as it is, never encoded twice."""
    import soundfile as sf

    out.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".mp3":
        return Path(shutil.copyfile(path, out))
    audio, rate = sf.read(path, dtype="float32")
    sf.write(out, audio, rate, format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="CONSTANT",
             compression_level=MP3_COMPRESSION)
    return out
