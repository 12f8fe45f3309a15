"""Loaders for LibriTTS, DAPS, VCTK 0.92, MUSDB18-HQ, MUSDB18 and MTG-Jamendo in their layouts.

Each only parses paths; finding the root, probing, skipping bad files and splitting are in
``datasets.local``. Groups are speakers (speech) or songs/artists (music).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from datasets.local import LocalDataset
from datasets.requirements import tool

LIBRITTS_SPLITS = {"train": "train", "dev": "val", "test": "test"}


class LibriTTS(LocalDataset):
    """LibriTTS (or LibriTTS-R): 24 kHz read English speech; official subsets give the splits."""

    name = "libritts"
    version = "1"
    domain = "speech"
    dir_names = ("LibriTTS", "LibriTTS_R", "libritts")
    pattern = "*/*/*/*.wav"
    layout = "LibriTTS/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<para>_<sent>.wav"

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Speaker from the folder; split from the subset prefix (train-, dev-, test-)."""
        subset, speaker, chapter = path.relative_to(root).parts[:3]
        split = LIBRITTS_SPLITS.get(subset.split("-")[0])
        if split is None or not path.name.startswith(f"{speaker}_{chapter}_"):
            return None
        text = path.with_name(path.name[:-4] + ".normalized.txt")
        return speaker, split, {"subset": subset, "chapter": chapter,
                                "text_path": str(text) if text.exists() else None}


class DAPS(LocalDataset):
    """DAPS: 20 speakers reading 5 scripts, 44.1 kHz; the ``cleanraw`` recordings by default."""

    name = "daps"
    version = "1"
    domain = "speech"
    recording = "cleanraw"
    dir_names = ("daps", "DAPS")
    pattern = f"{recording}/*.wav"
    layout = ("daps/<version>/<speaker>_<script>_<version>.wav "
              "(e.g. daps/cleanraw/f1_script1_cleanraw.wav)")

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Speaker and script from ``f1_script1_cleanraw.wav``; macOS ``._`` files are ignored."""
        parts = path.stem.split("_")
        if path.name.startswith("._") or len(parts) < 3 or not parts[1].startswith("script"):
            return None
        return parts[0], None, {"script": parts[1], "recording": "_".join(parts[2:])}


class VCTK(LocalDataset):
    """VCTK 0.92: 110 English speakers at 48 kHz (FLAC, mic1), split by speaker."""

    name = "vctk"
    version = "1"
    domain = "speech"
    dir_names = ("VCTK-Corpus-0.92", "vctk", "VCTK")
    pattern = "wav48_silence_trimmed/*/*_mic1.flac"
    layout = "VCTK-Corpus-0.92/wav48_silence_trimmed/<spk>/<spk>_<nnn>_mic1.flac"

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Speaker from the folder; the text file path when it exists (p315 has none)."""
        speaker = path.parent.name
        utterance = path.name.removesuffix("_mic1.flac")
        text = root / "txt" / speaker / f"{utterance}.txt"
        return speaker, None, {"text_path": str(text) if text.exists() else None}


class MUSDB18HQ(LocalDataset):
    """MUSDB18-HQ: 150 songs as WAV stems; official train/test, validation drawn from train."""

    name = "musdb18hq"
    version = "1"
    domain = "music"
    dir_names = ("musdb18hq", "MUSDB18-HQ", "musdb18-hq")
    pattern = "*/*/mixture.wav"
    layout = "musdb18hq/{train,test}/<Artist - Title>/{mixture,drums,bass,other,vocals}.wav"

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Song from the folder; the stem files next to the mixture."""
        folder = path.parent.parent.name
        if folder not in ("train", "test"):
            return None
        stems = {p.stem: str(p) for p in sorted(path.parent.glob("*.wav")) if p.stem != "mixture"}
        return path.parent.name, folder if folder == "test" else "train", {"stems": stems}


class MUSDB18(LocalDataset):
    """MUSDB18: 150 songs as multi-stream ``.stem.mp4`` (stream 0 is the mix); needs ffmpeg."""

    name = "musdb18"
    version = "1"
    domain = "music"
    dir_names = ("musdb18", "MUSDB18")
    pattern = "*/*.stem.mp4"
    layout = "musdb18/{train,test}/<Artist - Title>.stem.mp4"
    needs = (tool("ffmpeg"), tool("ffprobe", "ffmpeg"))

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Song from the file name; official split from the folder."""
        folder = path.parent.name
        if folder not in ("train", "test"):
            return None
        return path.name.removesuffix(".stem.mp4"), folder, {"streams": {
            "mixture": 0, "drums": 1, "bass": 2, "other": 3, "vocals": 4}}


class MTGJamendo(LocalDataset):
    """MTG-Jamendo: full-length MP3 tracks; split by artist when the metadata TSVs are present."""

    name = "mtg_jamendo"
    version = "1"
    domain = "music"
    dir_names = ("mtg-jamendo", "mtg_jamendo", "mtg-jamendo-dataset", "jamendo")
    pattern = "**/[0-9][0-9]/*.mp3"
    layout = ("mtg-jamendo/[audio/]<NN>/<track>.mp3 with optional data/raw_30s.tsv or "
              "data/autotagging.tsv (TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, ...)")

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Group by artist (from the TSV, by PATH like ``14/214.mp3``) or else by track."""
        key = f"{path.parent.name}/{path.name}"
        row = _jamendo_metadata(root).get(key, {})
        group = row.get("ARTIST_ID") or f"track_{path.stem}"
        return group, None, {"track_id": row.get("TRACK_ID"), "album_id": row.get("ALBUM_ID"),
                             "tags": row.get("TAGS")}


@cache
def _jamendo_metadata(root: Path) -> dict[str, dict[str, str]]:
    """Rows of the first metadata TSV found, keyed by PATH (extra tag columns are joined)."""
    for name in ("raw_30s.tsv", "autotagging.tsv", "raw.tsv"):
        for tsv in (root / "data" / name, root / name):
            if tsv.exists():
                with open(tsv, newline="") as f:
                    reader = csv.reader(f, delimiter="\t")
                    header = next(reader, [])
                    rows = {}
                    for values in reader:
                        row = dict(zip(header, values, strict=False))
                        row["TAGS"] = " ".join(values[len(header) - 1:])
                        rows[row.get("PATH", "")] = row
                    return rows
    return {}
