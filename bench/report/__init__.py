"""`python -m bench report`: every report is rebuilt from Parquet results, deterministically."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from bench.results import current_protocol, label_data, read_results

EXAMPLES_PER_TASK = 2


def build_reports(results_dirs: Iterable[Path], reports_dir: Path) -> list[Path]:
    """Read the results and write leaderboard (.md/.csv/.tex), runtime.md, gradients.md (when
    there are gradient results), modeling.md and modeling_best.json (when there are modeling
    results or steering experiments), figures/, audio/ and index.html; returns the files
    written. figures/ and audio/ are replaced as a whole."""
    from bench.report import figures as fig
    from bench.report import gradients, modeling
    from bench.report.audio import copy_examples, find_examples
    from bench.report.html import render_index
    from bench.report.leaderboard import build_tables, write_leaderboard
    from bench.report.runtime import PerfFiles, write_runtime

    dirs = [Path(d) for d in results_dirs]
    frame = current_protocol(label_data(read_results(dirs)))
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    out = reports_dir / fig.FIGURES_SUBDIR
    shutil.rmtree(out, ignore_errors=True)
    tables = build_tables(frame)
    perf = PerfFiles.read(dirs)
    examples = find_examples(dirs, EXAMPLES_PER_TASK)
    scaling = {m: p.relative_to(reports_dir).as_posix()
               for m, p in fig.scaling(perf.latest("scaling"), out).items()}
    pngs = [*fig.ranking(tables, out), *fig.quality_cost(frame, tables, out),
            *fig.bar_charts(tables, out), *fig.convergence(frame, out), *fig.importance(dirs, out),
            *fig.proxy_fidelity(frame, out), *fig.spectrograms(examples, out)]
    gradient_pngs = gradients.figures(frame, out)
    steering = modeling.read_steering(dirs)
    modeling_pngs = {**modeling.figures(frame, out), **modeling.steering_figures(steering, out)}
    written = [*write_leaderboard(frame, tables, reports_dir),
               write_runtime(frame, perf, reports_dir, scaling)]
    gradient_md = gradients.write_gradients(frame, reports_dir, {
        b: p.relative_to(reports_dir).as_posix() for b, p in gradient_pngs.items()})
    where = copy_examples(examples, reports_dir)
    modeling_files = modeling.write_modeling(
        frame, steering, reports_dir,
        {t: p.relative_to(reports_dir).as_posix() for t, p in modeling_pngs.items()},
        modeling.listening_lines(examples, where))
    index = reports_dir / "index.html"
    index.write_text(render_index(
        written[0].read_text(), written[-1].read_text(),
        [p.relative_to(reports_dir).as_posix() for p in pngs], examples, where,
        gradient_md.read_text() if gradient_md else None,
        modeling_files[0].read_text() if modeling_files else None))
    return [*written, *([gradient_md] if gradient_md else []), *modeling_files, *pngs,
            *gradient_pngs.values(), *modeling_pngs.values(),
            *(reports_dir / s for s in scaling.values()), index]
