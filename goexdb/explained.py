"""Which of the schema changes a catalog diff shows an action's own renames account for
(``goexdb.renames`` reads them from its statements): the catalog's renames of tables and
columns it followed, and, where it went by name (DuckDB's columns, an action journaled
before), a rename's drop and create, and the constraints and indexes named after what was
renamed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from goexdb.effects import SchemaChange
from goexdb.engines import EngineFacts
from goexdb.renames import bare, norm


def _moved_with_table(
    change: SchemaChange, other: SchemaChange, moved: dict[str, list[list[str]]]
) -> bool:
    """Whether a constraint dropped is the one created under the names the renames gave (DuckDB
    names a constraint after its table and columns: ``orders_id_pkey``, ``ck_v_not_null``), or
    the other way round: the table, name and definition the same once renamed."""
    dropped, created = (change, other) if change.change == "constraint_dropped" else (other, change)
    if (dropped.change, created.change) != ("constraint_dropped", "constraint_created"):
        return False
    words = [(norm(old), norm(new)) for _, _, old, new in moved["tables"]]
    words += [(net[1].casefold(), net[2].casefold()) for net in moved.get("net", [])]
    if not words:
        return False

    def renamed(text: str) -> str:
        for old, new in words:  # (an underscore parts words here: ck_v_not_null)
            text = re.sub(rf"(?<![a-z0-9]){re.escape(old)}(?![a-z0-9])", new, text)
        return text

    return (
        renamed(norm(bare(dropped.table))) == norm(bare(created.table))
        and renamed(norm(dropped.name or "")) == norm(created.name or "")
        and renamed((dropped.before or "").casefold()) == (created.after or "").casefold()
        and (dropped.table, dropped.name) != (created.table, created.name)
    )


def _in_schema(table: str, schema: str) -> bool:
    """Whether a catalog name (schema.table) is in a schema a statement named."""
    return norm(table.rpartition(".")[0]) == norm(schema)


def _bare_is(table: str, bare_name: str) -> bool:
    return norm(bare(table)) == bare_name


def explained_by_renames(
    change: SchemaChange,
    moved: dict[str, list[list[str]]],
    changes: Sequence[SchemaChange],
    followed: EngineFacts | None,
) -> bool:
    """Whether a change the catalog diff shows is a rename's (``changes``: all of the action's,
    where a constraint the catalog names after its table is dropped and made again). A table
    or column the catalog followed through a rename (``table_renamed``, ``column_renamed``) is
    explained where the statements' renames take its name before to its name after; then
    (``followed``: the engine whose diff followed tables, and columns where it numbers them for
    good) a table, or such a column, dropped or created is what it says. ``followed`` is None
    for an action journaled before, whose diff went by name, where a rename read as both."""
    if followed is not None:  # what the diff followed through renames is what it says
        kept: tuple[str, ...] = ("table_dropped", "table_created")
        kept += ("column_dropped", "column_added") if followed.keeps_column_numbers else ()
        if change.change in kept:
            return False
    if change.change == "table_renamed":
        return followed is not None and _table_renamed(change, moved, changes, followed)
    if change.change == "column_renamed":
        return followed is not None and _column_renamed(change, moved, changes, followed)
    return _explained(change, moved, changes)


def _table_renamed(
    change: SchemaChange,
    moved: dict[str, list[list[str]]],
    changes: Sequence[SchemaChange],
    facts: EngineFacts,
) -> bool:
    """Whether the statements' table renames, in turn, take the table's name before to its
    name after, in its schema. A rename without a schema that could be another renamed table's
    of the same name (its schema is the search path's) is taken for neither."""
    schema, _, name = (change.before or "").rpartition(".")
    if schema != change.table.rpartition(".")[0]:
        return False  # moved to another schema: no RENAME does that
    renamed = [c.before or "" for c in changes if c.change == change.change]
    for _, written_schema, old, new in moved["tables"]:
        if written_schema and not facts.same_name(schema, facts.written_name(written_schema)):
            continue
        if facts.same_name(name, facts.written_name(old)):
            if not written_schema and sum(facts.same_name(bare(t), name) for t in renamed) > 1:
                return False
            name = facts.written_name(new)
    return facts.same_name(bare(change.table), name)


def _column_renamed(
    change: SchemaChange,
    moved: dict[str, list[list[str]]],
    changes: Sequence[SchemaChange],
    facts: EngineFacts,
) -> bool:
    """Whether one of the statements' column renames, followed to its end (``renames()["net"]``),
    takes this column of this table from its name before to its name after. One without a
    schema that could be another table's of the same name is taken for neither."""

    def fits(net: list[str], other: SchemaChange) -> bool:
        return (
            facts.same_name(bare(other.table), net[0])
            and facts.same_name(other.before or "", net[1])
            and facts.same_name(other.after or "", net[2])
            and (not net[4] or facts.same_name(other.table.rpartition(".")[0], net[4]))
        )

    for net in moved.get("net", []):
        if fits(net, change):
            alike = [c for c in changes if c.change == change.change and fits(net, c)]
            return bool(net[4]) or len(alike) == 1
    return False


def _explained(
    change: SchemaChange, moved: dict[str, list[list[str]]], changes: Sequence[SchemaChange]
) -> bool:
    table = norm(bare(change.table))
    if change.change in ("constraint_dropped", "constraint_created"):
        return any(_moved_with_table(change, other, moved) for other in changes)
    if change.change in ("index_changed", "constraint_changed"):
        renamed = change.before or ""
        for _, _, old, new in moved["tables"]:
            renamed = re.sub(rf"\b{re.escape(norm(old))}\b", norm(new), renamed, flags=re.I)
        for _, old_column, new_column in moved["columns"]:
            renamed = re.sub(
                rf"\b{re.escape(norm(old_column))}\b", norm(new_column), renamed, flags=re.I
            )
        # (compared without quotes: a name renamed to "T" is quoted where it was not)
        return (
            renamed.replace('"', "").casefold() == (change.after or "").replace('"', "").casefold()
        )
    if change.change in ("table_dropped", "table_created"):
        side = 2 if change.change == "table_dropped" else 3
        alike = [c for c in changes if c.change == change.change and _bare_is(c.table, table)]
        return any(
            norm(entry[side]) == table
            and (_in_schema(change.table, entry[1]) if entry[1] else len(alike) <= 1)
            for entry in moved["tables"]
        )
    if change.change in ("column_dropped", "column_added") and "net" in moved:
        return bool(_nets(change, moved, changes))
    if change.change in ("column_dropped", "column_added"):  # (a record from before ``net``)
        side = 1 if change.change == "column_dropped" else 2
        tables = {norm(entry[2]) for entry in moved["tables"]} | {
            norm(entry[3]) for entry in moved["tables"]
        }
        return any(
            norm(change.name or "") == norm(triple[side])
            and table in ({norm(bare(triple[0]))} | tables)
            for triple in moved["columns"]
        )
    return False


def _nets(
    change: SchemaChange, moved: dict[str, list[list[str]]], changes: Sequence[SchemaChange]
) -> list[list[str]]:
    """The columns' net renames (``renames()["net"]``) that take a column from the name a
    ``column_dropped`` has, or to the name a ``column_added`` has; none where that name is not
    pinned to one table."""
    side = 1 if change.change == "column_dropped" else 2
    table = norm(bare(change.table))
    tables = {norm(entry[2]) for entry in moved["tables"]} | {
        norm(entry[3]) for entry in moved["tables"]
    }
    found = []
    for net in moved["net"]:
        name = (change.name or "").casefold() if net[3] else change.name or ""
        schema = net[4] if len(net) > 4 else ""
        if schema and not _in_schema(change.table, schema):
            continue
        alike = [c for c in changes if (c.change, c.name) == (change.change, change.name)]
        if not schema and len([c for c in alike if _bare_is(c.table, table)]) > 1:
            return []  # a name the rename did not pin to one table: not taken for it
        if name == net[side] and table in ({net[0].casefold()} | tables):
            found.append(net)
    return found
