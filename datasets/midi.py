"""A minimal Standard MIDI File writer and a seeded drum pattern, for rendering scores.

Writing the file ourselves (format 0, one track) keeps the bytes fully determined by the notes,
independent of music21's MIDI export details.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TICKS_PER_QUARTER = 480
DRUM_CHANNEL = 9
KICK, SNARE, CLOSED_HAT, CRASH = 36, 38, 42, 49


@dataclass(frozen=True)
class Note:
    """One note: start and length in quarter notes, MIDI pitch and velocity, channel 0-15."""

    start: float
    length: float
    pitch: int
    velocity: int
    channel: int


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: list[Note], programs: dict[int, int], bpm: float) -> bytes:
    """A format-0 SMF with one tempo, program changes at time 0 and the given notes."""
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message): note-offs sort first
    tempo = round(60_000_000 / bpm)
    events.append((0, 0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")))
    for channel, program in sorted(programs.items()):
        events.append((0, 1, bytes([0xC0 | channel, program & 0x7F])))
    for n in notes:
        on = round(n.start * TICKS_PER_QUARTER)
        off = max(on + 1, round((n.start + n.length) * TICKS_PER_QUARTER))
        pitch, vel = int(np.clip(n.pitch, 0, 127)), int(np.clip(n.velocity, 1, 127))
        events.append((on, 3, bytes([0x90 | n.channel, pitch, vel])))
        events.append((off, 2, bytes([0x80 | n.channel, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    track, now = bytearray(), 0
    for tick, _, message in events:
        track += _varlen(tick - now) + message
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_midi(path: Path, notes: list[Note], programs: dict[int, int], bpm: float) -> None:
    """Write ``midi_bytes`` to ``path``."""
    path.write_bytes(midi_bytes(notes, programs, bpm))


def drum_pattern(total_quarters: float, beats_per_bar: int, seed: int) -> list[Note]:
    """Kick on the downbeat (and mid-bar in 4/4), snare on off-beats, eighth hi-hats, a crash.

    Velocities are humanized by a seeded generator, so the pattern is reproducible.
    """
    rng = np.random.default_rng(seed)
    notes = [Note(0.0, 1.0, CRASH, 100, DRUM_CHANNEL)]
    for k in range(int(np.ceil(total_quarters * 2))):
        t = k / 2
        beat = int(t) % beats_per_bar
        hits = [(CLOSED_HAT, 70 if k % 2 else 85)]
        if t == int(t):
            if beat == 0 or (beats_per_bar == 4 and beat == 2):
                hits.append((KICK, 105))
            elif beat % 2 == 1:
                hits.append((SNARE, 95))
        notes += [Note(t, 0.25, p, v + int(rng.integers(-10, 11)), DRUM_CHANNEL) for p, v in hits]
    return notes
