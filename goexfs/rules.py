"""Policy rules over the measured changes of a file action (see ``core.policy``).

Each rule reads the list of ``Change`` records and the ``[policy]`` settings and yields one
message per thing it objects to; ``RULES`` is the tuple ``core.policy.evaluate`` runs.

=================== ======== =============================================================
rule                severity objects to
=================== ======== =============================================================
fs.max-files        error    more changed paths than ``max_files_changed``
fs.max-bytes        error    more bytes of added or rewritten files than ``max_bytes_written``
fs.deletes          error    deleting (or replacing) a path when ``allow_file_deletes`` is off
fs.denied-path      error    changing a path that matches a ``deny_paths`` glob
fs.allowed-paths    error    changing a path outside ``allow_paths`` (when that is set)
fs.special-file     error    creating a fifo, socket or device (goex never commits one)
fs.unsafe-mode      error    a file gaining setuid, setgid or world-write bits
fs.git-hooks        error    changing ``.git/hooks`` or ``.git/config`` (code git runs later)
fs.review-deletes   review   deleting or replacing a path: a person must approve it
fs.review-binary    review   adding or changing a binary file (or one too large to diff)
fs.command-failed   review   a command that exited non-zero (its change may be half done)
fs.executable       warning  adding or changing an executable file (any x bit)
fs.symlink-outside  warning  a new or changed symlink that points outside the project
=================== ======== =============================================================

``fs.command-failed`` reads the command's exit status (``COMMAND_RULES``), the others the
changes. ``review`` findings (``core.policy.Severity.REVIEW``) keep the action staged in the
automatic decide modes (``commit``, ``policy``, ``llm``; exit 5) until a person commits it;
``[policy] disable`` switches a rule off and ``[policy.severity]`` changes its level.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence

from core.policy import PolicySettings, Severity, rule
from goexfs.backends.staging import MAX_DIFF_FILE
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.manifest import EntryType
from goexfs.tree.paths import matching, parts_of

EXEC_BITS = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
MAX_MESSAGES = 20  # per rule; the rest are summarised in one more message

Changes = Sequence[Change]


def _capped(messages: list[str]) -> Iterator[str]:
    yield from messages[:MAX_MESSAGES]
    if len(messages) > MAX_MESSAGES:
        yield f"... and {len(messages) - MAX_MESSAGES} more"


@rule("fs.max-files")
def max_files(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    limit = settings.max_files_changed
    if limit is not None and len(changes) > limit:
        yield f"{len(changes)} paths changed, more than max_files_changed = {limit}"


@rule("fs.deletes")
def deletes(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    if settings.allow_file_deletes:
        return
    found = [
        f"{'deletes' if c.kind is ChangeKind.DELETED else 'replaces'} {c.path} "
        "(allow_file_deletes = false)"
        for c in changes
        if c.removes
    ]
    yield from _capped(found)


@rule("fs.max-bytes")
def max_bytes(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    limit = settings.max_bytes_written
    written = sum(
        c.after.size
        for c in changes
        if c.after is not None
        and c.after.type is EntryType.FILE
        and c.kind in (ChangeKind.ADDED, ChangeKind.MODIFIED, ChangeKind.TYPE)
    )
    if limit is not None and written > limit:
        yield f"{written} bytes written, more than max_bytes_written = {limit}"


@rule("fs.allowed-paths")
def allowed_paths(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    if not settings.allow_paths:
        return
    found = [
        f"{c.kind.value} {c.path}: outside allow_paths"
        for c in changes
        if matching(settings.allow_paths, c.path) is None
    ]
    yield from _capped(found)


GIT_RUNS = ("**/.git/hooks/**", "**/.git/config")


@rule("fs.git-hooks")
def git_hooks(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    """Git hooks (and core.hooksPath in .git/config) run outside any sandbox, later."""
    found = [
        f"{c.kind.value} {c.path}: git runs this outside goex's sandbox"
        for c in changes
        if matching(GIT_RUNS, c.path) is not None
    ]
    yield from _capped(found)


@rule("fs.review-deletes", Severity.REVIEW)
def review_deletes(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    if not settings.allow_file_deletes:
        return  # fs.deletes refuses them outright
    found = [
        f"{'deletes' if c.kind is ChangeKind.DELETED else 'replaces'} {c.path}"
        for c in changes
        if c.removes
    ]
    yield from _capped(found)


@rule("fs.review-binary", Severity.REVIEW)
def review_binary(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    found = []
    for change in changes:
        after = change.after
        if after is None or change.kind is ChangeKind.MODE:
            continue
        if change.binary:
            found.append(f"{change.kind.value} binary file {change.path}")
        elif after.type is EntryType.FILE and after.size > MAX_DIFF_FILE:
            # too large to be read for a diff, so never sniffed: a person looks at it
            found.append(f"{change.kind.value} large file {change.path} ({after.size} bytes)")
    yield from _capped(found)


@rule("fs.executable", Severity.WARNING)
def executable(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    found = []
    for change in changes:
        after = change.after
        if after is None or after.type is not EntryType.FILE or not after.mode & EXEC_BITS:
            continue
        found.append(f"{change.kind.value} executable {change.path} ({after.mode:04o})")
    yield from _capped(found)


@rule("fs.denied-path")
def denied_path(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    found = []
    for change in changes:
        pattern = matching(settings.deny_paths, change.path)
        if pattern is not None:
            found.append(f"{change.kind.value} {change.path}: matches denied path {pattern!r}")
    yield from _capped(found)


@rule("fs.special-file")
def special_file(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    found = [
        f"{c.path} is a fifo, socket or device, which goex cannot commit"
        for c in changes
        if c.after is not None and c.after.type is EntryType.OTHER
    ]
    yield from _capped(found)


@rule("fs.unsafe-mode")
def unsafe_mode(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    """Setuid, setgid or world-writable files: committed by root, they would outlive the
    sandbox's dropped privileges."""
    found = []
    for change in changes:
        after = change.after
        if after is None or after.type is EntryType.SYMLINK:
            continue
        before_mode = change.before.mode if change.before is not None else 0
        risky = after.mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH) & ~before_mode
        if risky:
            found.append(f"{change.path} gains setuid, setgid or world-write bits ({risky:04o})")
    yield from _capped(found)


@rule("fs.symlink-outside", Severity.WARNING)
def symlink_outside(changes: Changes, settings: PolicySettings) -> Iterator[str]:
    found = []
    for change in changes:
        after = change.after
        if after is None or after.type is not EntryType.SYMLINK or after.target is None:
            continue
        if points_outside(change.path, after.target):
            found.append(f"symlink {change.path} points outside the project ({after.target})")
    yield from _capped(found)


def points_outside(rel: str, target: str) -> bool:
    """Whether a symlink at rel with this target leads outside the project (lexically)."""
    if os.path.isabs(target):
        return True
    parts = list(parts_of(rel)[:-1])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return True
            parts.pop()
        else:
            parts.append(part)
    return False


RULES = (
    max_files,
    max_bytes,
    deletes,
    denied_path,
    allowed_paths,
    special_file,
    unsafe_mode,
    git_hooks,
    review_deletes,
    review_binary,
    executable,
    symlink_outside,
)


@rule("fs.command-failed", Severity.REVIEW)
def command_failed(exit_status: int, settings: PolicySettings) -> Iterator[str]:
    if exit_status != 0:
        yield f"the command exited with status {exit_status}: what it changed may be half done"


COMMAND_RULES = (command_failed,)
