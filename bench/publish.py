"""`python -m bench publish`: copy a sweep into a small results directory worth committing.

The published directory is itself a results directory that `python -m bench report` reads: all
tidy rows in one Parquet file, the perf and steering JSON files and, instead of the full FLAC
dump, a few listening examples per task as short MP3s. The Optuna journal stays behind (search
state, not results), so reports rebuilt from a published set have no importance figures, unless
``--with-journal`` copies it: a long sweep published in chunks keeps its studies, and a sweep run
on a copy of the published directory resumes where the chunk stopped.

The committed ``reports/`` belong to ``results/published``: `report` writes there only when
built from exactly that directory (or when ``--reports-dir`` says so); a report of any other
results goes to ``results/report/`` by default, so a local run never replaces the published page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.errors import BenchError
from bench.optuna_storage import JOURNAL_NAME
from bench.report.audio import AUDIO_SUBDIR, find_examples
from bench.results import PERF_SUBDIR, RUNS_SUBDIR, STEER_SUBDIR, read_results, result_files

PUBLISHED_FILE = "published.parquet"
RESULTS_DIR = Path("results")
PUBLISHED_DIR = RESULTS_DIR / "published"
PUBLISHED_REPORTS = Path("reports")
LOCAL_REPORTS = RESULTS_DIR / "report"
MP3_COMPRESSION = 0.8
"""libsndfile's MP3 compression level (0 = highest bit rate): 40 kbit/s mono at 24 kHz."""


def publish(source: Path, target: Path, examples: int = 1,
            with_journal: bool = False) -> list[Path]:
    """Write ``source``'s rows, perf and steering files, ``examples`` clips per task and,
    ``with_journal``, its Optuna journal to ``target`` (replacing what a previous publish wrote
    there); returns the files written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.results import SCHEMA

    source, target = Path(source), Path(target)
    frame = read_results(source)
    if frame.empty:
        raise BenchError(f"no results under {source}; run `python -m bench run` first or pass "
                         f"--results-dir")
    if target.resolve() == source.resolve():
        raise BenchError("publish needs a target directory different from the results directory")
    journal = source / JOURNAL_NAME
    if with_journal and not journal.exists():
        raise BenchError(f"no Optuna journal {journal} to publish: the sweep used another "
                         "storage; publish without --with-journal")
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
        for path in sorted((source / sub).glob("*.json")):
            (target / sub).mkdir(parents=True, exist_ok=True)
            written.append(Path(shutil.copyfile(path, target / sub / path.name)))
    if with_journal:
        written.append(Path(shutil.copyfile(journal, target / JOURNAL_NAME)))
    for ex in find_examples([source], examples):
        for row in ex.files.values():
            for path in row.values():
                out = target / path.relative_to(source).with_suffix(".mp3")
                written.append(to_mp3(path, out))
    return written


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
        if not result_files(path):
            raise BenchError(f"no results under {path} (no Parquet files in {path}/"
                             f"{RUNS_SUBDIR}); run `python -m bench run` first or pass another "
                             f"--results-dir; nothing was written")
    if reports_dir is None:
        published = all(Path(d).resolve() == PUBLISHED_DIR.resolve() for d in results_dirs)
        reports_dir = PUBLISHED_REPORTS if published else LOCAL_REPORTS
        if not published:
            note = (f"writing to {LOCAL_REPORTS}/ ({PUBLISHED_REPORTS}/ holds the published "
                    f"report; pass --reports-dir {PUBLISHED_REPORTS} to replace it)")
    return [Path(d) for d in results_dirs], Path(reports_dir), note


def to_mp3(path: Path, out: Path) -> Path:
    """Re-encode one listening example as a constant-bit-rate MP3 (plays in every browser)."""
    import soundfile as sf

    audio, rate = sf.read(path, dtype="float32")
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, audio, rate, format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="CONSTANT",
             compression_level=MP3_COMPRESSION)
    return out
