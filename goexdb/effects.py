"""What a staged SQL action measurably did: the effects model and its JSON form."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from sqlglot import exp

from goexdb.engines import EngineFacts
from goexdb.sql import Statement, StatementKind

MAX_RESULT_ROWS = 50  # rows of a read kept for display
SHOWN_ROWS, SHOWN_STATEMENTS = 20, 20  # row images journaled for a person's review


@contextmanager
def many_images() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while row images are read and copied: a
    hundred thousand rows make it walk every young object again and again, which costs more
    than reading them (images hold no cycles; it runs again as usual afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    """One difference between the catalog before and after: ``table_created|dropped|renamed``,
    ``view_created|dropped``, ``column_added|dropped|renamed``, ``type_changed``,
    ``default_changed``, ``index_created|dropped|changed``, ``constraint_created|dropped|
    changed``, ``schema_unread``. ``name`` is the column, index or constraint; ``before`` and
    ``after`` its type, default or definition, or, renamed, its names (``goexdb.catalog``)."""

    change: str
    table: str
    name: str | None = None
    before: str | None = None
    after: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "table": self.table,
            "name": self.name,
            "before": self.before,
            "after": self.after,
        }

    def describe(self) -> str:
        """In words: ``column_renamed public.t.b (was a)``."""
        name = f".{self.name}" if self.name else ""
        was = f" (was {self.before})" if self.change.endswith("_renamed") else ""
        return f"{self.change} {self.table}{name}{was}"


class RowImage(NamedTuple):
    """One row a statement changed, as JSON text read from the database: ``before`` is None for
    an inserted row, ``after`` None for a deleted one. Kept exact, never re-serialised. (A
    NamedTuple: an action may hold a hundred thousand of them.)"""

    before: str | None
    after: str | None


def row_images(pairs: Iterable[Sequence[str | None]]) -> list[RowImage]:
    """Rows' images from their (before, after) pairs, in a third of the time ``RowImage(b, a)``
    takes for each (a hundred thousand images: a tenth of a second)."""
    images = [_as_row_image(RowImage, pair) for pair in pairs]
    if not set(map(len, images)) <= {2}:
        raise ValueError("a row's images are not a pair (before, after)")
    return images


_as_row_image = tuple.__new__


# StatementImages.statement of images of the whole action so far (cascades' and triggers' rows
# included), not of one statement
WHOLE_ACTION = -1


@dataclass
class StatementImages:
    """The row images of one DML statement on its one target table."""

    statement: int  # index in the action's statements
    table: str  # schema.table
    key: list[str]  # primary-key columns, [] when the table has none
    images: list[RowImage] = field(default_factory=list)
    missing: str | None = None  # why the images are incomplete, if they are

    def to_json(self) -> dict[str, Any]:
        return {
            "statement": self.statement,
            "table": self.table,
            "key": self.key,
            "missing": self.missing,
            "images": [[i.before, i.after] for i in self.images],
        }

    def ran(self, statement: int, changed: int | None) -> StatementImages:
        """These images, known before statement ``statement`` ran (``UndoPlan.known``), as its
        own once it changed ``changed`` rows: missing, if not as many as they are."""
        images = StatementImages(statement, self.table, self.key, self.images)
        if changed != len(self.images):
            images.missing = (
                f"statement {statement + 1} changed {changed} rows of {self.table}, "
                f"not the {len(self.images)} its undo plan names"
            )
        return images

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StatementImages:
        return cls(
            statement=int(data["statement"]),
            table=str(data["table"]),
            key=list(data["key"]),
            images=row_images(data["images"]),
            missing=data.get("missing"),
        )


def pair_update(
    befores: Sequence[tuple[str, str]], afters: Sequence[tuple[str, str]], keyed: bool
) -> list[RowImage]:
    """Pair an UPDATE's (key, image) rows read before it ran with the (key, image) rows it
    returned, by primary key (the key text comes from the database). A table without a key, or
    an UPDATE that changed keys, keeps them unpaired: undo then deletes each after image and
    re-inserts each before image, which comes to the same rows."""
    if keyed:
        by_key = dict(befores)
        paired = [RowImage(by_key.pop(key, None), image) for key, image in afters]
        if not by_key and all(p.before is not None for p in paired):
            return paired
    return [RowImage(image, None) for _, image in befores] + [
        RowImage(None, image) for _, image in afters
    ]


def images_of(
    images: StatementImages,
    statement: Statement,
    befores: Sequence[tuple[str, str]],
    returned: Sequence[tuple[str, str]],
) -> None:
    """A statement's row images from the (key, image) rows it RETURNed: an UPDATE's pair with
    the rows read before it ran, a DELETE's are before images, the rest after images. An
    UPDATE that changed rows goex did not read first (its WHERE read them otherwise, say) has
    images missing: paired with nothing, they would read as rows it inserted."""
    if isinstance(statement.ast, exp.Update):
        images.images = pair_update(befores, returned, bool(images.key))
        if len(befores) != len(returned) and not statement.is_upsert:
            images.missing = images.missing or (
                f"UPDATE {images.table} changed {len(returned)} rows, of which goex read "
                f"{len(befores)} before it ran"
            )
    elif isinstance(statement.ast, exp.Delete):
        images.images = [RowImage(image, None) for _, image in returned]
    else:
        images.images = [RowImage(None, image) for _, image in returned]


class ImageBudget:
    """At most ``limit`` row images per table across an action; past it, that table's images
    are dropped and marked missing, so undo says it is unavailable instead of being partial."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, int] = {}

    def forget(self, table: str) -> None:
        """The table's images so far are replaced (by the whole action's): not counted."""
        self._seen.pop(table, None)

    def spend(self, images: StatementImages, count: int | None = None) -> None:
        """Count a statement's images (``count`` of them when they are read later)."""
        seen = self._seen.get(images.table, 0) + (len(images.images) if count is None else count)
        self._seen[images.table] = seen
        if seen > self.limit:
            images.images = []
            images.missing = (
                f"more than {self.limit} rows of {images.table} changed (max_row_images)"
            )


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

    @classmethod
    def returned(
        cls,
        statement: Statement,
        columns: list[str],
        rows: Sequence[Sequence[Any]],
        extra: int,
    ) -> StatementResult:
        """The result of a DML statement goex ran with ``extra`` columns of its own appended to
        RETURNING: every row counts, and only the agent's own columns are shown."""
        own = statement.has_returning
        return cls(
            statement.sql,
            statement.kind,
            len(rows),
            columns[:-extra] if own else [],
            [list(r[:-extra]) for r in rows[:MAX_RESULT_ROWS]] if own else [],
            own and len(rows) > MAX_RESULT_ROWS,
        )


@dataclass
class Effects:
    tables: dict[str, TableChange] = field(default_factory=dict)
    schema_changes: list[SchemaChange] = field(default_factory=list)
    locks: list[dict[str, str]] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    side_effects: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    images: list[StatementImages] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)  # why undo is impossible, if it is
    # what the tables and columns the action created hold as it ends (``fingerprint``): an undo
    # drops one only if it still holds that, no data written since
    fingerprints: dict[str, str] = field(default_factory=dict)
    # the session settings that shaped the images' text (``queries.SETTINGS``), kept with them
    # in the undo record: the undo reads and compares rows under the same
    settings: dict[str, str] = field(default_factory=dict)
    # the members of the enum types the imaged tables' columns are made of, {oid: label}, kept
    # with the images: their values are printed and read back by label (PostgreSQL)
    enums: dict[str, str] = field(default_factory=dict)
    # constraint triggers of the tables it wrote that may fire at its COMMIT, after it was
    # measured: what they write there is not imaged (PostgreSQL's, ``lossy.LATE``)
    late_triggers: list[str] = field(default_factory=list)

    @property
    def reversible(self) -> bool:
        return not self.irreversible

    @property
    def rows_changed(self) -> int:
        return sum(change.total for change in self.tables.values())

    def made(self) -> set[str]:
        """The tables and views the action made (their rows go with them: none is imaged),
        once its schema changes are read."""
        return {
            c.table for c in self.schema_changes if c.change in ("table_created", "view_created")
        }

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
            "irreversible": list(self.irreversible),
        }

    def shown_images(self) -> list[dict[str, Any]]:
        """The first row images of the first statements, as a person reviewing the action
        sees them (the undo record keeps them all): ``count`` says how many there are."""
        return [
            {**replace(i, images=i.images[:SHOWN_ROWS]).to_json(), "count": len(i.images)}
            for i in self.images[:SHOWN_STATEMENTS]
        ]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Effects:
        """The effects as journaled (without row images, which the undo record keeps)."""
        return cls(
            tables={name: TableChange(**change) for name, change in data["tables"].items()},
            schema_changes=[SchemaChange(**c) for c in data.get("schema_changes", [])],
            locks=list(data.get("locks", [])),
            rewrites=list(data.get("rewrites", [])),
            side_effects=list(data.get("side_effects", [])),
            results=list(data.get("results", [])),
            irreversible=list(data.get("irreversible", [])),
        )


@dataclass(frozen=True)
class TableColumns:
    """A table's columns as an undo writes rows back: their types, the generated ones (never
    written: the engine computes them) and the identity columns GENERATED ALWAYS (written only
    with OVERRIDING SYSTEM VALUE, never by an UPDATE)."""

    types: dict[str, str]
    generated: frozenset[str] = frozenset()
    always_identity: frozenset[str] = frozenset()


def fingerprinted(change: SchemaChange) -> str | None:
    """The key of what a created table or column holds in ``Effects.fingerprints``."""
    if change.change == "table_created":
        return f"table {change.table}"
    if change.change == "column_added":
        return f"column {change.table}.{change.name}"
    return None


def fingerprint_created(
    effects: Effects,
    facts: EngineFacts,
    value: Callable[[str], Any],
    unnamed: Callable[[str], bool] = lambda table: False,
) -> None:
    """Record what each table and column the action created holds as it ends
    (``Effects.fingerprints``); ``value`` runs a query of one value in the action's transaction.
    None for a table goex's SQL cannot name exactly (``unnamed``: a temporary table of its name
    answers for it), whose undo's drop a person must then see (``undo.verified_drops``)."""
    for change in effects.schema_changes:
        if (key := fingerprinted(change)) is not None and not unnamed(change.table):
            effects.fingerprints[key] = str(value(fingerprint_sql(change, facts)))


def fingerprint_sql(change: SchemaChange, facts: EngineFacts) -> str:
    """The engine's fingerprint of what a created table (its rows) or added column holds."""
    return facts.fingerprint(
        change.table, None if change.change == "table_created" else change.name
    )
