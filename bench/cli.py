"""The `python -m bench` command line; heavy imports happen inside each command.

Plugin packages add commands of their own (``proxies`` is one): see
:class:`bench.registry.Command`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

KINDS = ("strategy", "task", "effect", "dataset")
PLURAL = {"strategy": "Strategies", "task": "Tasks", "effect": "Effects", "dataset": "Datasets"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m bench` (importing nothing heavy)."""
    from bench.step_profile import STEP_TASKS

    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="afx-bench: compare ways to get gradients through audio effects.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="registered strategies, tasks, effects and datasets")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("run", help="tune and evaluate strategies on tasks (resumable)")
    p.add_argument("--strategy", default="all", help="'all' or a comma list (default: all)")
    p.add_argument("--task", default="all", help="'all' or a comma list (default: all)")
    p.add_argument("--budget", default="quick", choices=("smoke", "quick", "standard", "full"),
                   help="compute budget (default: quick)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds from --seed (default 1)")
    p.add_argument("--trials", type=int, default=None,
                   help="Optuna trials per study (default: the budget's; a strategy that "
                        "declares a grid runs at least all of it)")
    p.add_argument("--final-seeds", type=int, default=None,
                   help="fresh-seed test runs of each best configuration (default: the "
                        "budget's); a later run with more adds the missing ones")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL, e.g. postgresql://… (default: journal file in "
                        "the results directory)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a strategy hyperparameter (repeatable)")
    p.add_argument("--best-from", type=Path, default=None, metavar="RESULTS_DIR",
                   help="fix each strategy's hyperparameters on each task to the configuration "
                        "its final runs used in RESULTS_DIR (same budget, default data): "
                        "retrain a tuned setting on other data without tuning again, one trial "
                        "a study; --param still wins")
    p.add_argument("--data", action="append", default=[], metavar="DOMAIN=SPEC",
                   help="training data of a domain (repeatable, comma-separated): a dataset "
                        "(speech, music, libritts, daps, vctk, musdb18, musdb18hq, mtg_jamendo), "
                        "a subset of an embedded corpus (speech:real, music:synthetic) or "
                        "folder:PATH; default: the domain's embedded corpus")
    p.add_argument("--test-data", action="append", default=[], metavar="DOMAIN=SPEC",
                   help="evaluation data of a domain, same forms; several are evaluated one by "
                        "one (default: the training data's test split)")
    p.add_argument("--test-rate", type=int, default=None, metavar="HZ",
                   help="evaluate at this sample rate, train at the budget's (e.g. 44100)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes on this machine sharing the matrix, one core each: "
                        "each renders the DSP on its share of the cores (default: 1)")
    device_option(p, "auto")
    common_options(p)

    p = sub.add_parser("launch", help="submit the same `run` command as N workers through "
                                      "submitit: to SLURM, or as local processes")
    p.add_argument("--workers", type=int, required=True, help="workers to submit")
    p.add_argument("--executor", default="slurm", choices=("slurm", "local"),
                   help="where they run (default: slurm)")
    p.add_argument("--slurm-partition", default=None, metavar="P", help="SLURM partition")
    p.add_argument("--timeout-min", type=int, default=24 * 60,
                   help="each worker's time limit in minutes (default: 1440); a worker past it "
                        "is stopped and its trial redone by another")
    p.add_argument("--gpus-per-worker", type=int, default=None,
                   help="GPUs per worker (default: 1 when the run says --device cuda, else 0)")
    p.add_argument("--cpus-per-worker", type=int, default=1, help="CPU cores per worker")
    p.add_argument("--mem-gb", type=float, default=None, help="memory per worker in GB")
    p.add_argument("--logs", type=Path, default=None,
                   help="submitit's folder of scripts and logs (default: <results>/launch)")
    p.add_argument("--no-wait", action="store_true",
                   help="return once submitted instead of waiting for the workers")
    p.add_argument("run_command", nargs=argparse.REMAINDER, metavar="-- run …",
                   help="the `run` command every worker runs")

    p = sub.add_parser("report", help="rebuild the reports from the results")
    p.add_argument("--results-dir", type=Path, action="append", default=None,
                   help="results directory (repeatable; default: results, or results/published "
                        "when results has no runs yet)")
    p.add_argument("--reports-dir", type=Path, default=None,
                   help="where to write (default: reports when built from results/published, "
                        "else results/report)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), default=None,
                   help="print metric ratios of results B against results A (asv-style: "
                        "~ = not significant over seeds) instead of writing reports")

    p = sub.add_parser("sanity", help="check the gates that make a comparison worth reading "
                                      "(exit 1 naming every gate that fails)")
    p.add_argument("--results-dir", type=Path, default=Path("results/published"),
                   help="results to check (default: results/published)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("project", help="project the wall time of a budget's whole matrix from "
                                       "the runs measured so far")
    p.add_argument("--results-dir", type=Path, action="append", default=None,
                   help="results with measured runs (repeatable; default: results and "
                        "results/published)")
    p.add_argument("--budget", default="standard", help="budget to project (default: standard)")
    p.add_argument("--workers", type=int, default=2, help="workers sharing the matrix (default 2)")
    p.add_argument("--limit-hours", type=float, default=8.0,
                   help="wall-time limit to check the projection against (default 8)")
    p.add_argument("--exclude-family", default="",
                   help="comma list of task families to leave out of the matrix (e.g. "
                        "modeling: the effect-model grid, run as a chunk of its own)")
    p.add_argument("--out", type=Path, default=None, help="also write the Markdown here")

    p = sub.add_parser("publish", help="copy results into a small committable directory "
                                       "(rows, perf files, a few MP3 examples)")
    p.add_argument("--results-dir", type=Path, action="append", default=None,
                   help="results to publish (default: results); repeat it to merge the chunks "
                        "of one sweep (a run or study in several: the first run, the study "
                        "with the most trials)")
    p.add_argument("--to", type=Path, default=Path("results/published"),
                   help="target directory (default: results/published)")
    p.add_argument("--examples", type=int, default=1,
                   help="listening examples per task (default: 1)")
    p.add_argument("--with-journal", action="store_true",
                   help="also copy the Optuna journal: the published set keeps the importance "
                        "figures and a sweep run on a copy of it resumes")

    p = sub.add_parser("verify", help="check effects (reference vs differentiable, gradcheck) "
                                      "and the strategy contract")
    p.add_argument("--effects", action="store_true", help="verify every registered effect")
    p.add_argument("--strategies", nargs="?", const="all", default=None, metavar="NAMES",
                   help="run the contract for all (or the named) strategies on every task "
                        "at the smoke budget")
    p.add_argument("--settings", type=int, default=50, help="random settings per effect")
    device_option(p, "cpu", "where the differentiable effects run (cpu: the Numba kernels, "
                            "cuda: the parallel scans)")
    p.add_argument("--scan", action="store_true",
                   help="with --device cpu: check the parallel scans (the GPU's path) on the CPU")

    p = sub.add_parser("perf", help="kernel speed ratios on one thread (writes JSON)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write results here")
    p.add_argument("--scaling", action="store_true",
                   help="instead: time each gradient strategy's training step against clip "
                        "length (writes <results>/perf/scaling-*.json)")
    p.add_argument("--steps", action="store_true",
                   help="instead: profile one training step of every gradient strategy, split "
                        "into phases, on a synthetic and a chain-selection task (writes "
                        "<results>/perf/steps-*.json and the runtime.md section)")
    p.add_argument("--step-tasks", default=",".join(STEP_TASKS), metavar="TASKS",
                   help="tasks --steps profiles: the first is the baseline of chain_vs_synthetic "
                        f"(default: {','.join(STEP_TASKS)})")
    p.add_argument("--budget", default="quick", help="budget whose sizes --steps uses")
    p.add_argument("--repeats", type=int, default=7, help="interleaved steps per pair (--steps)")
    p.add_argument("--peers", action="store_true",
                   help="instead: check and time the exact EQ and compressor against peer "
                        "libraries (extra afx-bench[peers]; writes <results>/perf/peers-*.json "
                        "and the Peers section of reports/runtime.md)")
    device_option(p, "cpu", "where the torch side runs: kernel ratios and real-time factors, or "
                            "the training step (--steps)")
    p.add_argument("--results-dir", type=Path, default=Path("results"))
    p.add_argument("--reports-dir", type=Path, default=Path("reports"),
                   help="whose runtime.md gets the section (default: reports)")
    p.add_argument("--quick", action="store_true",
                   help="kernel ratios at small sizes and few repeats: a dry run whose numbers "
                        "mean little")

    p = sub.add_parser("doctor", help="check (and with --install, install) Debian packages")
    p.add_argument("--install", action="store_true",
                   help="install what is missing with apt-get (needs root)")

    p = sub.add_parser("data", help="build the embedded speech and music corpora")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    b = dsub.add_parser("build", help="build (or check) the corpora in the cache directory")
    b.add_argument("--tier", default="default", choices=("smoke", "default", "full"))
    b.add_argument("--corpus", default="all", metavar="NAMES",
                   help="'all' or a comma list of embedded corpora, e.g. speech (default: all)")
    common_options(b, results=False)
    _plugin_commands(sub)
    return parser


def _plugin_commands(sub: argparse._SubParsersAction) -> None:
    """Add the commands plugin packages declare (:class:`bench.registry.Command`)."""
    from bench.registry import RegistryError, discover_commands

    for cls in discover_commands().classes():
        if cls.name in COMMANDS:
            raise RegistryError(f"plugin command {cls.name!r} ({cls.__module__}) would hide "
                                "the built-in command of that name; rename it")
        p = sub.add_parser(cls.name, help=cls.help)
        cls().add_arguments(p)
        p.set_defaults(plugin_command=cls)


def device_option(p: argparse.ArgumentParser, default: str, what: str = "") -> None:
    """``--device auto|cpu|cuda[:N]``."""
    what = what or "where learners, proxies, losses, metrics and the exact effects run"
    p.add_argument("--device", default=default, metavar="DEVICE",
                   help=f"{what}: auto (CUDA when present), cpu, cuda or cuda:N "
                        f"(default: {default})")


def common_options(p: argparse.ArgumentParser, results: bool = True) -> None:
    """``--data-root`` and ``--cache-dir`` (and ``--results-dir`` when ``results``): for the
    commands that read corpora, plugin commands included."""
    if results:
        p.add_argument("--results-dir", type=Path, default=Path("results"),
                       help="where Parquet results and the Optuna journal go (default: results)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="directory holding research datasets (LibriTTS, DAPS, …)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="built corpora and artefacts (default: $AFX_BENCH_CACHE or "
                        "~/.cache/afx-bench)")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the command, turn user errors into one line and exit code 2."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what extra workers re-run
    from bench.env import keep_freed_memory
    from bench.errors import BenchError

    keep_freed_memory()

    try:
        if args.command in COMMANDS:
            return COMMANDS[args.command](args)
        return args.plugin_command().run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is saved; run the same command again to resume",
              file=sys.stderr)
        return 130


def cmd_list(args: argparse.Namespace) -> int:
    """Print what is registered, with one-line descriptions and broken plugins."""
    from bench.registry import discover, registry

    failures = discover()
    listing: dict[str, Any] = {
        kind: [_entry(cls) for cls in registry(kind).classes()] for kind in KINDS
    }
    listing["broken_plugins"] = [{"module": f.module, "error": f.error} for f in failures]
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for kind in KINDS:
        print(f"{PLURAL[kind]}:")
        for e in listing[kind]:
            flags = "".join(f" [{f}]" for f in e["flags"])
            print(f"  {e['name']:<20} {e['description']}{flags}")
        if not listing[kind]:
            print("  (none)")
    if failures:
        print("Broken plugins (not loaded):")
        for f in failures:
            print(f"  {f.module}: {f.error}")
    return 0


def _entry(cls: type) -> dict[str, Any]:
    flags = ["toy"] if getattr(cls, "toy", False) else []
    available = getattr(cls, "available", None)
    if callable(available):
        reason = available()
        if reason:
            flags.append(f"unavailable: {reason}")
    return {"name": cls.name, "version": cls.version, "description": cls.description,
            "module": cls.__module__, "flags": flags}


def cmd_run(args: argparse.Namespace) -> int:
    """Run the selected matrix and print a summary."""
    from bench.errors import BenchError
    from bench.params import parse_params
    from bench.runner import run
    from bench.sweep import RunOptions
    from bench.workers import extra_workers

    if args.workers < 1:
        raise BenchError(f"--workers {args.workers}: give at least 1")
    params = parse_params(args.param)
    start = time.perf_counter()
    with extra_workers(args.argv, args.workers - 1, args.results_dir) as workers:
        summary = run(RunOptions(
            strategies=args.strategy, tasks=args.task, budget=args.budget, seed=args.seed,
            seeds=args.seeds, trials=args.trials, final_seeds=args.final_seeds,
            storage=args.storage,
            results_dir=args.results_dir, data_root=args.data_root, cache_dir=args.cache_dir,
            params=params, progress=not args.no_progress, device=args.device,
            data=args.data, test_data=args.test_data, test_rate=args.test_rate,
            best_from=args.best_from,
        ))
    rebuilt = (f", {summary.artefacts_rebuilt} unloadable cached artefacts rebuilt (see the "
               f"warnings)" if summary.artefacts_rebuilt else "")
    print(f"done: {summary.counts(len(workers))}{rebuilt}, "
          f"{time.perf_counter() - start:.1f} s; results in {args.results_dir}")
    failed = [w for w in workers if w.failed]
    for w in failed:
        print(f"error: worker exited with status {w.process.returncode}; see {w.log}",
              file=sys.stderr)
    return 1 if failed else 0


def cmd_launch(args: argparse.Namespace) -> int:
    """Submit the workers of a `run` command through submitit."""
    from bench.launch import Launch, launch

    return launch(Launch(args.run_command, args.workers, args.executor, args.slurm_partition,
                         args.timeout_min, args.gpus_per_worker, args.cpus_per_worker,
                         args.mem_gb, args.logs), build_parser().parse_args,
                  wait=not args.no_wait)


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild the reports from the results directories."""
    if args.compare:
        from bench.report.compare import compare

        print(compare(*args.compare))
        return 0
    from bench.publish import report_plan
    from bench.report import build_reports

    dirs, out, note = report_plan(args.results_dir, args.reports_dir)
    if note:
        print(note)
    build_reports(dirs, out)
    print(f"wrote the report of {', '.join(map(str, dirs))} to {out}/ "
          f"(open {out / 'index.html'})")
    return 0


def cmd_sanity(args: argparse.Namespace) -> int:
    """Check the comparison's gates on a results directory; 1 when any fails."""
    from bench.errors import BenchError
    from bench.results import result_files
    from bench.sanity import as_json, check, render

    if not result_files(args.results_dir):
        raise BenchError(f"no results in {args.results_dir} (no runs/*.parquet): run "
                         "`python -m bench run` first or pass --results-dir of a published set")
    gates = check(args.results_dir)
    print(as_json(gates) if args.json else render(gates))
    return 0 if all(g.passed for g in gates) else 1


def cmd_project(args: argparse.Namespace) -> int:
    """Print (and optionally write) the projected wall time of a budget's matrix."""
    from bench.budgets import BUDGETS, get_budget
    from bench.errors import BenchError
    from bench.registry import registry
    from bench.report.projection import project, render_projection, run_walls, step_seconds
    from bench.report.runtime import PerfFiles
    from bench.results import read_results
    from bench.runner import matrix_cells

    if args.workers < 1:
        raise BenchError(f"--workers must be at least 1, got {args.workers}")
    budget = get_budget(args.budget)
    missing = [str(d) for d in args.results_dir or [] if not d.is_dir()]
    if missing:
        raise BenchError(f"no results directory {', '.join(missing)}: pass directories that "
                         "hold runs (e.g. results/standard-projection)")
    dirs = args.results_dir or [Path("results"), Path("results/published")]
    profiles = PerfFiles.read(dirs).steps  # the newest at the budget's own sizes first
    profile = max(profiles, key=lambda d: (d.get("budget") == budget.name,
                                           d.get("timestamp", "")), default=None)
    excluded = {f for f in args.exclude_family.split(",") if f}
    families = {t.family for t in registry("task").classes() if not getattr(t, "toy", False)}
    if excluded - families:  # checked before any task loads (plugins may print on loading)
        raise BenchError(f"unknown task family {', '.join(sorted(excluded - families))} in "
                         f"--exclude-family; choose from {', '.join(sorted(families))}")
    cells = project(budget, [c for c in matrix_cells(budget) if c.family not in excluded],
                    run_walls(read_results(dirs)), step_seconds(profile), BUDGETS)
    text = render_projection(cells, budget, args.workers, args.limit_hours, sorted(excluded))
    print(text, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish the results for committing; `report --results-dir <target>` rebuilds from it."""
    from bench.publish import publish

    written = publish(args.results_dir or [Path("results")], args.to, args.examples,
                      args.with_journal)
    size = sum(p.stat().st_size for p in written)
    print(f"published {len(written)} files ({size / 1e6:.2f} MB) to {args.to}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify effects; exit 1 when any check fails."""
    from bench.errors import BenchError

    if not args.effects and not args.strategies:
        raise BenchError("nothing to verify: pass --effects and/or --strategies")
    ok = True
    if args.effects:
        from bench.device import resolve
        from bench.dsp.verify import Placement, verify_effects

        ok = verify_effects(n_settings=args.settings,
                            where=Placement(resolve(args.device), args.scan))
    if args.strategies:
        from bench.contract import verify_strategies

        ok = verify_strategies(args.strategies) and ok
    return 0 if ok else 1


def cmd_perf(args: argparse.Namespace) -> int:
    """Measure kernel speed ratios with one torch and one Numba thread."""
    from bench.device import resolve
    from bench.env import limit_threads

    limit_threads()
    device = resolve(args.device)
    if args.scaling:
        from bench.step_scaling import measure_step_scaling

        print(f"wrote {measure_step_scaling(args.results_dir, device=device)}")
        return 0
    if args.steps:
        from bench.step_profile import run_step_profile

        run_step_profile(args.json, args.results_dir, reports_dir=args.reports_dir,
                         tasks=args.step_tasks.split(","), budget=args.budget,
                         repeats=args.repeats, device=device)
        return 0
    if args.peers:
        from bench.dsp.peers import run_peers

        run_peers(args.json, args.results_dir, reports_dir=args.reports_dir)
        return 0
    from bench.dsp.perf import run_perf
    from bench.step_scaling import deepafx_steps

    run_perf(args.json, args.results_dir, reports_dir=args.reports_dir, device=device,
             quick=args.quick, steps=deepafx_steps(device, quick=args.quick, cache_dir=None))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Build every embedded corpus (idempotent: cached files are checked, not rebuilt)."""
    from bench.params import choose
    from bench.registry import registry

    embedded = {cls.name: cls for cls in registry("dataset").classes()
                if getattr(cls, "embedded", False)}
    names = choose(args.corpus, tuple(embedded), "--corpus", "no embedded corpus")
    for name in names:
        embedded[name](cache_dir=args.cache_dir, data_root=args.data_root,
                       tier=args.tier).prepare(progress=True)
    print(f"ready: {', '.join(names)} ({args.tier} tier)")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the system packages the project needs."""
    from bench.doctor import doctor

    return doctor(args.install)


COMMANDS = {"list": cmd_list, "run": cmd_run, "launch": cmd_launch, "report": cmd_report,
            "publish": cmd_publish,
            "sanity": cmd_sanity, "project": cmd_project, "verify": cmd_verify,
            "perf": cmd_perf, "doctor": cmd_doctor, "data": cmd_data}
"""bench's own commands; plugin packages add theirs (:class:`bench.registry.Command`)."""
