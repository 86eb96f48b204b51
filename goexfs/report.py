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

from core.action import Status
from core.redact import Redactor
from goexfs.changes import Change, ChangeKind
from goexfs.manifest import EntryType
from goexfs.sandbox import SandboxResult
from goexfs.session import FsRun

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
            printable(redactor.redact(change.path)),
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
                    title=printable(redactor.redact(change.path)),
                    title_align="left",
                )
            )
        elif change.after is not None and change.after.type is EntryType.SYMLINK:
            link = f"{change.path} -> {change.after.target or ''}"
            panels.append(Text(printable(redactor.redact(link))))
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


def report_json(run: FsRun) -> dict[str, Any]:
    """The one JSON object ``goex-fs run --format json`` prints."""
    action = run.action
    effects = run.effects
    data: dict[str, Any] = {
        "id": action.id,
        "status": action.status.value,
        "target": action.target,
        "prompt": action.prompt,
        "command": action.code,
        "exit_status": effects["exit_status"],
        "output": effects["output"],
        "summary": effects["summary"],
        "changes": effects["changes"],
        "violations": effects["violations"],
        "decision": action.decision.to_json() if action.decision else None,
        "digest": action.digest,
    }
    if run.undo is not None:
        data["undo"] = str(run.undo)
    if action.status is Status.STAGED:
        data["staged"] = str(run.staged.location)
    return data
