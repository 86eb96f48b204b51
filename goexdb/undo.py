"""Undo a committed action: compensating SQL from its row images and schema changes.

At review time ``assess`` says whether an action could be undone, and why not (a dropped table
or column, a TRUNCATE, rows changed by cascade or trigger, more images than the cap). At commit
the ``record`` of images, schema changes and renames goes to the journal. ``plan`` turns a record
into SQL, in this order:

1. data, statement by statement in reverse: rows the action inserted are deleted, rows it
   deleted are re-inserted, rows it updated are put back (by primary key; a table without one
   gets delete-then-insert of whole rows);
2. schema, in reverse: created indexes, constraints, columns and tables are dropped, dropped
   indexes and constraints re-created, defaults and renames put back.

Every data statement is *guarded*: it names the row by its after-image (or, for a re-insert,
requires the key to be free), so it changes exactly one row only if that row is still as the
action left it. The undo runs as a staged action of its own; a guard that changed no row is a
conflict, and the undo is rolled back with the rows that changed since listed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from core.config import Capture
from goexdb.effects import Effects, RowImage, SchemaChange, StatementImages
from goexdb.engines import engine_facts, quote_ident, quote_literal, quote_table
from goexdb.sql import Statement, StatementKind, qualified

IRREVERSIBLE_CHANGES = {
    "table_dropped": "table {table} was dropped",
    "column_dropped": "column {table}.{name} was dropped",
    "type_changed": "column {table}.{name} changed type",
    "index_changed": "index {name} was redefined",
    "constraint_changed": "constraint {name} was redefined",
}


@dataclass(frozen=True)
class Guard:
    """A plan statement that must change exactly one row, and the row it is about."""

    statement: int
    table: str
    row: str


@dataclass
class UndoPlan:
    statements: list[str] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return ";\n".join(self.statements) + ";\n" if self.statements else ""


def renames(statements: Sequence[Statement], dialect: str) -> dict[str, list[list[str]]]:
    """Table and column renames, read from the statements (a catalog diff sees drop + create).
    Names are kept as SQL, quoted as written, so putting them back folds case the same way:
    ``tables`` [old table, its schema or "", old name, new name], ``columns`` [table, old, new],
    and ``order`` ([kind, index] in statement order), so undo can reverse them in turn."""
    moved: dict[str, list[list[str]]] = {"tables": [], "columns": [], "order": []}
    for statement in statements:
        tree = statement.ast
        if not isinstance(tree, exp.Alter) or not isinstance(tree.this, exp.Table):
            continue
        table = tree.this
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.AlterRename) and isinstance(action.this, exp.Table):
                schema = table.args.get("db")
                entry = [
                    "tables",
                    qualified(table, dialect),
                    schema.sql(dialect=dialect) if schema is not None else "",
                    table.this.sql(dialect=dialect),
                    action.this.this.sql(dialect=dialect),
                ]
            elif isinstance(action, exp.RenameColumn):
                entry = [
                    "columns",
                    qualified(table, dialect),
                    action.this.this.sql(dialect=dialect),
                    action.args["to"].this.sql(dialect=dialect),
                ]
            else:
                continue
            moved["order"].append([entry[0], str(len(moved[entry[0]]))])
            moved[entry[0]].append(entry[1:])
    return moved


def _bare(name: str) -> str:
    return name.rpartition(".")[2]


def _norm(name: str) -> str:
    """An identifier as SQL or as the catalog spells it, compared without quotes or case."""
    return name.strip('"').replace('""', '"').casefold()


def _explained_by_renames(change: SchemaChange, moved: dict[str, list[list[str]]]) -> bool:
    table = _norm(_bare(change.table))
    if change.change in ("index_changed", "constraint_changed"):
        renamed = change.before or ""
        for _, _, old, new in moved["tables"]:
            renamed = re.sub(rf"\b{re.escape(_norm(old))}\b", _norm(new), renamed, flags=re.I)
        for _, old_column, new_column in moved["columns"]:
            renamed = re.sub(
                rf"\b{re.escape(_norm(old_column))}\b", _norm(new_column), renamed, flags=re.I
            )
        return renamed.casefold() == (change.after or "").casefold()
    if change.change in ("table_dropped", "table_created"):
        side = 2 if change.change == "table_dropped" else 3
        return any(_norm(entry[side]) == table for entry in moved["tables"])
    if change.change in ("column_dropped", "column_added"):
        side = 1 if change.change == "column_dropped" else 2
        tables = {_norm(entry[2]) for entry in moved["tables"]} | {
            _norm(entry[3]) for entry in moved["tables"]
        }
        return any(
            _norm(change.name or "") == _norm(triple[side])
            and table in ({_norm(_bare(triple[0]))} | tables)
            for triple in moved["columns"]
        )
    return False


def assess(
    statements: Sequence[Statement], effects: Effects, capture: Capture, dialect: str
) -> list[str]:
    """Why this action could not be undone; empty when it can. Also sets effects.irreversible."""
    reasons: list[str] = []
    moved = renames(statements, dialect)
    for change in effects.schema_changes:
        template = IRREVERSIBLE_CHANGES.get(change.change)
        if template and not _explained_by_renames(change, moved):
            reasons.append(template.format(table=change.table, name=change.name))
    for statement in statements:
        if isinstance(statement.ast, exp.TruncateTable):
            reasons.append(f"TRUNCATE {', '.join(t.name for t in statement.ast.expressions)}")
        if statement.kind is StatementKind.DML and statement.image_target is None:
            reasons.append(f"{statement.verb.upper()} writes through a CTE or several tables")
    if capture is not Capture.IMAGES and effects.rows_changed:
        reasons.append("row images were not captured (capture = counts)")
    for images in effects.images:
        if images.missing:
            reasons.append(images.missing)
    for name, counts in sorted(effects.tables.items()):
        if counts.by_cascade_or_trigger:
            reasons.append(
                f"{counts.by_cascade_or_trigger} rows of {name} were changed by a cascade or "
                "trigger, which leaves no row images"
            )
    effects.irreversible = list(dict.fromkeys(reasons))
    return effects.irreversible


def record(statements: Sequence[Statement], effects: Effects, dialect: str) -> dict[str, Any]:
    """What the journal keeps to undo this action later."""
    return {
        "version": 1,
        "dialect": dialect,
        "images": [i.to_json() for i in effects.images],
        "schema_changes": [c.to_json() for c in effects.schema_changes],
        "renames": renames(statements, dialect),
        "irreversible": list(effects.irreversible),
    }


class _Dialect:
    """How one engine turns a JSON row image back into a row (its ``EngineFacts``), with the
    column types of each table where the engine's images need them."""

    def __init__(self, dialect: str, column_types: Callable[[str], dict[str, str]]) -> None:
        self.facts = engine_facts(dialect)
        self._types = column_types

    def _types_of(self, table: str) -> dict[str, str]:
        return self._types(table) if self.facts.images_need_types else {}

    def row_json(self, alias: str, table: str, image: str) -> str:
        """The row as JSON over the image's own columns, so a column added later (by this very
        action, say) does not make an unchanged row look changed."""
        return self.facts.row_json(alias, list(json.loads(image)), self._types_of(table))

    def matches(self, alias: str, table: str, image: str) -> str:
        """The row is exactly as the image shows it."""
        return f"{self.row_json(alias, table, image)} = {quote_literal(image)}"

    def source(self, table: str, image: str) -> str:
        """A one-row relation of the image, typed as the table's columns."""
        return self.facts.row_from_json(table, image, self._types_of(table))


def plan(
    data: dict[str, Any], column_types: Callable[[str], dict[str, str]] | None = None
) -> UndoPlan:
    """Compensating SQL for a journaled undo record (see the module docstring)."""
    dialect = _Dialect(data["dialect"], column_types or (lambda table: {}))
    changes = [SchemaChange(**c) for c in data["schema_changes"]]
    created = {c.table for c in changes if c.change == "table_created"}
    result = UndoPlan()
    for images in reversed([StatementImages.from_json(i) for i in data["images"]]):
        if images.table in created:
            continue  # dropping the table undoes its rows
        for row in reversed(images.images):
            _undo_row(result, dialect, images, row)
    result.statements.extend(_undo_schema(changes, data["renames"], created))
    return result


def _undo_row(out: UndoPlan, d: _Dialect, images: StatementImages, row: RowImage) -> None:
    table, key = images.table, images.key
    same_key = (
        row.before is not None
        and row.after is not None
        and bool(key)
        and _key(row.before, key) == _key(row.after, key)
    )
    if same_key:
        assert row.before is not None and row.after is not None
        columns = list(json.loads(row.before))
        sets = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in columns)
        out.guards.append(Guard(len(out.statements), table, row.after))
        out.statements.append(
            f"UPDATE {quote_table(table)} AS t SET {sets} FROM {d.source(table, row.before)} AS s "
            f"WHERE {_key_match(key)} AND {d.matches('t', table, row.after)}"
        )
        return
    if row.after is not None:
        out.guards.append(Guard(len(out.statements), table, row.after))
        if key:
            out.statements.append(
                f"DELETE FROM {quote_table(table)} AS t USING {d.source(table, row.after)} AS s "
                f"WHERE {_key_match(key)} AND {d.matches('t', table, row.after)}"
            )
        else:
            rowid = d.facts.row_id
            out.statements.append(
                f"DELETE FROM {quote_table(table)} WHERE {rowid} = (SELECT {rowid} FROM "
                f"{quote_table(table)} AS x WHERE {d.matches('x', table, row.after)} "
                "LIMIT 1)"
            )
    if row.before is not None:
        out.guards.append(Guard(len(out.statements), table, row.before))
        free = (
            f" WHERE NOT EXISTS (SELECT 1 FROM {quote_table(table)} AS t WHERE {_key_match(key)})"
            if key
            else ""
        )
        names = ", ".join(quote_ident(c) for c in json.loads(row.before))
        out.statements.append(
            f"INSERT INTO {quote_table(table)} ({names}) SELECT {names} FROM "
            f"{d.source(table, row.before)} AS s{free}"
        )


def _key(image: str, key: list[str]) -> list[Any]:
    row = json.loads(image, parse_float=str, parse_int=str)
    return [row.get(c) for c in key]


def _key_match(key: list[str]) -> str:
    return " AND ".join(f"t.{quote_ident(c)} = s.{quote_ident(c)}" for c in key)


def _undo_schema(
    changes: list[SchemaChange], moved: dict[str, list[list[str]]], created: set[str]
) -> list[str]:
    out: list[str] = []
    for change in reversed(changes):
        table, name = change.table, change.name or ""
        if change.change != "table_created" and table in created:
            continue
        if _explained_by_renames(change, moved):
            continue
        if change.change == "table_created":
            out.append(f"DROP TABLE {quote_table(table)}")
        elif change.change == "column_added":
            out.append(f"ALTER TABLE {quote_table(table)} DROP COLUMN {quote_ident(name)}")
        elif change.change == "index_created":
            out.append(f"DROP INDEX {quote_table(name)}")
        elif change.change == "index_dropped" and change.before:
            out.append(change.before.rstrip(";"))
        elif change.change == "constraint_created":
            out.append(
                f"ALTER TABLE {quote_table(table)} DROP CONSTRAINT {quote_ident(_bare(name))}"
            )
        elif change.change == "constraint_dropped" and change.before:
            out.append(
                f"ALTER TABLE {quote_table(table)} ADD CONSTRAINT {quote_ident(_bare(name))} "
                f"{change.before}"
            )
        elif change.change == "default_changed":
            column = f"ALTER TABLE {quote_table(table)} ALTER COLUMN {quote_ident(name)}"
            default = f"SET DEFAULT {change.before}" if change.before else "DROP DEFAULT"
            out.append(f"{column} {default}")
    for kind, index in reversed(moved["order"]):
        entry = moved[kind][int(index)]
        if kind == "columns":
            table, old_column, new_column = entry
            out.append(f"ALTER TABLE {table} RENAME COLUMN {new_column} TO {old_column}")
        else:
            _, schema, old, new = entry
            current = f"{schema}.{new}" if schema else new
            out.append(f"ALTER TABLE {current} RENAME TO {old}")
    return out
