"""How one file action is shown — by ``run``, ``undo``, ``commit``, ``show`` and ``diff`` alike:
the command's output, a table of changes and the diffs, or one JSON object.

Everything is drawn from the action's journaled (redacted) effects, so an action reads the same
while it is staged and afterwards from the journal; the rich renderables also pass through the
``Redactor`` given. The text form of a change (``goex-fs diff``) is ``goexfs.tree.diff``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from core.action import Action, Status, Verdict
from core.policy import Violation
from core.redact import Redactor
from core.render import render_report
from goexfs.apply.commit import undo_dir_for
from goexfs.sandbox.allow import network_hint, network_lines
from goexfs.sandbox.bwrap import SandboxResult
from goexfs.session import Staged
from goexfs.tree.diff import printable, shown_path, sizes
from goexfs.tree.effects import Change, ChangeKind
from goexfs.tree.groups import set_apart
from goexfs.tree.manifest import EntryType


class View:
    """One file action as a reviewer sees it: text sections, details and the JSON report.
    ``live`` is the staged action itself, when there is one: where its pre-images, its kept
    copy and (for an undo with --force) the paths it left are, once known."""

    def __init__(
        self,
        action: Action,
        recorded: Mapping[str, Any],
        redactor: Redactor,
        live: Staged | None = None,
    ) -> None:
        self.action = action
        self.recorded = recorded
        self.redactor = redactor
        self.live = live
        self.changes = [Change.from_json(c) for c in recorded.get("changes", [])]

    @property
    def undo_dir(self) -> Path | None:
        if self.live is not None:
            return self.live.undo_dir
        if self.action.status is Status.COMMITTED:  # where every commit keeps them
            return undo_dir_for(Path(self.action.target), self.action.id)
        return None

    @property
    def left(self) -> list[str]:
        return [] if self.live is None else self.live.left

    def report(self, console: Console) -> None:
        violations = [Violation.from_json(v) for v in self.recorded.get("violations", [])]
        render_report(
            console, self.action, self.sections(), violations, self.redactor, code_language="sh"
        )

    def sections(self) -> list[RenderableType]:
        recorded = self.recorded
        if "error" in recorded:
            return [Text(f"error: {recorded['error']}", style="red")]
        parts: list[RenderableType] = []
        if "exit_status" in recorded:
            parts.append(output_section(SandboxResult.journaled(recorded)))
        if hidden := recorded.get("hidden"):
            names = ", ".join(shown_path(path) for path in hidden[:10])
            more = f" and {len(hidden) - 10} more" if len(hidden) > 10 else ""
            parts.append(Text(f"hidden from the command (secret files): {names}{more}"))
        apart = set_apart(self.changes, recorded)
        shown = apart.one_by_one
        parts.append(changes_table(shown, self.redactor, of=len(self.changes)))
        for title, lines in apart.sections:
            text = "\n  ".join([title, *lines])
            parts.append(Text(printable(self.redactor.redact(text))))
        if any(c.diff for c in shown):
            parts.append(diffs(shown, self.redactor))
        return parts

    def details(self, console: Console) -> None:
        console.print(diffs(self.changes, self.redactor))

    def outcome(self) -> str | None:
        """One line on what became of the project."""
        action, root = self.action, self.action.target
        status = action.status
        n = len(self.live.changes if self.live is not None else self.changes)
        decision = action.decision
        if action.prompt and action.prompt.startswith("undo ") and status is Status.COMMITTED:
            lines = [
                f"undone: action {self.recorded.get('undoes')} ({n} change(s)) reverted in "
                f"{root}, journaled as action {action.id}"
            ]
            lines += [f"left as it is: {shown_path(path)}" for path in self.left]
            return "\n".join(lines)
        if status is Status.COMMITTED:
            return f"committed: {n} change(s) applied to {root}; pre-images kept in {self.undo_dir}"
        if status in (Status.ROLLED_BACK, Status.REJECTED):
            return f"{status.value.replace('_', ' ')}: {root} was not changed"
        if status is Status.STAGED and decision is not None and decision.verdict is Verdict.KEEP:
            return (
                f"kept staged ({decision.reason}): {root} was not changed; see it with goex-fs "
                f"diff {action.id}, then goex-fs commit or rollback {action.id}"
            )
        return f"{status.value}: {root}"

    def to_json(self) -> dict[str, Any]:
        """The one JSON object ``goex-fs run --format json`` prints."""
        action, effects = self.action, self.recorded
        output = effects.get("output") or {}
        data: dict[str, Any] = {
            "id": action.id,
            "status": action.status.value,
            "backend": (effects.get("stage") or {}).get("backend"),
            "target": action.target,
            "prompt": action.prompt,
            "command": action.code,
            "exit_code": effects.get("exit_status"),
            "stdout": output.get("stdout"),
            "stderr": output.get("stderr"),
            "exit_status": effects.get("exit_status"),
            "output": output,
            "summary": effects.get("summary", {}),
            "changes": [change_json(c) for c in effects.get("changes", [])],
            "violations": effects.get("violations", []),
            "hidden": effects.get("hidden", []),
            "network": effects.get("network", []),
            "generated": effects.get("generated", []),
            "ignored": effects.get("ignored", []),
            "left_out": effects.get("left_out", []),
            "decision": action.decision.to_json() if action.decision else None,
            "digest": action.digest,
        }
        for key in ("undoes", "error"):
            if key in effects:
                data[key] = effects[key]
        if self.undo_dir is not None:
            data["undo"] = str(self.undo_dir)
        if action.status is Status.STAGED and self.live and self.live.location:
            data["staged"] = str(self.live.location)
        if self.left:
            data["left"] = self.left
        return data


KIND_STYLE = {
    ChangeKind.ADDED: "green",
    ChangeKind.MODIFIED: "yellow",
    ChangeKind.DELETED: "red",
    ChangeKind.MODE: "cyan",
    ChangeKind.SYMLINK: "cyan",
    ChangeKind.TYPE: "magenta",
}


def changes_table(
    changes: Sequence[Change], redactor: Redactor, *, of: int | None = None
) -> RenderableType:
    """The changes, one row each; ``of``: how many there are in all, when some are shown
    apart (collapsed or ignored)."""
    if not changes:
        if of:
            return Text(f"changes ({of}): all shown apart below", style="dim")
        return Text("changes: none — the command changed no files", style="dim")
    count = f"{len(changes)} of {of}" if of is not None and of != len(changes) else len(changes)
    table = Table(title=f"changes ({count})", title_justify="left", show_edge=False)
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
            sizes(change),
            _modes(change),
        )
    return table


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
    if result.network:  # host names are checked by the proxy; printable all the same
        lines = network_lines(result.network)
        parts.append(Text(printable("\n  ".join(["network, through goex's proxy:", *lines]))))
    if hint := network_hint(result.exit_status, result.network, result.stderr):
        parts.append(Text(printable(hint), style="yellow"))
    return Group(*parts)


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
