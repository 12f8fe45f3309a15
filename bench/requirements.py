"""System packages the harness itself needs (collected by `python -m bench doctor --install`).

``chromium`` renders ``reports/index.html`` headlessly in the report tests (images and audio
players load, tables render, screenshot). ``postgresql`` is the server the multi-worker test
starts on loopback (several workers, one study, one killed).
"""

DEBIAN_PACKAGES = ("chromium", "postgresql")
