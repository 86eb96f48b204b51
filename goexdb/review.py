"""goex-review's database side (``core.web.sides``): an SQL action's page, and the kept clone
actions a person approves or rejects there."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from core.action import Action, Kind, Verdict
from core.config import load_config
from core.errors import UsageError
from core.journal import Journal
from core.policy import Violation, refuse_errors
from core.web.sides import Block, Cell, Grid, Mark, Section, records_grid
from goexdb.session import Session, resolve_target
from goexdb.staged import Staged

COUNTS = ("inserted", "updated", "deleted", "by_cascade_or_trigger")


def side() -> DbSide:
    """The entry point ``goex.review``/``db``."""
    return DbSide()


class DbSide:
    kind = Kind.DB

    def sections(self, action: Action, recorded: Mapping[str, Any]) -> list[Section]:
        effects = recorded.get("effects", {})
        statements = recorded.get("statements", [])
        shown: list[Section] = [
            Grid(
                "statements",
                ("#", "kind", "rows", "sql"),
                [
                    [Cell(str(i)), Cell(s["kind"]), Cell(_text(s.get("rowcount"))), Cell(s["sql"])]
                    for i, s in enumerate(statements, 1)
                ],
            ),
            Grid(
                "rows per table",
                ("table", *(c.replace("_", " ") for c in COUNTS)),
                [
                    [Cell(name), *(Cell(str(change.get(c, 0))) for c in COUNTS)]
                    for name, change in effects.get("tables", {}).items()
                ],
            ),
        ]
        shown += [images_grid(images) for images in recorded.get("images", [])]
        shown += [
            records_grid("schema changes", effects.get("schema_changes", [])),
            records_grid("locks", effects.get("locks", [])),
            records_grid("table rewrites", [{"table": t} for t in effects.get("rewrites", [])]),
            records_grid("side effects", [{"effect": e} for e in effects.get("side_effects", [])]),
        ]
        if "clone" in recorded:
            shown.append(Block("staged on a clone", json.dumps(recorded["clone"], indent=2)))
        if "error" in recorded:
            shown.append(Block("error", str(recorded["error"])))
        return shown

    def check(self, action: Action, recorded: Mapping[str, Any], paths: Sequence[str]) -> None:
        if paths:
            raise UsageError("a database action is approved as a whole; paths are for files")
        refuse_errors([Violation.from_json(v) for v in recorded.get("violations", [])], action.id)

    def reopen(self, journal: Journal, action: Action, verdict: Verdict) -> Staged:
        config = load_config()
        session = Session(resolve_target(None, action), config.db, config.policy, journal=journal)
        return session.reopen(action.id)

    def undo_argv(self, action: Action) -> list[str] | None:
        # its database as undo finds it: GOEX_DSN, DATABASE_URL, else the journaled target
        return [sys.executable, "-m", "goexdb.cli", "undo", action.id, "--decide", "person"]


def images_grid(images: Mapping[str, Any]) -> Grid:
    """A statement's row images: each changed row before and after, its changed cells marked;
    an inserted row marked added, a deleted one removed."""
    title = f"row images of {images['table']} (statement {int(images['statement']) + 1})"
    if images.get("missing"):
        return Grid(title, (), [], note=f"no row images: {images['missing']}")
    pairs = [(_row(before), _row(after)) for before, after in images["images"]]
    columns: list[str] = []
    for row in (row for pair in pairs for row in pair if row is not None):
        columns += [c for c in row if c not in columns]
    rows: list[list[Cell]] = []
    for before, after in pairs:
        if before is not None:
            mark: Mark = "removed" if after is None else ""
            rows.append([Cell("before", mark), *(_cell(before, c, mark) for c in columns)])
        if after is not None and before is None:
            rows.append([Cell("new", "added"), *(_cell(after, c, "added") for c in columns)])
        elif after is not None and before is not None:
            changed = [_cell(after, c, _changed(before, after, c)) for c in columns]
            rows.append([Cell("after"), *changed])
    count = int(images.get("count", len(pairs)))
    note = f"first {len(pairs)} of {count} rows shown" if count > len(pairs) else ""
    return Grid(title, ("", *columns), rows, note=note)


def _row(image: str | None) -> dict[str, Any] | None:
    if image is None:
        return None
    try:
        row = json.loads(image)
    except ValueError:
        return {"row": image}
    return row if isinstance(row, dict) else {"row": image}


def _changed(before: Mapping[str, Any], after: Mapping[str, Any], column: str) -> Mark:
    return "changed" if before.get(column) != after.get(column) else ""


def _cell(row: Mapping[str, Any], column: str, mark: Mark) -> Cell:
    value = row.get(column)
    text = "NULL" if value is None else value if isinstance(value, str) else json.dumps(value)
    return Cell(text, mark)


def _text(value: object) -> str:
    return "" if value is None else str(value)
