"""Where a staging reads the *before* side of its changes: the project as it was when staged.

The commit's conflict check (``goexfs.apply.commit``) needs, for every changed path and each of its
parents, the entry the real root had at stage time. Two ways to get it:

* ``RecordedBefore`` — a manifest made while staging (the copy backend hashes every file as it
  copies it anyway);
* ``LookupBefore`` — entries read *on demand, for just the paths a diff names*, from a
  directory: an immutable snapshot (btrfs: a read-only snapshot taken with the staged one), or
  the live real root itself (overlay, reflink, git), which lets staging skip hashing the whole
  tree: O(changes) instead of O(tree).

Reading the live root later is only sound for paths nobody touched meanwhile. ``LookupBefore``
with a ``mark_ns`` therefore checks each path's ``st_ctime_ns`` (which no unprivileged program
can set back): a path, or the directory that should hold a missing path, whose ctime is at or
after the stage mark was changed in the real root during staging, so its stage-time identity is
unknown. The entry handed back for the *diff* is what is there now; the entry *recorded for the
commit* is ``unknown_entry(...)``, which matches nothing, so the commit refuses that path as a
conflict. A false alarm (an unrelated file added to the same directory meanwhile) only refuses
a commit; it never lets one through.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.errors import PathError
from goexfs.apply.safefs import opened_dir, parent_of
from goexfs.tree.manifest import (
    Entry,
    EntryType,
    Manifest,
    entry_at,
    manifest_from_json,
    manifest_to_json,
    walk,
)
from goexfs.tree.paths import INTERNAL_DIR, is_internal, parts_of

UNKNOWN = "\0unknown: changed in the real directory while the action was staged"


def unknown_entry(kind: EntryType) -> Entry:
    """An entry that matches no real path (no hash, link target or mode can equal it)."""
    return Entry(type=kind, mode=-1, sha256=UNKNOWN, target=UNKNOWN)


class Before(Protocol):
    def entry(self, rel: str) -> Entry | None:
        """The before-side entry of rel (None when absent); recorded for the commit."""
        ...

    def descendants(self, rel: str) -> list[str]:
        """Every path under directory rel on the before side (recorded as they are read)."""
        ...

    def everything(self) -> Manifest:
        """The whole before side (the fallback full compare)."""
        ...

    def recorded(self) -> Manifest:
        """What the commit checks conflicts against: every entry read so far."""
        ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class RecordedBefore:
    """A complete manifest recorded while staging."""

    manifest: Manifest

    def entry(self, rel: str) -> Entry | None:
        return self.manifest.get(rel)

    def descendants(self, rel: str) -> list[str]:
        prefix = parts_of(rel)
        return [p for p in self.manifest if parts_of(p)[: len(prefix)] == prefix and p != rel]

    def everything(self) -> Manifest:
        return self.manifest

    def recorded(self) -> Manifest:
        return self.manifest

    def to_json(self) -> dict[str, Any]:
        return {"kind": "recorded", "manifest": manifest_to_json(self.manifest)}


@dataclass
class LookupBefore:
    """Entries read on demand from ``directory`` (see the module docstring).

    ``skip`` names directories (by their last component, at any depth) that the staging does
    not carry — the git backend cannot stage a ``.git`` — so they are not part of the before
    side either. goex's own top-level ``.goex`` never is.
    """

    directory: Path
    mark_ns: int | None = None
    skip: tuple[str, ...] = ()
    seen: Manifest = field(default_factory=dict)
    # ancestor -> whether the nearest existing one changed since the mark (see _parent_doubtful)
    _nearest: dict[str, bool] = field(default_factory=dict, repr=False)

    def entry(self, rel: str) -> Entry | None:
        if self._skipped(rel):
            return None
        try:
            with opened_dir(self.directory) as fd, parent_of(fd, rel) as (dir_fd, name):
                entry, doubtful = self._read(dir_fd, name)
        except (FileNotFoundError, PathError):
            entry, doubtful = None, self._parent_doubtful(rel)
        if rel not in self.seen or doubtful:
            if doubtful:
                self.seen[rel] = unknown_entry(entry.type if entry else EntryType.FILE)
            elif entry is not None:
                self.seen[rel] = entry
        return entry

    def _read(self, dir_fd: int, name: str) -> tuple[Entry | None, bool]:
        """The entry at name, and whether it is doubtful: changed since the mark, checked
        before and after it is read (a path replaced while it was hashed — another session's
        commit renaming over it — would otherwise pair the old file's ctime with the new file's
        contents, and a later commit would overwrite that session's change unseen)."""
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None, self._changed(os.fstat(dir_fd))
        entry = entry_at(name, dir_fd=dir_fd)
        try:
            again = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return entry, True
        moved = (info.st_ino, info.st_dev) != (again.st_ino, again.st_dev)
        return entry, moved or self._changed(info) or self._changed(again)

    def _parent_doubtful(self, rel: str) -> bool:
        """For a path that is absent: whether its nearest existing ancestor changed.

        Answers are kept per ancestor, so a chain of new directories 1,000 deep costs one stat
        per level, not one per level and per path below it."""
        if self.mark_ns is None:
            return False
        walked: list[str] = []
        current = rel
        answer = True  # not even the root exists
        while current:
            current = current.rpartition("/")[0]
            if current in self._nearest:
                answer = self._nearest[current]
                break
            walked.append(current)
            try:
                info = os.stat(
                    os.path.join(self.directory, current) if current else self.directory,
                    follow_symlinks=False,
                )
            except OSError:
                continue
            answer = self._changed(info)
            break
        for ancestor in walked:
            self._nearest[ancestor] = answer
        return answer

    def _changed(self, info: os.stat_result) -> bool:
        return self.mark_ns is not None and info.st_ctime_ns >= self.mark_ns

    def descendants(self, rel: str) -> list[str]:
        top = self.directory.joinpath(*parts_of(rel))
        try:
            if not stat.S_ISDIR(os.lstat(top).st_mode):
                return []
        except OSError:
            return []
        found = [f"{rel}/{sub}" for sub, _ in walk(top, prune=self._skip_name)]
        return [p for p in found if not self._skipped(p)]

    def everything(self) -> Manifest:
        manifest: Manifest = {}
        for rel, _ in walk(self.directory, skip=(INTERNAL_DIR,), prune=self._skip_name):
            if self._skipped(rel):
                continue
            entry = self.entry(rel)
            if entry is not None:
                manifest[rel] = entry
        return manifest

    def recorded(self) -> Manifest:
        return self.seen

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "lookup",
            "directory": str(self.directory),
            "mark_ns": self.mark_ns,
            "skip": list(self.skip),
            "seen": manifest_to_json(self.seen),
        }

    def _skip_name(self, rel: str) -> bool:
        return parts_of(rel)[-1] in self.skip

    def _skipped(self, rel: str) -> bool:
        return is_internal(rel) or any(part in self.skip for part in parts_of(rel))


def before_from_json(data: dict[str, Any]) -> Before:
    if data.get("kind") == "recorded":
        return RecordedBefore(manifest_from_json(data["manifest"]))
    if data.get("kind") == "lookup":
        mark = data.get("mark_ns")
        return LookupBefore(
            Path(data["directory"]),
            None if mark is None else int(mark),
            tuple(data.get("skip", ())),
            manifest_from_json(data.get("seen", {})),
        )
    raise PathError(f"saved staging has an unknown before-side kind {data.get('kind')!r}")


def stage_mark(location: Path) -> int:
    """The filesystem's own clock now (the ctime of a fresh file), taken before staging."""
    path = location / "mark"
    path.touch()
    return os.lstat(path).st_ctime_ns


__all__ = [
    "Before",
    "LookupBefore",
    "RecordedBefore",
    "before_from_json",
    "stage_mark",
    "unknown_entry",
]
