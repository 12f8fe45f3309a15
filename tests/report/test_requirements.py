"""The harness declares chromium for the report page check; doctor collects it."""

from bench.doctor import debian_packages
from bench.requirements import DEBIAN_PACKAGES


def test_chromium_is_declared_and_collected():
    assert "chromium" in DEBIAN_PACKAGES
    assert "chromium" in debian_packages()
