"""Build every embedded corpus of a tier and print one summary with the total wall time.

``python -m bench data build`` can call ``build_corpora``; ``python -m datasets.build`` does the
same on its own.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.data import Dataset
from datasets.corpus import TIERS, TIME_TARGET_S


def build_corpora(*, tier: str = "default", cache_dir: Path | None = None,
                  data_root: Path | None = None, progress: bool = True) -> list[Dataset]:
    """Prepare every registered dataset with ``embedded = True``; print the total time."""
    from bench.registry import registry

    start = time.perf_counter()
    built = []
    for cls in registry("dataset").classes():
        if getattr(cls, "embedded", False) and not getattr(cls, "toy", False):
            dataset = cls(cache_dir=cache_dir, data_root=data_root, tier=tier)
            dataset.prepare(progress=progress)
            built.append(dataset)
    wall = time.perf_counter() - start
    target = TIME_TARGET_S.get(tier)
    if progress:
        names = ", ".join(d.name for d in built)
        budget = f" (target < {target:.0f} s)" if target else ""
        print(f"corpus build ({tier} tier: {names}) took {wall:.1f} s{budget}")
    return built


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m datasets.build [--tier T] [--cache-dir D] [--data-root R]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=TIERS, default="default")
    parser.add_argument("--cache-dir", type=Path)
    parser.add_argument("--data-root", type=Path)
    args = parser.parse_args(argv)
    build_corpora(tier=args.tier, cache_dir=args.cache_dir, data_root=args.data_root)


if __name__ == "__main__":
    main()
