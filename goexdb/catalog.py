"""The catalog an action's schema changes are read from: a snapshot before and after, diffed.

Tables are followed by what the engine keeps for them across a rename (their oid), and on
PostgreSQL columns too (their attnum): so a table or column renamed reads as renamed, and
one dropped and made again under its name reads as dropped and created, not as unchanged.
DuckDB numbers a table's columns by position, which a dropped column shifts: there a column
is followed by its name, and a name that moved to a later position is another column's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from goexdb.effects import SchemaChange, TableColumns
from goexdb.engines import EngineFacts

GENERATED = ("s", "v")  # pg_attribute.attgenerated: stored, virtual (PostgreSQL 18)
ALWAYS_IDENTITY = "a"  # pg_attribute.attidentity: GENERATED ALWAYS AS IDENTITY

Columns = dict[str, tuple[str, str | None]]  # column -> (type, default)


@dataclass
class Catalog:
    """What a catalog diff compares: columns (type, default), indexes and constraints; how
    each column is generated (PostgreSQL's attgenerated or attidentity, where set); and what
    identifies each table (``ids``) and column (``numbers``) whatever its name."""

    columns: dict[str, Columns] = field(default_factory=dict)
    # stable key (an oid where the engine has one) -> (table, name, definition)
    indexes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    constraints: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    generation: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # table -> its oid
    numbers: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> column -> number
    numbers_kept: bool = False  # EngineFacts.keeps_column_numbers
    parents: dict[str, list[str]] = field(default_factory=dict)  # table -> its parents' oids
    views: dict[str, str] = field(default_factory=dict)  # a view -> VIEW, MATERIALIZED VIEW

    def add_column(
        self,
        table: str,
        column: str,
        kind: tuple[str, str | None],
        ids: tuple[str, int],
        view: str | None = None,
    ) -> None:
        """One column as a catalog query reads it, with its table's oid and its number, and
        what its table is if it is a view (``VIEW``, ``MATERIALIZED VIEW``)."""
        self.columns.setdefault(table, {})[column] = kind
        self.ids[table] = ids[0]
        self.numbers.setdefault(table, {})[column] = ids[1]
        if view:
            self.views[table] = view

    def describe(self) -> dict[str, dict[str, str]]:
        return {
            table: {column: kind for column, (kind, _) in columns.items()}
            for table, columns in self.columns.items()
        }

    def table_columns(self, table: str) -> TableColumns:
        made = self.generation.get(table, {})
        return TableColumns(
            {column: kind for column, (kind, _) in self.columns.get(table, {}).items()},
            frozenset(c for c, how in made.items() if how in GENERATED),
            frozenset(c for c, how in made.items() if how == ALWAYS_IDENTITY),
        )


def diff_catalog(before: Catalog, after: Catalog) -> list[SchemaChange]:
    """Schema changes between two catalog snapshots taken in the same transaction: a table or
    column renamed is ``table_renamed`` or ``column_renamed`` (``before`` and ``after`` its
    names), where the engine keeps what identifies it; a view made or dropped is
    ``view_created`` or ``view_dropped`` (``after`` or ``before``: what it is)."""
    changes: list[SchemaChange] = []
    pairs = _paired(
        {table: before.ids.get(table, table) for table in before.columns},
        {table: after.ids.get(table, table) for table in after.columns},
    )
    for table in sorted(after.columns.keys() - {new for _, new in pairs}):
        view = after.views.get(table)
        changes.append(SchemaChange(f"{'view' if view else 'table'}_created", table, after=view))
    for table in sorted(before.columns.keys() - {old for old, _ in pairs}):
        view = before.views.get(table)
        changes.append(SchemaChange(f"{'view' if view else 'table'}_dropped", table, before=view))
    for old, new in sorted(pairs, key=lambda pair: pair[1]):
        if old != new:
            changes.append(SchemaChange("table_renamed", new, before=old, after=new))
        changes += _diff_columns(before, after, old, new)
    changes = _without_inherited_renames(changes, after)
    for kind, old_map, new_map in (
        ("index", before.indexes, after.indexes),
        ("constraint", before.constraints, after.constraints),
    ):
        created = {new_map[key] for key in new_map.keys() - old_map.keys()}
        dropped = {old_map[key] for key in old_map.keys() - new_map.keys()}
        # The same definition under a new oid was rebuilt (ALTER COLUMN TYPE does), not changed.
        for table, name, definition in sorted(created - dropped):
            changes.append(SchemaChange(f"{kind}_created", table, name, after=definition))
        for table, name, definition in sorted(dropped - created):
            changes.append(SchemaChange(f"{kind}_dropped", table, name, before=definition))
        for key in sorted(old_map.keys() & new_map.keys()):
            (_, _, old_def), (table, name, new_def) = old_map[key], new_map[key]
            if old_def != new_def:
                changes.append(SchemaChange(f"{kind}_changed", table, name, old_def, new_def))
    return changes


def _paired(before: dict[str, object], after: dict[str, object]) -> list[tuple[str, str]]:
    """(name before, name after) of each thing in both, by what identifies it."""
    named_after = {key: name for name, key in after.items()}
    return [(name, named_after[key]) for name, key in before.items() if key in named_after]


def _without_inherited_renames(changes: list[SchemaChange], after: Catalog) -> list[SchemaChange]:
    """Leave out a column renamed in a table as in its parent: PostgreSQL renames an inherited
    column in every partition and child with its parent's, and so puts them back."""
    renamed = {(c.table, c.before, c.after) for c in changes if c.change == "column_renamed"}
    named = {oid: table for table, oid in after.ids.items()}
    return [
        c
        for c in changes
        if c.change != "column_renamed"
        or not any(
            (named.get(parent), c.before, c.after) in renamed
            for parent in after.parents.get(c.table, ())
        )
    ]


def _diff_columns(before: Catalog, after: Catalog, old: str, new: str) -> list[SchemaChange]:
    """The column changes of one table (``old`` and ``new``: its names before and after)."""
    old_columns, new_columns = before.columns[old], after.columns[new]
    old_numbers, new_numbers = before.numbers.get(old, {}), after.numbers.get(new, {})
    if before.numbers_kept and after.numbers_kept:
        pairs = _paired(
            {column: old_numbers.get(column, column) for column in old_columns},
            {column: new_numbers.get(column, column) for column in new_columns},
        )
    else:  # by name, but a name at a later position is another column (one was dropped)
        pairs = [
            (column, column)
            for column in old_columns.keys() & new_columns.keys()
            if new_numbers.get(column, 0) <= old_numbers.get(column, 0)
        ]
    changes = [
        SchemaChange("column_added", new, column, after=new_columns[column][0])
        for column in sorted(new_columns.keys() - {n for _, n in pairs})
    ]
    changes += [
        SchemaChange("column_dropped", new, column, before=old_columns[column][0])
        for column in sorted(old_columns.keys() - {o for o, _ in pairs})
    ]
    for was, column in sorted(pairs, key=lambda pair: pair[1]):
        if was != column:
            changes.append(SchemaChange("column_renamed", new, column, was, column))
        (old_type, old_default), (new_type, new_default) = old_columns[was], new_columns[column]
        if old_type != new_type:
            changes.append(SchemaChange("type_changed", new, column, old_type, new_type))
        if old_default != new_default:
            changes.append(SchemaChange("default_changed", new, column, old_default, new_default))
    return changes


def not_null(definition: str | None) -> str | None:
    """The column of a NOT NULL constraint (``NOT NULL v``, as SQL), which both engines set
    and drop on the column (their ADD CONSTRAINT takes no NOT NULL); None for another."""
    found = re.fullmatch(r'NOT NULL ((?:"(?:[^"]|"")+")|\w+)', definition or "")
    return found[1] if found else None


def not_null_named_otherwise(change: SchemaChange, facts: EngineFacts) -> bool:
    """A NOT NULL constraint dropped under a name its engine would not give it when set again
    (``EngineFacts.not_null_name``): its undo would not be exact."""
    column = not_null(change.before) if change.change == "constraint_dropped" else None
    if column is None:
        return False
    return change.name != facts.not_null_name(change.table.rpartition(".")[2], unquoted(column))


def unquoted(name: str) -> str:
    """A name as SQL writes it (``v``, ``"V"``), as the catalog keeps it, where it is quoted."""
    return name[1:-1].replace('""', '"') if name.startswith('"') else name
