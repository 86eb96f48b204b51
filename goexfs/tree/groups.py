"""Readable reviews of big changes: generated trees collapsed, ignored paths set apart.

* **Generated trees** (``generated``): a virtualenv (a directory holding ``pyvenv.cfg``), a
  cache that says so (``CACHEDIR.TAG`` with its signature, the cache directory tagging
  convention), or a directory named like one (``node_modules``, ``__pycache__``, ``.tox``,
  ``.mypy_cache``, ...). The paths added or deleted in and under one are shown as one line
  (``GeneratedTree``: counts by kind and bytes); an edit of a path that was there before is
  always shown on its own, with its diff. The journal, the JSON report, policy and ``goex-fs
  diff`` hold every change.
* **Ignored paths** (``ignored``): those the project's ``.gitignore`` files ignore, asked of git
  itself (``git check-ignore --no-index``, with an empty repository of its own, so it works in a
  directory that is not a repository). The rules are read from the real directory, never from
  the staged tree: an action cannot make its own changes look ignored by writing a
  ``.gitignore``. ``without_ignored`` leaves them out of a commit (``--exclude-ignored``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goexfs.tree.diff import shown_path
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import EntryType
from goexfs.tree.paths import parents_of

GENERATED_NAMES = frozenset(
    {
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".gradle",
        ".next",
        ".parcel-cache",
        ".eggs",
    }
)
MARKERS = {"pyvenv.cfg": "a virtualenv", "CACHEDIR.TAG": "a cache (CACHEDIR.TAG)"}
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"  # bford.info/cachedir
APART = (ChangeKind.ADDED, ChangeKind.DELETED)  # what may be set apart: never an edit


@dataclass(frozen=True)
class GeneratedTree:
    """The changes in and under one generated directory, as one line of a review."""

    path: str
    why: str
    kinds: Mapping[str, int]
    files: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "why": self.why,
            "kinds": dict(self.kinds),
            "files": self.files,
            "bytes": self.bytes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GeneratedTree:
        return cls(data["path"], data["why"], data["kinds"], data["files"], data["bytes"])

    def describe(self) -> str:
        """What it holds, in a few words (the review puts its path first)."""
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.kinds.items()))
        return f"({self.why}): {counts}; {self.files} files, {_size(self.bytes)}"


def generated(changes: Sequence[Change], root: Path, tree: Path) -> list[GeneratedTree]:
    """The generated directories the changes lie in (outermost only), each as a
    ``GeneratedTree``. A marker file counts where the directory was already one in the real
    directory (``root``), or in the staged ``tree`` for a directory the action made: an action
    cannot hide its edits of a directory it found by dropping a ``CACHEDIR.TAG`` into it."""
    made = {c.path for c in changes if c.kind is ChangeKind.ADDED and c.type is EntryType.DIR}
    why_of: dict[str, str | None] = {}

    def why(directory: str) -> str | None:
        if directory not in why_of:
            name = directory.rpartition("/")[2]
            where = (tree if directory in made else root) / directory
            found = next(
                (what for marker, what in MARKERS.items() if _is_marker(where / marker)), None
            )
            why_of[directory] = found or ("generated" if name in GENERATED_NAMES else None)
        return why_of[directory]

    members: dict[str, list[Change]] = {}
    reasons: dict[str, str] = {}
    for change in changes:
        if change.kind not in APART:
            continue
        candidates = [*parents_of(change.path), change.path]  # outermost first
        for directory in candidates:
            if directory == change.path and change.type is not EntryType.DIR:
                break
            if (reason := why(directory)) is not None:
                members.setdefault(directory, []).append(change)
                reasons[directory] = reason
                break
    return [_group(path, reasons[path], members[path]) for path in sorted(members)]


def ungrouped(changes: Sequence[Change], groups: Iterable[GeneratedTree]) -> list[Change]:
    """The changes that lie in none of the groups (and every edit: only paths added or
    deleted are grouped)."""
    tops = {group.path for group in groups}
    return [
        c
        for c in changes
        if c.kind not in APART or not tops.intersection([c.path, *parents_of(c.path)])
    ]


def ignored(root: Path, changes: Sequence[Change]) -> set[str] | None:
    """The changed paths the real directory's ``.gitignore`` files ignore: none without git;
    None when git could not tell. Each path is asked as ``./path`` from the directory itself,
    so that git reads none of them as a pathspec (``:(top)x``)."""
    git = shutil.which("git")
    if not changes or git is None:
        return set()
    asked = {"./" + c.path + ("/" if c.type is EntryType.DIR else ""): c.path for c in changes}
    try:
        with tempfile.TemporaryDirectory(prefix="goex-ignore-") as empty:
            subprocess.run(
                [git, "init", "-q", "--bare", empty], check=True, capture_output=True, timeout=30
            )
            found = subprocess.run(
                [
                    git,
                    "--git-dir",
                    empty,
                    "--work-tree",
                    ".",
                    "-c",
                    "core.excludesFile=",
                    "check-ignore",
                    "--no-index",
                    "--stdin",
                    "-z",
                ],
                input=b"\0".join(os.fsencode(p) for p in asked),
                capture_output=True,
                check=False,
                cwd=root,
                timeout=60,
            )
    except (OSError, subprocess.SubprocessError):
        return None
    if found.returncode not in (0, 1):  # 1: nothing ignored
        return None
    return {asked[p] for p in map(os.fsdecode, found.stdout.split(b"\0")) if p in asked}


@dataclass(frozen=True)
class Apart:
    """A recorded action's changes as a review shows them: ``one_by_one`` get a row (and a
    diff) each; ``sections`` are (title, lines) for the generated trees and the ignored paths.
    Paths in the lines are as ``shown_path`` prints them."""

    one_by_one: list[Change]
    sections: list[tuple[str, list[str]]]


def set_apart(changes: Sequence[Change], recorded: Mapping[str, Any]) -> Apart:
    """What a review of the recorded effects shows one by one, and what it sets apart."""
    groups = [GeneratedTree.from_json(g) for g in recorded.get("generated", [])]
    ignored = set(recorded.get("ignored", []))
    left_out = set(recorded.get("left_out", []))
    sections: list[tuple[str, list[str]]] = []
    if groups:
        lines = [
            f"{shown_path(g.path)}/  {g.describe()}"
            + ("; left out of the commit" if g.path in left_out else "")
            for g in groups
        ]
        sections.append(("generated trees, collapsed (goex-fs diff lists every path):", lines))
    outside = ungrouped(changes, groups)
    rest = [c for c in outside if c.path in ignored and c.kind in APART]
    if rest:
        fate = (
            "left out of the commit (--exclude-ignored)"
            if any(c.path in left_out for c in rest)
            else "committed with the rest (--exclude-ignored leaves them out)"
        )
        tops = Counter(next((p for p in parents_of(c.path) if p in ignored), c.path) for c in rest)
        lines = [f"{shown_path(top)}  ({n} change(s))" for top, n in sorted(tops.items())]
        sections.append((f"ignored by .gitignore, {fate}:", lines))
    one_by_one = [c for c in outside if c.path not in ignored or c.kind not in APART]
    if edited := [c.path for c in one_by_one if c.path in left_out]:
        lines = [f"{shown_path(path)}  (shown above)" for path in edited]
        sections.append(("edits left out of the commit, ignored by .gitignore:", lines))
    return Apart(one_by_one, sections)


def without_ignored(changes: Sequence[Change], left_out: set[str]) -> list[Change]:
    """The changes to commit when ignored paths are left out: every change not in
    ``left_out``, and those under a directory the commit removes or replaces (it must be
    emptied whole)."""
    removed = {
        c.path
        for c in changes
        if c.path not in left_out
        and c.before is not None
        and c.before.type is EntryType.DIR
        and (c.after is None or c.after.type is not EntryType.DIR)
    }
    return [
        c for c in changes if c.path not in left_out or removed.intersection(parents_of(c.path))
    ]


def _group(path: str, why: str, changes: Sequence[Change]) -> GeneratedTree:
    kinds = Counter(c.kind.value for c in changes)
    files = [c for c in changes if c.type is EntryType.FILE]
    size = sum((c.after_size or 0) if c.after is not None else (c.before_size or 0) for c in files)
    return GeneratedTree(path, why, dict(kinds), len(files), size)


def _is_marker(path: Path) -> bool:
    """A regular file (a CACHEDIR.TAG beginning with the convention's signature)."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        if path.name != "CACHEDIR.TAG":
            return True
        with path.open("rb") as handle:
            return handle.read(len(CACHEDIR_SIGNATURE)) == CACHEDIR_SIGNATURE
    except OSError:
        return False


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    scaled, unit = next(
        (n / 1000**k, u) for k, u in ((3, "GB"), (2, "MB"), (1, "kB")) if n >= 1000**k
    )
    return f"{scaled:.1f} {unit}"
