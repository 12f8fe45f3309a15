"""CLI: help and list, one-line errors with non-zero exits, report determinism."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, bench_cmd


def test_help_lists_every_command(tmp_path):
    out = bench_cmd("--help", cwd=tmp_path)
    assert out.returncode == 0
    for command in ("list", "run", "report", "verify", "perf", "data"):
        assert command in out.stdout
    run_help = bench_cmd("run", "--help", cwd=tmp_path).stdout
    for flag in ("--budget", "--seed", "--seeds", "--trials", "--final-seeds", "--storage",
                 "--results-dir", "--data-root", "--strategy", "--task"):
        assert flag in run_help


def test_list_json_describes_every_kind(tmp_path):
    out = bench_cmd("list", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listing = json.loads(out.stdout)
    assert set(listing) >= {"strategy", "task", "effect", "dataset", "broken_plugins"}
    toy = {e["name"]: e for e in listing["strategy"]}["toy_search"]
    assert toy["description"] and toy["version"] == "2" and "toy" in toy["flags"]


def python_in_repo(code: str) -> str:
    """The output of ``python -c code`` in a fresh interpreter at the repository root."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_list_stays_light():
    """`list` must not pay for torch or numba imports (it has to answer in well under 3 s)."""
    code = ("import sys; from bench.cli import main; main(['list']); "
            "heavy = [m for m in ('torch', 'numba', 'optuna') if m in sys.modules]; "
            "print('HEAVY', heavy)")
    assert "HEAVY []" in python_in_repo(code)


def test_help_imports_only_the_plugin_command_modules():
    """`--help` lists the plugin commands (`proxies`) without discovering every plugin."""
    code = ("import sys\ntry:\n    from bench.cli import main; main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in sys.modules if m.startswith(('tasks.', "
            "'strategies.', 'datasets.', 'numpy', 'torch'))))")
    out = python_in_repo(code)
    assert "proxies" in out and "LOADED ['tasks.commands']" in out


def test_broken_plugin_is_reported_by_list(tmp_path):
    (tmp_path / "broken_for_cli.py").write_text("import not_a_real_module_xyz\n")
    out = bench_cmd("list", cwd=tmp_path, plugins="broken_for_cli")
    assert out.returncode == 0
    assert "Broken plugins" in out.stdout and "not_a_real_module_xyz" in out.stdout
    assert "toy_search" in out.stdout


def test_run_names_broken_plugins_and_what_all_leaves_out(tmp_path):
    out = bench_cmd("run", "--strategy", "toy_search", "--task", "all", "--budget", "smoke",
                    "--no-progress", cwd=tmp_path, plugins="broken_x")
    assert out.returncode == 0, out.stderr
    assert ("warning: plugin module broken_x failed to import and is not loaded: "
            "ModuleNotFoundError: No module named 'broken_x'") in out.stderr
    note = next(line for line in out.stdout.splitlines() if line.startswith("--task all"))
    assert "toy plugins toy" in note and "broken plugin module broken_x" in note
    assert "--strategy all" not in out.stdout  # a named selection leaves nothing out


def one_line_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    for needle in needles:
        assert needle in lines[0]


def test_unknown_names_exit_nonzero_with_the_closest_names(tmp_path):
    one_line_error(bench_cmd("run", "--strategy", "toy_serch", "--task", "toy", cwd=tmp_path),
                   "unknown strategy 'toy_serch'", "toy_search")
    one_line_error(bench_cmd("run", "--strategy", "toy_search", "--task", "tooy", cwd=tmp_path),
                   "unknown task 'tooy'", "toy")


def test_bad_param_and_counts_are_one_line_errors(tmp_path):
    base = ("run", "--strategy", "toy_search", "--task", "toy", "--budget", "smoke")
    one_line_error(bench_cmd(*base, "--param", "nope=1", cwd=tmp_path), "--param nope")
    one_line_error(bench_cmd(*base, "--param", "novalue", cwd=tmp_path), "KEY=VALUE")
    one_line_error(bench_cmd(*base, "--seeds", "0", cwd=tmp_path), "--seeds")
    one_line_error(bench_cmd(*base, "--param", "shrink=abc", cwd=tmp_path),
                   "--param shrink=abc: shrink of toy_search takes a float, e.g. --param "
                   "shrink=0.5")
    one_line_error(bench_cmd(*base, "--param", "n_candidates=2.5", cwd=tmp_path),
                   "n_candidates of toy_search takes an int, e.g. --param n_candidates=16")
    flaky = ("run", "--strategy", "toy_flaky", "--task", "toy", "--budget", "smoke")
    one_line_error(bench_cmd(*flaky, "--param", "mode=boom", cwd=tmp_path),
                   "--param mode=boom: mode of toy_flaky is one of ok, raise, nan, e.g. "
                   "--param mode=raise")
    assert not (tmp_path / "results").exists()  # nothing ran, nothing was written


def test_data_build_names_an_unknown_corpus_and_builds_nothing(tmp_path):
    out = bench_cmd("data", "build", "--corpus", "speech,musik", "--cache-dir",
                    str(tmp_path / "cache"), cwd=tmp_path)
    one_line_error(out, "no embedded corpus 'musik'", "music, speech")
    assert not (tmp_path / "cache").exists()


def test_unreachable_storage_is_one_line_error(tmp_path):
    out = bench_cmd("run", "--strategy", "toy_search", "--task", "toy", "--budget", "smoke",
                    "--storage", "postgresql://nobody@127.0.0.1:1/none", cwd=tmp_path)
    one_line_error(out, "cannot open storage")


def test_report_is_deterministic_and_shows_runs(tmp_path):
    run = bench_cmd("run", "--strategy", "toy_search", "--task", "toy", "--budget", "smoke",
                    "--seeds", "2", "--trials", "2", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert bench_cmd("report", cwd=tmp_path).returncode == 0
    names = ("leaderboard.md", "leaderboard.csv", "leaderboard.tex")
    out = tmp_path / "results" / "report"
    first = {n: (out / n).read_bytes() for n in names}
    assert bench_cmd("report", cwd=tmp_path).returncode == 0
    assert first == {n: (out / n).read_bytes() for n in names}
    md = first["leaderboard.md"].decode()
    assert "## toy" in md and "(n=2)" in md and "_oracle_" in md and "param_mae ↓" in md


def snapshot(root):
    """Every file under ``root`` with its bytes."""
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_report_on_a_missing_or_empty_results_dir_changes_nothing(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "index.html").write_text("the published page")
    (tmp_path / "empty").mkdir()
    before = snapshot(tmp_path)
    for args, needle in ((("--results-dir", "nope"), "results directory nope does not exist"),
                         (("--results-dir", "empty"), "no results under empty"),
                         (("--results-dir", "empty", "--reports-dir", "reports"), "empty"),
                         ((), "results directory results does not exist")):
        one_line_error(bench_cmd("report", *args, cwd=tmp_path), needle, "nothing was written")
    assert snapshot(tmp_path) == before


def test_only_the_published_results_write_the_published_reports(tmp_path):
    run = bench_cmd("run", "--strategy", "toy_search", "--task", "toy", "--budget", "smoke",
                    "--trials", "1", "--no-progress", "--results-dir", "mine", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    published = bench_cmd("publish", "--results-dir", "mine", cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    fresh_clone = bench_cmd("report", cwd=tmp_path)  # results/ has only the published set
    assert fresh_clone.returncode == 0, fresh_clone.stderr
    assert "no runs under results/ yet: reporting the published results" in fresh_clone.stdout
    assert "of results/published to reports/ (open reports/index.html)" in fresh_clone.stdout
    committed = snapshot(tmp_path / "reports")
    assert tmp_path / "reports" / "leaderboard.md" in committed
    local = bench_cmd("report", "--results-dir", "mine", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    assert "writing to results/report/" in local.stdout
    assert "## toy" in (tmp_path / "results" / "report" / "leaderboard.md").read_text()
    assert snapshot(tmp_path / "reports") == committed
    asked = bench_cmd("report", "--results-dir", "mine", "--reports-dir", "reports", cwd=tmp_path)
    assert asked.returncode == 0 and "to reports/" in asked.stdout


def test_project_reads_measured_runs_and_writes_only_where_asked(tmp_path):
    assert bench_cmd("run", "--task", "synthetic_speech", "--strategy", "autodiff", "--budget",
                     "smoke", "--trials", "1", "--no-progress", cwd=tmp_path).returncode == 0
    out = bench_cmd("project", "--budget", "smoke", "--results-dir", "results", "--out",
                    "projection.md", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines()
               if line.startswith("| synthetic_speech | autodiff |"))
    assert row.endswith("| measured |")
    assert "Incomplete: no basis for" in out.stdout  # nothing else was measured
    assert (tmp_path / "projection.md").read_text() == out.stdout
    narrow = bench_cmd("project", "--budget", "smoke", "--results-dir", "results",
                       "--exclude-family", "modeling,gradient", cwd=tmp_path).stdout
    assert "Left out: the gradient, modeling task families." in narrow
    assert "| modeling_peq |" in out.stdout and "| modeling_peq |" not in narrow
    assert "| synthetic_speech | autodiff |" in narrow
    one_line_error(bench_cmd("project", "--exclude-family", "modelling", cwd=tmp_path),
                   "unknown task family modelling")
    one_line_error(bench_cmd("project", "--workers", "0", cwd=tmp_path), "--workers")
    one_line_error(bench_cmd("project", "--results-dir", "resluts", cwd=tmp_path),
                   "no results directory resluts")
