"""Tiny directory trees in each research dataset's published layout, and a folder of one's own,
written with real audio files (the loader tests and the data-choice runs share them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.datasets.conftest import write_audio, write_corrupt


def make_libritts(root: Path) -> Path:
    """Official subsets: three training speakers, one dev, one test; one unreadable and one
    too-short file."""
    base = root / "LibriTTS"
    for subset, speaker in [("train-clean-100", "19"), ("train-clean-100", "26"),
                            ("train-other-500", "32"), ("dev-clean", "84"),
                            ("test-clean", "121")]:
        for k in range(2):
            name = f"{speaker}_198_00000{k}_000000.wav"
            wav = write_audio(base / subset / speaker / "198" / name, 1.0, 24000, seed=k)
            wav.with_name(wav.name[:-4] + ".normalized.txt").write_text("Hello there.")
    write_corrupt(base / "train-clean-100" / "19" / "198" / "19_198_000009_000000.wav")
    write_audio(base / "train-clean-100" / "26" / "198" / "26_198_000009_000000.wav", 0.1, 24000)
    return base


def make_daps(root: Path) -> Path:
    """Five speakers, two scripts each, ``cleanraw`` and ``produced``, and a macOS ``._`` file."""
    for speaker in ("f1", "f2", "m1", "m2", "m3"):
        for script in ("script1", "script2"):
            write_audio(root / "daps" / "cleanraw" / f"{speaker}_{script}_cleanraw.wav",
                        1.0, 44100)
            write_audio(root / "daps" / "produced" / f"{speaker}_{script}_produced.wav",
                        1.0, 44100)
    write_audio(root / "daps" / "cleanraw" / "._f1_script1_cleanraw.wav", 1.0, 44100)
    return root / "daps"


def make_vctk(root: Path) -> Path:
    """Four speakers, two utterances on two microphones (FLAC); p315 without transcripts."""
    base = root / "VCTK-Corpus-0.92"
    for speaker in ("p225", "p226", "p227", "p315"):
        for n in ("001", "002"):
            for mic in ("mic1", "mic2"):
                write_audio(base / "wav48_silence_trimmed" / speaker / f"{speaker}_{n}_{mic}.flac",
                            1.0, 48000)
            if speaker != "p315":  # p315 has no transcripts in the real corpus
                (base / "txt" / speaker).mkdir(parents=True, exist_ok=True)
                (base / "txt" / speaker / f"{speaker}_{n}.txt").write_text("Please call Stella.")
    return base


def make_musdb_hq(root: Path) -> Path:
    """Four training songs and one test song as stereo WAV stems."""
    for folder, songs in (("train", ("A - One", "B - Two", "C - Three", "E - Five")),
                          ("test", ("D - Four",))):
        for song in songs:
            for stem in ("mixture", "drums", "bass", "other", "vocals"):
                write_audio(root / "musdb18hq" / folder / song / f"{stem}.wav", 1.0, 44100,
                            channels=2)
    return root / "musdb18hq"


def make_musdb18(root: Path, train: tuple[str, ...] = ("A - One", "B - Two"),
                 test: tuple[str, ...] = ("C - Three",)) -> Path:
    """Five-stream ``.stem.mp4`` songs (AAC, stream ``k`` a tone at 220·(k+1) Hz) and one
    broken file (needs ffmpeg)."""
    for folder, songs in (("train", train), ("test", test)):
        for song in songs:
            _stem_mp4(root / "musdb18" / folder / f"{song}.stem.mp4", root / "src")
    write_corrupt(root / "musdb18" / "train" / "Broken - Song.stem.mp4")
    return root / "musdb18"


def _stem_mp4(path: Path, sources: Path) -> None:
    inputs = []
    for k in range(5):
        inputs += ["-i", str(write_audio(sources / f"{k}.wav", 1.0, 44100, freq=220.0 * (k + 1),
                                         channels=2))]
    maps = [arg for k in range(5) for arg in ("-map", str(k))]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *maps, "-c:a", "aac", "-b:a", "64k",
                    "-f", "mp4", str(path)], check=True)


JAMENDO_TRACKS = {"14/214.mp3": "artist_1", "14/1014.mp3": "artist_1", "37/337.mp3": "artist_2",
                  "52/452.mp3": "artist_3", "60/560.mp3": "artist_4", "61/561.mp3": "artist_5"}


def make_mtg_jamendo(root: Path) -> Path:
    """Six stereo MP3 tracks by five artists, with the ``raw_30s.tsv`` metadata."""
    base = root / "mtg-jamendo"
    for rel in JAMENDO_TRACKS:
        write_audio(base / "audio" / rel, 1.0, 44100, channels=2)
    rows = ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"]
    rows += [f"track_{Path(p).stem}\t{a}\talbum_1\t{p}\t1.0\tgenre---rock\tmood/theme---happy"
             for p, a in JAMENDO_TRACKS.items()]
    (base / "data").mkdir()
    (base / "data" / "raw_30s.tsv").write_text("\n".join(rows) + "\n")
    return base


def make_folder(root: Path) -> Path:
    """A folder of one's own: five speakers' subfolders, mixed formats, rates and channels."""
    base = root / "my-voices"
    for k, speaker in enumerate(("ann", "bob", "cid", "dee", "eve")):
        write_audio(base / speaker / "take1.wav", 1.5, (16000, 22050, 44100, 48000, 8000)[k],
                    freq=200.0 + 40 * k)
        write_audio(base / speaker / "take2.flac", 1.5, 32000, channels=2, seed=k)
    write_corrupt(base / "eve" / "take3.wav")
    return base
