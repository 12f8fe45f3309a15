"""`python -m bench sanity`: the gates that make a comparison worth reading, checked on results.

Each gate reads the final rows of a results directory and says whether it holds, with the
numbers that decide it. A gate with nothing to judge fails and says what is missing: an absent
measurement is not a pass. Exit status 1 when any gate fails.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.baselines import EXACT_STRATEGY
from bench.convergence import CONVERGED_TAIL, stored_training, tail_gain

INPUT_GAIN = {"mrstft": 0.40, "msd": 0.25}
"""Gate (a): the least relative improvement over the unprocessed input, by main metric
(synthetic style transfer: MR-STFT; realistic styles: MSD)."""
CHANCE_MULTIPLE = 3.0
CONVERGED_SHARE = 0.9
PROXY_GATES = {"lufs_error": 1.0, "mrstft": 0.5, "grad_cosine_median": 0.8,
               "grad_cosine_learned_median": 0.8}
"""Gate (e): a proxy's LUFS error (LU) and MR-STFT at most, gradient cosines at least (over
all parameters, and over the learned ones alone: an analytic output gain's exact gradient by
itself gives an untrained compressor proxy a cosine of 0.97)."""


def proxy_gates(figures: dict[str, float]) -> dict[str, bool]:
    """Which of :data:`PROXY_GATES` a proxy's fidelity figures meet (a missing one fails)."""
    out = {}
    for name, bound in PROXY_GATES.items():
        value = figures.get(name)
        ok = value is not None and math.isfinite(value)
        out[name] = bool(ok and (value >= bound if name.startswith("grad") else value <= bound))
    return out


@dataclass
class Gate:
    """One gate's verdict and the evidence for it."""

    name: str
    what: str
    passed: bool
    details: list[str] = field(default_factory=list)


def final_main(frame: pd.DataFrame) -> pd.DataFrame:
    """Final-phase main-metric rows (strategies and references)."""
    return frame[(frame.phase == "final") & frame.is_main_metric]


def _values(rows: pd.DataFrame) -> list[float]:
    return [float(v) for v in rows[rows.status == "ok"].value if math.isfinite(v)]


def _mean(rows: pd.DataFrame) -> float:
    vals = _values(rows)
    return sum(vals) / len(vals) if vals else math.nan


def _learners() -> set[str]:
    """Names of the registered strategies that train a learner through an effect."""
    from bench.gradient import GradientStrategy
    from bench.registry import registry

    return {c.name for c in registry("strategy").classes()
            if issubclass(c, GradientStrategy) and c.trains_learner}


def _declaring(main: pd.DataFrame, capability: str) -> pd.DataFrame:
    """The rows of the tasks whose declared capabilities (``Task.capabilities``) include
    ``capability``; a task that no plugin registers here declares nothing, so it is not judged."""
    from bench.registry import registry

    tasks = registry("task")
    known = set(tasks.names())
    names = {name for name in set(main.task_name) & known
             if getattr(tasks.get(name).capabilities, capability)}
    return main[main.task_name.isin(names)]


def _judged(gate: Gate, tasks: pd.DataFrame, what: str) -> Gate:
    """``gate``, failed with the reason when there were no ``what`` results to judge."""
    if tasks.empty:
        gate.passed, gate.details = False, [f"no {what} results"]
    return gate


def gate_exact_vs_input(main: pd.DataFrame) -> Gate:
    """(a) The exact-gradient learner beats the input by the least gains of INPUT_GAIN."""
    gate = Gate("a", f"{EXACT_STRATEGY} beats the input by ≥ 40% on synthetic MR-STFT and ≥ 25% "
                     "on realistic MSD, in each domain", True)
    tasks = _declaring(main, "style_reference")
    tasks = tasks[tasks.metric.isin(INPUT_GAIN)]
    for task, rows in tasks.groupby("task", sort=True):
        metric = rows.metric.iloc[0]
        ours = _mean(rows[rows.strategy == EXACT_STRATEGY])
        base = _mean(rows[rows.strategy == "input"])
        gain = (base - ours) / base if base else math.nan
        ok = math.isfinite(gain) and gain >= INPUT_GAIN[metric]
        gate.passed &= ok
        gate.details.append(f"{task}: {EXACT_STRATEGY} {metric} {ours:.3g} vs input {base:.3g} "
                            f"({gain:+.0%} better; needs {INPUT_GAIN[metric]:.0%})")
    return _judged(gate, tasks, "style-transfer")


def gate_learners_vs_input(main: pd.DataFrame) -> Gate:
    """(b) Every learner beats the input on every style-transfer task's main metric."""
    gate = Gate("b", "every learner beats the input on every style-transfer task", True)
    learners = _learners()
    tasks = _declaring(main, "style_reference")
    for task, rows in tasks.groupby("task", sort=True):
        base = _mean(rows[rows.strategy == "input"])
        lower = not bool(rows.higher_is_better.iloc[0])
        for strategy in sorted(set(rows.strategy) & learners):
            ours = _mean(rows[rows.strategy == strategy])
            ok = math.isfinite(ours) and (ours < base if lower else ours > base)
            if not ok:
                gate.passed = False
                gate.details.append(f"{task}: {strategy} {ours:.3g} vs input {base:.3g}")
    if gate.passed:
        gate.details.append(f"{tasks.task.nunique()} tasks, every learner better than input")
    return _judged(gate, tasks, "style-transfer")


def gate_probes(main: pd.DataFrame) -> Gate:
    """(c) Every trained encoder beats both probe baselines with non-overlapping 95% CIs."""
    from bench.report.stats import mean_ci95

    gate = Gate("c", "every trained encoder beats the random-encoder and mel-statistics probes "
                     "with non-overlapping 95% intervals", True)
    tasks = _declaring(main, "probes_encoder")
    learners = _learners()
    for task, rows in tasks.groupby("task", sort=True):
        refs = {s: mean_ci95(_values(rows[rows.strategy == s]))
                for s in sorted(set(rows[rows.is_reference].strategy))}
        trained = {s for s in set(rows.strategy) & learners if _values(rows[rows.strategy == s])}
        for strategy in sorted(trained):
            mean, half = mean_ci95(_values(rows[rows.strategy == strategy]))
            runs = len(_values(rows[rows.strategy == strategy]))
            for ref, (rmean, rhalf) in refs.items():
                ok = math.isfinite(half) and math.isfinite(rhalf) and mean - half > rmean + rhalf
                if not ok:
                    gate.passed = False
                    why = (f" (an interval needs at least 2 final runs, {strategy} has {runs}: "
                           "rerun with --final-seeds 3)" if runs < 2 else "")
                    gate.details.append(f"{task}: {strategy} {mean:.3g} ± {half:.2g} vs {ref} "
                                        f"{rmean:.3g} ± {rhalf:.2g}{why}")
    return _judged(gate, tasks, "probe")


def gate_chain(main: pd.DataFrame) -> Gate:
    """(d) Chain-selection learners reach ≥ 3× chance on exact-chain accuracy."""
    from bench.registry import registry

    gate = Gate("d", f"chain-selection learners reach ≥ {CHANCE_MULTIPLE:g}× chance on "
                     "exact-chain accuracy", True)
    learners = _learners()
    tasks = _declaring(main, "selects_chain")
    for task, rows in tasks.groupby("task", sort=True):
        chance = registry("task").get(rows.task_name.iloc[0])().chance
        for strategy in sorted(set(rows.strategy) & learners):
            acc = _mean(rows[rows.strategy == strategy])
            ok = math.isfinite(acc) and acc >= CHANCE_MULTIPLE * chance
            gate.passed &= ok
            gate.details.append(f"{task}: {strategy} {acc:.3g} ({acc / chance:.1f}× chance "
                                f"{chance:.3g})")
    return _judged(gate, tasks, "chain-selection")


def gate_proxies(frame: pd.DataFrame) -> Gate:
    """(e) Every proxy the runs used meets the fidelity gates (the models the modeling tasks
    measure are compared there, not used)."""
    gate = Gate("e", "proxies: LUFS error ≤ 1 LU, MR-STFT ≤ 0.5, median gradient cosine ≥ 0.8",
                True)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    used = frame[~frame.task.isin(_declaring(frame, "models_effect").task)]
    for text in used[used.phase == "final"].extra_json.dropna():
        for effect, facts in json.loads(text).get("proxies", {}).items():
            seen[(effect, str(facts.get("arch")))] = facts
    for (effect, arch), facts in sorted(seen.items()):
        misses = [f"{k} {facts[k]:.3g}" if k in facts else f"{k} not measured"
                  for k, ok in proxy_gates(facts).items() if not ok]
        if misses:
            gate.passed = False
            gate.details.append(f"{effect} ({arch}): " + ", ".join(misses))
    if not seen:
        gate.details.append("no proxy was used by these runs")
    return gate


def gate_converged(frame: pd.DataFrame) -> Gate:
    """(f) At least 90% of the final learner runs converged (the gradient and modeling tasks
    train no learner)."""
    measured = {*_declaring(frame, "measures_gradients").task,
                *_declaring(frame, "models_effect").task}
    runs = frame[(frame.phase == "final") & ~frame.is_reference & frame.is_main_metric
                 & frame.strategy.isin(_learners()) & ~frame.task.isin(measured)]
    known = runs.converged.dropna()
    share = float(known.astype(bool).mean()) if len(known) else math.nan
    ok = len(known) == len(runs) and len(runs) > 0 and share >= CONVERGED_SHARE
    details = [f"{int(known.astype(bool).sum())} of {len(runs)} final learner runs converged"
               + (f" ({len(runs) - len(known)} did not record it)" if len(known) < len(runs)
                  else "")]
    for row in runs[runs.converged.eq(False)].itertuples():
        if (stored := stored_training(row.extra_json)) is not None:
            curve, steps, _ = stored
            details.append(f"{row.task}/{row.strategy} seed {row.seed}: best validation loss "
                           f"still fell {tail_gain(curve, steps):.1%} over the last "
                           f"{CONVERGED_TAIL:.0%} of its {steps} steps")
    return Gate("f", f"≥ {CONVERGED_SHARE:.0%} of final runs converged", ok, details)


def check(results_dir: Path) -> list[Gate]:
    """Every gate on the results under ``results_dir``."""
    from bench.results import current_protocol, label_data, read_results

    frame = current_protocol(label_data(read_results(results_dir)))
    main = final_main(frame)
    return [gate_exact_vs_input(main), gate_learners_vs_input(main), gate_probes(main),
            gate_chain(main), gate_proxies(frame), gate_converged(frame)]


def render(gates: list[Gate]) -> str:
    """One block per gate: verdict, what it checks, and its evidence."""
    lines = []
    for g in gates:
        lines.append(f"({g.name}) {'PASS' if g.passed else 'FAIL'}: {g.what}")
        lines += [f"    {d}" for d in g.details]
    failed = [g.name for g in gates if not g.passed]
    lines.append(f"failed gates: {', '.join(failed)}" if failed else "all gates pass")
    return "\n".join(lines)


def as_json(gates: list[Gate]) -> str:
    """The gates as a JSON list."""
    return json.dumps([asdict(g) for g in gates], indent=2)
