"""What an action did to a tree: one ``Change`` per path, with a bounded text diff.

Changes are *measured* (invariant 4): ``compare`` diffs two manifests — the real root at stage
time and the staged tree after the run — so the kind of a change never depends on how the
command was written. A directory that was added or deleted is listed together with each entry
inside it, parents before children.

Kinds:

* ``added`` / ``deleted`` — the path exists only after / only before;
* ``modified`` — a file's contents changed (its mode may have changed too);
* ``mode`` — only the permission bits changed;
* ``symlink`` — a symlink now points somewhere else;
* ``type`` — the path is now another kind of thing (a file became a directory, ...).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from goexfs.tree.manifest import Entry, EntryType
from goexfs.tree.paths import DEFAULT_SECRETS, SecretPaths, sort_key

MAX_DIFF_LINES = 400
MAX_DIFF_CHARS = 32_000
MAX_TOTAL_DIFF_CHARS = 200_000
BINARY_SNIFF = 8192


class ChangeKind(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    MODE = "mode"
    SYMLINK = "symlink"
    TYPE = "type"


@dataclass(frozen=True)
class Change:
    """One path the action changed, with its entry before and after (None where absent)."""

    path: str
    kind: ChangeKind
    before: Entry | None
    after: Entry | None
    binary: bool = False
    diff: str | None = None

    @property
    def type(self) -> EntryType:
        """What the path is after the action (what it was, for a deletion)."""
        entry = self.after or self.before
        assert entry is not None
        return entry.type

    @property
    def before_size(self) -> int | None:
        return None if self.before is None else self.before.size

    @property
    def after_size(self) -> int | None:
        return None if self.after is None else self.after.size

    @property
    def removes(self) -> bool:
        """Whether applying this change removes something that exists in the real tree."""
        return self.kind in (ChangeKind.DELETED, ChangeKind.TYPE)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind.value,
            "type": self.type.value,
            "before": None if self.before is None else self.before.to_json(),
            "after": None if self.after is None else self.after.to_json(),
            "binary": self.binary,
            "diff": self.diff,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(
            path=str(data["path"]),
            kind=ChangeKind(data["kind"]),
            before=None if data.get("before") is None else Entry.from_json(data["before"]),
            after=None if data.get("after") is None else Entry.from_json(data["after"]),
            binary=bool(data.get("binary", False)),
            diff=data.get("diff"),
        )


def compare(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> list[Change]:
    """Every difference between two manifests, parents before children."""
    changes: list[Change] = []
    for path in sorted(before.keys() | after.keys(), key=sort_key):
        old, new = before.get(path), after.get(path)
        kind = _kind(old, new)
        if kind is not None:
            changes.append(Change(path, kind, old, new))
    return changes


def _kind(old: Entry | None, new: Entry | None) -> ChangeKind | None:
    if old is None and new is None:  # pragma: no cover - the union of keys rules it out
        return None
    if old is None:
        return ChangeKind.ADDED
    if new is None:
        # fifos, sockets and devices are never copied into a staged tree: not a deletion
        return None if old.type is EntryType.OTHER else ChangeKind.DELETED
    if old.type is not new.type:
        return ChangeKind.TYPE
    if not old.same_content(new):
        return ChangeKind.SYMLINK if new.type is EntryType.SYMLINK else ChangeKind.MODIFIED
    if new.type is not EntryType.SYMLINK and old.mode != new.mode:
        return ChangeKind.MODE
    return None


def is_binary(data: bytes) -> bool:
    head = data[:BINARY_SNIFF]
    if b"\0" in head:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def describe(
    change: Change,
    before: bytes | None,
    after: bytes | None,
    secrets: SecretPaths = DEFAULT_SECRETS,
) -> Change:
    """The change with its binary flag and a bounded unified diff of the file contents.

    ``before`` / ``after`` are the file's bytes on each side (None where it is not a file).
    Secret-looking files (``.env``, keys, ...) get a note instead of their contents.
    """
    if before is None and after is None:
        return change
    binary = any(data is not None and is_binary(data) for data in (before, after))
    if secrets.covers(change.path):
        return replace(change, binary=binary, diff="(contents of a secret-looking file not shown)")
    if binary:
        return replace(change, binary=True, diff=f"binary file {change.path} differs")
    old = (before or b"").decode("utf-8").splitlines(keepends=True)
    new = (after or b"").decode("utf-8").splitlines(keepends=True)
    lines = difflib.unified_diff(
        old,
        new,
        fromfile="/dev/null" if before is None else f"a/{change.path}",
        tofile="/dev/null" if after is None else f"b/{change.path}",
    )
    return replace(change, diff=_bounded(lines))


def _bounded(lines: Any) -> str:
    out: list[str] = []
    size = 0
    for count, line in enumerate(lines):
        if count >= MAX_DIFF_LINES or size + len(line) > MAX_DIFF_CHARS:
            out.append(f"... (diff truncated after {count} lines)\n")
            break
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
        size += len(line)
    return "".join(out)


def limit_total(changes: Sequence[Change], budget: int = MAX_TOTAL_DIFF_CHARS) -> list[Change]:
    """Drop diffs once their total length passes the budget, saying so in their place."""
    out: list[Change] = []
    used = 0
    for change in changes:
        if change.diff is not None and used + len(change.diff) > budget:
            out.append(replace(change, diff="(diff left out: the report's diff budget is spent)"))
            continue
        used += len(change.diff or "")
        out.append(change)
    return out


def summary(changes: Sequence[Change]) -> dict[str, int]:
    """How many changes of each kind, for one-line reports."""
    counts = {kind.value: 0 for kind in ChangeKind}
    for change in changes:
        counts[change.kind.value] += 1
    return {kind: n for kind, n in counts.items() if n}
