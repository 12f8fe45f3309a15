"""Runtime report: training-step time, inference real-time factor, DSP evaluations and gradient
estimates per step, proxy pre-training cost, kernel ratios and step-time scaling, per machine.

Numbers measured on different machines never share a table: every section is grouped by the
machine id recorded with the rows (or in the perf JSON files).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.baselines import DEEPAFX_ST_GPU_STEP_RATIOS, EXACT_STRATEGY
from bench.report.leaderboard import modeling_tasks
from bench.report.numbers import number
from bench.report.provenance import header_lines
from bench.report.runs import final_runs, training_logs
from bench.report.steps import render_markdown as steps_markdown
from bench.results import PERF_SUBDIR

CACHED = "loaded from cache (trained earlier, machine not recorded)"


@dataclass(frozen=True)
class PerfFiles:
    """The JSON files of `python -m bench perf` under the results: kernel ratios, scaling, the
    training-step profile (``--steps``) and the peer-library comparison (``--peers``)."""

    kernels: list[dict[str, Any]]
    scaling: list[dict[str, Any]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    peers: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, results_dirs: list[Path]) -> PerfFiles:
        """Every readable ``<results>/perf/*.json``; unreadable files are named and skipped."""
        kernels, scaling, steps, peers = [], [], [], []
        for path in sorted(p for d in results_dirs for p in (Path(d) / PERF_SUBDIR).glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                print(f"skipping unreadable perf file {path}: {exc}")
                continue
            if data.get("kind") == "scaling":
                scaling.append(data)
            elif data.get("kind") == "steps":
                steps.append(data)
            elif data.get("kind") == "peers":
                peers.append(data)
            elif "ratios" in data:
                kernels.append(data)
        key = lambda d: (str(d.get("machine_id")), str(d.get("timestamp")))  # noqa: E731
        newest = lambda d: str(d.get("created_utc"))  # noqa: E731
        return cls(sorted(kernels, key=key), sorted(scaling, key=key), sorted(steps, key=key),
                   sorted(peers, key=newest))

    def latest(self, kind: str) -> dict[str, dict[str, Any]]:
        """The newest file of ``kind`` ("kernels", "scaling" or "steps") per machine id."""
        return {str(d.get("machine_id")): d for d in getattr(self, kind)}


def evaluated_seconds(budget: str, extra: dict[str, Any]) -> float:
    """Seconds of audio a final run evaluated: the budget's eval_examples clips, or for the
    realistic tasks (extra "per_pair") max(1, eval_examples // pairs) clips per style pair."""
    from bench.budgets import get_budget

    b = get_budget(budget)
    pairs = len(extra.get("per_pair", {}))
    clips = pairs * max(1, b.eval_examples // pairs) if pairs else b.eval_examples
    return clips * b.clip_seconds


def strategy_row(g: pd.DataFrame) -> list[str]:
    """Runtime cells of one (strategy, task, budget) group of final runs on one machine."""
    ok = g[g.status == "ok"]
    fresh = [log for extra in ok.extra for log in training_logs(extra) if not log.get("reused")]
    curves = [log["curve"][-1] for log in fresh if log.get("curve")]
    inference = [(s, extra, budget) for s, extra, budget in zip(ok.solve_s, ok.extra, ok.budget,
                                                                strict=True)
                 if all(log.get("reused") for log in training_logs(extra))]
    rtf = [s / evaluated_seconds(budget, extra) for s, extra, budget in inference]
    return [
        str(len(ok)) + (f" ({len(g) - len(ok)} failed)" if len(g) > len(ok) else ""),
        _median(1e3 * log["step_s_median"] for log in fresh),
        _median(1e3 * log["step_s_iqr"] for log in fresh),
        _median(c["dsp_evals"] / c["step"] for c in curves if c.get("step")),
        _median(c["grad_estimates"] / c["step"] for c in curves if c.get("step")),
        _median(ok.n_dsp_evals.astype(float)),
        _median(ok.solve_s),
        _median(rtf),
    ]


def relative_steps(runs: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows: each strategy's median training-step time divided by the exact
    strategy's (``bench.baselines.EXACT_STRATEGY``) on the same task and budget (one machine's
    final runs), the median over tasks, and DeepAFx-ST's GPU ratio where it published one."""
    ok = runs[runs.status == "ok"]
    steps = {}
    for (strategy, task, budget), g in ok.groupby(["strategy", "task", "budget"], sort=True):
        times = [log["step_s_median"] for extra in g.extra for log in training_logs(extra)
                 if not log.get("reused") and math.isfinite(log["step_s_median"])]
        if times:
            steps[strategy, task, budget] = float(np.median(times))
    base = {(t, b): v for (s, t, b), v in steps.items() if s == EXACT_STRATEGY}
    cols = sorted(base)
    rows = []
    for strategy in sorted({s for s, _, _ in steps}):
        ratios = [steps[strategy, t, b] / base[t, b] if (strategy, t, b) in steps else math.nan
                  for t, b in cols]
        rows.append([strategy, *(_num(r) for r in ratios), _median(ratios),
                     _num(DEEPAFX_ST_GPU_STEP_RATIOS.get(strategy))])
    head = ["strategy", *(f"{t} ({b})" for t, b in cols), "median", "DeepAFx-ST (GPU)"]
    return head, rows if cols else []


def compute_spent(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows: minutes of setup + solve + evaluation per strategy and task family over
    every run (tuning and final, failed included) of one machine, with row and column totals."""
    runs = rows[~rows.is_reference].drop_duplicates("run_key")
    minutes = (runs.setup_s + runs.solve_s + runs.eval_s) / 60
    table = minutes.groupby([runs.strategy, runs.task_family]).sum().unstack(fill_value=0.0)
    families = sorted(table.columns)
    total = float(table.to_numpy().sum())
    out = [[s, *(_num(table.loc[s, f]) for f in families), _num(table.loc[s].sum()),
            f"{100 * table.loc[s].sum() / total:.0f} %" if total else "—"]
           for s in sorted(table.index)]
    out.append(["**total**", *(_num(table[f].sum()) for f in families), _num(total),
                "100 %" if total else "—"])
    return ["strategy", *families, "total min", "share"], out


def proxy_facts(frame: pd.DataFrame) -> list[tuple[str, dict[str, Any]]]:
    """Distinct pre-trained proxies (from extra "proxies" of every phase: proxies are cached
    artefacts), each with the machine that pre-trained it (or ``CACHED``), sorted. The models
    the effect-modeling tasks measure are left to their own report (``modeling.md``)."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    rows = frame[frame.extra_json.notna() & ~frame.is_reference
                 & ~frame.task.isin(modeling_tasks(frame))].drop_duplicates("run_key")
    rows = rows.sort_values(["finished_at", "run_key"], kind="stable")
    for machine, budget, text in zip(rows.machine_id, rows.budget, rows.extra_json, strict=True):
        for effect, meta in sorted(json.loads(text).get("proxies", {}).items()):
            fact = {k: v for k, v in meta.items() if k != "reused"} | {
                "effect": effect, "budget": budget}
            key = json.dumps(fact, sort_keys=True)
            where = CACHED if meta.get("reused") else str(machine)
            if key not in seen or seen[key][0] == CACHED:
                seen[key] = (where, fact)
    return sorted(seen.values(), key=lambda t: (t[0], json.dumps(t[1], sort_keys=True)))


def proxy_rows(frame: pd.DataFrame) -> dict[str, list[list[str]]]:
    """Proxy table cells grouped by the machine that pre-trained them."""
    out: dict[str, list[list[str]]] = {}
    for where, m in proxy_facts(frame):
        out.setdefault(where, []).append([
            m["effect"], str(m.get("arch", "")), m["budget"], str(m.get("parameters", "")),
            _num(m.get("pretrain_s")), str(m.get("pretrain_steps", "")),
            str(m.get("pretrain_dsp_evals", "")), _num(m.get("mrstft")),
            _num(m.get("lufs_error")), _num(m.get("rtf"))])
    return out


def scaling_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one scaling file: step time (ms) per clip length, and the growth."""
    lengths = data["lengths_s"]
    head = ["strategy", *(f"{s:g} s" for s in lengths),
            f"× from {lengths[0]:g} to {lengths[-1]:g} s"]
    rows = []
    for name, entry in sorted(data["strategies"].items()):
        if entry.get("error"):
            rows.append([name, f"failed: {entry['error']}", *[""] * len(lengths)])
            continue
        times = entry["step_s"]
        growth = times[-1] / times[0] if times[0] else math.nan
        rows.append([name, *(_num(1e3 * t) for t in times), _num(growth)])
    return head, rows


def render_runtime(frame: pd.DataFrame, perf: PerfFiles, figures: dict[str, str]) -> str:
    """The Markdown runtime report; ``figures`` maps machine id → scaling figure path."""
    runs = final_runs(frame)
    proxies = proxy_rows(frame)
    kernels, scaling = perf.latest("kernels"), perf.latest("scaling")
    steps = perf.latest("steps")
    machines = sorted(set(runs.machine_id) | set(kernels) | set(scaling) | set(steps)
                      | (set(proxies) - {CACHED}))
    out = ["# Runtime", "", *header_lines(frame), "",
           "Numbers from different machines are never compared in one table. Step times are "
           "the median (and interquartile range) of the per-step wall time of the shared "
           "training loop, from final runs that trained their model (not loaded from cache). "
           "DSP evaluations and gradient estimates per step are counted during training; "
           "\"DSP evals/run\" counts the whole run (training and inference renders). "
           "Inference RTF = solve seconds / seconds of evaluated audio (the budget's "
           "eval_examples clips of clip_seconds; realistic tasks: at least one clip per style "
           "pair), only for runs whose solve phase did not train (search strategies, or a "
           "trained model reused from cache); it includes model loading.", ""]
    if not machines and not proxies:
        out.append("_No runtime data yet._")
    for machine in machines:
        out += [f"## Machine `{machine}`", ""]
        mine = runs[runs.machine_id == machine]
        if len(mine):
            out += ["### Training and inference per strategy", "", *_table(
                ["strategy", "task", "budget", "final runs", "step ms (median)", "step ms (IQR)",
                 "DSP evals/step", "grad estimates/step", "DSP evals/run", "solve s",
                 "inference RTF"],
                [[s, t, b, *strategy_row(g)]
                 for (s, t, b), g in mine.groupby(["strategy", "task", "budget"], sort=True)]),
                ""]
            head, rows = relative_steps(mine)
            if rows:
                out += [f"### Training-step time relative to {EXACT_STRATEGY}", "",
                        f"Median step time divided by {EXACT_STRATEGY}'s on the same task, "
                        f"budget and machine; the last column is DeepAFx-ST's ratio on a GTX "
                        f"1080 Ti (batch 4, 5-s clips; its hybrid was timed without the DSP).",
                        "", *_table(head, rows), ""]
        spent = frame[(frame.machine_id == machine) & ~frame.is_reference]
        for budget, rows_of_budget in spent.groupby("budget", sort=True):
            head, rows = compute_spent(rows_of_budget)
            out += [f"### Compute spent ({budget} budget)", "",
                    "Minutes of setup + solve + evaluation summed over every run on this machine "
                    "(tuning trials and final runs, failed ones included), by task family.", "",
                    *_table(head, rows), ""]
        if machine in proxies:
            out += _proxy_section(proxies[machine])
        if machine in steps:
            out += [*steps_markdown(steps[machine]).replace("## ", "### ").splitlines(), ""]
        if machine in kernels:
            out += _kernel_section(kernels[machine])
        if machine in scaling:
            head, rows = scaling_rows(scaling[machine])
            data = scaling[machine]
            out += ["### Training-step time against clip length", "",
                    f"{data.get('what', '')} Measured {data.get('timestamp', '')}, batch "
                    f"{data.get('batch', '')}, {data.get('sample_rate', '')} Hz, median of "
                    f"{data.get('repeats', '')} steps; milliseconds.", "", *_table(head, rows),
                    ""]
            if machine in figures:
                out += [f"![Step time against clip length on {machine}]({figures[machine]})", ""]
    if CACHED in proxies:
        out += [f"## Proxies {CACHED}", "", *_proxy_section(proxies[CACHED])]
    return "\n".join(out)


def _proxy_section(rows: list[list[str]]) -> list[str]:
    return ["### Proxy pre-training cost and fidelity", "",
            "Fidelity against the reference DSP on held-out clips: MR-STFT distance, LUFS "
            "error (LU) and the proxy's CPU real-time factor (seconds per second of audio).", "",
            *_table(["effect", "arch", "budget", "parameters", "pre-training s", "steps",
                     "DSP evals", "MR-STFT", "LUFS error (LU)", "proxy RTF"], rows), ""]


def _kernel_section(data: dict[str, Any]) -> list[str]:
    """The perf run's own Markdown (``bench.dsp.perf.render_markdown``), one heading deeper."""
    from bench.dsp.perf import render_markdown

    text = render_markdown(data).replace("## ", "### ")
    return [*text.splitlines(), ""]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|---" * len(head) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def _median(values: Iterator[float] | Any) -> str:
    """The median of the finite values, written like every report number ("—" if none)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return _num(float(np.median(finite))) if finite else "—"


def _num(x: Any) -> str:
    """A report number (3 significant digits, see `number`), "—" when missing or not finite."""
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        return "—"
    return number(x)


def write_runtime(frame: pd.DataFrame, perf: PerfFiles, reports_dir: Path,
                  figures: dict[str, str]) -> Path:
    """Write runtime.md (ending with the newest Peers section, if any); returns its path."""
    path = Path(reports_dir) / "runtime.md"
    path.write_text(render_runtime(frame, perf, figures) + "\n")
    if perf.peers:  # the newest `perf --peers` run, as that command writes it
        from bench.dsp.peers import MARKER, render_markdown
        from bench.dsp.perf import write_runtime_section

        write_runtime_section(path, render_markdown(perf.peers[-1]), marker=MARKER)
    return path
