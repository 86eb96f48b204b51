"""DuckDB UPDATEs whose row images are read when they are needed, not as they run.

RETURNING is slow in DuckDB, so an UPDATE that keeps its rows' ids (it changes no indexed column)
and is the only statement of the action writing its table leaves its images to ``settle``:
before it runs, the ids of its rows go to a temporary table and a snapshot is pinned on a
connection of goex's own; ``settle`` (commit does it first) reads the before images from the
snapshot and the after images from the transaction, which no later statement of the action
writes to that table. Rolling back costs nothing: the temporary tables go with the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb
from sqlglot import exp

from goexdb.backends.duckdb.errors import ignored, translated
from goexdb.effects import StatementImages, many_images, row_images
from goexdb.engines import DUCKDB, PARTED, quote_table
from goexdb.sql import Statement, matched_row_ids


class Query(Protocol):
    """The rows of one of goex's queries, run in the action's transaction."""

    def __call__(self, sql: str, /, *params: Any) -> list[tuple[Any, ...]]: ...


# At most this many runs of consecutive row ids are read as BETWEEN ranges (see _rowid_condition).
_MAX_RUNS = 64


_NESTED_TYPE = re.compile(r"\[|^(STRUCT|MAP|UNION)\(")  # as duckdb_columns() names types


def keeps_rowids(
    statement: Statement, types: Mapping[str, str], indexed: frozenset[str] | None
) -> bool:
    """Whether an UPDATE keeps its rows' ids: DuckDB updates a row in place unless an indexed
    column (``indexed``; None: an expression index may cover any) or a nested one (a list,
    struct, ...) changes, when it deletes and re-inserts it. RETURNING is slow in DuckDB, so
    an UPDATE that keeps rowids reads its after images by rowid instead."""
    assert isinstance(statement.ast, exp.Update)
    if indexed is None:
        return False
    # (DuckDB matches names whatever their case)
    assigned = {e.this.name.casefold() for e in statement.ast.expressions if isinstance(e, exp.EQ)}
    moved = {column for column, kind in types.items() if _NESTED_TYPE.search(kind)}
    return not assigned & {column.casefold() for column in indexed | moved}


@dataclass(frozen=True)
class _Deferred:
    """An UPDATE whose row images are read when they are needed (``settle``): before it ran, the
    ids of the rows it changes were kept in a temporary table and a snapshot of the database was
    pinned; its before images are read from that snapshot, its after images from the
    transaction, which no later statement of the action writes to that table."""

    images: StatementImages
    statement: Statement
    rowids: str  # the temporary table of the row ids
    count: int  # the rows the UPDATE reported


class DeferredImages:
    """The deferred UPDATEs of one action, and the snapshot their before images are read from."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        query: Query,
        types: Callable[[str], Mapping[str, str]],
    ) -> None:
        self._snapshot = con.cursor()  # a connection of goex's own to the same database
        self._query = query
        self._types = types  # a table's column types
        self._pinned = False
        self._items: list[_Deferred] = []

    def prepare(self, statement: Statement, images: StatementImages, rowids: str) -> int:
        """Before the UPDATE runs: keep the ids of its rows in the temporary table ``rowids``
        (with FROM, each id once with its number of join matches ``n``), and pin the snapshot
        if it is not pinned yet. Returns how many rows the UPDATE will change."""
        assert isinstance(statement.ast, exp.Update)
        matched = matched_row_ids(statement, DUCKDB)
        ids = (
            f"SELECT q.rowid AS r, count(*) AS n FROM ({matched}) AS q GROUP BY q.rowid"
            if statement.ast.args.get("from_") is not None
            else f"SELECT q.rowid AS r FROM ({matched}) AS q"
        )
        [(rows,)] = self._query(f"CREATE TEMP TABLE {rowids} AS {ids}")
        if not self._pinned:
            # Pinned after the transaction itself (the query above read the table): a change
            # another connection commits in between makes this UPDATE conflict, never a
            # before image wrong.
            self._snapshot.begin()
            self._snapshot.execute(f"SELECT 1 FROM {quote_table(images.table)} LIMIT 0").fetchall()
            self._pinned = True
        return int(rows)

    def counted(self, statement: Statement, rowids: str, rows: int, count: int) -> int:
        """The rows an UPDATE changed: DuckDB's ``count``, unless it counted each join match of
        an UPDATE ... FROM (every release but 2.0.0 does), when it is the ``rows`` matched."""
        assert isinstance(statement.ast, exp.Update)
        if count == rows or statement.ast.args.get("from_") is None:
            return count
        [(matches,)] = self._query(f"SELECT sum(n) FROM temp.main.{rowids}")
        return rows if count == matches else count

    def hold(self, images: StatementImages, statement: Statement, rowids: str, count: int) -> None:
        """After the UPDATE ran (``count`` rows) and its images were counted: keep them to be
        read by ``settle``, or drop the ids if the images will not be kept anyway."""
        if images.missing:
            self._query(f"DROP TABLE temp.main.{rowids}")
        else:
            self._items.append(_Deferred(images, statement, rowids, count))

    def settle(self) -> None:
        """Read every deferred UPDATE's images, while the transaction is open."""
        items, self._items = self._items, []
        try:
            with many_images():
                for item in items:
                    self._settle(item)
        finally:
            self.release()

    def _settle(self, item: _Deferred) -> None:
        """The images of one UPDATE: the rows it changed as the snapshot has them and as the
        transaction does, each side one text (its images in order of rowid, parted by a
        character JSON text never holds raw), paired in that order. Both sides are rows of the
        ids kept (the snapshot's read by their runs), so as many as the UPDATE changed on each
        are the same rows. (A text per row, and pairing by id in Python, took twice as long.)"""
        images, table = item.images, quote_table(item.images.table)
        types = self._types(images.table)
        row = DUCKDB.row_json("t", list(types), types)
        rowids, params = self._rowid_condition(item.rowids)
        texts = f"SELECT string_agg({row}, chr(30) ORDER BY t.rowid), count(*) FROM {table} AS t"
        with translated("goex could not read the row images on DuckDB"):
            [before] = self._snapshot.execute(f"{texts} WHERE {rowids}", params).fetchall()
        [after] = self._query(f"{texts} SEMI JOIN temp.main.{item.rowids} AS g ON t.rowid = g.r")
        self._query(f"DROP TABLE temp.main.{item.rowids}")
        befores, afters = _parted(*before), _parted(*after)
        if befores is not None and afters is not None and item.count == len(befores) == len(afters):
            images.images = row_images(zip(befores, afters, strict=True))
        else:  # not expected: the snapshot or the transaction lost rows the UPDATE changed
            images.missing = f"the updated rows of {images.table} could not be read again"

    def _rowid_condition(self, rowids: str) -> tuple[str, list[Any]]:
        """A condition on ``t.rowid`` selecting the ids kept in the temporary table ``rowids``,
        for another connection (which cannot see it): a few runs of consecutive ids as
        BETWEEN ranges (scanned like a slice of the table), else the ids as a list."""
        runs = self._query(
            f"SELECT min(r), max(r) FROM (SELECT r, r - row_number() OVER (ORDER BY r) AS run "
            f"FROM temp.main.{rowids}) GROUP BY run ORDER BY 1 LIMIT {_MAX_RUNS + 1}"
        )
        if len(runs) <= _MAX_RUNS:
            ranges = " OR ".join(f"t.rowid BETWEEN {int(a)} AND {int(b)}" for a, b in runs)
            return f"({ranges or 'false'})", []
        [(ids,)] = self._query(f"SELECT list(r) FROM temp.main.{rowids}")
        return "t.rowid IN (SELECT unnest(?::BIGINT[]))", [ids]

    def drop(self, why: str, *, tables: bool = False) -> None:
        """Forget the images not read yet, and with ``tables`` their temporary tables."""
        items, self._items = self._items, []
        for item in items:
            item.images.missing = why
            if tables:
                self._query(f"DROP TABLE IF EXISTS temp.main.{item.rowids}")
        self.release()

    def release(self) -> None:
        """Let go of the pinned snapshot."""
        if self._pinned:
            self._pinned = False
            with ignored():
                self._snapshot.rollback()

    def close(self) -> None:
        self.release()
        self._snapshot.close()


def _parted(text: str | None, count: int) -> list[str] | None:
    """The ``count`` images of one text, parted by the record separator (None: not so many)."""
    images = text.split(PARTED) if text is not None else []
    return images if len(images) == count else None
