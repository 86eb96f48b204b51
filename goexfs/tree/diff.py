"""A file action's changes written as text: what ``goex-fs diff`` prints and what the review's
panels show. Every path and diff comes from the command, so control characters and odd names are
quoted before they reach a terminal."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.redact import Redactor
from goexfs.tree.effects import Change, ChangeKind, summary
from goexfs.tree.manifest import Entry, EntryType

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1


def printable(text: str) -> str:
    """Control characters shown as ``\\xNN``: command output, file names and diffs come from
    the command, and raw escape sequences would drive the reviewer's terminal (clear the
    screen, paint a fake report) right before the commit question."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def shown_path(rel: str) -> str:
    """A path as it can be printed: names with control characters, quotes or bytes that are not
    UTF-8 are C-quoted, as git does (``"a\\nb"``, ``"caf\\351"``)."""
    if _printable_utf8(rel):
        return rel
    raw = rel.encode("utf-8", "surrogateescape")
    out = []
    for byte in raw:
        char = chr(byte)
        if byte in (34, 92):
            out.append("\\" + char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _printable_utf8(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return rel.isprintable() and '"' not in rel and "\\" not in rel


def change_header(change: Change) -> list[str]:
    """What a diff says about a path besides its contents: kind, type, mode, symlink target."""
    path = shown_path(change.path)
    before, after = change.before, change.after
    lines = [f"diff {path}"]
    if before is None and after is not None:
        lines.append(f"new {_what(after.type)}{_mode(after)}")
    elif after is None and before is not None:
        lines.append(f"deleted {_what(before.type)}{_mode(before)}")
    elif before is not None and after is not None:
        if before.type is not after.type:
            lines.append(f"type changed: {_what(before.type)} → {_what(after.type)}")
        if after.type is not EntryType.SYMLINK and before.mode != after.mode:
            lines.append(f"old mode {before.mode:04o}")
            lines.append(f"new mode {after.mode:04o}")
    old_target, new_target = _target(before), _target(after)
    if old_target != new_target:
        if old_target is not None:
            lines.append(f"-symlink -> {shown_path(old_target)}")
        if new_target is not None:
            lines.append(f"+symlink -> {shown_path(new_target)}")
    if after is not None and after.type is EntryType.DIR and change.kind is ChangeKind.ADDED:
        lines.append("(directory)")
    return lines


def _mode(entry: Entry) -> str:
    return "" if entry.type is EntryType.SYMLINK else f" mode {entry.mode:04o}"


def _target(entry: Entry | None) -> str | None:
    return entry.target if entry is not None and entry.type is EntryType.SYMLINK else None


def _what(kind: EntryType) -> str:
    return {EntryType.FILE: "file", EntryType.DIR: "directory", EntryType.SYMLINK: "symlink"}.get(
        kind, "special file"
    )


def diff_text_plain(changes: Sequence[Change], redactor: Redactor) -> str:
    """``goex-fs diff``: every change as text — a unified diff for text files, a summary (sizes,
    hashes) for binary ones, and the header lines of ``change_header``."""
    out: list[str] = []
    for change in changes:
        out.extend(change_header(change))
        if change.binary:
            out.append(binary_summary(change))
        elif change.diff:
            out.append(_quoted_file_lines(change.path, change.diff.rstrip("\n")))
    return redactor.redact("\n".join(out) + ("\n" if out else ""))


def _quoted_file_lines(rel: str, diff: str) -> str:
    """The ``---``/``+++`` lines of a diff with an odd path quoted, so each stays one line."""
    if shown_path(rel) == rel:
        return diff
    for side in ("a", "b"):
        diff = diff.replace(f" {side}/{rel}\n", f" {shown_path(f'{side}/{rel}')}\n", 1)
    return diff


def binary_summary(change: Change) -> str:
    def side(entry: Entry | None) -> str:
        if entry is None or entry.type is not EntryType.FILE:
            return "none"
        return f"{entry.size} bytes, sha256 {(entry.sha256 or '')[:12]}"

    return f"binary file differs: {side(change.before)} → {side(change.after)}"


def stat_text(changes: Sequence[Change], redactor: Redactor) -> str:
    """``goex-fs diff --stat``: one line per change, then the totals by kind."""
    lines = [
        f"{change.kind.value:9} {change.type.value:8} {sizes(change):>17}  "
        f"{shown_path(change.path)}"
        for change in changes
    ]
    counts = summary(changes)
    lines.append(
        f"{len(changes)} change(s)"
        + ("" if not counts else ": " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    )
    return redactor.redact("\n".join(lines) + "\n")


def sizes(change: Change) -> str:
    """A file's size, or ``before → after`` when it changed."""
    before, after = change.before_size, change.after_size
    if change.type is not EntryType.FILE:
        return ""
    if before is None or after is None or before == after:
        return str(after if after is not None else before)
    return f"{before} → {after}"
