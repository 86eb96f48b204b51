"""What a staged SQL action measurably did: the effects model and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from goexdb.statements import StatementKind

MAX_RESULT_ROWS = 50  # rows of a read kept for display


@dataclass
class TableChange:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    by_cascade_or_trigger: int = 0

    @property
    def total(self) -> int:
        """Rows changed; ``by_cascade_or_trigger`` is the part of it no statement explains."""
        return self.inserted + self.updated + self.deleted

    def to_json(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "by_cascade_or_trigger": self.by_cascade_or_trigger,
        }


@dataclass(frozen=True)
class SchemaChange:
    """One difference between the catalog before and after: ``table_created``, ``column_added``,
    ``column_dropped``, ``type_changed``, ``table_dropped``."""

    change: str
    table: str
    column: str | None = None
    before: str | None = None
    after: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "table": self.table,
            "column": self.column,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class StatementResult:
    sql: str
    kind: StatementKind
    rowcount: int | None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"sql": self.sql, "kind": self.kind.value, "rowcount": self.rowcount}


@dataclass
class Effects:
    tables: dict[str, TableChange] = field(default_factory=dict)
    schema_changes: list[SchemaChange] = field(default_factory=list)
    locks: list[dict[str, str]] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    side_effects: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_changed(self) -> int:
        return sum(change.total for change in self.tables.values())

    def table(self, name: str) -> TableChange:
        return self.tables.setdefault(name, TableChange())

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": {name: self.tables[name].to_json() for name in sorted(self.tables)},
            "schema_changes": [c.to_json() for c in self.schema_changes],
            "locks": list(self.locks),
            "rewrites": list(self.rewrites),
            "side_effects": list(self.side_effects),
            "results": list(self.results),
        }


def diff_catalog(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> list[SchemaChange]:
    """Schema changes between two ``{table: {column: type}}`` snapshots."""
    changes: list[SchemaChange] = []
    for table in sorted(after.keys() - before.keys()):
        changes.append(SchemaChange("table_created", table))
    for table in sorted(before.keys() - after.keys()):
        changes.append(SchemaChange("table_dropped", table))
    for table in sorted(before.keys() & after.keys()):
        old, new = before[table], after[table]
        for column in sorted(new.keys() - old.keys()):
            changes.append(SchemaChange("column_added", table, column, after=new[column]))
        for column in sorted(old.keys() - new.keys()):
            changes.append(SchemaChange("column_dropped", table, column, before=old[column]))
        for column in sorted(old.keys() & new.keys()):
            if old[column] != new[column]:
                changes.append(
                    SchemaChange("type_changed", table, column, old[column], new[column])
                )
    return changes
