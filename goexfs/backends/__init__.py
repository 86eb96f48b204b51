"""Staging backends behind one ``Stager`` protocol (``base.py``); ``stager_for`` picks one."""

from __future__ import annotations

from core.errors import ConfigError
from goexfs.backends.base import Staged, Stager, TreeStaged
from goexfs.backends.copy import CopyStager

BACKENDS = ("auto", "overlay", "btrfs", "reflink", "git", "copy")


def stager_for(name: str) -> Stager:
    """The stager for the ``[fs] backend`` setting. ``auto`` picks the best available one."""
    if name not in BACKENDS:
        raise ConfigError(
            f"fs backend {name!r} is not one of {', '.join(BACKENDS)}", key="fs.backend"
        )
    if name in ("auto", "copy"):
        return CopyStager()
    raise ConfigError(
        f"fs backend {name!r} is not available in this version of goex; use 'copy' or 'auto'",
        key="fs.backend",
    )


__all__ = ["BACKENDS", "CopyStager", "Staged", "Stager", "TreeStaged", "stager_for"]
