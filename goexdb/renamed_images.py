"""Row images taken before their table or a column of it was renamed in the same action, named
as the action left them. An undo writes the rows back before it puts the names back (the schema
goes last), so an image of ``UPDATE t SET v = 0`` followed by ``ALTER TABLE t RENAME COLUMN v TO
w`` is written back as a row of ``w``. Keys are renamed in the image's text, every value kept as
it was written; the renames come from the undo record (``goexdb.renames``), each with the
place of its statement."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from goexdb.effects import RowImage, StatementImages
from goexdb.engines import EngineFacts, engine_facts

_DECODER = json.JSONDecoder()


def as_left(
    statements: Sequence[StatementImages], moved: Mapping[str, list[list[str]]], dialect: str
) -> list[StatementImages]:
    """Each statement's images under the names its table and columns have once every rename
    after it that names its table ran (``renames.applies`` pinned them when the action was
    recorded; a record journaled before that renames nothing, as it was irreversible then)."""
    pinned, facts, order = _pinned(moved), engine_facts(dialect), moved.get("order", [])
    return [
        _renamed(images, [order[at] for at in pinned[place]], moved, facts)
        if pinned.get(place)
        else images
        for place, images in enumerate(statements)
    ]


def renamed_as_named(
    statements: Sequence[StatementImages], moved: Mapping[str, list[list[str]]], dialect: str
) -> dict[int, str]:
    """Each rename that names the table of some statement's images (``renames.applies``; by
    its place in ``order``): that table as the catalog names it once the rename ran. The undo
    names it so where it puts the name back, as its own statements name the rows it writes
    (the table as the action left it): its own undo then finds the rename written as they are,
    and pins it to them."""
    pinned, facts, order = _pinned(moved), engine_facts(dialect), moved.get("order", [])
    found: dict[int, str] = {}
    for place, images in enumerate(statements):
        schema, _, table = images.table.rpartition(".")
        for at in pinned.get(place, []):
            kind, index, *_ = order[at]
            if kind == "tables":  # [table as written, its schema, old name, new name]
                table = facts.written_name(moved[kind][int(index)][3])
            found.setdefault(at, f"{schema}.{table}" if schema else table)
    return found


def _pinned(moved: Mapping[str, list[list[str]]]) -> dict[int, list[int]]:
    """Each statement's images (their place) -> the renames pinned to them (``applies``)."""
    return {int(place): [int(at) for at in steps] for place, *steps in moved.get("applies", [])}


def _renamed(
    images: StatementImages,
    steps: list[list[str]],
    moved: Mapping[str, list[list[str]]],
    facts: EngineFacts,
) -> StatementImages:
    first = images.images[0]
    keys = _keys(first.before if first.before is not None else first.after or "{}")
    schema, _, table = images.table.rpartition(".")
    names = {key: key for key in keys}
    for kind, index, *_ in steps:
        entry = moved[kind][int(index)]
        if kind == "tables":  # [table as written, its schema, old name, new name]
            table = facts.written_name(entry[3])
            continue
        # [table as written, old, new]
        old, new = facts.written_name(entry[1]), facts.written_name(entry[2])
        for key, now in names.items():
            if facts.same_name(now, old):
                names[key] = new
    renamed = {key: now for key, now in names.items() if now != key}
    table = f"{schema}.{table}" if schema else table
    if not renamed and table == images.table:
        return images
    return replace(
        images,
        table=table,
        key=[renamed.get(column, column) for column in images.key],
        images=[
            RowImage(_rekeyed(row.before, renamed), _rekeyed(row.after, renamed))
            for row in images.images
        ],
    )


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
