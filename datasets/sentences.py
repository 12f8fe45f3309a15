"""Seeded English sentences for the TTS voices, from our own templates and word lists.

Own text avoids licensing questions about published sentence lists; templates keep the
sentences grammatical and varied in length, rhythm and intonation (statements, questions).
"""

from __future__ import annotations

import numpy as np

_ADJ = ("quiet", "bright", "heavy", "narrow", "old", "silver", "warm", "distant", "careful",
        "green", "broken", "gentle", "sudden", "wooden", "empty", "crowded", "golden", "tired")
_NOUN = ("river", "window", "teacher", "garden", "engine", "letter", "market", "painter",
         "bridge", "kitchen", "mountain", "sailor", "station", "forest", "lantern", "village",
         "doctor", "harbor", "violin", "ladder", "meadow", "castle", "basket", "museum")
_VERB = ("watched", "carried", "painted", "followed", "opened", "repaired", "described",
         "visited", "measured", "found", "protected", "remembered", "cleaned", "photographed")
_PLACE = ("near the old mill", "before the storm", "after dinner", "in the early morning",
          "on the far side of the lake", "under the tall trees", "across the square",
          "at the end of the week", "beside the railway", "during the long winter")
_NAMES = ("Anna", "Marcus", "Leila", "Tomas", "Grace", "Oliver", "Priya", "Daniel", "Sofia")
_TEMPLATES = (
    "The {a} {n} {v} the {a2} {n2} {p}.",
    "{name} {v} a {a} {n} {p}, and nobody said a word.",
    "Did the {n} really see the {a} {n2} {p}?",
    "We counted {k} {n2}s {p}, then went home.",
    "When the {n} arrived, {name} {v} the {a2} {n2}.",
    "It is {a} today, so the {n} will wait {p}.",
    "Why would anyone leave a {a} {n} {p}?",
    "{name} says the {n2} costs {k} dollars, which seems fair.",
)


def sentences(seed: int, count: int) -> list[str]:
    """``count`` sentences drawn deterministically from ``seed``."""
    rng = np.random.default_rng(seed)

    def _pick(words: tuple[str, ...]) -> str:
        return words[int(rng.integers(len(words)))]

    out = []
    for _ in range(count):
        template = _pick(_TEMPLATES)
        text = template.format(a=_pick(_ADJ), a2=_pick(_ADJ), n=_pick(_NOUN), n2=_pick(_NOUN),
                               v=_pick(_VERB), p=_pick(_PLACE), name=_pick(_NAMES),
                               k=int(rng.integers(2, 40)))
        out.append(text[0].upper() + text[1:])
    return out
