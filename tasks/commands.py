"""Plugin commands of the tasks package: `python -m bench proxies build|status|check` (the
committed proxies of the standard budget) and `python -m bench steer` (steerable effects from
one example, :mod:`tasks._steer`).

``build`` pre-trains each (domain, effect, architecture) proxy that is missing or outdated
(resumable: one proxy at a time, each saved when done), then redraws the fidelity-against-steps
figure beside them; ``status`` lists them with their fidelity and gates; ``check`` measures them
again on the test split's clips, which neither their training nor their stopping saw.

A plugin command (:class:`bench.registry.Command`): it lives with the tasks because it
pre-trains on the tasks' audio for the effects chain selection chooses from. The CLI imports
this module to build its parser, so the heavy imports happen inside the functions.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser, Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from bench.registry import Command

if TYPE_CHECKING:
    from bench.base import RunContext

BUDGET = "standard"
DOMAINS = ("music", "speech")


class Proxies(Command):
    """Build or list the committed proxies."""

    name = "proxies"
    help = ("the committed proxies of the standard budget: build them (resumable) or list "
            "their fidelity and gates")

    def add_arguments(self, parser: ArgumentParser) -> None:
        """``build`` (what to pre-train and for how long) and ``status``."""
        from bench.cli import common_options

        psub = parser.add_subparsers(dest="proxies_command", required=True, metavar="ACTION")
        b = psub.add_parser("build", help="pre-train every missing or outdated proxy until its "
                                          "gates hold or its CPU time is spent, and commit it")
        b.add_argument("--domain", default="all", help="'all' or a comma list of music, speech")
        b.add_argument("--effect", default="all",
                       help="'all' (every effect a task puts behind a proxy: each has a "
                            "gradient task; those that cannot run here are skipped) or a "
                            "comma list")
        b.add_argument("--arch", default="tcn", help="'all' or a comma list of tcn, hypergru "
                                                     "(default: tcn); linear effects (the EQ) "
                                                     "get the fir filter proxy whatever this is")
        b.add_argument("--minutes", type=float, default=20.0,
                       help="CPU minutes (one core) per proxy at most (default: 20)")
        b.add_argument("--eval-every", type=int, default=250,
                       help="steps between fidelity measurements (default: 250)")
        b.add_argument("--force", action="store_true",
                       help="rebuild proxies that are up to date")
        _proxies_dir_option(b)
        common_options(b, results=False)
        s = psub.add_parser("status", help="list the committed proxies, their fidelity and gates")
        s.add_argument("--json", action="store_true", help="machine-readable output")
        _proxies_dir_option(s)
        c = psub.add_parser("check", help="measure the committed proxies on test-split clips "
                                          "(unseen by training and by the stopping rule); "
                                          "exit 1 when a gate fails there")
        c.add_argument("--domain", default="all", help="'all' or a comma list of music, speech")
        _proxies_dir_option(c)
        common_options(c, results=False)

    def run(self, args: Namespace) -> int:
        """Build or list the committed proxies."""
        from strategies._proxy_report import status
        from strategies._proxy_store import proxies_dir

        root = args.proxies_dir or proxies_dir()
        if args.proxies_command == "status":
            print(status(root, args.json))
            return 0
        if args.proxies_command == "check":
            return check(args.domain, root, args.cache_dir, args.data_root)
        if args.minutes <= 0 or args.eval_every < 1:
            from bench.errors import BenchError

            raise BenchError("--minutes must be > 0 and --eval-every >= 1")
        build(args.domain, args.effect, args.arch, args.minutes, args.eval_every,
              args.force, root, args.cache_dir, args.data_root)
        return 0


def _proxies_dir_option(parser: ArgumentParser) -> None:
    parser.add_argument("--proxies-dir", type=Path, default=None,
                        help="where committed proxies live (default: $AFX_BENCH_PROXIES or "
                             "proxies/)")


def _context(cache_dir: Path | None, data_root: Path | None, split: str) -> RunContext:
    """The run context proxies are built and checked in: the standard budget, one split."""
    from bench.base import RunContext
    from bench.budgets import get_budget
    from bench.data import default_cache_dir

    return RunContext(budget=get_budget(BUDGET), seed=0, split=split, results_dir=Path("."),
                      cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                      data_root=data_root)


def check(domains: str, root: Path, cache_dir: Path | None, data_root: Path | None) -> int:
    """Print every committed proxy's fidelity on test-split clips; 1 when a gate fails."""
    from bench.errors import BenchError
    from bench.params import choose
    from bench.registry import discover, registry
    from strategies._proxies import Pretraining
    from strategies._proxy_config import PRETRAIN
    from strategies._proxy_report import status_table
    from strategies._proxy_store import confirm
    from strategies._proxy_store import status as committed
    from tasks import _audio

    discover()
    wanted = choose(domains, DOMAINS, "--domain")
    records = [r for r in committed(root) if r["domain"] in wanted]
    if not records:
        raise BenchError(f"no committed proxies of {', '.join(wanted)} in {root}: build them "
                         "with `python -m bench proxies build`")
    rows = []
    for domain in wanted:
        ctx = _context(cache_dir, data_root, "test")
        clips = _audio.proxy_audio(domain, ctx, split="test").clips
        for record in (r for r in records if r["domain"] == domain):
            job = Pretraining(registry("effect").get(record["effect"])(),
                              ctx.budget.sample_rate, record["arch"], PRETRAIN[BUDGET], clips)
            print(f"measuring the {record['arch']} proxy of {record['effect']} for {domain} on "
                  f"{min(len(clips), job.cfg.train.eval_clips)} test-split clips")
            rows.append({**record, **confirm(job, domain, root)})
    print(status_table(rows, "test-split clips that building never saw"))
    return 0 if all(r["gates_pass"] for r in rows) else 1


def build(domains: str, effects: str, archs: str, minutes: float, eval_every: int,
          force: bool, root: Path, cache_dir: Path | None, data_root: Path | None) -> int:
    """Build every selected proxy that is missing or outdated; returns how many were built."""
    from bench.errors import BenchError
    from bench.params import choose
    from bench.registry import discover, registry
    from strategies._proxy_config import ARCHS, PRETRAIN

    discover()
    domain_list = choose(domains, DOMAINS, "--domain")
    effect_list = choose(effects, tuple(registry("effect").names()), "--effect")
    arch_list = choose(archs, ARCHS, "--arch")
    missing = {n: why for n in effect_list if (why := registry("effect").get(n).available())}
    if missing and effects != "all":
        raise BenchError("; ".join(f"{n}: {why}" for n, why in missing.items()))
    for name, why in missing.items():
        print(f"skipping {name}: {why}")
    effect_list = [n for n in effect_list if n not in missing]

    import torch

    from strategies._proxies import Pretraining, effect_arch
    from strategies._proxy_report import FIGURE, REPORT, fidelity_report
    from strategies._proxy_store import build_committed, committed_path, is_current
    from tasks import _audio

    torch.set_num_threads(1)  # the time limit is CPU time of one core
    built = 0
    # a linear, dynamics or Hammerstein effect gets its structured proxy whatever the --arch:
    # build it once
    pairs = list(dict.fromkeys((name, effect_arch(name, arch))
                               for arch in arch_list for name in effect_list))
    for domain in domain_list:
        ctx = _context(cache_dir, data_root, "train")
        audio = _audio.proxy_audio(domain, ctx)
        for name, arch in pairs:
            job = Pretraining(registry("effect").get(name)(), ctx.budget.sample_rate, arch,
                              PRETRAIN[BUDGET], audio.clips)
            if not force and is_current(job, domain, root):
                print(f"{committed_path(root, domain, name, arch)}: up to date")
                continue
            build_committed(job, domain, root, minutes, eval_every)
            built += 1
            fidelity_report(root)  # after each proxy: an interrupted build keeps its report
    fidelity_report(root)
    print(f"built {built} proxies; `python -m bench proxies status` lists them; fidelity in "
          f"{root / REPORT} and {root / FIGURE}")
    return built


class Steer(Command):
    """Train a conditional TCN on one example of an effect and sweep its 2-D controls."""

    name = "steer"
    help = ("steerable effects from one example: train a conditional TCN on one input/output "
            "pair with its 2-D control at 0, sweep the control over [-5, 5]^2 and write a "
            "loudness (compressor) or T60 (reverb) heatmap for the report")

    def add_arguments(self, parser: ArgumentParser) -> None:
        """The effect, the budget and what may override its sizes."""
        from bench.cli import common_options

        parser.add_argument("--effect", default="compressor",
                            help="the target effect (default: compressor; reverb gets a T60 "
                                 "heatmap)")
        parser.add_argument("--budget", default="quick",
                            choices=("smoke", "quick", "standard", "full"),
                            help="network, training and grid sizes (default: quick; standard "
                                 "trains the paper's 2500 steps)")
        parser.add_argument("--measure", default=None, choices=("lufs", "t60"),
                            help="the heatmap's measure (default: t60 for the reverb, else "
                                 "lufs)")
        parser.add_argument("--steps", type=int, default=None,
                            help="training steps (default: the budget's)")
        parser.add_argument("--grid", type=int, default=None,
                            help="control points per axis (default: the budget's)")
        parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
        common_options(parser)

    def run(self, args: Namespace) -> int:
        """Run the experiment and say where its JSON went."""
        from tasks._steer import run_steer

        path = run_steer(args.effect, args.budget, args.measure, args.steps, args.grid,
                         args.seed, args.results_dir, args.cache_dir, args.data_root)
        data = json.loads(path.read_text())
        s, f = data["structure"], data["fidelity_at_zero"]["train_clip"]
        print(f"{data['effect']}: {data['measure_what']} over a {len(data['controls'])}² grid "
              f"of controls in [-5, 5]²: range {_text(s['range'])}, plane R² "
              f"{_text(s['plane_r2'])}, neighbour step {_text(s['neighbour_step'])} of the "
              f"range; target {_text(data['target_value'])}, model at c=0 "
              f"{_text(data['model_at_zero'])} (MR-STFT {_text(f['mrstft'])}, ESR "
              f"{_text(f['esr'])}, LUFS error {_text(f['lufs'])} LU on the training clip; "
              f"{data['training']['steps']} steps, {data['training']['cpu_s']:.0f} CPU s)")
        print(f"wrote {path}; `python -m bench report --results-dir {args.results_dir}` draws "
              "the heatmap")
        return 0


def _text(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"
