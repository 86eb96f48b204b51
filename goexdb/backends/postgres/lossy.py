"""The values a row image cannot keep. goex's images are ``row_to_json`` text, which an undo
reads back with ``json_populate_record``. That round trip is exact for every value but:

- a json or jsonb value that is JSON ``null``: printed as SQL NULL is, and read back as SQL NULL;
- an array whose lower bound is not 1 (``'[2:4]={1,2,3}'``): printed without its bounds;
- a json or jsonb array element that is JSON ``null``: read back as a NULL element;
- a json value holding ``\\u0000``, which the server cannot read back as text.

A table's columns of such types (domains over them too) are found with its key (``COLUMNS``, a
part of ``queries.TABLE``); each capture path asks, row by row, whether a row it images holds such
a value (``flag``), and where one does, the images of its table are missing, saying so
(``inexact``): the action is irreversible, instead of an undo that exits 0 with other data.
The proxy, which rewrites a statement before it knows its table's columns, asks instead whether
the row's text looks as if it may hold one (``maybe``), and counts it for tables with such
columns only.
"""

from __future__ import annotations

from collections.abc import Sequence

from goexdb.engines import quote_ident

# The table's columns (``c``: its pg_class row) whose values an image may not keep, as JSON
# [[name, kind], ...]: kind json, jsonb, array, json[] or jsonb[], of the type under any domains.
COLUMNS = """
    (SELECT coalesce(json_agg(json_build_array(a.attname, b.kind) ORDER BY a.attnum), '[]')::text
     FROM pg_attribute a CROSS JOIN LATERAL (
         WITH RECURSIVE d(oid) AS (
             SELECT a.atttypid
             UNION ALL SELECT y.typbasetype FROM d JOIN pg_type y ON y.oid = d.oid
             WHERE y.typtype = 'd')
         SELECT CASE WHEN x.oid = 'json'::regtype THEN 'json'
                     WHEN x.oid = 'jsonb'::regtype THEN 'jsonb'
                     WHEN e.typarray IS DISTINCT FROM x.oid THEN NULL  -- (int2vector, point)
                     WHEN 'json'::regtype IN (e.oid, e.typbasetype) THEN 'json[]'
                     WHEN 'jsonb'::regtype IN (e.oid, e.typbasetype) THEN 'jsonb[]'
                     ELSE 'array' END
         FROM d JOIN pg_type x ON x.oid = d.oid LEFT JOIN pg_type e ON e.oid = x.typelem
         WHERE x.typtype <> 'd') AS b(kind)
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND b.kind IS NOT NULL)
"""

# Backslash-free, as a client's standard_conforming_strings may be off.
_NUL = "chr(92) || 'u0000'"
_BOUNDS = "array_dims({v}) !~ '^([[]1:[0-9]+[]])+$'"  # every dimension's lower bound 1
_HELD = {
    "json": f"json_typeof({{v}}) = 'null' OR strpos({{v}}::text, {_NUL}) > 0",
    "jsonb": "jsonb_typeof({v}) = 'null'",
    "array": _BOUNDS,
    # (the element's alias one a statement's own is unlikely to be: {v} names the row by it)
    "json[]": _BOUNDS + " OR EXISTS (SELECT FROM unnest({v}) AS goex_element(e)"
    f" WHERE json_typeof(e) = 'null' OR strpos(e::text, {_NUL}) > 0)",
    "jsonb[]": _BOUNDS + " OR 'null'::jsonb = ANY ({v})",
}


def flag(aliases: Sequence[str], columns: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The column goex adds where it images rows: a boolean SQL expression, whether the row
    under any of ``aliases`` holds a value its image cannot keep (``columns``: as ``COLUMNS``
    lists them); none for a table without such columns."""
    held = [
        f"({_HELD[kind].format(v=f'{alias}.{quote_ident(name)}')})"
        for alias in aliases
        for name, kind in columns
    ]
    return (f"coalesce({' OR '.join(held)}, false)",) if held else ()


# A field of a row's text (record_out) that may be such a value: a bare (JSON) null, an array
# element "null", an array's bounds, a \u0000 (or a text field that reads so, counted only for
# a table with columns of such types).
_MAYBE = (
    '(^[(]|,)"?[[:space:]]*null[[:space:]]*"?(,|[)]$)'
    '|""[[:space:]]*null[[:space:]]*""|[[][-0-9]+:[-0-9]+[]]|u0000'
)


def maybe(aliases: Sequence[str]) -> str:
    """A boolean SQL expression, without the table's columns: whether the row under any of
    ``aliases`` may hold a value its image cannot keep."""
    texts = " OR ".join(f"({alias}.*)::text ~ '{_MAYBE}'" for alias in aliases)
    return f"coalesce({texts}, false)"


def inexact(table: str, columns: Sequence[Sequence[str]]) -> str:
    """Why the images of ``table``'s rows are missing, where a row holds such a value."""
    named = ", ".join(name for name, _ in columns)
    return (
        f"a row of {table} holds a value its image cannot keep exactly: a JSON null, an array "
        f"not starting at 1 or a \\u0000 in json (in {named})"
    )
