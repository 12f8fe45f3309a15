"""A directory of the user's own audio as a dataset: ``--data speech=folder:/path/to/audio``.

Any file soundfile or ffmpeg reads counts (WAV, FLAC, OGG, MP3, AIFF, M4A/MP4, Opus …), mono or
stereo, at any sample rate. Splits come from ``train/``, ``val/`` and ``test/`` subfolders when
there are any (then files outside them are ignored); otherwise they are drawn by group, where a
group is the first subfolder (a speaker, a song) or, for a file at the top, the file itself, so
no source crosses splits. Indexing, skipping unreadable files and splitting are
``datasets.local``'s.
"""

from __future__ import annotations

from pathlib import Path

from bench.data import SPLITS, DataError, Dataset
from datasets.audio_io import SOUNDFILE_SUFFIXES
from datasets.local import LocalDataset

AUDIO_SUFFIXES = (*SOUNDFILE_SUFFIXES, ".m4a", ".mp4", ".aac", ".opus", ".wma", ".webm", ".mka")


class Folder(LocalDataset):
    """A directory of your own audio (``folder:PATH``), split by subfolder (speaker or song)."""

    name = "folder"
    version = "1"
    domain = "any"
    dir_names = ()
    pattern = "**/*"
    layout = ("PATH/[train/|val/|test/]<speaker or song>/<file>, or files directly in PATH "
              f"({', '.join(s[1:] for s in AUDIO_SUFFIXES)})")
    path: Path

    @classmethod
    def open(cls, argument: str | None, **kwargs: object) -> Folder:
        """The folder at ``argument`` (required), named by its absolute path."""
        if not argument:
            raise DataError("folder needs a directory: write folder:PATH, e.g. "
                            "--data speech=folder:/data/my-voices")
        folder = cls(**kwargs)  # type: ignore[arg-type]
        folder.path = Path(argument).expanduser().resolve()
        folder.spec = f"folder:{folder.path}"
        return folder

    def locate(self) -> Path:
        """The directory itself; an error when it is missing or holds no audio file."""
        if not self.path.is_dir():
            raise DataError(f"{self.spec}: no such directory; pass an existing directory of "
                            f"audio files as folder:PATH")
        if not self._files(self.path):
            raise DataError(f"{self.spec}: no audio files (looked for "
                            f"{', '.join(s[1:] for s in AUDIO_SUFFIXES)}); expected {self.layout}")
        return self.path

    def shares_sources(self, other: Dataset) -> bool:
        """Folders overlap when one contains the other."""
        return isinstance(other, Folder) and (self.path.is_relative_to(other.path)
                                              or other.path.is_relative_to(self.path))

    def parse(self, path: Path, root: Path) -> tuple[str, str | None, dict] | None:
        """Split from a ``train``/``val``/``test`` folder, group from the next folder (or the
        file); hidden files and non-audio files are ignored."""
        parts = path.relative_to(root).parts
        if (path.suffix.lower() not in AUDIO_SUFFIXES or any(p.startswith(".") for p in parts)
                or not path.is_file()):
            return None
        split = parts[0] if len(parts) > 1 and parts[0] in SPLITS else None
        if split is None and _has_split_dirs(root):
            return None
        inner = parts[1:] if split else parts
        group = inner[0] if len(inner) > 1 else Path(inner[0]).stem
        return (f"{split}/{group}" if split else group), split, {}


def _has_split_dirs(root: Path) -> bool:
    """Whether ``root`` has a ``train``, ``val`` or ``test`` subfolder."""
    return any((root / d).is_dir() for d in SPLITS)
