"""The embedded corpora's shared machinery: plan jobs, render, screen, standardize, checksum, cache.

A built corpus is a list of ``Job``s (one render each: an utterance, a song, a score) planned
deterministically for a tier. Rendering turns a job into raw audio; every excerpt is screened,
standardized and written as 16-bit WAV; the manifest records where each clip came from and its
sha256. ``prepare`` rebuilds exactly the jobs whose files are missing or damaged.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import tempfile
import time
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from bench.data import SPLITS, Clip, DataError, Dataset
from datasets.requirements import Requirement, package_version, require, versions
from datasets.splits import check_disjoint, stable_seed

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
LUFS = -23.0
PEAK_CEILING_DB = -1.0
TIERS = ("smoke", "default", "full")
TIME_TARGET_S = {"smoke": 60.0, "default": 900.0, "full": None}
BASE_PACKAGES = ("numpy", "scipy", "soundfile", "pyloudnorm")


@dataclass(frozen=True)
class Source:
    """One kind of material in a corpus, with its packages, license and attribution."""

    key: str
    kind: str  # e.g. "real recording", "neural TTS", "rendered score"
    package: str  # the package that holds the material or the engine
    license: str
    attribution: str
    requirements: tuple[Requirement, ...]
    optional: bool = False  # a build that gets no clip from a required source fails
    recorded: bool = False  # real recordings (the held-out sources of ``<corpus>:real``)


@dataclass(frozen=True)
class Job:
    """One render (utterance, song or score) that yields up to ``n_clips`` excerpts."""

    id: str
    source: str
    group: str
    split: str
    seed: int
    n_clips: int
    params: dict = field(default_factory=dict)

    def key(self) -> str:
        """A digest of everything that decides this job's output."""
        return f"{stable_seed(json.dumps(asdict(self), sort_keys=True)):08x}"


@dataclass
class Rendered:
    """Raw audio of a job at its native rate, the steps that made it, and descriptive fields."""

    audio: np.ndarray  # (frames, channels)
    sample_rate: int
    chain: list[str]
    meta: dict


def excerpt_offsets(duration_s: float, n: int, seconds: float, *,
                    margin: float = 0.05) -> list[float]:
    """Up to ``n`` non-overlapping, evenly spread excerpt starts, ``margin`` kept from the ends."""
    if duration_s <= seconds:
        return [0.0]
    margin = margin * duration_s if duration_s * (1 - 2 * margin) >= seconds else 0.0
    usable = duration_s - 2 * margin
    n = max(1, min(n, int(usable // seconds)))
    last = duration_s - margin - seconds
    return [round(float(t), 3) for t in np.linspace(margin, last, n)] if n > 1 else [margin]


SUBSETS = ("real", "synthetic")
"""Source subsets every corpus offers as ``<corpus>:<subset>``: its real recordings, or the rest
(rendered or synthesized), for held-out-source evaluation."""


class BuiltCorpus(Dataset):
    """A corpus rendered offline from installed packages into the cache (never downloaded).

    As a data spec, ``speech`` is the whole corpus and ``speech:SUBSET`` the clips of some of its
    sources: ``real`` (the recordings), ``synthetic`` (the rest) or one source's key.
    """

    embedded: ClassVar[bool] = True
    sources: ClassVar[dict[str, Source]]
    excerpt_margin: ClassVar[float] = 0.05  # fraction of a render skipped at each end
    kept: frozenset[str] | None = None  # the sources of a subset spec (None: every source)

    @classmethod
    def open(cls, argument: str | None, **kwargs: object) -> BuiltCorpus:
        """The corpus, or the subset of its sources ``argument`` names."""
        corpus = cls(**kwargs)  # type: ignore[arg-type]
        if argument is not None:
            corpus.kept = cls.subset(argument)
            corpus.spec = f"{cls.name}:{argument}"
        return corpus

    @classmethod
    def subset(cls, argument: str) -> frozenset[str]:
        """The source keys of a subset: ``real``, ``synthetic`` or one source's key."""
        if argument in SUBSETS:
            return frozenset(k for k, s in cls.sources.items()
                             if s.recorded == (argument == "real"))
        if argument in cls.sources:
            return frozenset([argument])
        raise DataError(f"corpus {cls.name!r} has no subset {argument!r}: use "
                        f"{', '.join(f'{cls.name}:{k}' for k in (*SUBSETS, *cls.sources))}")

    def shares_sources(self, other: Dataset) -> bool:
        """The same corpus with a source in common (two subsets of different sources do not)."""
        if not isinstance(other, BuiltCorpus) or other.name != self.name:
            return False
        return self.kept is None or other.kept is None or bool(self.kept & other.kept)

    @abstractmethod
    def plan(self) -> list[Job]:
        """The jobs of this corpus's tier, in build order (cheap: reads no audio)."""

    @abstractmethod
    def source_renderer(self) -> Callable[[Job, Path], Rendered]:
        """The function that renders one job's source audio (synthesized speech or music, before
        any effect) into ``Rendered`` (imports heavy modules)."""

    @abstractmethod
    def clip_seconds(self) -> float:
        """The length of every clip of this tier."""

    # ------------------------------------------------------------------ locations
    @property
    def root(self) -> Path:
        """Directory of this corpus and tier inside the cache."""
        return self.cache_dir / "corpora" / f"{self.name}-v{self.version}" / self.tier

    @property
    def manifest_path(self) -> Path:
        """The JSON manifest that lists every clip with provenance and sha256."""
        return self.root / "manifest.json"

    # ------------------------------------------------------------------ public API
    def clips(self, split: str) -> list[Clip]:
        """Clips of ``split``; builds the corpus first if the cache is missing or incomplete."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        manifest = self._read_manifest()
        if manifest is None or any(not (self.root / c["path"]).exists()
                                   for c in manifest["clips"]):
            self.prepare(progress=True)  # a first build takes minutes: say so, show progress
            manifest = self._read_manifest()
        assert manifest is not None
        return [Clip(c["id"], self.root / c["path"], c["group"], c["split"],
                     manifest["sample_rate"], c)
                for c in manifest["clips"]
                if c["split"] == split and (self.kept is None or c["source"] in self.kept)]

    def prepare(self, *, progress: bool = True) -> None:
        """Build missing or damaged clips (checked by sha256), then print a summary.

        Everything is rebuilt when a package version changes; a job whose source could not be
        read stays skipped (and reported) until then.
        """
        if self.tier not in TIERS:
            raise DataError(f"unknown tier {self.tier!r}: use one of {', '.join(TIERS)}")
        start = time.perf_counter()
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._read_manifest() is None:  # a first build: name everything missing at once
                self.require(self.sources)
            jobs = self.plan()
            todo, manifest = self._jobs_to_build(jobs)
            if todo:
                self.require(sorted({j.source for j in todo}))
                if progress:
                    print(self.announcement(jobs, todo), flush=True)
                manifest = self._build(jobs, todo, manifest, progress)
            listed = {self.root / c["path"] for c in manifest["clips"]}
            for stale in set((self.root / "clips").glob("*.wav")) - listed:
                stale.unlink()  # clips of jobs the plan no longer has
        if progress:
            print(self.summary(manifest, time.perf_counter() - start, rebuilt=len(todo)))

    def require(self, sources: Iterable[str]) -> None:
        """Raise DataError (one line, with install commands) if a source's package is missing."""
        require([r for k in sources for r in self.sources[k].requirements],
                f"{self.name} corpus ({self.tier} tier)")

    # ------------------------------------------------------------------ building
    def fingerprint(self) -> dict:
        """Versions of every package the tier's output depends on; a change means rebuild."""
        reqs = [r for s in self.sources.values() for r in s.requirements]
        fp = versions(reqs)
        fp.update({p: package_version(p, "pip") for p in BASE_PACKAGES})
        fp["python"] = ".".join(map(str, sys.version_info[:2]))
        return dict(sorted(fp.items()))

    def _read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return None

    def _jobs_to_build(self, jobs: list[Job]) -> tuple[list[Job], dict]:
        manifest = self._read_manifest()
        if manifest is None or manifest.get("fingerprint") != self.fingerprint():
            return jobs, {}
        from datasets.audio_io import sha256_file

        by_job: dict[str, list[dict]] = {}
        for entry in manifest["clips"]:
            by_job.setdefault(entry["job"], []).append(entry)
        todo = []
        for job in jobs:
            if manifest["jobs"].get(job.id) != job.key():
                todo.append(job)
                continue
            for entry in by_job.get(job.id, []):
                path = self.root / entry["path"]
                if not path.exists() or sha256_file(path) != entry["sha256"]:
                    log.warning("%s: %s is missing or damaged; rebuilding", self.name, path.name)
                    todo.append(job)
                    break
        return todo, manifest

    def _build(self, jobs: list[Job], todo: list[Job], old: dict, progress: bool) -> dict:
        from tqdm import tqdm

        render = self.source_renderer()
        kept = {j.id for j in jobs} - {j.id for j in todo}
        results: dict[str, list[dict]] = {}
        for entry in old.get("clips", []):
            if entry["job"] in kept:
                results.setdefault(entry["job"], []).append(entry)
        problems = {p["job"]: p for p in old.get("problems", []) if p["job"] in kept}
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".work-") as work:
            for job in tqdm(todo, desc=f"{self.name} ({self.tier})", unit="job",
                            disable=not progress, file=sys.stdout):
                results[job.id], problem = self._build_job(job, render, Path(work))
                problems.pop(job.id, None)
                if problem:
                    problems[job.id] = problem
        clips = [e for j in jobs for e in results.get(j.id, [])]
        if not clips:
            reasons = "; ".join(f"{p['job']}: {p['reason']}" for p in problems.values())
            raise DataError(f"{self.name} corpus ({self.tier} tier) built no clip: {reasons}")
        self._check_sources(jobs, clips, problems)
        check_disjoint((c["group"], c["split"]) for c in clips)
        manifest = {
            "corpus": self.name,
            "version": self.version,
            "domain": self.domain,
            "tier": self.tier,
            "sample_rate": SAMPLE_RATE,
            "clip_seconds": self.clip_seconds(),
            "loudness_target_lufs": LUFS,
            "peak_ceiling_dbfs": PEAK_CEILING_DB,
            "fingerprint": self.fingerprint(),
            "jobs": {j.id: j.key() for j in jobs},
            "splits": self._split_table(clips),
            "problems": [problems[j.id] for j in jobs if j.id in problems],
            "clips": clips,
        }
        self._write_text(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))
        self._write_text(self.root / "LICENSES.md", self._licenses(clips))
        return manifest

    def _check_sources(self, jobs: list[Job], clips: list[dict], problems: dict) -> None:
        """Raise DataError (before the manifest is written) when a source that is not
        optional yielded no clip: a renderer bug must not make a whole source vanish."""
        counts = Counter(c["source"] for c in clips)
        for key, source in self.sources.items():
            if counts[key] or source.optional:
                continue
            mine = [problems[j.id] for j in jobs if j.source == key and j.id in problems]
            why = "; ".join(f"{p['job']}: {p['reason']}" for p in mine[:3]) or "no job planned"
            more = f" (and {len(mine) - 3} more)" if len(mine) > 3 else ""
            raise DataError(f"{self.name} corpus ({self.tier} tier): source {key!r} yielded no "
                            f"clip ({why}{more}); fix it and build again (nothing was written "
                            f"to the manifest)")

    def _build_job(self, job: Job, render: Callable[[Job, Path], Rendered],
                   work: Path) -> tuple[list[dict], dict | None]:
        from datasets.audio_io import sha256_file, write_pcm16
        from datasets.quality import screen
        from datasets.standardize import loudness, peak_db, standardize

        seconds = self.clip_seconds()
        try:
            rendered = render(job, work)
        except Exception as exc:  # noqa: BLE001 - one bad source must not stop the build
            log.warning("%s: skipped %s: %s", self.name, job.id, exc)
            reason = f"{type(exc).__name__}: {exc}"
            return [], {"job": job.id, "kind": "skipped", "reason": reason}
        sr = rendered.sample_rate
        duration = len(rendered.audio) / sr
        entries, rejected = [], []
        for k, offset in enumerate(excerpt_offsets(duration, job.n_clips, seconds,
                                                        margin=self.excerpt_margin)):
            clip_id = f"{job.id}-{k:02d}"
            start = round(offset * sr)
            raw = rendered.audio[start:start + round(seconds * sr)]
            reason = screen(raw, sr, min_seconds=min(1.0, seconds))
            if reason:
                rejected.append(f"{clip_id}: {reason}")
                continue
            audio = standardize(raw, sr, target_sr=SAMPLE_RATE, seconds=seconds, lufs=LUFS,
                                peak_ceiling_db=PEAK_CEILING_DB)
            path = self.root / "clips" / f"{clip_id}.wav"
            write_pcm16(path, audio, SAMPLE_RATE)
            stored = np.round(audio.astype(np.float64) * 32767.0) / 32767.0
            source = self.sources[job.source]
            entries.append({
                "id": clip_id,
                "job": job.id,
                "path": f"clips/{clip_id}.wav",
                "group": job.group,
                "split": job.split,
                "source": job.source,
                "kind": source.kind,
                "package": source.package,
                "package_version": package_version(source.package, _manager(source)),
                "packages": versions(source.requirements),
                "license": source.license,
                "seed": job.seed,
                "native_sample_rate": sr,
                "offset_s": offset,
                "seconds": seconds,
                "padded_s": round(max(0.0, seconds - len(raw) / sr), 3),
                "chain": [*rendered.chain, *_standard_chain(sr, offset, seconds)],
                "loudness_lufs": _round(loudness(stored, SAMPLE_RATE)),
                "peak_dbfs": _round(peak_db(stored)),
                "sha256": sha256_file(path),
                **rendered.meta,
            })
        problem = ({"job": job.id, "kind": "rejected", "reason": "; ".join(rejected)}
                   if rejected else None)
        return entries, problem

    @staticmethod
    def _split_table(clips: list[dict]) -> dict:
        table: dict[str, list[str]] = {s: [] for s in SPLITS}
        for c in clips:
            if c["group"] not in table[c["split"]]:
                table[c["split"]].append(c["group"])
        return {s: sorted(g) for s, g in table.items()}

    @staticmethod
    def _write_text(path: Path, text: str) -> None:
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(text + "\n")
        os.replace(tmp, path)

    def _licenses(self, clips: list[dict]) -> str:
        counts = Counter(c["source"] for c in clips)
        lines = [f"# Licenses and attributions: {self.name} corpus ({self.tier} tier)", "",
                 "Every clip is an excerpt of the material below, resampled to mono "
                 f"{SAMPLE_RATE} Hz and loudness-normalized. Excerpts keep the license of "
                 "their source; share-alike licenses (CC-BY-SA) apply to redistributed clips.",
                 ""]
        for key, source in self.sources.items():
            if key not in counts:
                continue
            packages = ", ".join(f"{p} {v}" for p, v in versions(source.requirements).items())
            lines += [f"## {key} ({counts[key]} clips): {source.kind}", "",
                      f"- License: {source.license}", f"- Attribution: {source.attribution}",
                      f"- Packages: {packages}", ""]
        return "\n".join(lines)

    # ------------------------------------------------------------------ reporting
    def announcement(self, jobs: list[Job], todo: list[Job]) -> str:
        """One line before a build: what is built and how big it is (up to how many clips,
        from which sources, how many render jobs)."""
        sources = sorted({j.source for j in todo})
        size = (f"up to {sum(j.n_clips for j in todo)} clips from {len(sources)} "
                f"source{'s' if len(sources) != 1 else ''} ({', '.join(sources)})")
        what = f"the {self.tier} {self.name} corpus"
        if len(todo) == len(jobs):
            return f"building {what}: {size}, {len(todo)} render jobs"
        return f"rebuilding {len(todo)} of {len(jobs)} render jobs of {what}: {size}"

    def summary(self, manifest: dict, wall_s: float, *, rebuilt: int) -> str:
        """One paragraph: clips, minutes per split, groups, clips per source, problems, time."""
        clips = manifest["clips"]
        minutes = {s: sum(c["seconds"] for c in clips if c["split"] == s) / 60 for s in SPLITS}
        kinds = Counter(p["kind"] for p in manifest.get("problems", []))
        target = TIME_TARGET_S.get(self.tier)
        budget = f" (target < {target:.0f} s)" if target else ""
        action = f"built {rebuilt} jobs" if rebuilt else "verified, nothing to build"
        per_split = ", ".join(f"{s} {m:.1f}" for s, m in minutes.items())
        voices = {c.get("voice", c["group"]) for c in clips}
        per_source = Counter(c["source"] for c in clips)
        return (f"{self.name} corpus ({self.tier} tier): {len(clips)} clips, "
                f"{sum(minutes.values()):.1f} min ({per_split}); {len(voices)} "
                f"{'voices' if self.domain == 'speech' else 'songs/pieces'} from "
                f"{len(per_source)} sources "
                f"({', '.join(f'{k} {n}' for k, n in sorted(per_source.items()))} clips); "
                f"{kinds.get('rejected', 0)} jobs with rejected excerpts, "
                f"{kinds.get('skipped', 0)} skipped; {action} in {wall_s:.1f} s{budget}; "
                f"{self.root}")


def _manager(source: Source) -> str:
    return next((r.manager for r in source.requirements if r.package == source.package), "apt")


def _standard_chain(sr: int, offset: float, seconds: float) -> list[str]:
    return [f"excerpt {offset:.3f}+{seconds:g} s", "mono (channel mean)",
            f"resample {sr}->{SAMPLE_RATE} Hz", "10 ms raised-cosine fades at cut edges",
            f"loudness {LUFS:g} LUFS (BS.1770, float)", f"peak ceiling {PEAK_CEILING_DB:g} dBFS",
            "PCM_16 (no dither)"]


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 3)
