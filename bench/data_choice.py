"""Which data each run reads: per domain, the training and the test dataset (``--data``,
``--test-data``), and the sample rate of the test (``--test-rate``).

A spec is a registered dataset name or ``NAME:ARGUMENT`` (``folder:PATH``, ``speech:real``; see
:func:`bench.data.open_dataset`). With no flag every domain reads its embedded corpus, the
dataset named after the domain, at the budget's rate: that choice is the default, and it adds
nothing to run keys, so results made before datasets could be chosen still resume.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.data import MIN_CLIPS, MORE_AUDIO, SPLITS, Dataset, open_dataset
from bench.errors import BenchError

MIN_TEST_RATE, MAX_TEST_RATE = 8000, 192000


@dataclass(frozen=True)
class DataChoice:
    """The data of one run: (domain, training spec, test spec) for each domain its task reads,
    and the test split's sample rate (None: the budget's)."""

    domains: tuple[tuple[str, str, str], ...] = ()
    test_rate: int | None = None

    def spec(self, domain: str, split: str) -> str:
        """The spec ``split`` of ``domain`` is read from: the test spec for ``test``, else the
        training spec (training and validation); a domain not chosen reads its own corpus."""
        for name, train, test in self.domains:
            if name == domain:
                return test if split == "test" else train
        return domain

    def sample_rate(self, split: str, budget_rate: int) -> int:
        """The rate ``split`` is read and scored at: the test rate for ``test`` when set."""
        return self.test_rate if split == "test" and self.test_rate else budget_rate

    @property
    def trains_default(self) -> bool:
        """Every domain trains on its embedded corpus."""
        return all(train == name for name, train, _ in self.domains)

    @property
    def default(self) -> bool:
        """Every domain trains and tests on its embedded corpus, at the budget's rate."""
        return (self.trains_default and all(test == name for name, _, test in self.domains)
                and self.test_rate is None)

    def train_label(self) -> str | None:
        """The training data as results record it: ``libritts``, ``speech+music`` (one spec per
        domain); None for a task that reads no dataset."""
        return "+".join(train for _, train, _ in self.domains) or None

    def test_label(self) -> str | None:
        """The test data as results record it, with ``@RATE`` when tested at another rate."""
        if not self.domains:
            return None
        rate = f"@{self.test_rate}" if self.test_rate else ""
        return "+".join(test for _, _, test in self.domains) + rate

    def key(self) -> dict[str, str | None]:
        """Run-key parts of the whole choice: none for the default."""
        if self.default:
            return {}
        return {"train_data": self.train_label(), "test_data": self.test_label()}

    def slug(self) -> str:
        """A short file-name-safe name of a choice that is not the default ('' for it)."""
        if self.default:
            return ""
        train, test = self.train_label(), self.test_label()
        text = train if train == test else f"{train}_to_{test}"
        safe = re.sub(r"[^A-Za-z0-9._+@=-]+", "-", text).strip("-")
        if len(safe) <= 48:
            return safe
        return f"{safe[:39]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class DataPlan:
    """What `run` was asked to read: training and test specs per domain, and the test rate."""

    train: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    test: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    test_rate: int | None = None

    def choices(self, domains: Iterable[str]) -> list[DataChoice]:
        """Every (training, test) combination for a task reading ``domains``: each training
        spec of a domain is tested on each of its test specs (default: the training data)."""
        domains = tuple(domains)
        if not domains:
            return [DataChoice()]
        out = []
        for trains in itertools.product(*(self.train.get(d, (d,)) for d in domains)):
            for tests in itertools.product(*(self.test.get(d, (t,))
                                             for d, t in zip(domains, trains, strict=True))):
                out.append(DataChoice(tuple(zip(domains, trains, tests, strict=True)),
                                      self.test_rate))
        return out

    def domains(self) -> set[str]:
        """The domains a flag named."""
        return set(self.train) | set(self.test)


def parse_data_flags(values: Iterable[str], flag: str) -> dict[str, tuple[str, ...]]:
    """``["speech=libritts", "speech=daps,vctk,music=musdb18"]`` → ``{"speech": ("libritts",
    "daps", "vctk"), "music": ("musdb18",)}``: flags repeat, items are comma-separated, and an
    item without ``DOMAIN=`` continues the domain before it."""
    out: dict[str, list[str]] = {}
    for value in values:
        domain = None
        for item in (i.strip() for i in value.split(",")):
            head, eq, rest = item.partition("=")
            if eq and ":" not in head and "/" not in head:
                domain, item = head.strip(), rest.strip()
            if domain is None or not item:
                raise BenchError(f"{flag} {value!r}: give DOMAIN=SPEC[,SPEC…], e.g. {flag} "
                                 f"speech=libritts or {flag} music=folder:/data/songs")
            out.setdefault(domain, []).append(item)
    return {d: tuple(dict.fromkeys(specs)) for d, specs in out.items()}


def data_plan(train: Iterable[str], test: Iterable[str], test_rate: int | None, *,
              cache_dir: Path, data_root: Path | None) -> DataPlan:
    """Parse and check the data flags before anything runs: known domains, known datasets of
    the right domain, their roots found (each a one-line error naming the fix); specs come back
    canonical (a folder by its absolute path)."""
    from bench.registry import registry

    if test_rate is not None and not MIN_TEST_RATE <= test_rate <= MAX_TEST_RATE:
        raise BenchError(f"--test-rate {test_rate}: give a sample rate in Hz between "
                         f"{MIN_TEST_RATE} and {MAX_TEST_RATE}, e.g. --test-rate 44100")
    known = sorted({c.domain for c in registry("dataset").classes()} - {"any"})
    flags = {"--data": parse_data_flags(train, "--data"),
             "--test-data": parse_data_flags(test, "--test-data")}
    canonical: dict[str, dict[str, tuple[str, ...]]] = {}
    opened: dict[str, Dataset] = {}
    for flag, per_domain in flags.items():
        canonical[flag] = {}
        for domain, specs in per_domain.items():
            if domain not in known:
                raise BenchError(f"{flag} {domain}=…: unknown domain {domain!r}; use one of "
                                 f"{', '.join(known)}")
            names = []
            for spec in specs:
                ds = open_dataset(spec, cache_dir=cache_dir, data_root=data_root)
                if ds.domain not in (domain, "any"):
                    raise BenchError(f"{flag} {domain}={spec}: {ds.name} is a {ds.domain} "
                                     f"dataset; write {flag} {ds.domain}={spec}")
                ds.check()
                opened[ds.spec] = ds
                names.append(ds.spec)
            canonical[flag][domain] = tuple(dict.fromkeys(names))
    for domain, specs in canonical["--data"].items():
        for spec in specs:  # training and validation read it; testing too unless --test-data
            _check_sizes(opened[spec], ("train", "val") if domain in canonical["--test-data"]
                         else SPLITS)
    for domain, specs in canonical["--test-data"].items():
        trains = [opened.get(s) or open_dataset(s, cache_dir=cache_dir, data_root=data_root)
                  for s in canonical["--data"].get(domain, (domain,))]
        for spec in specs:  # unseen in training: read whole, else its test split
            if any(t.shares_sources(opened[spec]) for t in trains):
                _check_sizes(opened[spec], ("test",))
    return DataPlan(canonical["--data"], canonical["--test-data"], test_rate)


def _check_sizes(dataset: Dataset, splits: Iterable[str]) -> None:
    """Each of ``splits`` holds the clips a run needs (when the dataset knows its sizes
    without being built); else a one-line error saying how many."""
    sizes = dataset.sizes()
    for split in splits if sizes is not None else ():
        if sizes[split] < MIN_CLIPS[split]:
            raise BenchError(f"{dataset.spec}: {sizes[split]} {split} clips "
                             f"({', '.join(f'{s} {n}' for s, n in sizes.items())}); a run needs "
                             f"at least {MIN_CLIPS[split]}: {MORE_AUDIO}")
