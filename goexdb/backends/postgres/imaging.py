"""How the rows one DML statement changes are imaged on PostgreSQL, by the statement itself:
the columns goex appends to its RETURNING, and what the rows it returns make of them.

- PostgreSQL 18+: ``row_to_json(old.*)`` and ``row_to_json(new.*)``, each row's pair at once.
- Before 18 (and for a statement that names a relation old or new): an UPDATE's rows are read
  (and locked) first, by the statement's own FROM and WHERE (``goexdb.sql.preselect``), and
  paired by key with what its RETURNING shows after.

Where the table has columns whose values an image may not keep (``goexdb.backends.postgres.
lossy``), a first column says, row by row, whether this one holds such a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

import goexdb.backends.postgres.queries as queries
from goexdb.backends.postgres import lossy
from goexdb.backends.postgres.cascaded import unimageable
from goexdb.effects import RowImage, StatementImages, images_of
from goexdb.engines import POSTGRES
from goexdb.sql import UNREPEATABLE_ROWS, Statement, preselect, row_reference

Rows = Callable[..., list[tuple[Any, ...]]]


class Imaging:
    """One statement's images: ``extra``, the columns to append to its RETURNING; then
    ``returned``, with the rows it returned."""

    def __init__(
        self,
        statement: Statement,
        table: exp.Table,
        index: int,
        found: Sequence[Any],  # the table's row of queries.TABLE
        old_and_new: bool,
    ) -> None:
        schema, relation, key, inherited, lossy_columns = found
        # (a statement naming a relation old or new would have RETURNING old.* read it: its
        # rows are read first instead, as before 18, and returned under its own names)
        self.statement = statement
        self.old_and_new = old_and_new and not statement.names_old_or_new
        self.images = StatementImages(index, f"{schema}.{relation}", list(key))
        self.images.missing = unimageable(schema, relation, inherited)
        self.lossy: list[list[str]] = json.loads(lossy_columns)
        self._befores: list[tuple[str, str]] = []
        self._inexact = False
        self._unrepeatable = (
            isinstance(statement.ast, exp.Update) and statement.chooses_rows_unrepeatably
        )
        if self.old_and_new:
            self.extra = (*lossy.flag(["old", "new"], self.lossy), *queries.OLD_AND_NEW)
        else:
            self.extra = self._key_and_row(row_reference(table, POSTGRES.dialect))

    def _key_and_row(self, alias: str) -> tuple[str, ...]:
        # row_to_json keeps json columns' text and numeric scale exactly as stored.
        key = queries.key_json(alias, self.images.key)
        return *lossy.flag([alias], self.lossy), key, f"row_to_json({alias}.*)::text"

    def read_first(self, query: Rows) -> None:
        """Before 18: read the rows an UPDATE is about to change (``query``: on the action's
        transaction)."""
        if self.old_and_new:
            return
        read = preselect(self.statement, POSTGRES, self._key_and_row, lock=True)
        if self._unrepeatable:
            self.images.missing = UNREPEATABLE_ROWS
        elif read is not None and isinstance(self.statement.ast, exp.Update):
            rows = query(read)  # (a row once per join match)
            self._inexact = bool(self.lossy) and any(r[-3] for r in rows)
            self._befores = list({(r[0], r[1]): (r[-2], r[-1]) for r in rows}.values())

    def returned(self, rows: Sequence[Sequence[Any]]) -> StatementImages:
        """The statement's images, from the rows it returned."""
        images = self.images
        tails = [(r[-2], r[-1]) for r in rows]
        if self.old_and_new:
            images.images = [RowImage(old, new) for old, new in tails]
        elif not self._unrepeatable:
            images_of(images, self.statement, self._befores, tails)
            if self.statement.is_upsert:
                images.missing = "before PostgreSQL 18, an upsert's old rows cannot be read"
        if self._inexact or (self.lossy and any(r[-3] for r in rows)):
            images.missing = images.missing or lossy.inexact(images.table, self.lossy)
            images.images = []
        return images
