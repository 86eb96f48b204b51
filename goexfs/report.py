"""How a file action is shown: a rich table of changes and the diffs, or one JSON object.

Everything here is built from redacted text: the JSON from the (already redacted) journaled
effects, the rich renderables through the ``Redactor`` passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core.action import Action, Status
from core.redact import Redactor
from goexfs.sandbox.bwrap import SandboxResult
from goexfs.session import FsRun
from goexfs.tree.effects import Change, ChangeKind, summary
from goexfs.tree.manifest import Entry, EntryType

KIND_STYLE = {
    ChangeKind.ADDED: "green",
    ChangeKind.MODIFIED: "yellow",
    ChangeKind.DELETED: "red",
    ChangeKind.MODE: "cyan",
    ChangeKind.SYMLINK: "cyan",
    ChangeKind.TYPE: "magenta",
}


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1


def printable(text: str) -> str:
    """Control characters shown as ``\\xNN``: command output, file names and diffs come from
    the command, and raw escape sequences would drive the reviewer's terminal (clear the
    screen, paint a fake report) right before the commit question."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def changes_table(changes: Sequence[Change], redactor: Redactor) -> RenderableType:
    if not changes:
        return Text("changes: none — the command changed no files", style="dim")
    table = Table(title=f"changes ({len(changes)})", title_justify="left", show_edge=False)
    table.add_column("change")
    table.add_column("path", overflow="fold")
    table.add_column("type")
    table.add_column("size", justify="right")
    table.add_column("mode")
    for change in changes:
        table.add_row(
            Text(change.kind.value, style=KIND_STYLE[change.kind]),
            printable(redactor.redact(shown_path(change.path))),
            change.type.value,
            _sizes(change),
            _modes(change),
        )
    return table


def _sizes(change: Change) -> str:
    before, after = change.before_size, change.after_size
    if change.type is not EntryType.FILE:
        return ""
    if before is None or after is None or before == after:
        return str(after if after is not None else before)
    return f"{before} → {after}"


def _modes(change: Change) -> str:
    before = None if change.before is None else f"{change.before.mode:04o}"
    after = None if change.after is None else f"{change.after.mode:04o}"
    if before and after and before != after:
        return f"{before} → {after}"
    return after or before or ""


def diff_text(diff: str, redactor: Redactor) -> Text:
    text = Text()
    for line in printable(redactor.redact(diff)).splitlines(keepends=True):
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        text.append(line, style=style)
    text.rstrip()
    return text


def diffs(changes: Sequence[Change], redactor: Redactor) -> RenderableType:
    panels: list[RenderableType] = []
    for change in changes:
        if change.diff:
            panels.append(
                Panel(
                    diff_text(change.diff, redactor),
                    title=printable(redactor.redact(shown_path(change.path))),
                    title_align="left",
                )
            )
        elif change.after is not None and change.after.type is EntryType.SYMLINK:
            target = shown_path(change.after.target or "")
            panels.append(
                Text(printable(f"{shown_path(change.path)} -> {redactor.redact(target)}"))
            )
    return Group(*panels)


def output_section(result: SandboxResult) -> RenderableType:
    """The command's exit status and (already redacted) output."""
    style = "green" if result.exit_status == 0 else "red"
    head = Text("command exit status: ")
    head.append(str(result.exit_status), style=style)
    head.append(f"  (sandbox: {result.sandbox})", style="dim")
    parts: list[RenderableType] = [head]
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text.strip():
            shown = Text(printable(text.rstrip("\n")))
            parts.append(Panel(shown, title=name, title_align="left"))
    return Group(*parts)


def sections(run: FsRun, redactor: Redactor) -> list[RenderableType]:
    return [output_section(run.result), changes_table(run.changes, redactor)] + (
        [diffs(run.changes, redactor)] if any(c.diff for c in run.changes) else []
    )


# The change kinds as the JSON report names them (issue 5's interface).
JSON_KINDS = {
    ChangeKind.MODE.value: "mode_changed",
    ChangeKind.TYPE.value: "type_changed",
    ChangeKind.SYMLINK.value: "symlink_changed",
}


def change_json(change: dict[str, Any]) -> dict[str, Any]:
    """A journaled change as the JSON report shows it: the interface's ``path``, ``kind``,
    ``old_mode``, ``new_mode``, ``size``, ``binary``, then the full entries and the diff."""
    before, after = change.get("before"), change.get("after")
    return {
        "path": change["path"],
        "kind": JSON_KINDS.get(change["kind"], change["kind"]),
        "old_mode": None if before is None else before["mode"],
        "new_mode": None if after is None else after["mode"],
        "size": (after or before or {}).get("size"),
        "binary": change.get("binary", False),
        **{k: v for k, v in change.items() if k not in ("path", "kind", "binary")},
    }


def report_json(run: FsRun) -> dict[str, Any]:
    """The one JSON object ``goex-fs run --format json`` prints."""
    action = run.action
    effects = run.effects
    output = effects["output"]
    data: dict[str, Any] = {
        "id": action.id,
        "status": action.status.value,
        "backend": (effects.get("stage") or {}).get("backend"),
        "target": action.target,
        "prompt": action.prompt,
        "command": action.code,
        "exit_code": effects["exit_status"],
        "stdout": output["stdout"],
        "stderr": output["stderr"],
        "exit_status": effects["exit_status"],
        "output": output,
        "summary": effects["summary"],
        "changes": [change_json(c) for c in effects["changes"]],
        "violations": effects["violations"],
        "decision": action.decision.to_json() if action.decision else None,
        "digest": action.digest,
    }
    if run.undo is not None:
        data["undo"] = str(run.undo)
    if action.status is Status.STAGED:
        data["staged"] = str(run.staged.location)
    return data


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
            out.append(_binary_summary(change))
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


def _binary_summary(change: Change) -> str:
    def side(entry: Entry | None) -> str:
        if entry is None or entry.type is not EntryType.FILE:
            return "none"
        return f"{entry.size} bytes, sha256 {(entry.sha256 or '')[:12]}"

    return f"binary file differs: {side(change.before)} → {side(change.after)}"


def stat_text(changes: Sequence[Change], redactor: Redactor) -> str:
    """``goex-fs diff --stat``: one line per change, then the totals by kind."""
    lines = [
        f"{change.kind.value:9} {change.type.value:8} {_sizes(change):>17}  "
        f"{shown_path(change.path)}"
        for change in changes
    ]
    counts = summary(changes)
    lines.append(
        f"{len(changes)} change(s)"
        + ("" if not counts else ": " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    )
    return redactor.redact("\n".join(lines) + "\n")


def kept_table(rows: Sequence[tuple[Action, dict[str, Any]]], redactor: Redactor) -> RenderableType:
    """``goex-fs list``: the kept actions, newest first."""
    if not rows:
        return Text("no actions are kept staged", style="dim")
    table = Table(title=f"kept staged ({len(rows)})", title_justify="left", show_edge=False)
    for column in ("id", "staged at", "changes", "why kept", "command"):
        table.add_column(column, overflow="fold" if column == "command" else "ellipsis")
    for action, effects in rows:
        counts = effects.get("summary") or {}
        decision = action.decision
        table.add_row(
            action.id,
            action.history[0][1][:19].replace("T", " "),
            ", ".join(f"{n} {k}" for k, n in counts.items()) or "none",
            decision.reason if decision else "",
            redactor.redact(action.code),
        )
    return table


def kept_json(action: Action, effects: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": action.id,
        "status": action.status.value,
        "command": action.code,
        "prompt": action.prompt,
        "staged_at": action.history[0][1],
        "summary": effects.get("summary") or {},
        "changes": [c["path"] for c in effects.get("changes", [])],
        "reason": action.decision.reason if action.decision else None,
        "staged": (effects.get("stage") or {}).get("location"),
    }
