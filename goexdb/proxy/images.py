"""Row images through the proxy (PostgreSQL 18+): a client's INSERT, UPDATE, DELETE or MERGE on
one table, without a RETURNING of its own, is sent with ``RETURNING row_to_json(old)::text,
row_to_json(new)::text`` appended (``goexdb.sql.with_returning``, as ``goex-db run`` does). The
rows it returns are goex's: the client is told NoData when it describes the statement and gets
only its command tag, as for the statement it wrote. At the end of the transaction each
statement's images are tied to its table and primary key, so that a committed action can be
undone exactly (``goexdb.reversible``).
"""

from __future__ import annotations

import json

from goexdb.backends.postgres import queries
from goexdb.effects import ImageBudget, RowImage, StatementImages
from goexdb.proxy.messages import Message, data_row, row_count
from goexdb.proxy.own import Own
from goexdb.proxy.statements import Verdict
from goexdb.sql import StatementKind, qualified, with_returning

IMAGE_COLUMNS = ("row_to_json(old)::text", "row_to_json(new)::text")
_TABLE = f"SELECT t.a, t.b, array_to_json(t.c)::text FROM ({queries.TABLE}) AS t(a, b, c)"
DIALECT = "postgres"


def imaged(verdict: Verdict) -> str | None:
    """The text to send instead, when the statement's row images are taken this way."""
    statement = verdict.statement
    if not verdict.writes or statement is None or statement.kind is not StatementKind.DML:
        return None
    if statement.image_target is None or statement.has_returning or statement.verb == "copy":
        return None
    return with_returning(statement, *IMAGE_COLUMNS)


def rows_of(replies: list[Message]) -> list[RowImage]:
    """The images in an Execute's rows: its last two columns."""
    images = []
    for reply in replies:
        values = data_row(reply)
        before, after = values[-2], values[-1]
        images.append(RowImage(_text(before), _text(after)))
    return images


async def tie(
    own: Own,
    verdict: Verdict,
    position: int,
    tag: str | None,
    images: list[RowImage],
    budget: ImageBudget,
) -> StatementImages:
    """One statement's images, with its table's qualified name and primary key."""
    statement = verdict.statement
    assert statement is not None and statement.image_target is not None
    written = qualified(statement.image_target, DIALECT)
    found = await own.rows("goex_image_table", _TABLE, (written,))
    if not found or found[0][0] is None or found[0][1] is None:
        missing = StatementImages(position, written, [])
        missing.missing = f"table {written} could not be found again to tie its images to"
        return missing
    schema, relation, key = (v.decode() if v is not None else "" for v in found[0])
    tied = StatementImages(position, f"{schema}.{relation}", list(json.loads(key or "[]")))
    tied.images = images
    if "." in schema + relation:
        tied.missing = f"table {schema}.{relation} has a '.' in its name"
    elif row_count(tag or "") not in (len(images), None) or tag is None:
        tied.missing = "the statement's rows and its images do not agree"
        tied.images = []
    budget.spend(tied)
    return tied


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()
