"""The MIDI writer and the seeded drum pattern used to render scores."""

from __future__ import annotations

import struct

from datasets.midi import CLOSED_HAT, DRUM_CHANNEL, KICK, SNARE, Note, drum_pattern, midi_bytes


def test_midi_file_has_header_track_tempo_and_all_notes():
    notes = [Note(0.0, 1.0, 60, 80, 0), Note(1.0, 0.5, 64, 90, 1)]
    data = midi_bytes(notes, {0: 40, 1: 42}, bpm=120.0)
    assert data[:4] == b"MThd" and struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk" and struct.unpack(">I", data[18:22])[0] == len(data) - 22
    assert b"\xff\x51\x03\x07\xa1\x20" in data  # 500000 µs per quarter = 120 bpm
    assert bytes([0xC0, 40]) in data and bytes([0xC1, 42]) in data
    assert data.count(bytes([0x90, 60])) == 1 and data.count(bytes([0x81, 64])) == 1
    assert data.endswith(b"\x00\xff\x2f\x00")
    assert midi_bytes(notes, {0: 40, 1: 42}, 120.0) == data


def test_drum_pattern_follows_the_meter_and_its_seed():
    four = drum_pattern(8.0, 4, seed=1)
    assert all(n.channel == DRUM_CHANNEL for n in four)
    kicks = sorted(n.start for n in four if n.pitch == KICK)
    snares = sorted(n.start for n in four if n.pitch == SNARE)
    assert kicks == [0.0, 2.0, 4.0, 6.0] and snares == [1.0, 3.0, 5.0, 7.0]
    assert sum(n.pitch == CLOSED_HAT for n in four) == 16
    assert drum_pattern(8.0, 4, seed=1) == four and drum_pattern(8.0, 4, seed=2) != four
    waltz = drum_pattern(6.0, 3, seed=1)
    assert sorted(n.start for n in waltz if n.pitch == KICK) == [0.0, 3.0]
