"""What each strategy does to the audio, in numbers: for every listening example of one or more
results directories, the integrated loudness, crest factor and spectral centroid of each
signal, and its MR-STFT distance to the example's target (its reference where a task has no
target, as in realistic style transfer, where that distance also counts the content change).

    python scripts/listening_stats.py results/standard-style results/standard-blind-chain

The README's "What each strategy does to the audio" reads these tables beside the spectrograms
of the report's listening page.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def describe(signal: np.ndarray, anchor: np.ndarray, sr: int) -> dict[str, float]:
    """Loudness (LUFS), crest factor (dB), spectral centroid (Hz) of ``signal`` and its MR-STFT
    distance to ``anchor`` (both cut to the shorter)."""
    from bench.metrics.audio import (
        crest_factor_db,
        integrated_loudness,
        mrstft_per_example,
        spectral_centroid,
    )

    n = min(len(signal), len(anchor))
    x = signal[None]
    return {"lufs": float(integrated_loudness(x, sr)[0]), "crest_db": float(crest_factor_db(x)[0]),
            "centroid_hz": float(spectral_centroid(x, sr)[0]),
            "mrstft": float(mrstft_per_example(signal[None, :n], anchor[None, :n], sr)[0])}


def tables(results_dirs: list[Path], examples: int) -> list[str]:
    """One text table per (budget, task, example index)."""
    import soundfile as sf

    from bench.report.audio import find_examples

    out = []
    for ex in find_examples(results_dirs, examples):
        for index, row in sorted(ex.files.items()):
            audio = {c: sf.read(path, dtype="float64") for c, path in row.items()}
            anchor_col = next((c for c in row if c[1] == "target"),
                              next((c for c in row if c[1] == "reference"), None))
            if anchor_col is None:
                continue
            anchor = audio[anchor_col][0]
            out.append(f"{ex.task} ({ex.budget}, {ex.seed}, example {index}); MR-STFT against "
                       f"{anchor_col[1]}")
            out.append(f"  {'signal':<26} {'LUFS':>7} {'crest dB':>9} {'centroid Hz':>12} "
                       f"{'MR-STFT':>8}")
            for col in ex.columns():
                if col not in audio:
                    continue
                d = describe(audio[col][0], anchor, audio[col][1])
                name = f"{col[0]} {col[1]}" if col[1] != "output" else col[0]
                out.append(f"  {name:<26} {d['lufs']:7.1f} {d['crest_db']:9.1f} "
                           f"{d['centroid_hz']:12.0f} {d['mrstft']:8.2f}")
            out.append("")
    return out


def main() -> None:
    """Print the tables of the results directories given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dirs", nargs="+", type=Path)
    parser.add_argument("--examples", type=int, default=1, help="examples per task (default 1)")
    args = parser.parse_args()
    print("\n".join(tables(args.results_dirs, args.examples)))


if __name__ == "__main__":
    main()
