"""Whether a measured action can be undone, and what its undo keeps (``goexdb.undo`` plans it).

At review time ``assess`` says whether an action could be undone, and why not (a dropped table
or column, a TRUNCATE, rows changed by cascade or trigger, more images than the cap). At commit
the ``record`` of images, schema changes and renames (``goexdb.renames``) goes to the journal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from core.config import Capture
from goexdb.catalog import not_null, not_null_named_otherwise
from goexdb.effects import WHOLE_ACTION, Effects, SchemaChange
from goexdb.engines import EngineFacts, engine_facts
from goexdb.explained import explained_by_renames
from goexdb.renames import applies, irreversible_by_renames, renames
from goexdb.sql import Statement, StatementKind

# 2: its schema changes follow tables (and columns where the engine numbers them for good)
# through renames, ``goexdb.catalog``; 1: by name, where a rename reads as a drop and a create
RECORD_VERSION = 2

IRREVERSIBLE_CHANGES = {
    "table_dropped": "table {table} was dropped",
    "view_dropped": "view {table} was dropped",
    "column_dropped": "column {table}.{name} was dropped",
    "type_changed": "column {table}.{name} changed type",
    "index_changed": "index {name} was redefined",
    "constraint_changed": "constraint {name} was redefined",
    "table_renamed": "table {before} became {table}, which no rename goex read explains",
    "column_renamed": "column {table}.{before} became {name}, which no rename goex read explains",
    "schema_unread": (
        "{table} ({after}) shows a schema change no statement of the action makes (a "
        "function or trigger did?), which goex did not read"
    ),
}


def assess(
    statements: Sequence[Statement], effects: Effects, capture: Capture, dialect: str
) -> list[str]:
    """Why this action could not be undone; empty when it can. Also sets effects.irreversible."""
    reasons: list[str] = []
    moved, facts = renames(statements, dialect), engine_facts(dialect)
    for change in effects.schema_changes:
        if not explained_by_renames(change, moved, effects.schema_changes, facts):
            reasons += _not_made_again(change, facts)
    reasons += _kept_by_an_index(effects.schema_changes, facts)
    read = {images.statement for images in effects.images}
    # (rows changed before a rename of their table or its columns are put back under the new
    # names, goexdb.renamed_images, where the rename names the table as their statement did)
    reasons += irreversible_by_renames(statements, effects, dialect)
    for index, statement in enumerate(statements):
        if statement.kind is StatementKind.DDL and not _measured(statement):
            reasons.append(
                f"{statement.sql.strip()[:60]}: goex's catalog diff does not see all it changes "
                "(it sees tables, columns, indexes and constraints), so an undo would not take "
                "it back"
            )
        if statement.truncates and index not in read:
            reasons.append(f"{statement.sql.strip()[:60]}: the rows it removes were not read")
        truncate = statement.ast if isinstance(statement.ast, exp.TruncateTable) else None
        if truncate is not None and str(truncate.args.get("identity") or "").upper() == "RESTART":
            reasons.append(
                f"{statement.sql.strip()[:60]}: RESTART IDENTITY restarts sequences, which an "
                "undo does not put back"
            )
        if statement.kind is StatementKind.DML and statement.ast is None:
            reasons.append(
                f"{statement.verb.upper()} is read by PostgreSQL's parser only: no images"
            )
        elif statement.kind is StatementKind.DML and statement.image_target is None:
            reasons.append(f"{statement.verb.upper()} writes through a CTE or several tables")
    if capture is not Capture.IMAGES and effects.rows_changed:
        reasons.append("row images were not captured (capture = counts)")
    for images in effects.images:
        if images.missing and not facts.temporary(images.table):
            reasons.append(images.missing)
    reasons += _ended_under(effects.settings)
    if late := effects.late_triggers:
        reasons.append(
            f"constraint trigger {', '.join(late)} may be deferred to the COMMIT, after goex "
            "measured the action: what it writes there would not be imaged"
        )
    # (where the backend imaged them, images of the whole action cover every such row)
    whole = any(images.statement == WHOLE_ACTION for images in effects.images)
    made = effects.made()
    for name, counts in sorted(effects.tables.items()):  # (a table made goes with its rows)
        if counts.by_cascade_or_trigger and not whole and not kept_apart(name, made, facts):
            reasons.append(
                f"{counts.by_cascade_or_trigger} rows of {name} were changed by a cascade or "
                "trigger, which leaves no row images"
            )
    effects.irreversible = list(dict.fromkeys(reasons))
    return effects.irreversible


# What the catalog diff sees and an undo takes back: tables and views, their columns (type,
# default, not null), indexes and constraints. Not sequences, types, schemas, comments, storage
# parameters or collations.
_MEASURED_CREATE = ("TABLE", "INDEX", "VIEW")
_MEASURED_DROP = ("TABLE", "INDEX", "VIEW")
# (ALTER COLUMN ... TYPE ... USING may rewrite every value, and keep the type; COLLATE is not read)
_MEASURED_ALTER_COLUMN = frozenset({"this", "dtype", "default", "drop", "allow_null"})


def _ended_under(settings: dict[str, str]) -> list[str]:
    """What the settings the action ended under (a trigger may set them for the rest of its
    transaction) kept its images from seeing or keeping (PostgreSQL's)."""
    reasons = []
    if settings.get("track_counts") == "off":
        reasons.append(
            "track_counts was off as the action ended: the rows its triggers wrote may not have "
            "been counted, so not imaged"
        )
    digits = settings.get("extra_float_digits", "1")
    if digits.lstrip("-").isdigit() and int(digits) < 1:
        reasons.append(
            f"extra_float_digits was {digits} as the action ended: its images may hold floats "
            "rounded"
        )
    return reasons


def _measured(statement: Statement) -> bool:
    """Whether the catalog diff sees everything a DDL statement changes."""
    tree = statement.ast
    if statement.truncates:  # its rows are read before it runs
        return True
    if tree is None:  # read by PostgreSQL's parser only
        return statement.postgres is not None and statement.postgres.node in (
            "CreateStmt",
            "IndexStmt",
        )
    kind = str(tree.args.get("kind") or "").upper()
    if isinstance(tree, exp.Create):  # (CREATE OR REPLACE VIEW keeps its oid and columns)
        return kind in _MEASURED_CREATE and not tree.args.get("replace")
    if isinstance(tree, exp.Drop):
        return kind in _MEASURED_DROP
    if isinstance(tree, exp.Select):  # SELECT ... INTO: a table made, as CREATE TABLE AS
        return tree.args.get("into") is not None
    if isinstance(tree, exp.Alter):
        return all(_measured_action(action) for action in tree.args.get("actions") or [])
    return False


def _measured_action(action: exp.Expr) -> bool:
    if isinstance(action, exp.AlterColumn):
        return {
            k for k, v in action.args.items() if v not in (None, False)
        } <= _MEASURED_ALTER_COLUMN
    if isinstance(action, exp.Drop):
        return str(action.args.get("kind") or "").upper() in ("COLUMN", "CONSTRAINT")
    return isinstance(
        action, exp.ColumnDef | exp.AlterRename | exp.RenameColumn | exp.AddConstraint
    )


def _not_made_again(change: SchemaChange, facts: EngineFacts) -> list[str]:
    """Why an undo could not take a schema change back exactly, if it could not."""
    template = IRREVERSIBLE_CHANGES.get(change.change)
    reasons = [template.format(**change.to_json())] if template else []
    before = change.before or ""
    if change.change == "index_dropped" and " /* " in before:  # (queries.INDEXES)
        unmade = ", ".join(re.findall(r"/\* ([A-Z ]+) \*/", before))
        reasons.append(f"index {change.name} was dropped with its {unmade}, not made again")
    if change.change == "index_dropped" and " ON ONLY " in before:
        reasons.append(
            f"index {change.name} of a partitioned table was dropped: made again, it would not "
            "be its partitions' indexes' again"
        )
    made = change.change == "constraint_created" and not not_null(change.after)
    if made and not facts.drops_constraints:
        reasons.append(f"constraint {change.name} was added, which {facts.name} cannot drop")
    if not_null_named_otherwise(change, facts):
        reasons.append(f"NOT NULL {change.name} was dropped, and would come back named otherwise")
    return reasons


def _kept_by_an_index(changes: Sequence[SchemaChange], facts: EngineFacts) -> list[str]:
    """A column the action added and made an index on, where the engine cannot drop a column in
    the transaction that drops its index (DuckDB): the undo, which drops both, would fail."""
    if facts.drops_columns_unindexed_now:
        return []
    made = [(c.table, c.after or "") for c in changes if c.change == "index_created"]
    return [
        f"column {c.table}.{c.name} was added and indexed, and {facts.name} cannot drop a "
        "column in the transaction that drops its index"
        for c in changes
        if c.change == "column_added"
        and any(
            table == c.table and re.search(rf"\b{re.escape(c.name or '')}\b", definition, re.I)
            for table, definition in made
        )
    ]


def followed(record: dict[str, Any]) -> EngineFacts | None:
    """The engine whose catalog diff followed a journaled action's tables and columns through
    its renames (``explained_by_renames``); None for a record diffed by name."""
    return engine_facts(record["dialect"]) if record.get("version", 1) >= 2 else None


def kept_apart(table: str, made: set[str], facts: EngineFacts) -> bool:
    """Whether an undo leaves a table's rows alone: the action made the table (they go with
    it), or it is a temporary one (they go with the session, and an undo runs in its own)."""
    return table in made or facts.temporary(table)


def record(statements: Sequence[Statement], effects: Effects, dialect: str) -> dict[str, Any]:
    """What the journal keeps to undo this action later (no images of a temporary table's
    rows: in the undo's session its name is another table's, or none)."""
    temporary = engine_facts(dialect).temporary
    return {
        "version": RECORD_VERSION,
        "dialect": dialect,
        "images": [i.to_json() for i in effects.images if not temporary(i.table)],
        "schema_changes": [c.to_json() for c in effects.schema_changes],
        "renames": {
            **renames(statements, dialect),
            "applies": applies(statements, effects, dialect),
        },
        "irreversible": list(effects.irreversible),
        "fingerprints": dict(effects.fingerprints),
        "settings": dict(effects.settings),
        "enums": dict(effects.enums),
    }
