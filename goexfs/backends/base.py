"""The Stager contract: put a private, writable copy of a project where a command can run.

A ``Stager`` turns a real root into a ``Staging`` — a backend's staged tree:

* ``tree`` — the directory the command runs against (the sandbox binds it at the real root's
  path, so absolute paths in the command land in the staged copy);
* ``manifest`` — the real root as it was at stage time (``goexfs.tree.manifest``), for the
  commit's conflict check: complete for the copy backend, and for the others the entries of
  every path ``changes()`` named and of its parents, read lazily (``goexfs.backends.before``);
* ``changes()`` — what the command changed, measured from the trees (never predicted);
* ``reason`` — why this backend was used (``auto`` names the ones it passed over);
* ``rollback()`` — remove everything the staging owns (files, a mount, subvolumes); the real
  root is never touched.

Each stager class carries its ``name``, ``unavailable(root)`` (why it cannot stage root here,
checked before anything is created) and ``resume(location)`` (a staging kept by an earlier
process); ``goexfs.backends.STAGERS`` lists them in ``auto``'s order.

Backends differ in how they make the copy and how cheaply they find the paths to compare (a
watchdog recorder, an overlay's upper layer, ``btrfs send``); ``TreeStaging``
(``goexfs.backends.staging``) is the shared implementation — every backend's staged tree is an
ordinary directory (or a mount of one) — and each backend saves what a later process needs to
``resume`` it next to the tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol

from core.errors import ConfigError
from goexfs.backends.watch import Candidates
from goexfs.tree.effects import Change
from goexfs.tree.manifest import Manifest
from goexfs.tree.paths import DEFAULT_SECRETS, SecretPaths


class BackendUnavailable(ConfigError):
    """The chosen staging backend cannot work for this directory on this machine; ``auto``
    passes it over and says why (``reason``)."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"fs backend {backend!r} cannot stage here: {reason}", key="fs.backend")
        self.backend = backend
        self.reason = reason


def refuse_if_unavailable(backend: str, reason: str | None) -> None:
    """A stager's first step: refuse (BackendUnavailable) if there is a reason it cannot stage
    here, before it creates anything."""
    if reason:
        raise BackendUnavailable(backend, reason)


class Staging(Protocol):
    """A backend's staged tree (see the module docstring)."""

    @property
    def backend(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def tree(self) -> Path: ...

    @property
    def view(self) -> Path:
        """Where this process reads the tree (``tree``, unless it is mounted elsewhere)."""
        ...

    @property
    def enter(self) -> list[str]:
        """The argv prefix that starts the sandbox where ``tree`` is mounted."""
        ...

    @property
    def location(self) -> Path: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def reason(self) -> str:
        """Why this backend staged the directory (``auto`` names the ones it passed over)."""
        ...

    def changes(self, secrets: SecretPaths = DEFAULT_SECRETS) -> list[Change]:
        """What the command changed, each file's diff bounded (withheld for ``secrets``)."""

    def rollback(self) -> None:
        """Throw the staged work away: remove everything the staging owns."""
        ...


class Stager(Protocol):
    """A staging mechanism; the class itself answers ``unavailable`` and ``resume``."""

    name: ClassVar[str]

    @staticmethod
    def unavailable(root: Path) -> str | None:
        """Why this backend cannot stage root on this machine, as far as a quick look can tell
        (None when it can be tried)."""
        ...

    @staticmethod
    def resume(location: Path) -> Staging:
        """A staging this backend made and an earlier process kept, from where it lives."""
        ...

    def stage(self, root: Path, workspace: Path) -> Staging:
        """Stage root into a new private directory under workspace."""
        ...


class PathSource(Protocol):
    """Something that knows which paths a run may have touched (a watchdog ``Recorder``)."""

    def stop(self) -> Candidates | None:
        """The candidates, or None when a change may have been missed (compare everything)."""
        ...
