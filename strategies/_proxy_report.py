"""The committed proxies' status table, fidelity report and figure: what
``python -m bench proxies status`` prints and ``proxies build`` writes beside the proxies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FIGURE = "fidelity.png"
REPORT = "fidelity.md"


def status_table(rows: list[dict[str, Any]], clips: str = "held-out clips") -> str:
    """The status rows as a fixed-width table with a gate verdict per proxy; ``clips`` says
    what the figures were measured on."""
    from bench.report.numbers import number
    from strategies._proxy_store import GATES

    def num(value: float | None) -> str:
        return "" if value is None else number(value)

    width = max([11, *(len(r["effect"]) for r in rows)])  # the black boxes' longer names
    head = (f"{'domain':<7} {'effect':<{width}} {'arch':<9} {'MR-STFT':>8} {'LUFS err':>9} "
            f"{'grad cos':>9} {'learned':>8} {'steps':>6} {'CPU min':>8}  gates")
    lines = [head, "-" * len(head)]
    for r in rows:
        failed = [k for k, ok in (r["gates"] or {}).items() if not ok]
        verdict = "pass" if r["gates_pass"] else "fail: " + ", ".join(failed or list(GATES))
        cpu = r["cpu_s"] / 60 if r["cpu_s"] is not None else None
        lines.append(f"{r['domain']:<7} {r['effect']:<{width}} {r['arch']:<9} "
                     f"{num(r['mrstft']):>8} {num(r['lufs_error']):>9} "
                     f"{num(r['grad_cosine_median']):>9} "
                     f"{num(r['grad_cosine_learned_median']):>8} {r['steps_run'] or 0:>6} "
                     f"{num(cpu):>8}  {verdict}")
    gate_text = ", ".join(f"{k} {'>=' if k.startswith('grad') else '<='} {bound:g}"
                          for k, bound in GATES.items())
    lines.append(f"gates: {gate_text} ({clips}, against the reference DSP)")
    return "\n".join(lines)


def status(root: Path, as_json: bool) -> str:
    """``proxies status`` output: a table, or JSON objects (without the curves)."""
    from bench.errors import BenchError
    from strategies._proxy_store import status as rows_of

    rows = rows_of(root)
    if not rows:
        raise BenchError(f"no committed proxies in {root}: build them with "
                         "`python -m bench proxies build`")
    if as_json:
        keys = ("effect", "domain", "arch", "lufs_error", "mrstft", "grad_cosine_median",
                "grad_cosine_learned_median", "gates_pass", "gates", "steps_run", "cpu_s",
                "stopped", "version", "path")
        return json.dumps([{k: r[k] for k in keys} for r in rows], indent=1)
    return status_table(rows)


def fidelity_report(root: Path) -> None:
    """Write the committed proxies' status table (``fidelity.md``) and figure beside them."""
    from strategies._proxy_store import status as rows_of

    rows = rows_of(root)
    if not rows:
        return
    text = ("# Committed proxies\n\nWritten by `python -m bench proxies build`; "
            f"![fidelity against steps]({FIGURE})\n\n```\n{status_table(rows)}\n```\n")
    (Path(root) / REPORT).write_text(text)
    fidelity_figure(root)


def fidelity_figure(root: Path) -> Path | None:
    """Fidelity against pre-training steps of every committed proxy, one panel per gate
    (dashed: the gate), at ``root``/fidelity.png; None when no proxy has a curve."""
    from bench.report.figures import pyplot, save_png
    from strategies._proxy_store import GATES
    from strategies._proxy_store import status as rows_of

    rows = [r for r in rows_of(root) if r["curve"]]
    if not rows:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(GATES), figsize=(3.8 * len(GATES), 4.6), layout="constrained")
    labels = {"mrstft": "MR-STFT", "lufs_error": "LUFS error (LU)",
              "grad_cosine_median": "gradient cosine (median)",
              "grad_cosine_learned_median": "… learned parameters only"}
    effects = sorted({r["effect"] for r in rows})  # one colour per effect, a style per domain
    cmap = plt.get_cmap("tab10" if len(effects) <= 10 else "tab20")
    colours = {e: cmap(i % cmap.N) for i, e in enumerate(effects)}
    for ax, (name, bound) in zip(axes, GATES.items(), strict=True):
        for r in rows:
            steps = [p["step"] for p in r["curve"]]
            values = [math.nan if p.get(name) is None else p[name] for p in r["curve"]]
            music = r["domain"] == "music"
            ax.plot(steps, values, marker="o" if music else "^", ms=3, lw=1.2,
                    ls="-" if music else ":", color=colours[r["effect"]],
                    label=f"{r['domain']} {r['effect']} ({r['arch']})")
        ax.axhline(bound, color="black", ls="--", lw=1)
        ax.set_xlabel("pre-training step")
        ax.set_title(labels.get(name, name))
        if not name.startswith("grad_cosine"):
            ax.set_yscale("log")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=6, fontsize=7)
    fig.suptitle("Committed proxies: held-out fidelity against the reference DSP (dashed black: "
                 "gate; solid: music, dotted: speech)")
    return save_png(fig, Path(root) / FIGURE)
