"""The five DeepAFx-ST production styles as physical parameter ranges for ``peq → compressor``.

Ranges follow the reference's ``generate_styles.py`` with its bug fixed: "warm" cuts the high
shelf by 20–26 dB (the reference code boosts it by 14–20 dB although it says "decrease").
A range is ``(low, high)`` sampled uniformly; unlisted parameters keep the spec's default
(Q = 0.707, other bands 0 dB), except knee and make-up, which are 0 dB as in the reference.
Values outside an effect's declared range are clamped by the Param spec when converted.
"""

from __future__ import annotations

STYLE_EFFECTS = ("peq", "compressor")
MS = 1e-3

_FLAT = {"compressor.knee": (0.0, 0.0), "compressor.makeup": (0.0, 0.0),
         "peq.band1_gain": (0.0, 0.0), "peq.band1_cutoff": (1000.0, 1000.0)}
_NO_COMPRESSION = {"compressor.threshold": (0.0, 0.0), "compressor.ratio": (1.0, 1.0),
                   "compressor.attack": (50 * MS, 50 * MS),
                   "compressor.release": (250 * MS, 250 * MS)}

STYLES: dict[str, dict[str, tuple[float, float]]] = {
    "neutral": {
        **_FLAT,
        "compressor.threshold": (-30.0, -20.0), "compressor.ratio": (1.5, 2.0),
        "compressor.attack": (50 * MS, 70 * MS), "compressor.release": (100 * MS, 300 * MS),
        "peq.low_shelf_gain": (1.0, 3.0), "peq.low_shelf_cutoff": (80.0, 200.0),
        "peq.high_shelf_gain": (1.0, 3.0), "peq.high_shelf_cutoff": (6000.0, 8000.0),
    },
    "broadcast": {
        **_FLAT,
        "compressor.threshold": (-50.0, -40.0), "compressor.ratio": (3.0, 5.0),
        "compressor.attack": (5 * MS, 30 * MS), "compressor.release": (50 * MS, 150 * MS),
        "peq.low_shelf_gain": (2.0, 6.0), "peq.low_shelf_cutoff": (80.0, 200.0),
        "peq.high_shelf_gain": (2.0, 6.0), "peq.high_shelf_cutoff": (6000.0, 8000.0),
    },
    "telephone": {
        **_FLAT,
        "compressor.threshold": (-40.0, -20.0), "compressor.ratio": (1.5, 3.0),
        "compressor.attack": (1 * MS, 6 * MS), "compressor.release": (10 * MS, 60 * MS),
        "peq.low_shelf_gain": (-26.0, -20.0), "peq.low_shelf_cutoff": (200.0, 400.0),
        "peq.band1_gain": (12.0, 16.0), "peq.band1_cutoff": (1000.0, 2000.0),
        "peq.high_shelf_gain": (-26.0, -20.0), "peq.high_shelf_cutoff": (4000.0, 6000.0),
    },
    "bright": {
        **_FLAT, **_NO_COMPRESSION,
        "peq.low_shelf_gain": (-26.0, -20.0), "peq.low_shelf_cutoff": (200.0, 400.0),
        "peq.high_shelf_gain": (20.0, 26.0), "peq.high_shelf_cutoff": (8000.0, 10000.0),
    },
    "warm": {
        **_FLAT, **_NO_COMPRESSION,
        "peq.low_shelf_gain": (20.0, 26.0), "peq.low_shelf_cutoff": (200.0, 400.0),
        "peq.high_shelf_gain": (-26.0, -20.0), "peq.high_shelf_cutoff": (8000.0, 10000.0),
    },
}
STYLE_NAMES = ("broadcast", "telephone", "neutral", "bright", "warm")
"""The style labels 0…4 in DeepAFx-ST's order (the probe's classes)."""
STYLE_LABELS = {name: label for label, name in enumerate(STYLE_NAMES)}
