"""Rendering shared by both CLIs: rich text for people, JSON for scripts.

Everything printed passes through a ``Redactor`` first. Styling follows rich's rules: none when
the stream is not a terminal, and none at all when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from core.action import Action, Status, Verdict
from core.policy import Severity, Violation
from core.redact import Redactor

STATUS_STYLE: Mapping[Status, str] = {
    Status.PROPOSED: "cyan",
    Status.STAGED: "yellow",
    Status.COMMITTED: "green",
    Status.ROLLED_BACK: "magenta",
    Status.REJECTED: "red",
    Status.FAILED: "red bold",
    Status.UNDONE: "blue",
}


def make_console(*, stderr: bool = False) -> Console:
    """A console for people: styled on a terminal; with ``NO_COLOR`` set, no styling at all
    (no colour, bold, dim or underline), as https://no-color.org asks."""
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        stderr=stderr,
        no_color=plain,
        color_system=None if plain else "auto",
        highlight=False,
        soft_wrap=False,
    )


def print_json(data: Any, redactor: Redactor) -> None:
    """One JSON document on stdout, redacted."""
    sys.stdout.write(json.dumps(redactor.redact_obj(data), indent=2, default=str) + "\n")
    sys.stdout.flush()


def status_text(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE[status])


def violations_table(violations: Sequence[Violation]) -> RenderableType:
    if not violations:
        return Text("policy: no violations", style="green")
    table = Table(title="policy", title_justify="left", show_edge=False)
    table.add_column("severity")
    table.add_column("rule")
    table.add_column("message", overflow="fold")
    for v in violations:
        style = "red" if v.severity is Severity.ERROR else "yellow"
        table.add_row(Text(v.severity.value, style=style), v.rule, v.message)
    return table


def action_header(action: Action) -> RenderableType:
    lines = Text()
    lines.append(f"action {action.id}", style="bold")
    lines.append(f"  {action.kind.value}  {action.target}\n")
    if action.prompt:
        lines.append(f"prompt: {action.prompt}\n")
    if action.status not in (Status.PROPOSED, Status.STAGED):
        lines.append("status: ")
        lines.append_text(status_text(action.status))
    return lines


def decision_text(action: Action) -> RenderableType:
    d = action.decision
    if d is None:
        return Text("no decision yet", style="dim")
    style = {Verdict.COMMIT: "green", Verdict.KEEP: "yellow"}.get(d.verdict, "magenta")
    text = Text("decision: ")
    text.append(d.verdict.value, style=style)
    text.append(f" by {d.by} — {d.reason} → ")
    text.append_text(status_text(action.status))
    return text


def render_report(
    console: Console,
    action: Action,
    sections: Iterable[RenderableType],
    violations: Sequence[Violation],
    redactor: Redactor,
    *,
    code_language: str,
) -> None:
    """The human report of one staged action: header, code, effects, policy findings."""
    console.print(_redacted(action_header(action), redactor))
    console.print(
        Panel(Text(redactor.redact(action.code)), title=code_language, title_align="left")
    )
    for section in sections:
        console.print(_redacted(section, redactor))
    console.print(violations_table(violations))


def render_log(console: Console, actions: Sequence[Action], redactor: Redactor) -> None:
    if not actions:
        console.print("no actions in the journal yet")
        return
    table = Table(show_edge=False)
    for column, width in (("id", 10), ("when", 11), ("status", 11)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("target", overflow="ellipsis", no_wrap=True, max_width=24)
    # The fixed columns take about 70 cells; the summary gets the rest, at least 16.
    summary_width = max(16, console.width - 70)
    table.add_column("prompt / code", overflow="ellipsis", no_wrap=True, max_width=summary_width)
    for action in actions:
        summary = (action.prompt or action.code).strip().splitlines()
        table.add_row(
            action.id,
            action.history[0][1][5:16].replace("T", " "),
            status_text(action.status),
            redactor.redact(action.target),
            redactor.redact(summary[0])[:80] if summary else "",  # cut after masking
        )
    console.print(table)


def _redacted(renderable: RenderableType, redactor: Redactor) -> RenderableType:
    if isinstance(renderable, str):
        return redactor.redact(renderable)
    if isinstance(renderable, Text) and redactor.redact(renderable.plain) != renderable.plain:
        return Text(redactor.redact(renderable.plain))
    return renderable


class CopyProgress:
    """A progress bar for a long copy, for a ``(done, total)`` callback: it appears on the first
    report (a quick copy shows nothing) and goes away when ``done`` reaches ``total``. ``total``
    may be an estimate; a copy that outgrows it keeps counting."""

    def __init__(self, console: Console, description: str) -> None:
        self._console = console
        self._description = description
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=self._console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._description, total=total or None)
        assert self._task is not None
        self._bar.update(self._task, completed=done, total=max(total, done) or None)
        if total and done == total:
            self._bar.stop()
            self._bar = None
