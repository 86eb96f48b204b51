"""Staging backends behind one ``Stager`` protocol (``base.py``); ``stager_for`` picks one.

``STAGERS`` lists the stager classes in ``auto``'s order — the cheapest first: overlay (a
mount, O(1)), btrfs (two snapshots, O(1)), reflink (metadata only), git (incremental snapshot
plus a checkout), copy (reads and writes everything, works everywhere). ``auto`` stages with
the first that works here; the staging's ``reason`` says which one and why the others were
passed over. Each class carries its ``name``, its availability check (``unavailable``) and how
to pick up a staging it kept (``resume``); ``stager_for``, ``unavailable``, ``resume`` and
``auto`` all read this one tuple, and nothing registers itself by being imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from core.config import FsBackend
from core.errors import ConfigError, GoexError
from core.interrupt import deferred
from goexfs.backends.base import BackendUnavailable, Stager, Staging
from goexfs.backends.btrfs import BtrfsStager
from goexfs.backends.copy import CopyStager
from goexfs.backends.git import GitStager
from goexfs.backends.overlay import OverlayStager
from goexfs.backends.reflink import ReflinkStager
from goexfs.backends.staging import TreeStaging, read_saved, remove_tree

STAGERS: tuple[type[Stager], ...] = (
    OverlayStager,
    BtrfsStager,
    ReflinkStager,
    GitStager,
    CopyStager,
)
AUTO_ORDER = tuple(stager.name for stager in STAGERS)
BACKENDS = ("auto", *AUTO_ORDER)


def _named(name: str) -> type[Stager] | None:
    return next((stager for stager in STAGERS if stager.name == name), None)


def stager_for(name: str) -> Stager:
    """The stager for the ``[fs] backend`` setting (``auto``: the first that works here)."""
    if name == FsBackend.AUTO:
        return AutoStager()
    stager = _named(name)
    if stager is None:
        raise ConfigError(
            f"fs backend {name!r} is not one of {', '.join(BACKENDS)}", key="fs.backend"
        )
    return stager()


def unavailable(name: str, root: Path) -> str | None:
    """Why backend name cannot stage root on this machine, as far as a quick look can tell."""
    stager = _named(name)
    return None if stager is None else stager.unavailable(root)


@dataclass(frozen=True)
class AutoStager:
    """Stages with the first stager of ``STAGERS`` that works for this directory."""

    name: ClassVar[str] = "auto"

    @staticmethod
    def unavailable(root: Path) -> str | None:
        """Never: the copy backend works everywhere."""
        return None

    @staticmethod
    def resume(location: Path) -> Staging:
        """A kept staging, whichever backend ``auto`` chose for it."""
        return resume(location)

    def stage(self, root: Path, workspace: Path) -> Staging:
        passed: list[str] = []
        for stager in STAGERS:
            try:  # each stager checks first that it can stage here, before it does anything
                staged = stager().stage(root, workspace)
            except BackendUnavailable as exc:
                passed.append(f"{stager.name}: {exc.reason}")
                continue
            if isinstance(staged, TreeStaging):
                try:
                    staged.reason = _explain(stager.name, passed)
                    staged.save()
                except BaseException:
                    with deferred():
                        staged.rollback()
                    raise
            return staged
        raise BackendUnavailable("auto", "; ".join(passed))  # pragma: no cover - copy works


def _explain(name: str, passed: list[str]) -> str:
    if not passed:
        return f"auto chose {name}, the cheapest backend, which works here"
    return f"auto chose {name}; passed over {'; '.join(passed)}"


def resume(location: Path) -> Staging:
    """A staging kept by an earlier run (``--decide keep``), from the directory it lives in.

    Each backend saves what it needs next to its tree; this dispatches on the saved backend name.
    """
    backend = read_saved(location).get("backend")
    stager = _named(str(backend))
    if stager is None:
        raise ConfigError(f"staged copy {location} was made by unknown backend {backend!r}")
    return stager.resume(location)


def rollback_staging(location: Path | None) -> None:
    """Remove a staged copy the way its backend needs (resumed, then rolled back), or plainly
    when it can no longer be resumed; one that is gone already is fine."""
    if location is None or not os.path.lexists(location):
        return
    try:
        resume(location).rollback()
    except GoexError:
        remove_tree(location)


__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "STAGERS",
    "AutoStager",
    "BackendUnavailable",
    "BtrfsStager",
    "CopyStager",
    "GitStager",
    "OverlayStager",
    "ReflinkStager",
    "Stager",
    "Staging",
    "TreeStaging",
    "resume",
    "rollback_staging",
    "stager_for",
    "unavailable",
]
