"""`reports/index.html`: one self-contained static page (inline CSS, no scripts, no network)
rendered from a Jinja2 template. It opens with the overall ranking and quality against cost,
then the leaderboard, gradient quality against cost (when there are gradient results), effect
modeling (when there are modeling results or steering experiments) and runtime reports (their
Markdown converted by the `markdown` library), the other figures and audio players for a few
examples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.report.audio import ListeningExamples

TEMPLATE = "index.html.j2"
OVERVIEW = (("ranking_", "Overall rank"), ("quality_cost_", "Quality against cost"))
NOTES = {"ranking_": "Lower is better. Bars: Student-t 95% interval of the mean rank over the "
                     "tasks (clipped to the possible ranks); where intervals overlap the order "
                     "is not settled. Only strategies run on every task are ranked.",
         "quality_cost_": "One panel per task: each strategy's main metric (mean ± 95% CI over "
                          "seeds; better is lower ↓ or higher ↑ as the axis says) against its "
                          "setup + solve seconds per final run (log scale, cheaper is further "
                          "left; a run that reuses a model trained by another task counts only "
                          "its own time). Dashed line: the unprocessed input."}
GALLERY = (("bars_", "Metrics per task (mean ± 95% CI)"),
           ("convergence_", "Convergence"),
           ("importance_", "Optuna hyperparameter importance"),
           ("proxy_fidelity", "Proxy fidelity"),
           ("spectrogram_", "Spectrograms of the first listening example"))


@dataclass(frozen=True)
class Figure:
    """An image of the page: path relative to the page, and its caption."""

    src: str
    caption: str


@dataclass(frozen=True)
class Listening:
    """One task's listening table: column headings and, per example, a file or None per
    column."""

    title: str
    columns: list[str]
    rows: list[tuple[int, list[str | None]]]


def markdown_html(text: str) -> str:
    """A report's Markdown (tables, lists, images, emphasis) as HTML, its leading ``# title``
    dropped and headings one level down, since the page's section carries the title."""
    import markdown

    first, _, rest = text.partition("\n")
    body = rest if first.startswith("# ") else text
    return markdown.markdown(body, output_format="html", extensions=["tables", "toc"],
                             extension_configs={"toc": {"baselevel": 2}})


def groups(figures: list[str],
           kinds: tuple[tuple[str, str], ...]) -> list[tuple[str, list[Figure]]]:
    """The figures (paths relative to the page) whose file name starts with one of ``kinds``'
    prefixes, grouped under that kind's title, in the order of ``kinds``."""
    out = []
    for prefix, title in kinds:
        mine = sorted(f for f in figures if Path(f).name.startswith(prefix))
        if mine:
            out.append((title, [Figure(f, NOTES.get(prefix, Path(f).stem.replace("_", " ")))
                                for f in mine]))
    return out


def listening(examples: list[ListeningExamples], where: dict[Path, str]) -> list[Listening]:
    """One table per task: a row per example, a file per signal and strategy output."""
    out = []
    for ex in examples:
        columns = ex.columns()
        out.append(Listening(
            f"{ex.task} ({ex.budget} budget, {ex.seed})", [ex.label(c) for c in columns],
            [(i, [where[row[c]] if c in row else None for c in columns])
             for i, row in sorted(ex.files.items())]))
    return out


def render_index(leaderboard_md: str, runtime_md: str, figures: list[str],
                 examples: list[ListeningExamples], where: dict[Path, str],
                 gradients_md: str | None = None, modeling_md: str | None = None) -> str:
    """The whole page as a string (deterministic for the same inputs); the gradient and the
    effect-modeling sections only where their Markdown is given."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("bench.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(
        overview=groups(figures, OVERVIEW), leaderboard=markdown_html(leaderboard_md),
        runtime=markdown_html(runtime_md), gallery=groups(figures, GALLERY),
        gradients=markdown_html(gradients_md) if gradients_md else None,
        modeling=markdown_html(modeling_md) if modeling_md else None,
        listening=listening(examples, where))
