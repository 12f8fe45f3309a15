"""Synthesizing music jobs: Frets on Fire stems, LMMS projects, scores via MIDI and FluidSynth."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from bench.data import DataError
from datasets._render_tools import render_to_file
from datasets.audio_io import read_audio
from datasets.corpus import Job, Rendered
from datasets.midi import Note, drum_pattern, write_midi

log = logging.getLogger(__name__)

LMMS_DIR = "/usr/share/lmms/projects"
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

FLUIDSYNTH_GAIN = 0.5
LMMS_TIMEOUT_S = 300
# LMMS seeds rand() with getpid() + time(0) and mixes in one worker thread per online CPU, so
# its renders differ run to run. Pinned: a mount namespace where one CPU is online (one worker),
# one CPU affinity, and a fixed pid and start time (libfaketime). Needs root for the mount.
LMMS_PIN = ("taskset", "-c", "0", "faketime", "-m", "-p", "4242", "2020-01-01 00:00:00")
ONE_CPU = 'mount --bind "$1" /sys/devices/system/cpu/online && shift && exec "$@"'
VELOCITY = 80


def synthesize(job: Job, work: Path) -> Rendered:
    """Synthesize one music job into raw audio at its native rate."""
    if job.source == "fof":
        return _fof(Path(job.params["song_dir"]))
    if job.source == "lmms":
        return _lmms(job, work)
    if job.source == "music21":
        return _score(job, work)
    raise DataError(f"unknown music source {job.source!r}")


def _fof(song: Path) -> Rendered:
    """Sum every OGG stem of a song (backing, guitar, rhythm) into one stereo mix."""
    stems = sorted(p for p in song.glob("*.ogg") if p.stem != "preview")
    decoded = [read_audio(p) for p in stems]
    rates = {sr for _, sr in decoded}
    if len(rates) != 1:
        raise DataError(f"{song.name}: stems have different sample rates {sorted(rates)}")
    length = max(len(a) for a, _ in decoded)
    mix = np.zeros((length, 2))
    for audio, _ in decoded:
        mix[: len(audio)] += audio if audio.shape[1] == 2 else audio[:, :1]
    info = _ini(song / "song.ini")
    meta = {"song": info.get("name", song.name), "artist": info.get("artist", song.parent.name),
            "instrument": "band recording", "stems": [p.name for p in stems]}
    return Rendered(mix, rates.pop(), [f"decode and sum stems {', '.join(p.name for p in stems)}"],
                    meta)


def _ini(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _lmms(job: Job, work: Path) -> Rendered:
    """Render an LMMS project headless in 32-bit float (16-bit renders clip)."""
    project = Path(LMMS_DIR) / job.params["project"]
    out = work / f"{job.id}.wav"
    cmd = ["lmms", "--allowroot", "render", str(project), "-a", "-f", "wav", "-s", "44100",
           "-o", str(out)]
    if os.geteuid() == 0:
        online = work / "cpu_online"
        online.write_text("0\n")
        cmd = ["unshare", "--mount", "sh", "-c", ONE_CPU, "sh", str(online), *LMMS_PIN, *cmd]
        pinned = "one CPU online, taskset -c 0, faketime -p 4242 '2020-01-01 00:00:00'"
    else:
        log.warning("not root: LMMS renders unpinned and may differ between builds")
        pinned = "unpinned (not root): not bit-reproducible"
    audio, sr = render_to_file(cmd, out, env={"QT_QPA_PLATFORM": "offscreen"},
                               timeout=LMMS_TIMEOUT_S)
    meta = {"song": project.name.split(".")[0], "artist": project.name.split("-")[0],
            "instrument": "LMMS synths and samples",
            "license_detail": job.params["project_license"]}
    chain = [f"lmms render -a -f wav -s 44100, headless, {pinned}"]
    return Rendered(audio, sr, chain, meta)


def _score(job: Job, work: Path) -> Rendered:
    """Parse a music21 score, write our own MIDI (ensemble + drums), render dry with FluidSynth."""
    from music21 import corpus

    p = job.params
    score = corpus.parse(p["piece"])
    notes: list[Note] = []
    rng = np.random.default_rng(job.seed)
    for index, part in enumerate(score.parts):
        channel = index % 8
        for n in part.stripTies().flatten().notes:
            length = float(n.quarterLength)
            if length <= 0:
                continue
            for pitch in n.pitches:
                velocity = VELOCITY + int(rng.integers(-10, 11))
                notes.append(Note(float(n.offset), length, pitch.midi, velocity, channel))
    if not notes:
        raise DataError(f"{p['piece']}: no notes")
    total = max(n.start + n.length for n in notes)
    signature = score.recurse().getElementsByClass("TimeSignature").first()
    beats = int(signature.numerator) if signature is not None else 4
    if p["drums"]:
        notes += drum_pattern(total, beats, job.seed)
    programs = {i % 8: p["programs"][i % len(p["programs"])] for i in range(len(score.parts))}
    midi = work / f"{job.id}.mid"
    write_midi(midi, notes, programs, p["bpm"])
    out = work / f"{job.id}.wav"
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(FLUIDSYNTH_GAIN),
           "-r", "44100", "-O", "float", "-F", str(out), SOUNDFONT, str(midi)]
    audio, sr = render_to_file(cmd, out)
    meta = {"song": p["piece"], "instrument": p["ensemble"], "programs": p["programs"],
            "drums": "GM standard kit (bank 128)" if p["drums"] else "none",
            "soundfont": Path(SOUNDFONT).name, "bpm": p["bpm"]}
    chain = [f"music21 parse {p['piece']}", f"MIDI: {p['ensemble']} programs {p['programs']}, "
             f"drums, {p['bpm']} bpm, velocities seeded {job.seed}",
             f"fluidsynth -R 0 -C 0 -g {FLUIDSYNTH_GAIN} -r 44100 -O float {Path(SOUNDFONT).name}"]
    return Rendered(audio, sr, chain, meta)
