"""The "Training-step profile" section of `python -m bench perf --steps`, drawn from its JSON."""

from __future__ import annotations

from typing import Any

from bench.baselines import DEEPAFX_ST_GPU_STEP_RATIOS, EXACT_STRATEGY


def render_markdown(data: dict[str, Any]) -> str:
    """The "Training-step profile" Markdown section of one profile run."""
    m = data.get("machine", {})
    device = data.get("device")  # profiles before `--device` ran on the CPU and counted none
    lines = [
        "## Training-step profile", "",
        f"{data['timestamp']} at {str(data.get('git_sha', ''))[:7]}, {data['budget']} budget "
        f"sizes, one torch and one Numba thread, median of {data['repeats']} interleaved steps "
        f"after {data['warmup']} warm-up steps ({m.get('cpu', '?')}, load "
        f"{', '.join(f'{v:.2f}' for v in m.get('load_average', []))}). Milliseconds per phase; "
        "`python -m bench perf --steps`."
        + (f" Torch on {m.get('device', device)}; the last column counts the arrays that "
           "crossed between it and the CPU's reference DSP each step (pinned copies)."
           if device else ""), "",
        "| task | strategy | " + " | ".join(p.replace("_", " ") for p in data["phases"])
        + " | step | vs " + EXACT_STRATEGY + " |" + (" transfers (MB) |" if device else ""),
        "|---|---|" + "---|" * (len(data["phases"]) + 2 + bool(device))]
    for task, rows in data["steps"].items():
        base = rows.get(EXACT_STRATEGY, {}).get("median_s")
        for strategy, row in rows.items():
            cells = [f"{1e3 * row['phases_s'][p]:.1f}" for p in data["phases"]]
            rel = f"{row['median_s'] / base:.2f}×" if base else "—"
            moved = (f" {row['transfers']:g} ({row['transfer_bytes'] / 1e6:.2f}) |"
                     if device else "")
            lines.append(f"| {task} | {strategy} | " + " | ".join(cells)
                         + f" | **{1e3 * row['median_s']:.1f}** | {rel} |" + moved)
    lines += ["", "| ratio | value | target | holds | DeepAFx-ST (GPU) |", "|---|---|---|---|---|"]
    for name, check in data["checks"].items():
        strategy = name.split(".", 1)[1]
        paper = DEEPAFX_ST_GPU_STEP_RATIOS.get(strategy) if name.startswith("step_vs") else None
        lines.append(f"| {name} | {check['value']:.2f} | ≤ {check['target']:g} | "
                     f"{'yes' if check['pass'] else '**no**'} | "
                     f"{f'{paper:.2f}' if paper else '—'} |")
    for strategy, extra in data.get("benchmarks", {}).items():
        floors = extra.get("convolution_floor", {})
        if floors:
            lines += ["", f"What bounds {strategy}'s step: each frozen proxy's forward + backward "
                      "w.r.t. its parameters against its dilated convolutions alone (forward and "
                      "input-gradient convs, the least any implementation of the architecture "
                      "computes with these kernels), interleaved, one thread.", "",
                      "| effect | batch × samples | proxy fwd+bwd ms | convolutions ms | share | "
                      "conv GFLOP/s |", "|---|---|---|---|---|---|"]
            for effect, f in floors.items():
                lines.append(f"| {effect} | {f['batch']} × {f['samples']} | "
                             f"{1e3 * f['step_s']:.1f} | {1e3 * f['convs_s']:.1f} | "
                             f"{f['convs_share']:.0%} | {f['conv_gflops']:.1f} |")
        rows = extra.get("pretraining", [])
        if rows:
            lines += ["", f"Proxy pre-training ({strategy}'s proxies on {data['tasks'][0]}'s "
                      f"audio): the same {rows[0]['steps']} steps from the same seed with plain "
                      "torch kernels and with the fast ones, interleaved; fidelity on held-out "
                      "clips against the reference DSP after those steps.", "",
                      "| effect | arch | samples/s plain | samples/s fast | speed-up | "
                      "MR-STFT plain | MR-STFT fast | LUFS err plain (LU) | LUFS err fast (LU) |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for r in rows:
                ref, fast = r["reference"], r["fast"]
                lines.append(
                    f"| {r['effect']} | {r['arch']} | {ref['samples_per_s']:,.0f} | "
                    f"{fast['samples_per_s']:,.0f} | {r['speedup']:.2f}× | {ref['mrstft']:.3f} | "
                    f"{fast['mrstft']:.3f} | {ref['lufs_error']:.2f} | {fast['lufs_error']:.2f} |")
    return "\n".join(lines) + "\n"

