"""The values a row image cannot keep. goex's images are ``row_to_json`` text, which an undo
reads back with ``json_populate_record``. That round trip is exact for every value but:

- a json or jsonb value that is JSON ``null``: printed as SQL NULL is, and read back as SQL NULL;
- an array whose lower bound is not 1 (``'[2:4]={1,2,3}'``): printed without its bounds;
- a json or jsonb array element that is JSON ``null``: read back as a NULL element; or a JSON
  array: read back as a dimension of the array (``{[1],[2]}`` as ``{{1},{2}}``);
- a json value holding ``\\u0000``, which the server cannot read back as text, with white
  space around it, which is read back without, or a JSON string with a ``\\u`` or ``\\/``
  escape, read back unescaped;
- any of these inside a composite value (a row type, or an array of them);
- a float (float4, float8, the geometric types) printed while ``extra_float_digits`` is below 1
  (a trigger may set it so for a while): rounded; a range of dates printed under a DateStyle
  other than ISO, an interval under IntervalStyle sql_standard: read back as another value
  under other settings (the undo's own are the images', but a setting may change mid-action);
- an object identifier (regclass, regtype, ..., an aclitem's roles): printed by name, read
  back as whatever that name then means; a type not built in with a cast to json, which
  row_to_json prints by it.

A table's columns of such types (seen through domains, arrays, ranges and composites) are found
with its key (``COLUMNS``, a part of ``queries.TABLE``); each capture path asks, row by row,
whether a row it images holds such a value (``flag``), and where one does, the images of its
table are missing, saying so (``inexact``): the action is irreversible, instead of an undo that
exits 0 with other data. The proxy, which rewrites a statement before it knows its table's
columns, asks instead whether the row's text looks as if it may hold one (``maybe``), and
counts it for tables with such columns only (``counted``).

An enum value is printed by its label and read back by the label as the type's labels then
are: a label renamed after the commit and given to a new member would read back as that
member. The members of the enum types the imaged tables' columns are made of are kept with
the images (``ENUMS``), and the undo is refused if one of them is now labelled otherwise
(``EngineFacts.relabelled``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from goexdb.effects import Effects
from goexdb.engines import quote_ident, quote_table

# The object identifier types, whose values are printed by name and read back by name: as the
# role, search path and catalog then resolve it, maybe another object (an aclitem's roles too).
_REG_TYPES = (
    "regclass regproc regprocedure regoper regoperator regtype regconfig regdictionary "
    "regnamespace regrole regcollation aclitem"
)
_REG = "(" + ", ".join(f"'pg_catalog.{name}'::regtype" for name in _REG_TYPES.split()) + ")"
# A type ({t}) not built in with a cast to json, by which row_to_json prints it (and which
# json_populate_record does not take back: it reads the JSON with the type's input).
_CAST = (
    "{t} >= 16384 AND EXISTS (SELECT FROM pg_catalog.pg_cast k WHERE k.castsource = {t}"
    " AND k.casttarget = 'pg_catalog.json'::regtype)"
)
# The kinds of a column of a domain, composite or range type, or an array of one (``a``: its
# pg_attribute row), by every type its values are made of, and whether inside a composite.
_MADE_OF = f"""
         WITH RECURSIVE
         col(oid) AS (SELECT a.atttypid UNION ALL SELECT y.typbasetype FROM col
                      JOIN pg_catalog.pg_type y ON y.oid = col.oid WHERE y.typtype = 'd'),
         element(oid) AS (SELECT x.typelem FROM col JOIN pg_catalog.pg_type x ON x.oid = col.oid
                     JOIN pg_catalog.pg_type e ON e.oid = x.typelem AND e.typarray = x.oid
                     UNION ALL SELECT y.typbasetype FROM element
                     JOIN pg_catalog.pg_type y ON y.oid = element.oid WHERE y.typtype = 'd'),
         below(oid, inside) AS (
             SELECT a.atttypid, false
             UNION SELECT n.oid, below.inside OR n.field FROM below
             JOIN pg_catalog.pg_type y ON y.oid = below.oid CROSS JOIN LATERAL (
                 SELECT y.typbasetype, false WHERE y.typtype = 'd'
                 UNION ALL SELECT y.typelem, false WHERE y.typelem <> 0 AND y.typcategory = 'A'
                 UNION ALL SELECT r.rngsubtype, false FROM pg_catalog.pg_range r
                 WHERE y.oid IN (r.rngtypid, r.rngmultitypid)
                 UNION ALL SELECT f.atttypid, true FROM pg_catalog.pg_attribute f
                 WHERE y.typtype = 'c' AND f.attrelid = y.typrelid AND f.attnum > 0
                   AND NOT f.attisdropped) AS n(oid, field)),
         made AS (SELECT z.oid, z.typtype, z.typcategory, below.inside FROM below
                  JOIN pg_catalog.pg_type z ON z.oid = below.oid),
         base AS (SELECT (SELECT x.oid FROM col JOIN pg_catalog.pg_type x ON x.oid = col.oid
                          WHERE x.typtype <> 'd') AS oid,
                         (SELECT x.oid FROM element JOIN pg_catalog.pg_type x ON x.oid = element.oid
                          WHERE x.typtype <> 'd') AS element)
         SELECT ARRAY[
             CASE WHEN base.oid = 'pg_catalog.json'::regtype THEN 'json'
                  WHEN base.oid = 'pg_catalog.jsonb'::regtype THEN 'jsonb'
                  WHEN EXISTS (SELECT FROM made WHERE made.inside AND (made.oid IN
                       ('pg_catalog.json'::regtype, 'pg_catalog.jsonb'::regtype)
                       OR made.typcategory = 'A'))
                       THEN 'composite'
                  WHEN base.element = 'pg_catalog.json'::regtype THEN 'json[]'
                  WHEN base.element = 'pg_catalog.jsonb'::regtype THEN 'jsonb[]'
                  WHEN base.element IS NOT NULL THEN 'array' END,
             CASE WHEN EXISTS (SELECT FROM made WHERE made.oid IN
                       ('pg_catalog.float4'::regtype, 'pg_catalog.float8'::regtype)
                       OR made.typcategory = 'G')
                       THEN 'float' END,
             CASE WHEN EXISTS (SELECT FROM made WHERE made.oid IN {_REG})
                       THEN 'reg' END,
             CASE WHEN EXISTS (SELECT FROM made WHERE made.oid = 'pg_catalog.interval'::regtype)
                       THEN 'interval' END,
             CASE WHEN EXISTS (SELECT FROM made WHERE made.typtype IN ('r', 'm'))
                   AND EXISTS (SELECT FROM made WHERE made.oid IN
                       ('pg_catalog.date'::regtype, 'pg_catalog.timestamp'::regtype,
                        'pg_catalog.timestamptz'::regtype))
                       THEN 'dated' END,
             CASE WHEN EXISTS (SELECT FROM made WHERE {_CAST.format(t="made.oid")})
                       THEN 'cast' END]
         FROM base"""

# The table's columns (``c``: its pg_class row) whose values an image may not keep, as JSON
# [[name, kind], ...]: kind json, jsonb, composite (one holding json, jsonb or an array, at
# any depth), json[], jsonb[] or array, of the type under its domains (an array's, of its
# element under its domains); float, where a float is reached at any depth; reg, where an
# object identifier type is; interval, where an interval is; dated, where a range of dates or
# timestamps is; cast, where a type with its own cast to json is (a column may be of several
# kinds).
COLUMNS = f"""
    (SELECT coalesce(json_agg(json_build_array(a.attname, k.kind) ORDER BY a.attnum), '[]')::text
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
     LEFT JOIN pg_catalog.pg_type el ON el.oid = ty.typelem AND el.typarray = ty.oid  -- (not point)
     CROSS JOIN LATERAL unnest(CASE WHEN ty.typtype IN ('d', 'c', 'r', 'm')
                                      OR el.typtype IN ('d', 'c', 'r', 'm')
         THEN ({_MADE_OF})
         ELSE ARRAY[CASE WHEN ty.oid = 'pg_catalog.json'::regtype THEN 'json'
                         WHEN ty.oid = 'pg_catalog.jsonb'::regtype THEN 'jsonb'
                         WHEN el.oid = 'pg_catalog.json'::regtype THEN 'json[]'
                         WHEN el.oid = 'pg_catalog.jsonb'::regtype THEN 'jsonb[]'
                         WHEN el.oid IS NOT NULL THEN 'array' END,
                    CASE WHEN coalesce(el.oid, ty.oid)
                              IN ('pg_catalog.float4'::regtype, 'pg_catalog.float8'::regtype)
                           OR coalesce(el.typcategory, ty.typcategory) = 'G' THEN 'float' END,
                    CASE WHEN coalesce(el.oid, ty.oid) IN {_REG} THEN 'reg' END,
                    CASE WHEN coalesce(el.oid, ty.oid) = 'pg_catalog.interval'::regtype
                         THEN 'interval' END,
                    CASE WHEN {_CAST.format(t="coalesce(el.oid, ty.oid)")} THEN 'cast' END]
         END) AS k(kind)
     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND k.kind IS NOT NULL)
"""

# The members of every enum type the columns of the tables named in $1 (a JSON list of
# quoted names) are made of, through domains, arrays, ranges and composites, as a JSON object
# {"oid": "label"}; "{}" for none. The tables' columns by pg_attribute's index (an estimate
# of a handful: a join with the names would read all pg_attribute, and cost ten times as much).
ENUMS = """
    WITH RECURSIVE made(oid) AS (
        SELECT a.atttypid FROM pg_catalog.pg_attribute a WHERE a.attrelid = ANY (ARRAY(
            SELECT to_regclass(x) FROM json_array_elements_text($1::json) AS x))
          AND a.attnum > 0 AND NOT a.attisdropped
        UNION SELECT n.oid FROM made JOIN pg_catalog.pg_type y ON y.oid = made.oid
        CROSS JOIN LATERAL (
            SELECT y.typbasetype WHERE y.typtype = 'd'
            UNION ALL SELECT y.typelem WHERE y.typelem <> 0 AND y.typcategory = 'A'
            UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r
            WHERE y.oid IN (r.rngtypid, r.rngmultitypid)
            UNION ALL SELECT f.atttypid FROM pg_catalog.pg_attribute f
            WHERE y.typtype = 'c' AND f.attrelid = y.typrelid AND f.attnum > 0
              AND NOT f.attisdropped) AS n(oid))
    SELECT coalesce(json_object_agg(e.oid::text, e.enumlabel), '{}')::text
    FROM made JOIN pg_catalog.pg_enum e ON e.enumtypid = made.oid
"""
# The constraint triggers of the tables named in $2 (the tables an action wrote) that may be
# deferred, so fire at its COMMIT, after goex measured it (a trigger may SET CONSTRAINTS ALL
# DEFERRED even where they are INITIALLY IMMEDIATE): what they write there is neither counted
# nor imaged. Those that fire under the session's session_replication_role, as a JSON list of
# "table.trigger" (not foreign keys': internal, they check and write nothing).
LATE = """
    SELECT coalesce(json_agg(t.tgrelid::regclass::text || '.' || quote_ident(t.tgname)),
                    '[]')::text
    FROM pg_catalog.pg_trigger t WHERE t.tgrelid = ANY (ARRAY(
        SELECT to_regclass(x) FROM json_array_elements_text($2::json) AS x))
      AND t.tgconstraint <> 0 AND NOT t.tgisinternal AND t.tgdeferrable
      AND t.tgenabled IN ('A', CASE current_setting('session_replication_role')
                                WHEN 'replica' THEN 'R' ELSE 'O' END)
"""
# Both, in one round trip: $1 the tables imaged, $2 the tables written (``asked``).
KEPT = f"SELECT ({ENUMS}), ({LATE})"


def asked(effects: Effects) -> tuple[str, str] | None:
    """``KEPT``'s parameters for an action's effects, or None where it has no row images."""
    imaged = sorted({quote_table(i.table) for i in effects.images if i.images})
    if not imaged:
        return None
    written = sorted({quote_table(t) for t in effects.tables} | set(imaged))
    return json.dumps(imaged), json.dumps(written)


def note(effects: Effects, row: Sequence[str | bytes | None]) -> None:
    """Keep what ``KEPT`` found with the effects."""
    effects.enums = json.loads(row[0] or "{}")
    effects.late_triggers = json.loads(row[1] or "[]")


# The kinds whose text a session setting shapes, so that it reads back as another value when
# printed under one setting and read under another (a trigger may change it for a while):
# whether the row was printed so. Under extra_float_digits below 1 a float is rounded; under
# a DateStyle other than ISO a range's dates are printed for a day and month order; under
# IntervalStyle sql_standard an interval's signs are printed for that style alone.
_PRINTED = {
    "float": "current_setting('extra_float_digits')::int < 1",
    "dated": "current_setting('DateStyle') NOT LIKE 'ISO%'",
    "interval": "current_setting('IntervalStyle') = 'sql_standard'",
}


def _matches(text: str, pattern: str) -> str:
    """``text ~ pattern``, true past 64 MB: the server's regular expressions take 4 bytes a
    character, and fail on a text of 256M (which would fail the statement goex images)."""
    return f"CASE WHEN octet_length({text}) > 67108864 THEN true ELSE {text} ~ {pattern} END"


# Backslash-free, as a client's standard_conforming_strings may be off: a \u0000 (after an
# even number of backslashes), JSON text with white space around it, a JSON string escaped.
_NUL = "'(^|[^[.backslash.]])([[.backslash.]][[.backslash.]])*[[.backslash.]]u0000'"
_SPACED = "{v}::text <> btrim({v}::text, chr(32) || chr(9) || chr(10) || chr(13))"
# (a JSON string's \\u or \\/ is read back unescaped: "\\u0041" as "A")
_ESCAPED = "json_typeof({v}) = 'string' AND " + _matches(
    "{v}::text", "'(^|[^[.backslash.]])([[.backslash.]][[.backslash.]])*[[.backslash.]][u/]'"
)
_JSON = f"json_typeof({{v}}) = 'null' OR {_matches('{v}::text', _NUL)} OR {_SPACED} OR {_ESCAPED}"
# Not every dimension's lower bound 1 (the first's alone, cheaper, for most arrays).
_BOUNDS = (
    "array_lower({v}, 1) <> 1 OR array_ndims({v}) > 1 AND array_dims({v}) !~ '^([[]1:[0-9]+[]])+$'"
)
# In a row's or composite's text (record_out): a null bare (a JSON null, or a text that reads
# so: SQL NULL prints as nothing) or quoted, at any depth of quoting (an array element: SQL
# NULL prints as NULL), an array's bounds, an array whose first element begins as a JSON array
# does (all must be, for it to read back as one more dimension: otherwise it fails to), a
# field quoted with white space at an end (json keeps it, and reads back without), a \\u or
# \\/ escape (a JSON string reads back unescaped; a text's backslash counts too), a u0000.
# Not a null inside a jsonb document, which prints a space after its commas and colons (a json
# one written without spaces counts).
_TEXT = (
    '\'[(,]null[,)]|[(,{]["[.backslash.]]+[[:space:]]*null[[:space:]]*["[.backslash.]]+[,)}]'
    '|[[][-0-9]+:[-0-9]+[]]=|{["[.backslash.]]*[[]|u0000'
    '|[(,]"[[:space:]]|[[:space:]]"[,)]|[[.backslash.]][u/]\''
)
_HELD = {
    "json": _JSON,
    "jsonb": "jsonb_typeof({v}) = 'null'",
    "composite": _matches("{v}::text", _TEXT.replace("{", "{{").replace("}", "}}")),
    "array": _BOUNDS,
    # (the element's alias one a statement's own is unlikely to be: {v} names the row by it)
    "json[]": _BOUNDS
    + " OR EXISTS (SELECT FROM unnest({v}) AS goex_element(e) WHERE "
    + _JSON.format(v="e")
    + " OR json_typeof(e) = 'array')",
    "jsonb[]": _BOUNDS
    + " OR EXISTS (SELECT FROM unnest({v}) AS goex_element(e) WHERE jsonb_typeof(e) IN ('null',"
    " 'array'))",
    **_PRINTED,
    "reg": "{v} IS NOT NULL",
    "cast": "{v} IS NOT NULL",
}


def flag(aliases: Sequence[str], columns: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The column goex adds where it images rows: a boolean SQL expression, whether the row
    under any of ``aliases`` holds a value its image cannot keep (``columns``: as ``COLUMNS``
    lists them); none for a table without such columns."""
    held = {
        f"({_HELD[kind].format(v=f'{alias}.{quote_ident(name)}')})": None
        for alias in aliases
        for name, kind in columns
    }  # (a float's, the same for every column)
    return (f"coalesce({' OR '.join(held)}, false)",) if held else ()


def maybe(aliases: Sequence[str]) -> str:
    """A SQL expression, without the table's columns: what of the row under any of ``aliases``
    may not be kept, as text: ``text`` (the row's text) and each kind whose text a setting
    printed so (``float``, ``dated``, ``interval``), comma-separated, or ''; ``counted``
    tells whether it counts for a table."""
    texts = " OR ".join(_matches(f"({alias}.*)::text", _TEXT) for alias in aliases)
    kinds = [*_PRINTED.items(), ("text", texts)]
    return "concat_ws(',', " + ", ".join(f"CASE WHEN {x} THEN '{k}' END" for k, x in kinds) + ")"


_ALWAYS = frozenset({"reg", "cast"})  # (kinds no row of is kept, whatever its text)


def counted(maybe: Collection[str], columns: Sequence[Sequence[str]]) -> bool:
    """Whether what ``maybe`` found in a table's rows counts for its ``columns`` (as
    ``COLUMNS`` lists them): a kind a setting printed so where it has such a column, a row's
    text where it has columns of the other such kinds; and any row of a table with an object
    identifier column, or one of a type with its own cast to json."""
    kinds = {kind for _, kind in columns}
    return (
        bool(kinds & _ALWAYS)
        or any(kind in maybe for kind in kinds & _PRINTED.keys())
        or ("text" in maybe and bool(kinds - _PRINTED.keys() - _ALWAYS))
    )


def inexact(table: str, columns: Sequence[Sequence[str]]) -> str:
    """Why the images of ``table``'s rows are missing, where a row holds such a value."""
    named = ", ".join(dict.fromkeys(name for name, _ in columns))
    return (
        f"a row of {table} holds a value its image cannot keep exactly (in one of {named}): a "
        "JSON null, an array not starting at 1, json with a \\u0000, an escape or white space "
        "around it, an object identifier, a type with its own cast to json, or a float, "
        "interval or range of dates printed under settings that change it"
    )
