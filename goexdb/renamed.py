"""Row images taken before their table or a column of it was renamed in the same action, named
as the action left them. An undo writes the rows back before it puts the names back (the schema
goes last), so an image of ``UPDATE t SET v = 0`` followed by ``ALTER TABLE t RENAME COLUMN v TO
w`` is written back as a row of ``w``. Keys are renamed in the image's text, every value kept as
it was written; the renames come from the undo record (``reversible.renames``), each with the
place of its statement."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlglot import exp

from goexdb.effects import RowImage, StatementImages
from goexdb.engines import EngineFacts, engine_facts

_DECODER = json.JSONDecoder()


def as_left(
    statements: Sequence[StatementImages], moved: Mapping[str, list[list[str]]], dialect: str
) -> list[StatementImages]:
    """Each statement's images under the names its table and columns have once every rename
    after it ran (the images of the whole action, read at its end, have those already)."""
    steps = [  # (a record journaled before renames said where they were has no places)
        (int(entry[2]), entry[0], moved[entry[0]][int(entry[1])])
        for entry in moved.get("order", [])
        if len(entry) > 2
    ]
    facts = engine_facts(dialect)
    return [_renamed(images, steps, facts) if steps else images for images in statements]


def _renamed(
    images: StatementImages, steps: list[tuple[int, str, list[str]]], facts: EngineFacts
) -> StatementImages:
    if images.statement < 0 or not images.images:
        return images
    first = images.images[0]
    keys = _keys(first.before if first.before is not None else first.after or "{}")
    schema, _, table = images.table.rpartition(".")
    names = {key: key for key in keys}
    for at, kind, entry in steps:
        written = exp.to_table(entry[0], dialect=facts.dialect)
        if at <= images.statement or not _names(written, schema, table, facts):
            continue
        if kind == "tables":  # [table as written, its schema, old name, new name]
            table = facts.catalog_name(_identifier(entry[3]))
            continue
        old = facts.catalog_name(_identifier(entry[1]))  # [table as written, old, new]
        new = facts.catalog_name(_identifier(entry[2]))
        for key, now in names.items():
            if facts.same_name(now, old):
                names[key] = new
    renamed = {key: now for key, now in names.items() if now != key}
    moved = f"{schema}.{table}" if schema else table
    if not renamed and moved == images.table:
        return images
    return replace(
        images,
        table=moved,
        key=[renamed.get(column, column) for column in images.key],
        images=[
            RowImage(_rekeyed(row.before, renamed), _rekeyed(row.after, renamed))
            for row in images.images
        ],
    )


def _names(written: exp.Table, schema: str, table: str, facts: EngineFacts) -> bool:
    """Whether a table as a statement wrote it names the table of the images (by its name, and
    by its schema where it gave one)."""
    if not facts.same_name(facts.catalog_name(written.this), table):
        return False
    given = written.args.get("db")
    return given is None or facts.same_name(facts.catalog_name(given), schema)


def _identifier(sql: str) -> exp.Identifier:
    """A name as a statement wrote it (sqlglot's SQL of it)."""
    if sql.startswith('"') and sql.endswith('"'):
        return exp.Identifier(this=sql[1:-1].replace('""', '"'), quoted=True)
    return exp.Identifier(this=sql, quoted=False)


def _keys(image: str) -> list[str]:
    return [key for key, _, _ in _members(image)]


def _members(image: str) -> list[tuple[str, int, int]]:
    """The top-level keys of an image (a JSON object) and where each key's text stands."""
    found = []
    at = _skip(image, image.index("{") + 1)
    while image[at] != "}":
        key, end = json.decoder.scanstring(image, at + 1)  # type: ignore[attr-defined]
        found.append((key, at, end))
        _, at = _DECODER.raw_decode(image, _skip(image, _skip(image, end) + 1))  # past the colon
        at = _skip(image, at)
        if image[at] == ",":
            at = _skip(image, at + 1)
    return found


def _skip(text: str, at: int) -> int:
    """Past the JSON white space at ``at``."""
    while text[at] in " \t\n\r":
        at += 1
    return at


def _rekeyed(image: str | None, renamed: Mapping[str, str]) -> str | None:
    """The image with its keys renamed, and every other character as it was."""
    if image is None or not renamed:
        return image
    parts, last = [], 0
    for key, start, end in _members(image):
        if key in renamed:
            parts += [image[last:start], json.dumps(renamed[key], ensure_ascii=False)]
            last = end
    return "".join(parts) + image[last:]
