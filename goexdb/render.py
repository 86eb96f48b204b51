"""How one SQL action is shown — by ``run``, ``undo``, ``commit``, ``show`` and ``diff`` alike.

Everything is drawn from the action's journaled (redacted) effects, so an action reads the same
while it is staged and afterwards from the journal. Only ``details`` (the row images, which the
journal keeps in the undo record) needs the live staged action.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from core.action import Action
from core.policy import Violation
from core.redact import Redactor
from core.render import render_report
from goexdb.effects import WHOLE_ACTION, RowImage, SchemaChange, StatementImages
from goexdb.staged import Staged

SHOWN_ROWS = 10  # rows of a SELECT result shown in the text review
SHOWN_IMAGES = 20  # row images per statement shown by [d]etails


class View:
    """One action as a reviewer sees it: text sections and the JSON report."""

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
        self.live = live  # the staged action itself, when there is one: its row images

    @property
    def images(self) -> Sequence[StatementImages]:
        return () if self.live is None or self.live.held is None else self.live.effects.images

    def report(self, console: Console) -> None:
        violations = [Violation.from_json(v) for v in self.recorded.get("violations", [])]
        render_report(
            console, self.action, self.sections(), violations, self.redactor, code_language="sql"
        )

    def sections(self) -> list[RenderableType]:
        recorded = self.recorded
        if "error" in recorded:
            return [Text(f"error: {recorded['error']}", style="red")]
        effects = recorded.get("effects", {})
        parts: list[RenderableType] = [
            statements_table(recorded.get("statements", [])),
            rows_table(effects.get("tables", {})),
        ]
        for change in effects.get("schema_changes", []):
            parts.append(f"schema: {SchemaChange(**change).describe()}")
        if locks := effects.get("locks"):
            parts.append(locks_table(locks))
        for table in effects.get("rewrites", []):
            parts.append(f"rewrite: every row of {table} is written anew (a table rewrite)")
        for shown, result in enumerate(effects.get("results", []), 1):
            parts.append(result_table(shown, result))
        if clone := recorded.get("clone"):
            parts.append(
                f"measured on clone {clone['name']} ({clone['strategy']}, "
                f"{clone['seconds']:.2f} s: {clone['reason']}); commit replays it on the "
                "database and checks the effects match"
            )
        for note in effects.get("side_effects", []):
            parts.append(f"not undone by rollback: {note}")
        if effects.get("tables") or effects.get("schema_changes"):
            reasons = effects.get("irreversible", [])
            parts.append(
                "undo after commit: "
                + ("possible" if not reasons else "impossible — " + "; ".join(reasons))
            )
        return parts

    def details(self, console: Console) -> None:
        """The row images, before and after, of each statement that changed rows."""
        if not self.images:
            console.print("no row images: nothing changed rows, or capture is counts")
        for images in self.images:
            console.print(images_table(images, self.redactor))

    def outcome(self) -> str | None:
        return None

    def to_json(self) -> dict[str, Any]:
        """The one JSON object ``goex-db run --format json`` prints (and ``show``)."""
        action, recorded = self.action, self.recorded
        decision = action.decision
        data = {
            "id": action.id,
            "status": action.status.value,
            "target": action.target,
            "statements": recorded.get("statements", []),
            "effects": recorded.get("effects", {}),
            "violations": recorded.get("violations", []),
            "reversible": recorded.get("reversible", False),
            "decision": None
            if decision is None
            else {"by": decision.by, "verdict": decision.verdict.value, "reason": decision.reason},
            "digest": action.digest,
        }
        for extra in ("clone", "error"):
            if extra in recorded:
                data[extra] = recorded[extra]
        return data


def statements_table(statements: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="statements", title_justify="left", show_edge=False)
    for column in ("#", "kind", "rows", "sql"):
        table.add_column(column, overflow="fold" if column == "sql" else "ellipsis")
    for i, result in enumerate(statements, 1):
        rows = "" if result.get("rowcount") is None else str(result["rowcount"])
        table.add_row(str(i), result["kind"], rows, result["sql"].strip()[:200])
    return table


def rows_table(tables: Mapping[str, Mapping[str, int]]) -> Table:
    table = Table(title="rows changed (measured)", title_justify="left", show_edge=False)
    for column in ("table", "inserted", "updated", "deleted", "by cascade/trigger"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, change in sorted(tables.items()):
        table.add_row(
            name,
            str(change["inserted"]),
            str(change["updated"]),
            str(change["deleted"]),
            str(change["by_cascade_or_trigger"]),
        )
    if not tables:
        table.add_row("(none)", "0", "0", "0", "0")
    return table


def locks_table(locks: Sequence[Mapping[str, str]]) -> Table:
    table = Table(title="locks held until commit or rollback", title_justify="left")
    table.show_edge = False
    for column in ("mode", "relation", "taken by"):
        table.add_column(column, overflow="fold" if column == "taken by" else "ellipsis")
    for lock in locks:
        table.add_row(lock["mode"], lock["relation"], lock.get("statement", "")[:80])
    return table


def result_table(shown: int, result: Mapping[str, Any]) -> Table:
    """The first rows a read returned."""
    rows = result.get("rows", [])
    more = len(rows) > SHOWN_ROWS or result.get("truncated")
    title = f"result {shown}: {len(rows)}{'+' if result.get('truncated') else ''} row(s)"
    table = Table(title=title, title_justify="left", show_edge=False, min_width=len(title))
    for column in result.get("columns", []):
        table.add_column(str(column), overflow="ellipsis", max_width=40)
    for row in rows[:SHOWN_ROWS]:
        table.add_row(*(_cell(value) for value in row))
    if more:
        table.caption = f"first {min(len(rows), SHOWN_ROWS)} rows shown"
    return table


def images_table(images: StatementImages, redactor: Redactor) -> RenderableType:
    if images.missing:
        return Text(f"{images.table}: no row images ({images.missing})", style="yellow")
    whole = images.statement == WHOLE_ACTION
    of = "the whole action's" if whole else f"statement {images.statement + 1}"
    title = f"row images of {images.table} ({of})"
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("before", overflow="fold")
    table.add_column("after", overflow="fold")
    for image in images.images[:SHOWN_IMAGES]:
        table.add_row(*(_image(side, redactor) for side in _sides(image)))
    if len(images.images) > SHOWN_IMAGES:
        table.caption = f"first {SHOWN_IMAGES} of {len(images.images)} rows shown"
    return table


def _sides(image: RowImage) -> tuple[str | None, str | None]:
    return image.before, image.after


def _image(text: str | None, redactor: Redactor) -> Text:
    if text is None:
        return Text("(none)", style="dim")
    return Text(redactor.redact(text))


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)
