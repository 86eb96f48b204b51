"""Staging backends behind one ``Stager`` protocol (``base.py``); ``stager_for`` picks one.

``auto`` tries them in the order of ``AUTO_ORDER`` — the cheapest first: overlay (a mount,
O(1)), btrfs (two snapshots, O(1)), reflink (metadata only), git (incremental snapshot plus a
checkout), copy (reads and writes everything, works everywhere) — and stages with the first
that works here; the staging's ``reason`` says which one and why the others were passed over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from goexfs.backends import btrfs, git, overlay, reflink
from goexfs.backends.base import (
    BackendUnavailable,
    Staged,
    Stager,
    TreeStaged,
    read_saved,
    resume_tree,
)
from goexfs.backends.btrfs import BtrfsStager
from goexfs.backends.copy import CopyStager
from goexfs.backends.git import GitStager
from goexfs.backends.overlay import OverlayStager
from goexfs.backends.reflink import ReflinkStager

BACKENDS = ("auto", "overlay", "btrfs", "reflink", "git", "copy")
AUTO_ORDER = ("overlay", "btrfs", "reflink", "git", "copy")

_STAGERS: dict[str, Callable[[], Stager]] = {
    "overlay": OverlayStager,
    "btrfs": BtrfsStager,
    "reflink": ReflinkStager,
    "git": GitStager,
    "copy": CopyStager,
}
_CHECKS: dict[str, Callable[[Path], str | None]] = {
    "overlay": overlay.unavailable,
    "btrfs": btrfs.unavailable,
    "reflink": reflink.unavailable,
    "git": git.unavailable,
}
_RESUMERS: dict[str, Callable[[Path], Staged]] = {
    "overlay": overlay.resume,
    "btrfs": btrfs.resume,
    "reflink": resume_tree,
    "git": resume_tree,
    "copy": resume_tree,
}


def stager_for(name: str) -> Stager:
    """The stager for the ``[fs] backend`` setting (``auto``: the first that works here)."""
    if name not in BACKENDS:
        raise ConfigError(
            f"fs backend {name!r} is not one of {', '.join(BACKENDS)}", key="fs.backend"
        )
    if name == "auto":
        return AutoStager()
    return _STAGERS[name]()


def unavailable(name: str, root: Path) -> str | None:
    """Why backend name cannot stage root on this machine, as far as a quick look can tell."""
    check = _CHECKS.get(name)
    return None if check is None else check(root)


@dataclass(frozen=True)
class AutoStager:
    """Stages with the first backend of ``AUTO_ORDER`` that works for this directory."""

    name: str = "auto"

    def stage(self, root: Path, workspace: Path) -> Staged:
        passed: list[str] = []
        for name in AUTO_ORDER:
            try:  # each stager checks first that it can stage here, before it does anything
                staged = _STAGERS[name]().stage(root, workspace)
            except BackendUnavailable as exc:
                passed.append(f"{name}: {exc.reason}")
                continue
            if isinstance(staged, TreeStaged):
                staged.reason = _explain(name, passed)
                staged.save()
            return staged
        raise BackendUnavailable("auto", "; ".join(passed))  # pragma: no cover - copy works


def _explain(name: str, passed: list[str]) -> str:
    if not passed:
        return f"auto chose {name}, the cheapest backend, which works here"
    return f"auto chose {name}; passed over {'; '.join(passed)}"


def resume(location: Path) -> Staged:
    """A staging kept by an earlier run (``--decide keep``), from the directory it lives in.

    Each backend saves what it needs next to its tree; this dispatches on the saved backend name.
    """
    backend = read_saved(location).get("backend")
    resumer = _RESUMERS.get(str(backend))
    if resumer is None:
        raise ConfigError(f"staged copy {location} was made by unknown backend {backend!r}")
    return resumer(location)


__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "AutoStager",
    "BackendUnavailable",
    "BtrfsStager",
    "CopyStager",
    "GitStager",
    "OverlayStager",
    "ReflinkStager",
    "Staged",
    "Stager",
    "TreeStaged",
    "resume",
    "stager_for",
    "unavailable",
]
