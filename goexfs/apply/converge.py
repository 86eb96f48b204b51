"""Bring paths of the real root to a wanted state, from wherever they are now.

Commit, undo and recover all do the same thing: make a set of paths in the real root be
exactly what a list of ``Wanted`` says — a file with these bytes and this mode, a directory with
this mode, a symlink to this target, or nothing — taking file contents from a source tree (the
staged copy, or an action's pre-images). ``converge`` does it so that it can be run again from
any state it was interrupted in, and end in the same place:

1. leftover temporary files of this action (their names carry the action's id, see
   ``tmp_prefix``) are removed from every directory it touches;
2. paths that must go, or must become another type, are removed, deepest first;
3. directories are created (0700 at first), symlinks made and files written, parents first —
   a file through a temporary file in the same directory, fsynced, renamed over the old one; a
   symlink made under a temporary name and renamed into place; a path that already is what is
   wanted is left as it is (only its mode corrected);
4. directory modes are set last, deepest first, and every touched directory is fsynced.

Every path is walked from a descriptor of the root without following symlinks
(``goexfs.apply.safefs``), so a converge never writes outside the root or through a symlink.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import ConflictError, PathError
from goexfs.apply.faults import fault_point
from goexfs.apply.safefs import (
    TMP_SUFFIX,
    fsync_dir,
    lookup,
    make_symlink,
    open_source,
    opened_subdir,
    parent_of,
    remove,
    set_mode,
    write_file,
)
from goexfs.tree.effects import Change
from goexfs.tree.manifest import Entry, EntryType, type_of
from goexfs.tree.paths import parts_of, sort_key


@dataclass(frozen=True)
class Wanted:
    """What one path must become: ``entry`` (None: absent), with a file's bytes at ``source``
    (a path relative to the source tree; None when only the mode may need fixing)."""

    path: str
    entry: Entry | None
    source: str | None = None


def tmp_prefix(action_id: str) -> str:
    """The name prefix of an action's temporary files: recovery removes exactly these."""
    return f".goex-{action_id}-"


def forward(changes: Iterable[Change]) -> list[Wanted]:
    """What applies changes: every path becomes its ``after``, bytes from the staged tree."""
    return [Wanted(c.path, c.after, c.path if _is_file(c.after) else None) for c in changes]


def backward(changes: Iterable[Change], preimages: dict[str, str]) -> list[Wanted]:
    """What reverts changes: every path becomes its ``before``, bytes from pre-images."""
    return [Wanted(c.path, c.before, preimages.get(c.path)) for c in changes]


def _is_file(entry: Entry | None) -> bool:
    return entry is not None and entry.type is EntryType.FILE


def converge(
    real_fd: int,
    source_fd: int | None,
    targets: Sequence[Wanted],
    *,
    prefix: str,
    force: bool = False,
) -> list[str]:
    """Make every target path what it must be (see the module docstring).

    A directory that must go but holds entries no target names, or a file whose bytes are
    needed but were never kept, is a ConflictError — or, with ``force``, left as it is; the
    paths left so are returned.
    """
    ordered = sorted(targets, key=lambda t: sort_key(t.path))
    touched = {_parent(t.path) for t in ordered}
    _remove_leftovers(real_fd, touched | {t.path for t in ordered}, prefix)
    left = _removals(real_fd, ordered, force=force)
    dir_modes: list[tuple[str, int]] = []
    for target in ordered:
        if target.entry is None or _under(target.path, left):
            continue
        try:
            done = _put(real_fd, source_fd, target, prefix)
        except PathError:
            if not force:
                raise
            left.append(target.path)  # a parent is now a symlink or a file: never through it
            continue
        if not done:
            if not force:
                raise ConflictError(
                    f"{target.path} no longer holds the contents goex can restore, and no copy "
                    "of them was kept",
                    path=target.path,
                )
            left.append(target.path)
            continue
        if target.entry.type is EntryType.DIR:
            dir_modes.append((target.path, target.entry.mode))
    for rel, mode in reversed(dir_modes):
        with parent_of(real_fd, rel) as (fd, name):
            fault_point("apply")
            set_mode(fd, name, mode)
    for rel in sorted(touched, key=sort_key, reverse=True):
        try:
            with opened_subdir(real_fd, rel) as fd:
                fsync_dir(fd)
        except (PathError, FileNotFoundError):
            continue  # no longer a directory: removed or replaced
    return left


def _removals(real_fd: int, ordered: Sequence[Wanted], *, force: bool) -> list[str]:
    left: list[str] = []
    for target in reversed(ordered):
        actual = _type_at(real_fd, target.path)
        wanted = None if target.entry is None else target.entry.type
        if actual is None or actual is wanted:
            continue
        with parent_of(real_fd, target.path) as (fd, name):
            fault_point("apply")
            try:
                remove(fd, name, is_dir=actual is EntryType.DIR)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                if not force:
                    raise ConflictError(
                        f"{target.path} holds entries goex did not put there, so it was not "
                        "removed",
                        path=target.path,
                    ) from exc
                left.append(target.path)
    return left


def _put(real_fd: int, source_fd: int | None, target: Wanted, prefix: str) -> bool:
    """Make one path what it must be; False when a file's bytes are needed and not kept."""
    entry = target.entry
    assert entry is not None
    with parent_of(real_fd, target.path) as (fd, name):
        if entry.type is EntryType.DIR:
            if _type_at_name(fd, name) is None:
                fault_point("apply")
                os.mkdir(name, 0o700, dir_fd=fd)
            return True
        if entry.type is EntryType.SYMLINK:
            assert entry.target is not None
            current = _link_at(fd, name)
            if current != entry.target:
                fault_point("apply")
                make_symlink(fd, name, entry.target, tmp_prefix=prefix)
            return True
        actual = lookup(fd, name)
        if actual is not None and actual.same_content(entry):
            if actual.mode != entry.mode:
                fault_point("apply")
                set_mode(fd, name, entry.mode)
            return True
        if source_fd is None or target.source is None:
            return False
        source = open_source(source_fd, target.source)
        try:
            fault_point("apply")
            write_file(
                fd,
                name,
                source,
                mode=entry.mode,
                mtime_ns=entry.mtime_ns,
                sha256=entry.sha256,
                where=target.path,
                tmp_prefix=prefix,
            )
        finally:
            os.close(source)
    return True


def _remove_leftovers(real_fd: int, directories: Iterable[str], prefix: str) -> None:
    for rel in directories:
        try:
            with opened_subdir(real_fd, rel) as fd:
                for name in os.listdir(fd):
                    if name.startswith(prefix) and name.endswith(TMP_SUFFIX):
                        remove(fd, name, is_dir=False)
        except (PathError, FileNotFoundError, NotADirectoryError):
            continue  # not a directory (yet): nothing of ours can be in it


def _type_at(real_fd: int, rel: str) -> EntryType | None:
    """What rel is, without reading it; None when it (or a parent) is absent or not a dir."""
    try:
        with parent_of(real_fd, rel) as (fd, name):
            return _type_at_name(fd, name)
    except (FileNotFoundError, PathError):
        return None


def _type_at_name(dir_fd: int, name: str) -> EntryType | None:
    try:
        return type_of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return None


def _link_at(dir_fd: int, name: str) -> str | None:
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError:
        return None


def _under(rel: str, roots: Sequence[str]) -> bool:
    return any(rel == root or rel.startswith(root + "/") for root in roots)


def _parent(rel: str) -> str:
    return "/".join(parts_of(rel)[:-1])
