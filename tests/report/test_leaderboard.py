"""Leaderboard tables: CIs with n, 3 significant digits, bold best (from 2 ok runs), references,
failures, skips, averaged-tie ranks, per-pair."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bench.report.leaderboard import (
    MeanCI,
    Table,
    build_tables,
    end_tasks,
    family_ranks,
    markdown_table,
    overall_rank,
    render_markdown,
    render_tex,
    task_ranks,
)
from bench.report.numbers import number
from bench.results import read_results


def section(text: str, heading: str) -> str:
    """The Markdown from ``heading`` to the next heading of the same or a higher level."""
    start = text.index(heading)
    level = heading.split(" ")[0]
    rest = text[start + len(heading):]
    stops = [i for i in (rest.find(f"\n{level} "), rest.find("\n## ")) if i >= 0]
    return rest[: min(stops)] if stops else rest


def test_table_shows_mean_ci_n_bold_best_and_references(reports_dir: Path):
    md = (reports_dir / "leaderboard.md").read_text()
    toy_a = section(md, "## toy_a (smoke budget)")
    assert "| gamma | **0.51 ± 0.0248** (n=3) |" in toy_a
    assert "| alpha | 1.01 ± 0.0248 (n=3) | **10 ± 0** (n=3) |" in toy_a  # best per column
    assert "loss ↓" in toy_a and "snr ↓" in toy_a
    lines = toy_a.splitlines()
    names = [line.split("|")[1].strip() for line in lines if line.startswith("| ")][1:]
    assert names[-2:] == ["_input_", "_oracle_"]  # reference rows last, italic
    assert "**" not in next(line for line in lines if line.startswith("| _oracle_"))


def test_failures_are_shown_never_averaged(reports_dir: Path):
    md = (reports_dir / "leaderboard.md").read_text()
    toy_a = section(md, "## toy_a (smoke budget)")
    assert "| beta | 2.01 ± 0.0248 (n=3) | failed (3) |" in toy_a
    assert "| delta | failed (1) |" in toy_a
    assert "| gamma | skipped: gamma cannot do toy_b |" in section(md, "## toy_b (smoke budget)")


def test_overall_rank_only_over_complete_strategies(results_dir: Path):
    ranked, incomplete = overall_rank(build_tables(read_results(results_dir)))
    assert [s for s, _ in ranked] == ["alpha", "beta", "beta_other_machine"][: len(ranked)]
    assert {"gamma", "delta"} <= set(incomplete)
    assert not {"input", "oracle"} & ({s for s, _ in ranked} | set(incomplete))


def test_per_pair_table_for_realistic_tasks(reports_dir: Path):
    md = (reports_dir / "leaderboard.md").read_text()
    pairs = section(md, "### toy_b: msd ↓ per style pair (smoke budget)")
    assert "| pair | beta | alpha | _input_ |" in pairs
    assert "| warm->bright | 5.01 ± 0.0248 (n=3) | 6.01 ± 0.0248 (n=3) |" in pairs


def test_budgets_are_never_mixed(tmp_path: Path):
    from bench.results import ResultWriter
    from tests.report.conftest import make_rows

    ResultWriter(tmp_path).add([
        *make_rows("t", "a", 0, {"m": 1.0}, main="m", budget="smoke"),
        *make_rows("t", "a", 0, {"m": 5.0}, main="m", budget="quick")])
    tables = build_tables(read_results(tmp_path))
    assert [(t.task, t.budget, t.rows["a"]["m"].mean) for t in tables] == [
        ("t", "quick", 5.0), ("t", "smoke", 1.0)]


def test_csv_and_tex(reports_dir: Path):
    rows = list(csv.DictReader(io.StringIO((reports_dir / "leaderboard.csv").read_text())))
    beta_snr = next(r for r in rows if r["strategy"] == "beta" and r["metric"] == "snr")
    assert beta_snr["status"] == "failed" and beta_snr["n"] == "0" and beta_snr["n_failed"] == "3"
    assert any(r["status"].startswith("skipped") for r in rows)
    tex = (reports_dir / "leaderboard.tex").read_text()
    assert "\\textbf{0.51 $\\pm$ 0.0248}" in tex and "\\textit{input}" in tex
    assert "beta & 2.01 $\\pm$ 0.0248 & failed" in tex


def test_late_drop_says_how_far_from_converged(reports_dir: Path):
    from bench.report.convergence import late_drop

    curve = [{"step": s, "val_loss": v} for s, v in ((25, 4.0), (50, 2.0), (75, 1.0), (100, 0.5))]
    assert late_drop(curve) == 50.0
    assert late_drop(curve[:1]) != late_drop(curve[:1])  # NaN: nothing to compare
    md = (reports_dir / "leaderboard.md").read_text()
    # fixture curves: val_loss 1/step at steps 1..4 → from step 3 (1/3) to step 4 (1/4): 25 %
    assert "## Convergence (smoke budget)" in md
    assert "| alpha | 25.0 |" in md


def table(task: str, scores: dict[str, float]) -> Table:
    """A one-metric (loss ↓) table with ``scores`` as means over 3 ok runs."""
    t = Table(task, "smoke", "loss", [("loss", False, "")])
    t.rows = {s: {"loss": MeanCI(v, 0.0, 3, 0)} for s, v in scores.items()}
    return t


def test_family_ranks_rank_within_each_family():
    tables = [table("a1", {"x": 1.0, "y": 2.0, "z": 3.0}), table("a2", {"x": 2.0, "y": 1.0}),
              table("b1", {"x": 5.0, "y": 4.0, "z": 1.0})]
    md = "\n".join(family_ranks(tables, {"a1": "fa", "a2": "fa", "b1": "fb"}))
    assert "| strategy | fa (2 tasks) | fb (1 tasks) |" in md
    assert "| x | 1.50 | 3.00 |" in md and "| y | 1.50 | 2.00 |" in md
    assert "| z | — | 1.00 |" in md  # z did not run a2: not ranked in fa


@pytest.mark.parametrize(("value", "text"), [
    (0.2195, "0.22"), (0.04452, "0.0445"), (0.02484, "0.0248"), (26.41, "26.4"),
    (1904.0, "1900"), (99900.0, "99900"), (99994.0, "1.00e+05"), (0.001, "0.001"),
    (10.0, "10"), (0.0, "0"), (-3.7149, "-3.71"), (5.429e-06, "5.43e-06"), (123456.0, "1.23e+05")])
def test_numbers_have_three_significant_digits_and_no_exponent_when_ordinary(value, text):
    assert number(value) == text


def test_ties_share_their_averaged_rank():
    tables = [table("t1", {"x": 1.0, "y": 2.0, "z": 2.0}), table("t2", {"x": 3.0, "y": 1.0,
                                                                         "z": 2.0})]
    ranks, incomplete = task_ranks(tables)
    assert ranks == {"x": [1.0, 3.0], "y": [2.5, 1.0], "z": [2.5, 2.0]} and incomplete == []
    assert overall_rank(tables)[0] == [("y", 1.75), ("x", 2.0), ("z", 2.25)]
    fam = "\n".join(family_ranks(tables, {"t1": "f", "t2": "f"}))
    assert "| y | 1.75 |" in fam and "| z | 2.25 |" in fam


def test_equal_mean_ranks_share_their_place(results_dir: Path):
    tables = [table("t1", {"x": 1.0, "y": 2.0}), table("t2", {"x": 2.0, "y": 1.0})]
    md = render_markdown(read_results(results_dir).iloc[:0], tables)
    assert "| 1.5 | x | 1.50 |" in md and "| 1.5 | y | 1.50 |" in md


def test_gradient_tasks_rank_in_their_family_only(results_dir: Path):
    end = [table("t1", {"autodiff": 1.0, "spsa": 2.0, "cmaes": 3.0})]
    gradient = Table("gradient_x", "smoke", "cosine_mean",
                     [("cosine_mean", True, ""), ("ms_per_gradient", False, "ms")])
    gradient.rows = {"spsa": {"cosine_mean": MeanCI(0.5, 0.0, 3, 0),
                              "ms_per_gradient": MeanCI(2.0, 0.0, 3, 0)}}
    gradient.skipped = {"autodiff": "black box", "cmaes": "no gradient"}
    assert end_tasks([*end, gradient]) == end
    frame = read_results(results_dir).iloc[:0]
    md = render_markdown(frame, [*end, gradient])
    overall = section(md, "## Overall rank (smoke budget)")
    assert "over 1 tasks (the 1 gradient-fidelity tasks rank in their family only)" in overall
    assert "| 1 | autodiff | 1.00 |" in overall and "Incomplete" not in overall
    only = section(render_markdown(frame, [gradient]), "## Overall rank (smoke budget)")
    assert "_Only gradient-fidelity tasks" in only


def test_best_needs_two_ok_runs():
    t = table("t", {"steady": 0.3, "worse": 0.5})
    t.rows["lucky"] = {"loss": MeanCI.of([0.1], failed=2)}
    md = "\n".join(markdown_table(t))
    assert "| lucky | 0.1 (n=1, 2 failed) |" in md  # best mean, one seed: not bold
    assert "| steady | **0.3 ± 0** (n=3) |" in md and "| worse | 0.5 ± 0 (n=3) |" in md
    tex = render_tex([t])
    assert "lucky & 0.1 (2 failed) \\\\" in tex and "steady & \\textbf{0.3 $\\pm$ 0}" in tex
