"""The embedded music corpus: real recorded songs, produced LMMS demo songs, rendered scores.

Three kinds of source with different production: Frets on Fire songs (recorded rock/metal,
mastered), LMMS demo projects (electronic, produced in the box), and music21 Bach chorales
rendered dry through FluidSynth with General MIDI ensembles and a drum kit. Splits are
disjoint by song or piece, assigned per source by a seeded shuffle.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from datasets._music_synth import LMMS_DIR, SOUNDFONT, synthesize
from datasets.corpus import BuiltCorpus, Job, Rendered, Source
from datasets.requirements import data_file, module, tool
from datasets.splits import assign_splits, stable_seed

FOF_DIR = "/usr/share/games/fretsonfire/data/songs"

# Demo projects that render completely (no missing samples), cheapest first. The first twelve
# (the default tier) rendered byte-identically twice with the pinned renderer here; the rest are
# unchecked. Left out: CapDan-ZeroSumGame and Skiessi-C64 (not reproducible even when pinned),
# DirtyLove, Oglsdl-PpTrip, Socceroos-Progress, Surrender-Main (missing samples).
LMMS_PROJECTS = (
    "demos/CapDan/CapDan-ReggaeTry.mmpz", "demos/CapDan/CapDan-ReggaetonTry.mmpz",
    "demos/StrictProduction-DearJonDoe.mmp", "demos/Thomasso-AxeFromThe80s.mmpz",
    "demos/Alf42red-Mauiwowi.mmpz", "demos/Shovon-ProgressiveHousePluckDemo.mmpz",
    "demos/TameAnderson-MakeMe.mmpz", "demos/Saber-FinalStep.mmpz", "demos/EsoXLB-CPU.mmpz",
    "demos/CapDan/CapDan-TwilightArea-OriginalByAlf42red.mmpz", "demos/Momo64-esp.mmpz",
    "demos/Oglsdl-Dr8v2.mmpz", "demos/Settel-InnerRecreation.mmpz",
    "demos/Impulslogik-Zen.mmpz", "demos/Skiessi/Skiessi-Onion.mmpz",
    "demos/Jousboxx-BuzzerBeater.mmpz",
)
LMMS_LICENSES = {"CapDan-ReggaeTry": "Artistic-2.0", "Saber-": "BSD-2-Clause",
                 "Alf42red-": "CC-BY-SA-3.0", "Jousboxx-": "CC-BY-SA-4.0"}

# General MIDI programs (0-based) for the four chorale voices, soprano to bass.
ENSEMBLES = {
    "strings": (40, 40, 41, 42),
    "brass": (56, 56, 60, 58),
    "woodwinds": (73, 68, 71, 70),
    "piano_bass": (0, 0, 0, 32),
    "jazz_combo": (65, 66, 26, 33),
    "organ": (19, 19, 19, 19),
    "guitars_synth": (81, 27, 25, 38),
}

MUSIC_SOURCES = {
    "fof": Source(
        "fof", "real recorded songs (rock/metal, 44.1 kHz OGG, backing + guitar stems summed)",
        "fretsonfire-songs-muldjord",
        "muldjord: CC-BY-SA-3.0 (El Senator / Lars Muldjord); sectoid: Expat-style permission "
        "notice (Carlos Viola Iborra)",
        "Songs by El Senator (fretsonfire-songs-muldjord) and by Sectoid, Carlos Viola Iborra "
        "(fretsonfire-songs-sectoid), packaged for Frets on Fire",
        (data_file(f"{FOF_DIR}/muldjord", "fretsonfire-songs-muldjord"),
         data_file(f"{FOF_DIR}/sectoid", "fretsonfire-songs-sectoid")),
        recorded=True),
    "lmms": Source(
        "lmms", "produced electronic songs (LMMS 1.2 demo projects, headless float render)",
        "lmms-common", "per project: GPL-2+ by default; CapDan-ReggaeTry Artistic-2.0; Saber-* "
        "BSD-2-Clause; Alf42red-* CC-BY-SA-3.0; Jousboxx-* CC-BY-SA-4.0",
        "Demo projects shipped with LMMS by their named authors (file names)",
        (tool("lmms"), data_file(LMMS_DIR, "lmms-common"), tool("faketime"))),
    "music21": Source(
        "music21", "rendered scores (Bach chorales, GM ensembles + drums, dry FluidSynth render)",
        "music21", "scores: music21 corpus terms (corpus/license.txt: free in the US or "
        "licensed, some restrictions on commercial use); soundfont FluidR3_GM: MIT",
        "music21 corpus (Cuthbert et al.); FluidR3_GM soundfont by Frank Wen; FluidSynth",
        (module("music21", "music21"), tool("fluidsynth"),
         data_file(SOUNDFONT, "fluid-soundfont-gm"))),
}

# per tier: clip seconds, (FoF songs, clips each), (LMMS projects, clips each),
# (chorales, clips each)
MUSIC_TIERS = {
    "smoke": (4.0, (3, 1), (1, 1), (3, 1)),
    "default": (10.0, (8, 12), (12, 5), (30, 2)),
    "full": (10.0, (8, 25), (16, 12), (120, 3)),
}


def fof_songs() -> list[Path]:
    """Song directories of the installed Frets on Fire packs, sorted."""
    return sorted(p.parent for p in Path(FOF_DIR).glob("*/*/song.ogg"))


def chorales() -> list[str]:
    """music21 corpus paths of the Bach chorales (``bach/bwv….mxl``), sorted, without importing."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations))) / "corpus"
    return sorted(str(p.relative_to(root)) for p in (root / "bach").glob("bwv*.mxl"))


def lmms_license(project: str) -> str:
    """The license of an LMMS demo project, from Debian's copyright file."""
    stem = Path(project).name.split(".")[0]
    return next((lic for prefix, lic in LMMS_LICENSES.items() if stem.startswith(prefix)),
                "GPL-2.0-or-later")


def _spread(items: list, n: int) -> list:
    """``n`` items evenly spread over ``items`` (all of them if there are fewer)."""
    if n >= len(items):
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


class MusicCorpus(BuiltCorpus):
    """Music built from Debian/PyPI packages: Frets on Fire songs, LMMS demos, music21 scores."""

    name = "music"
    version = "1"
    domain = "music"
    embedded = True
    sources = MUSIC_SOURCES

    def clip_seconds(self) -> float:
        """Clip length of the tier (4 s for smoke, 10 s otherwise)."""
        return MUSIC_TIERS[self.tier][0]

    def plan(self) -> list[Job]:
        """One job per song, project or score, each yielding several excerpts."""
        _, (n_fof, c_fof), (n_lmms, c_lmms), (n_score, c_score) = MUSIC_TIERS[self.tier]
        self.require(["fof", "music21"])  # their files decide the plan
        jobs: list[Job] = []
        songs = _spread(fof_songs(), n_fof)
        jobs += self._jobs("fof", [(f"fof_{s.parent.name}_{s.name}", {"song_dir": str(s)})
                                   for s in songs], c_fof)
        projects = LMMS_PROJECTS[:n_lmms]
        jobs += self._jobs("lmms", [(f"lmms_{Path(p).name.split('.')[0]}",
                                     {"project": p, "project_license": lmms_license(p)})
                                    for p in projects], c_lmms)
        pieces = _spread(chorales(), n_score)
        items = []
        for piece in pieces:
            seed = stable_seed("music21", piece)
            names = sorted(ENSEMBLES)
            ensemble = names[seed % len(names)]
            items.append((f"music21_{Path(piece).stem.replace('.', '_')}",
                          {"piece": piece, "ensemble": ensemble,
                           "programs": list(ENSEMBLES[ensemble]),
                           "bpm": 60 + seed % 31, "drums": True}))
        jobs += self._jobs("music21", items, c_score)
        return jobs

    def _jobs(self, source: str, items: list[tuple[str, dict]], n_clips: int) -> list[Job]:
        split_of = assign_splits([name for name, _ in items], seed=stable_seed("music", source))
        return [Job(name, source, name, split_of[name], stable_seed("music", name), n_clips,
                    params) for name, params in items]

    def source_renderer(self) -> Callable[[Job, Path], Rendered]:
        """The music synthesizer (it imports its heavy modules lazily)."""
        return synthesize

