"""Registry: self-registration, duplicate and unknown names, broken plugins, entry points."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from bench.base import Strategy
from bench.registry import RegistryError


def test_subclass_with_name_registers(isolated_registry):
    class Mine(Strategy):
        """One-line description."""

        name = "mine_for_test"
        version = "3"

    reg = isolated_registry.registry("strategy")
    assert reg.get("mine_for_test") is Mine
    assert Mine.description == "One-line description."


def test_name_without_version_is_rejected(isolated_registry):
    with pytest.raises(RegistryError, match="no version"):
        class NoVersion(Strategy):
            name = "no_version_for_test"


def test_duplicate_name_names_both_modules(isolated_registry):
    class First(Strategy):
        name = "dup_for_test"
        version = "1"

    with pytest.raises(RegistryError) as err:
        class Second(Strategy):
            name = "dup_for_test"
            version = "1"

    message = str(err.value)
    assert "First" in message and "Second" in message and __name__ in message


def test_unknown_name_suggests_closest(isolated_registry):
    reg = isolated_registry.registry("strategy")
    with pytest.raises(RegistryError, match=r"unknown strategy 'toy_serch'.*mean toy_search"):
        reg.get("toy_serch")


def test_all_excludes_toy_plugins(isolated_registry):
    reg = isolated_registry.registry("strategy")
    assert "toy_search" in reg.names()
    assert all(not c.toy for c in reg.select("all"))
    assert [c.name for c in reg.select("toy_search")] == ["toy_search"]


def test_broken_plugin_is_recorded_and_others_load(isolated_registry, tmp_path, monkeypatch):
    (tmp_path / "broken_plugin_for_test.py").write_text("raise ImportError('missing libfoo')\n")
    (tmp_path / "good_plugin_for_test.py").write_text(textwrap.dedent("""
        from bench.base import Strategy
        class Good(Strategy):
            name = "good_plugin_for_test"
            version = "1"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in ("broken_plugin_for_test", "good_plugin_for_test"):
        isolated_registry._import(mod)
    assert isolated_registry.registry("strategy").get("good_plugin_for_test")
    failure = isolated_registry.FAILURES[-1]
    assert failure.module == "broken_plugin_for_test"
    assert "missing libfoo" in failure.error


def test_all_says_what_it_leaves_out(isolated_registry, tmp_path, monkeypatch):
    (tmp_path / "broken_left_out_for_test.py").write_text("raise ImportError('no libbar')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    isolated_registry._import("broken_left_out_for_test")
    notes = isolated_registry.registry("strategy").left_out_of_all()
    assert notes[0].startswith("toy plugins ") and "toy_search" in notes[0]
    assert notes[-1] == ("anything in broken plugin module broken_left_out_for_test "
                         "(ImportError: no libbar)")
    with pytest.raises(RegistryError, match="failed to import: broken_left_out_for_test"):
        isolated_registry.registry("strategy").get("from_the_broken_module")


def test_entry_point_plugins_are_loaded(isolated_registry, tmp_path, monkeypatch):
    """An installed distribution's `afx_bench.plugins` entry point adds its strategy."""
    (tmp_path / "ep_plugin_for_test.py").write_text(textwrap.dedent("""
        from bench.base import Strategy
        class FromEntryPoint(Strategy):
            name = "from_entry_point_for_test"
            version = "1"
    """))
    dist = tmp_path / "ep_plugin_for_test-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin-for-test\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text("[afx_bench.plugins]\nmine = ep_plugin_for_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(isolated_registry, "_discovered", False)
    isolated_registry.discover()
    assert isolated_registry.REGISTRIES["strategy"].get("from_entry_point_for_test")
    assert "ep_plugin_for_test" in sys.modules


def test_a_module_that_fails_after_registering_leaves_nothing_registered(
        isolated_registry, tmp_path, monkeypatch):
    (tmp_path / "half_plugin_for_test.py").write_text(textwrap.dedent("""
        from bench.base import Strategy
        class Half(Strategy):
            name = "half_plugin_for_test"
            version = "1"
        raise RuntimeError("fails after registering")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    isolated_registry._import("half_plugin_for_test")
    assert "half_plugin_for_test" not in isolated_registry.REGISTRIES["strategy"].names()
    assert isolated_registry.FAILURES[-1].module == "half_plugin_for_test"


def test_a_plugin_command_joins_the_cli(isolated_registry, capsys):
    """A :class:`Command` subclass is a `python -m bench` subcommand, with its own options."""
    from bench.cli import main
    from bench.registry import Command

    class Greet(Command):
        name = "greet_for_test"
        help = "say hello"

        def add_arguments(self, parser):
            parser.add_argument("--times", type=int, default=1)

        def run(self, args):
            print("hello " * args.times)
            return 3

    assert isolated_registry.discover_commands().get("greet_for_test") is Greet
    assert main(["greet_for_test", "--times", "2"]) == 3
    assert capsys.readouterr().out.startswith("hello hello")

    class Shadow(Command):
        name = "run"

        def add_arguments(self, parser):
            pass

        def run(self, args):
            return 0

    with pytest.raises(RegistryError, match="would hide the built-in command"):
        main(["list"])

