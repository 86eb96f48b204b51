"""Row images through the proxy (PostgreSQL 18+): a client's INSERT, UPDATE, DELETE or MERGE on
one table, without a RETURNING of its own and naming no relation old or new, is sent with
``RETURNING <what of the row may not be kept>, row_to_json(old.*)::text,
row_to_json(new.*)::text`` appended (``goexdb.sql.with_returning``, as ``goex-db run`` does;
the first is ``goexdb.backends.postgres.lossy.maybe``). The rows it returns are goex's: the
client is told NoData when it describes the statement and gets only its command tag, as for
the statement it wrote. At the end of the transaction each statement's images are tied to its
table and primary key, so that a committed action can be undone exactly
(``goexdb.reversible``), or dropped as missing where a row may hold a value its image cannot
keep (``lossy.counted``, by the table's columns known then).
"""

from __future__ import annotations

import json
from typing import Any

from sqlglot import exp

import goexdb.backends.postgres.queries as queries
from goexdb.backends.postgres import lossy
from goexdb.backends.postgres.cascaded import unimageable
from goexdb.effects import RowImage, StatementImages
from goexdb.engines import POSTGRES
from goexdb.proxy.messages import Message, data_row, row_count
from goexdb.proxy.statements import Verdict
from goexdb.sql import StatementKind, qualified, with_returning

# Whether the row may hold a value its image cannot keep, and its images.
IMAGE_COLUMNS = (lossy.maybe(["old", "new"]), *queries.OLD_AND_NEW)
DIALECT = POSTGRES.dialect


def imaged(verdict: Verdict) -> str | None:
    """The text to send instead, when the statement's row images are taken this way."""
    statement = verdict.statement
    if not verdict.writes or statement is None or statement.kind is not StatementKind.DML:
        return None
    if statement.image_target is None or statement.has_returning or statement.verb == "copy":
        return None
    if statement.names_old_or_new:  # (RETURNING's old and new would be that relation's rows)
        return None
    return with_returning(statement, *IMAGE_COLUMNS)


def rows_of(replies: list[Message]) -> tuple[list[RowImage], set[str]]:
    """The images in an Execute's rows (its last two columns), and what of them may not be
    kept (the one before, ``lossy.maybe``)."""
    images, maybe = [], set[str]()
    for reply in replies:
        values = data_row(reply)
        held, before, after = values[-3:]
        images.append(RowImage(_text(before), _text(after)))
        maybe.update((held or b"").decode().split(","))
    return images, maybe - {""}


def written_by(verdict: Verdict) -> str:
    """The table an imaged statement writes, named as written (schema-qualified if it was)."""
    statement = verdict.statement
    assert statement is not None and statement.image_target is not None
    return qualified(statement.image_target, DIALECT)


def tie(verdict: Verdict, position: int, tag: str | None, images: list[RowImage]) -> Tied:
    """One statement's images, to be tied to its table (``Tied.with_table``)."""
    tied = Tied(position, written_by(verdict), [])
    tied.images = images
    if row_count(tag or "") != len(images):
        tied.missing = "the statement's rows and its images do not agree"
        tied.images = []
    return tied


class Tied(StatementImages):
    maybe: frozenset[str] = frozenset()  # what of its rows may not be kept (``rows_of``)

    def with_table(
        self, tables: dict[str, tuple[str | None, str | None, Any, bool, str]], at_end: str
    ) -> Tied:
        """Named by the table's schema and name, with its primary key (``tables``: by the name
        as written, as the server resolved it in the transaction at its end, ``queries.TABLE``;
        ``at_end``: the name as written a later rename gave it, if one did: the images keep
        the name they were taken under, ``goexdb.renamed_images`` names them anew); missing
        where the table cannot be imaged under its name, or a row may hold a value its image
        cannot keep."""
        schema, relation, key, inherited, lossy_columns = tables.get(
            at_end, (None, None, None, False, "[]")
        )
        if schema is None or relation is None:
            self.missing, self.images = f"table {self.table} was not found again", []
            return self
        if at_end != self.table:
            relation = POSTGRES.catalog_name(exp.to_table(self.table, dialect=DIALECT).this)
        self.table, self.key = f"{schema}.{relation}", list(key or [])
        why = unimageable(schema, relation, inherited)
        columns = json.loads(lossy_columns)
        if why is None and self.images and lossy.counted(self.maybe, columns):
            why = lossy.inexact(self.table, columns)
        if why is not None:
            self.missing, self.images = why, []
        return self


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()
