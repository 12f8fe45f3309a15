"""System packages the effects library can use (collected by ``python -m bench doctor``)."""

DEBIAN_PACKAGES = ("zam-plugins",)
"""zam-plugins ships the Linux VST3s behind the zam_* black-box effects (ZamComp, ZamEQ2)."""
