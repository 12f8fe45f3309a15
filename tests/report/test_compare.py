"""`--compare A B`: ratio table with asv-style significance marks."""

from __future__ import annotations

from pathlib import Path

from bench.cli import build_parser
from bench.report.compare import change, compare
from tests.report.conftest import write_results


def test_change_marks():
    assert change([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], higher=False, alpha=0.05)[0] == "-"
    assert change([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], higher=True, alpha=0.05)[0] == "+"
    assert change([1.0, 2.0, 0.0], [1.2, 2.2, 0.1], higher=True, alpha=0.05)[0] == "~"
    assert change([1.0], [2.0], higher=True, alpha=0.05)[0] == "~"  # one seed: untestable
    assert change([1.0, 1.0], [1.0, 1.0], higher=True, alpha=0.05)[0] == " "


def test_compare_two_result_sets(results_dir: Path, tmp_path: Path):
    other = write_results(tmp_path / "b", shift=0.5)
    text = compare(results_dir, other)
    lines = text.splitlines()
    alpha_loss = next(line for line in lines if " toy_a " in line and " alpha " in line
                      and " loss " in line)
    assert alpha_loss.startswith("-") and "1.495" in alpha_loss  # worse: loss ↓ went up
    beta_loss = next(line for line in lines if " toy_a " in line and " beta " in line
                     and " loss " in line)
    assert beta_loss.startswith(" ") and "1.000" in beta_loss
    beta_snr = next(line for line in lines if " beta " in line and " snr " in line)
    assert "failed" in beta_snr and "0/0 (3/3 failed)" in beta_snr
    assert "~ not significant" in text and text.startswith(f"A = {results_dir}")


def test_cli_flag_parses():
    args = build_parser().parse_args(["report", "--compare", "a", "b"])
    assert args.compare == [Path("a"), Path("b")]
