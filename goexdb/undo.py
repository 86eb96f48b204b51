"""Undo a committed action: compensating SQL from its row images and schema changes.

``plan`` turns the record an action left in the journal (``goexdb.reversible``) into SQL, in
this order:

1. data, statement by statement in reverse: rows the action inserted are deleted, rows it
   deleted are re-inserted, rows it updated are put back (by primary key; a table without one
   gets delete-then-insert of whole rows);
2. schema, in reverse: created indexes, constraints, columns and tables are dropped, dropped
   indexes and constraints re-created, defaults and renames put back.

The data statements (``goexdb.compensate``) are guarded: they change a row only if it is still
as the action left it. The undo runs as a staged action of its own; ``refusal`` says when it
must be rolled back instead — rows that changed since (listed), or rows it would not restore
exactly (the columns named).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import zip_longest
from typing import Any

from core.errors import ConflictError
from goexdb.backends.base import Backend
from goexdb.catalog import not_null, unquoted
from goexdb.compensate import Dialect, check_restored, undo_keyless_set, undo_set
from goexdb.effects import (
    Effects,
    SchemaChange,
    StatementImages,
    StatementResult,
    TableColumns,
    fingerprint_sql,
    fingerprinted,
)
from goexdb.engines import EngineFacts, quote_ident, quote_literal, quote_table
from goexdb.explained import explained_by_renames
from goexdb.image_text import forget
from goexdb.renamed_images import as_left, renamed_as_named
from goexdb.renames import bare
from goexdb.reversible import followed
from goexdb.undoplan import Check, UndoPlan


def plan(
    data: dict[str, Any],
    columns: Callable[[str], TableColumns] | None = None,
    query: Callable[[str], Sequence[Sequence[Any]]] | None = None,
    *,
    listing: bool = True,
) -> UndoPlan:
    """Compensating SQL for a journaled undo record (see the module docstring), writing no
    generated column and identity columns GENERATED ALWAYS only where a row is re-inserted.
    ``columns`` and ``query`` read the database it is for (``compensate.Dialect``). Without
    ``listing``, a row changed since the action is seen by the guards alone, and the plan says
    how to make the one that lists them (``UndoPlan.listing``)."""
    dialect = Dialect(data["dialect"], columns or _no_columns, query)
    try:
        made = _plan(data, dialect, listing)
    finally:
        forget()
    if not listing:
        made.listing = lambda: plan(data, columns, query)
    return made


def _no_columns(table: str) -> TableColumns:
    return TableColumns({})


def _plan(data: dict[str, Any], dialect: Dialect, listing: bool) -> UndoPlan:
    changes = [SchemaChange(**c) for c in data["schema_changes"]]
    moved = data["renames"]  # a table renamed is no table created: its rows are put back
    follows = followed(data)
    created = {
        c.table
        for c in changes
        if c.change == "table_created" and not explained_by_renames(c, moved, changes, follows)
    }
    result = UndoPlan(settings=dict(data.get("settings") or {}))
    _check_untouched(result, dialect, changes, data)
    _check_labels(result, dialect, data.get("enums") or {})
    read = [StatementImages.from_json(i) for i in data["images"]]
    named = as_left(read, moved, data["dialect"])  # as the action left the tables
    statements = [images for images in named if images.table not in created]
    for images in reversed(statements):  # a created table's rows go with the table
        if images.images:  # (a statement's images share their columns)
            by_sets = undo_set if images.key else undo_keyless_set
            by_sets(result, dialect, images, listing=listing)
    ddl = bool(changes) or any(moved.get(k) for k in ("tables", "columns", "new_columns"))
    if dialect.facts.triggers:  # checked before the schema is put back, as the rows were written
        check_restored(result, dialect, statements, as_left=ddl)
    if ddl:  # (not every row is checked then, the undo's own images are read back)
        result.known.clear()
    named_now = renamed_as_named(read, moved, data["dialect"])
    schema = _undo_schema(changes, moved, created, follows, named_now)
    result.statements.extend(_around_blocking_indexes(schema, changes, created, dialect))
    return result


def _check_untouched(
    out: UndoPlan, dialect: Dialect, changes: list[SchemaChange], data: dict[str, Any]
) -> None:
    """First, before any row is put back: each table and column the action created, which
    the undo drops, still holds what it held at the commit (its fingerprint), so no data
    written since goes with it. (One the action renamed is renamed back, not dropped.)"""
    held = data.get("fingerprints") or {}
    for change in changes:
        if explained_by_renames(change, data["renames"], changes, followed(data)):
            continue
        key = fingerprinted(change)
        if key is not None and key in held:
            out.checks.append(Check(len(out.statements), change.table, "held"))
            out.statements.append(
                f"SELECT {quote_literal(key)} WHERE ({fingerprint_sql(change, dialect.facts)}) "
                f"IS DISTINCT FROM {quote_literal(held[key])}"
            )


def _check_labels(out: UndoPlan, dialect: Dialect, members: dict[str, str]) -> None:
    """First, too: each member of the enum types kept with the images still has its label (the
    images' values name members by label: one renamed, its label given to another, would read
    back as the other)."""
    if members and (sql := dialect.facts.relabelled) is not None:
        out.checks.append(Check(len(out.statements), "enum types", "relabelled"))
        out.statements.append(sql.format(members=quote_literal(json.dumps(members))))


# The schema changes whose undo alters their table other than to add a column or change a
# default (for a table renamed, its new name), which an index can keep an engine from doing
_ALTERING = ("column_added", "column_renamed", "table_renamed")


def _around_blocking_indexes(
    schema: list[str], changes: list[SchemaChange], created: set[str], dialect: Dialect
) -> list[str]:
    """The schema statements with the indexes that would block their ALTERs (DuckDB's, on the
    tables as the action left them) dropped first and made again last, as they were; the
    indexes the action made are dropped by the statements already."""
    altered = {
        c.table
        for c in changes
        if c.change in _ALTERING or not_null(c.after or "") or not_null(c.before or "")
    }
    made = {c.name for c in changes if c.change == "index_created"}
    # one the action made again over renamed columns is made as it was before the action
    was = {c.name: c.before for c in changes if c.change == "index_changed" and c.before}
    blocking = [
        (f"{quote_ident(schema_name)}.{quote_ident(name)}", was.get(f"{schema_name}.{name}", sql))
        for table in sorted(altered - created)
        for schema_name, name, sql in dialect.blocking_indexes(table)
        if f"{schema_name}.{name}" not in made
    ]
    if not blocking:
        return schema
    dropped = [f"DROP INDEX {name}" for name, _ in blocking]
    return [*dropped, *schema, *(sql.strip().rstrip(";") for _, sql in blocking)]


def _goes_with_another(change: SchemaChange, changes: list[SchemaChange]) -> bool:
    """A change the undo of another takes back: a key's or unique constraint's index (dropped
    or made again with it), a NOT NULL of a column the action added (dropped with it)."""
    table, name = change.table, bare(change.name or "")
    if change.change in ("index_created", "index_dropped"):
        constraint = change.change.replace("index", "constraint")
        return any((c.change, c.table, c.name) == (constraint, table, name) for c in changes)
    column = not_null(change.after) if change.change == "constraint_created" else None
    if column is None:
        return False
    return ("column_added", table, unquoted(column)) in {
        (c.change, c.table, c.name) for c in changes
    }


def verified_drops(record: dict[str, Any]) -> list[SchemaChange]:
    """The schema changes an undo takes back that drop nothing a person must see: every
    change but the created tables and columns without a fingerprint to check (an action
    journaled before fingerprints were taken)."""
    held = record.get("fingerprints") or {}
    changes = [SchemaChange(**c) for c in record["schema_changes"]]
    return [c for c in changes if (key := fingerprinted(c)) is None or key in held]


def _undo_schema(
    changes: list[SchemaChange],
    moved: dict[str, list[list[str]]],
    created: set[str],
    follows: EngineFacts | None,
    named_now: dict[int, str],
) -> list[str]:
    """The schema statements: changes taken back in reverse; renames put back one by one in
    reverse, each on its table as ``named_now`` names it where it does (else as written);
    dropped indexes and constraints made again last."""
    out: list[str] = []
    undone = [  # (a created table's indexes and columns go with it; renames are put back below)
        change
        for change in reversed(changes)
        if (change.change == "table_created" or change.table not in created)
        and not explained_by_renames(change, moved, changes, follows)
        and not _goes_with_another(change, changes)
    ]
    for change in undone:
        table, name = change.table, change.name or ""
        if change.change == "table_created":
            out.append(f"DROP TABLE {quote_table(table)}")
        elif change.change == "view_created" and change.after in VIEWS:
            out.append(f"DROP {change.after} {quote_table(table)}")
        elif change.change == "column_added":
            out.append(f"ALTER TABLE {quote_table(table)} DROP COLUMN {quote_ident(name)}")
        elif change.change == "index_created":
            schema_name, _, index = name.partition(".")  # (an index's name may hold a dot)
            out.append(f"DROP INDEX {quote_ident(schema_name)}.{quote_ident(index)}")
        elif change.change == "constraint_created" and (column := not_null(change.after)):
            out.append(f"ALTER TABLE {quote_table(table)} ALTER COLUMN {column} DROP NOT NULL")
        elif change.change == "constraint_created":
            out.append(
                f"ALTER TABLE {quote_table(table)} DROP CONSTRAINT {quote_ident(bare(name))}"
            )
        elif change.change == "default_changed":
            column = f"ALTER TABLE {quote_table(table)} ALTER COLUMN {quote_ident(name)}"
            default = f"SET DEFAULT {change.before}" if change.before else "DROP DEFAULT"
            out.append(f"{column} {default}")
    for at, (kind, index, *_) in reversed(list(enumerate(moved["order"]))):
        if kind == "new_columns":  # renames of a column the action added, which it drops
            continue
        entry = moved[kind][int(index)]
        if kind == "columns":
            table, old_column, new_column = entry
            table = quote_table(named_now[at]) if at in named_now else table
            out.append(f"ALTER TABLE {table} RENAME COLUMN {new_column} TO {old_column}")
        else:
            _, schema, old, new = entry
            current = f"{schema}.{new}" if schema else new
            current = quote_table(named_now[at]) if at in named_now else current
            out.append(f"ALTER TABLE {current} RENAME TO {old}")
    # last, once every name is as before the action, which their definitions use
    for change in undone:
        if change.change == "index_dropped" and change.before:
            out.append(change.before.rstrip(";"))
        elif change.change == "constraint_dropped" and (column := not_null(change.before)):
            out.append(
                f"ALTER TABLE {quote_table(change.table)} ALTER COLUMN {column} SET NOT NULL"
            )
        elif change.change == "constraint_dropped" and change.before:
            out.append(
                f"ALTER TABLE {quote_table(change.table)} ADD CONSTRAINT "
                f"{quote_ident(bare(change.name or ''))} {change.before}"
            )
    return out


VIEWS = ("VIEW", "MATERIALIZED VIEW")  # what a view the action made is dropped as


def unrestored(
    plan: UndoPlan, effects: Effects, backend: Backend
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The rows the plan's checks of rows restored list (before-image, the row now), per
    table, read once the undo's statements ran, under the settings the images were read
    under, set again first: a trigger that fired on the undo may have changed one
    (``extra_float_digits``, which rounds a float's text). Never settled by the undo's own
    ``RETURNING`` text, nor by its counts: a trigger can shape the one and zero the other
    (``track_counts``, a TRUNCATE). Rows written back to a table without a key cannot be read
    back by it: there the rows the undo returned must be the images (``reinserted``)."""
    found = _returned_otherwise(plan, effects)
    if plan.restored:
        backend.restoring(plan.settings)
        for check in plan.restored:
            sql, params = check.query()
            found.append((check.table, backend.query(sql, *params)))
    return found


def _returned_otherwise(
    plan: UndoPlan, effects: Effects
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The images of rows written back to a table without a key that the undo's statements did
    not return as they are, each beside one they returned instead (or None)."""
    found: list[tuple[str, list[tuple[Any, ...]]]] = []
    for table, images in plan.reinserted.items():
        sets = [i for i in effects.images if i.table == table]
        if not sets or any(i.missing for i in sets):
            continue  # (not read: the undo's own images are missing, which it says)
        returned = Counter(row.after for i in sets for row in i.images if row.after is not None)
        wanted = Counter(images)
        lost, instead = (wanted - returned).elements(), (returned - wanted).elements()
        if pairs := list(zip_longest(lost, instead)):
            found.append((table, pairs))
    return found


def refusal(
    plan: UndoPlan,
    results: Sequence[StatementResult],
    effects: Effects,
    dangling: Sequence[dict[str, Any]] = (),
    unrestored: Sequence[tuple[str, Sequence[Sequence[Any]]]] = (),
) -> ConflictError | None:
    """Why the undo that ran ``plan`` (``results``: its statements', ``effects`` what it did)
    must be rolled back: a schema change none of its statements makes (``schema_unread``: a
    trigger's); rows changed since the action (a guard that changed fewer rows than
    its images, a ``changed`` check that listed some); rows whose foreign key it left without
    their row (``dangling``); rows it changed beyond its own (by a cascade or trigger); or rows
    not restored exactly (an ``inexact`` check's, or ``unrestored``'s; naming the columns that
    differ); None when it is exact."""
    if late := effects.late_triggers:
        return ConflictError(
            f"undo refused: constraint trigger {', '.join(late)} may be deferred to its COMMIT, "
            "after it checked the rows restored, so it was rolled back",
            details=[{"deferrable_trigger": name} for name in late],
        )
    unread = [c.table for c in effects.schema_changes if c.change == "schema_unread"]
    if unread:
        return ConflictError(
            f"undo refused: {', '.join(unread)} shows a schema change no statement of the undo "
            "makes (a trigger's?), so it was rolled back",
            details=[{"schema_unread": table} for table in unread],
        )
    found = {check: results[check.statement].rows for check in plan.checks}
    short = plan.failed(results)
    changed = [
        {"table": c.table, "row": row[0]}
        for c, rows in found.items()
        if c.finds == "changed"
        for row in rows
    ]
    written = [row[0] for c, rows in found.items() if c.finds == "held" for row in rows]
    if written:
        return ConflictError(
            f"undo refused: {', '.join(written)} holds data written since the action was "
            "committed, which dropping it would lose",
            details=[{"holds_new_data": what} for what in written],
        )
    relabelled = [row[0] for c, rows in found.items() if c.finds == "relabelled" for row in rows]
    if relabelled:
        return ConflictError(
            f"undo refused: enum labels its row images hold name other members now "
            f"({', '.join(relabelled)}), so it was rolled back",
            details=[{"enum_member_relabelled": what} for what in relabelled],
        )
    if changed or short:
        tables = sorted({d["table"] for d in changed} | {g.table for g in short})
        count = len(changed) or sum(g.rows - (results[g.statement].rowcount or 0) for g in short)
        return ConflictError(
            f"undo refused: {count} row(s) of {', '.join(tables)} changed since the action was "
            "committed",
            details=changed,
        )
    if dangling:
        broken = ", ".join(f"{d['keys']} of {d['table']} ({d['constraint']})" for d in dangling)
        return ConflictError(
            f"undo refused: it would leave foreign keys that find no row — {broken}; rows "
            "written since the action refer to rows it removes — so it was rolled back",
            details=list(dangling),
        )
    beyond = {name: t.by_cascade_or_trigger for name, t in effects.tables.items()}
    if any(beyond.values()):
        where = ", ".join(f"{rows} of {name}" for name, rows in sorted(beyond.items()) if rows)
        return ConflictError(
            f"undo refused: a cascade or trigger would change rows beyond the ones it puts back "
            f"({where}), so it was rolled back",
            details=[{"table": name, "rows": rows} for name, rows in beyond.items() if rows],
        )
    details: list[dict[str, Any]] = []
    columns: set[str] = set()
    inexact = [(c.table, rows) for c, rows in found.items() if c.finds == "inexact"]
    for table, rows in [*inexact, *unrestored]:
        for before, now in rows:
            was, is_now = json.loads(before), json.loads(now) if now else {}
            differ = sorted(c for c in was if was[c] != is_now.get(c))
            columns.update(f"{table}.{c}" for c in differ)
            details.append({"table": table, "row": before, "now": now, "columns": differ})
    if not details:
        return None
    differing = f"{', '.join(sorted(columns))} would differ" if columns else "their text differs"
    return ConflictError(
        f"undo refused: it would not restore {len(details)} row(s) exactly ({differing} from "
        "before the action; a trigger rewrites them?), so it was rolled back",
        details=details,
    )
