"""Staging backends behind one ``Stager`` protocol (``base.py``); ``stager_for`` picks one."""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError
from goexfs.backends.base import Staged, Stager, TreeStaged, read_saved, resume_tree
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


def resume(location: Path) -> Staged:
    """A staging kept by an earlier run (``--decide keep``), from the directory it lives in.

    Each backend saves what it needs next to its tree; this dispatches on the saved backend name.
    """
    backend = read_saved(location).get("backend")
    if backend == "copy":
        return resume_tree(location)
    raise ConfigError(f"staged copy {location} was made by unknown backend {backend!r}")


__all__ = ["BACKENDS", "CopyStager", "Staged", "Stager", "TreeStaged", "resume", "stager_for"]
