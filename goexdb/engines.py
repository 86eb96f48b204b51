"""What goex knows about each database engine, in one object per engine, as sqlglot's dialect
classes carry theirs: its name, its sqlglot dialect, the columns that name a row, whether it has
savepoints, how a row becomes JSON text and back, and which server versions have which feature.

Nothing here talks to a database or imports a driver, so the SQL layer, effects, undo and the
prompt use these facts as freely as the backends (each exposes its own as ``Backend.facts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from core.errors import JournalError, TargetError
from goexdb.duckdb_json import CAST_FROM_TEXT, duckdb_text_type

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# row_json(alias, columns, types): the row named ``alias`` as JSON text over ``columns``, the
# same expression at capture and at undo so that a guard compares like with like.
RowJson = Callable[[str, Sequence[str], Mapping[str, str]], str]
# (table, column or None) -> a SELECT of one text: what the table's rows or the column's values are
Fingerprint = Callable[[str, str | None], str]
# image_set(table, pairs, types, described, exact): the rows ``s`` of a table read from the
# first image of each (image, text) pair, beside ``image_exact``, the second's exact text (unless
# ``exact`` is false: then only ``s`` may be read): one relation for a statement's images, which
# travel in the SQL as literals (an undo's statements are its journaled code). ``described``: as
# shown, a comment saying how many pairs stand there.
ImageSet = Callable[[str, Sequence[tuple[str, str]], Mapping[str, str], int, bool], str]

# unrestored(table, columns (none: the table's, all), key types, before-images, each key
# column's values in them as text or None): a query of each image whose row, found by its
# key, is not that text now (the image, the row now), with the texts it binds (megabytes the
# server would otherwise scan as literals), or None
Unrestored = Callable[
    [str, Sequence[str], Mapping[str, str], Sequence[str], Sequence[Sequence[str]] | None],
    tuple[str, list[str]] | None,
]


@dataclass(frozen=True)
class EngineFacts:
    name: str  # as people write it: "PostgreSQL"
    dialect: str  # sqlglot's dialect name; also Target.dialect and an undo record's "dialect"
    row_identity: tuple[str, ...]  # the hidden columns that name a row among a table's partitions
    savepoints: bool  # SAVEPOINT and ROLLBACK TO exist
    lint_rules: bool  # goex's migration lint rules (PostgreSQL's locks and grammar) apply
    images_need_types: bool  # row_json and image_set read the table's column types
    triggers: bool  # a trigger can rewrite the rows an undo puts back
    # names: PostgreSQL folds an unquoted name to lower case and then matches exactly; DuckDB
    # keeps a name as written and matches without regard to case
    folds_unquoted: bool
    # a column keeps its number whatever else is dropped (PostgreSQL's attnum), so a catalog
    # diff follows it through a rename; DuckDB's number is the position a drop shifts
    keeps_column_numbers: bool
    drops_constraints: bool  # ALTER TABLE ... DROP CONSTRAINT (DuckDB has none)
    # a column dropped in the transaction that dropped an index on it (DuckDB keeps the
    # index's hold on the column until the transaction ends)
    drops_columns_unindexed_now: bool
    row_json: RowJson
    not_null_name: Callable[[str, str], str]  # (table, column): the name it gives a NOT NULL
    fingerprint: Fingerprint  # what a table (column None) or a column holds, as one text
    image_set: ImageSet
    image_exact: str  # beside ``image_set``'s rows, the text each row must have
    # Where the engine has a faster way to list the rows not restored exactly than through
    # ``image_set`` (``_postgres_unrestored``): None when it has none, or for the key's types.
    unrestored: Unrestored | None = None
    # The indexes that keep the engine from altering a table but to add a column or change a
    # default (DuckDB's), a query of their schemas, names and the SQL that made each, for
    # ``{table}`` (a literal): the undo drops them around its ALTERs and makes them again.
    blocking_indexes: str | None = None
    # The members of enum types kept with the images ({members}: a JSON object {oid: label},
    # as a literal) that no longer have their label, each as "'a' (now 'z')" (PostgreSQL's)
    relabelled: str | None = None
    # How goex names a temporary table (a regular expression over ``schema.table``), where no
    # other table's name can match it (PostgreSQL's): its rows and itself go with the session,
    # so no undo takes them back (an undo runs in a session of its own). (DuckDB's backend
    # never images one, and counts it as ``temp.schema.table``, which a schema "temp.x" matches.)
    temporary_name: str = "(?!)"
    # The first server version (server_version_num) with a feature; None: no version has it.
    returning_old_new_since: int | None = None  # RETURNING old.*, new.* (row images in one go)
    flush_counts_since: int | None = None  # pg_stat_force_next_flush() as a transaction ends
    create_database_strategy_since: int | None = None  # CREATE DATABASE ... STRATEGY
    file_copy_clone_since: int | None = None  # SET file_copy_method = clone

    def catalog_name(self, identifier: exp.Identifier) -> str:
        """An identifier as written (sqlglot's), as the catalog keeps the name it creates
        (PostgreSQL folds the ASCII letters of an unquoted one only, in UTF-8)."""
        name = str(identifier.this)
        return (
            name.translate(_ASCII_LOWER) if self.folds_unquoted and not identifier.quoted else name
        )

    def written_name(self, sql: str) -> str:
        """A name as SQL writes it (quoted or not), as the catalog keeps it."""
        return self.catalog_name(exp.parse_identifier(sql, dialect=self.dialect))

    def same_name(self, catalog: str, other: str) -> bool:
        """Whether two names as the catalog keeps them name the same object."""
        return catalog == other if self.folds_unquoted else catalog.casefold() == other.casefold()

    def temporary(self, table: str) -> bool:
        """Whether a table named as goex names it is a temporary one (``temporary_name``)."""
        return re.fullmatch(self.temporary_name, table) is not None

    def returning_old_new(self, version: int | None) -> bool:
        return _reached(self.returning_old_new_since, version)

    def flushes_counts(self, version: int | None) -> bool:
        return _reached(self.flush_counts_since, version)

    def create_database_strategy(self, version: int | None) -> bool:
        return _reached(self.create_database_strategy_since, version)

    def file_copy_clone(self, version: int | None) -> bool:
        return _reached(self.file_copy_clone_since, version)


def _reached(since: int | None, version: int | None) -> bool:
    return since is not None and version is not None and version >= since


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    return ".".join(quote_ident(part) for part in name.split("."))


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _postgres_row_json(alias: str, columns: Sequence[str], types: Mapping[str, str]) -> str:
    # row_to_json keeps json columns' text and numeric scale exactly as stored; over the same
    # columns as at capture (row_to_json(alias) there) it is the same text, byte for byte.
    selected = ", ".join(f"{alias}.{quote_ident(c)}" for c in columns)
    # (r.*, not r: a column named r would be taken for the row)
    return f"(SELECT row_to_json(r.*)::text FROM (SELECT {selected}) AS r)"


def _postgres_not_null_name(table: str, column: str) -> str:
    """As PostgreSQL names a NOT NULL (makeObjectName): the longer of the two names cut first,
    a byte at a time, until the name fits in 63 bytes, never inside a character."""
    one, two = table.encode(), column.encode()
    kept, other = len(one), len(two)
    while kept + other > 63 - len("__not_null"):
        kept, other = (kept - 1, other) if kept > other else (kept, other - 1)
    cut = [name[:size].decode(errors="ignore") for name, size in ((one, kept), (two, other))]
    return f"{cut[0]}_{cut[1]}_not_null"


# Key types whose value ``->>`` reads from an image as the text json_populate_record reads
_PLAIN_KEY = re.compile(
    r"smallint|integer|bigint|numeric(\(\d+(,\d+)?\))?|text|uuid|date|boolean"
    r"|character( varying)?(\(\d+\))?|timestamp(\(\d\))? with(out)? time zone"
)


# What parts row images, or values read from them, travelling as one text: the record
# separator, which JSON text never holds raw (a string escapes it).
PARTED = "\x1e"


def _postgres_unrestored(
    table: str,
    columns: Sequence[str],
    key: Mapping[str, str],
    befores: Sequence[str],
    keys: Sequence[Sequence[str]] | None,
) -> tuple[str, list[str]] | None:
    """The images and their key values (``keys``, each column's values as the images' text has
    them) travel as parameters, each value parted from the next by a character JSON text never
    holds raw (the record separator), the keys cast to their columns' types, where every key
    column is of a plain type: no JSON is parsed (a third less time than reading each key by
    ``->>``), and no literal of megabytes is scanned. The row found is compared as text over
    the image's columns (none: they are the table's, all, in order: the whole row's text, in
    less time)."""
    if keys is None or not all(_PLAIN_KEY.fullmatch(kind) for kind in key.values()):
        return None
    texts = [PARTED.join(befores), *(PARTED.join(column) for column in keys)]
    if any(text.count(PARTED) != len(befores) - 1 or not text for text in texts):
        return None  # (one empty value alone would be read as no value)
    kinds = ["", *(f"::{kind}[]" for kind in key.values())]
    arrays = ", ".join(
        f"string_to_array(${n}::text, chr(30)){kind}" for n, kind in enumerate(kinds, 1)
    )
    names = ", ".join(f"k{i}" for i in range(len(key)))
    match = " AND ".join(f"t.{quote_ident(c)} = x.k{i}" for i, c in enumerate(key))
    now = _postgres_row_json("t", columns, {}) if columns else "row_to_json(t.*)::text"
    return (
        f"SELECT x.image, n.now FROM unnest({arrays}) AS x(image, {names}) "
        f"LEFT JOIN LATERAL (SELECT {now} FROM {quote_table(table)} AS t WHERE {match}) "
        "AS n(now) ON true WHERE n.now IS DISTINCT FROM x.image",
        texts,
    )


def _duckdb_not_null_name(table: str, column: str) -> str:
    return f"{table}_{column.translate(_ASCII_LOWER)}_not_null"


def _described(count: int) -> str:
    images = "row image" if count == 1 else "row images"
    return f"/* {count} {images} from the undo record of the action undone */"


def _postgres_image_set(
    table: str,
    pairs: Sequence[tuple[str, str]],
    types: Mapping[str, str],
    described: int,
    exact: bool,
) -> str:
    """The pairs as one JSON array (json, not jsonb: the numbers keep their text, and each image
    its text as written); a pair of one image twice travels once. Without ``exact``, an array
    of the images read as rows in one go."""
    if not exact:
        images = (
            f"{_described(described)} []" if described else f"[{','.join(r for r, _ in pairs)}]"
        )
        read = f"{quote_literal(images)}::json"
        return f"json_populate_recordset(NULL::{quote_table(table)}, {read}) AS s"
    array = (
        f"{_described(described)} []"
        if described
        else "["
        + ",".join(
            f"[{read}]" if text is read or text == read else f"[{read},{text}]"
            for read, text in pairs
        )
        + "]"
    )
    return (
        f"json_array_elements({quote_literal(array)}::json) AS x(pair) CROSS JOIN LATERAL "
        f"json_populate_record(NULL::{quote_table(table)}, x.pair -> 0) AS s"
    )


# The exact text a row must have, beside an image read: the pair's second image, or the image
# itself when it travelled alone (a ``json`` value keeps its input text).
_POSTGRES_IMAGE_EXACT = "coalesce(x.pair -> 1, x.pair -> 0)::text"


def _duckdb_image_set(
    table: str,
    pairs: Sequence[tuple[str, str]],
    types: Mapping[str, str],
    described: int,
    exact: bool,
) -> str:
    """The images as text literals, one per line (a DuckDB JSON value is written anew when
    read, so the exact texts travel as VARCHAR), read back in parallel; each row typed by
    ``json_transform`` as the image's columns, BLOB, BIT and BIGNUM values cast from the text
    to_json wrote (json_transform reads them no other way)."""
    if described:
        reads = texts = quote_literal(_described(described))
    else:
        reads = _lines([read for read, _ in pairs])
        same = all(text is read or text == read for read, text in pairs)
        texts = reads if same else _lines([text for _, text in pairs])
    read_as = {
        c: "VARCHAR" if t in CAST_FROM_TEXT else duckdb_text_type(t) or t for c, t in types.items()
    }
    structure = json.dumps(read_as)
    row = f"SELECT unnest(json_transform(x.read, {quote_literal(structure)}))"
    if cast := [(c, t) for c, t in types.items() if t in CAST_FROM_TEXT]:
        casts = ", ".join(f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in cast)
        row = f"SELECT * REPLACE ({casts}) FROM ({row})"
    read = f"unnest(string_split({reads}, chr(10))) AS read"
    pair = (  # (unnest twice in one SELECT: side by side)
        f"SELECT read, read AS exact FROM (SELECT {read})"
        if texts is reads
        else f"SELECT {read}, unnest(string_split({texts}, chr(10))) AS exact"
    )
    return f"({pair}) AS x CROSS JOIN LATERAL ({row}) AS s"


def _lines(images: Sequence[str]) -> str:
    """Images as one literal, a line each: JSON text holds no raw line break (to_json escapes
    one in a string, and writes none between values)."""
    text = "\n".join(images)
    if text.count("\n") != max(len(images) - 1, 0):
        raise JournalError("a row image of the undo record holds a line break: not goex's")
    return quote_literal(text)


def _duckdb_row_json(alias: str, columns: Sequence[str], types: Mapping[str, str]) -> str:
    """A DuckDB row as JSON text, with JSON values as their text (kept exactly: to_json would
    write them anew)."""
    texts = {c: duckdb_text_type(t) for c, t in types.items()}
    fields = ", ".join(
        f"{quote_literal(c)}: {alias}.{quote_ident(c)}" + (f"::{texts[c]}" if texts.get(c) else "")
        for c in columns
    )
    return f"to_json({{{fields}}})::VARCHAR"


def _postgres_fingerprint(table: str, column: str | None) -> str:
    """What a table (its rows) or a column (its values, a NULL as \\N) holds: how many, and
    the sum of each one's md5 (its first 64 bits), which needs no order and so no sort."""
    held = "t::text" if column is None else f"coalesce(t.{quote_ident(column)}::text, '\\N')"
    hashed = f"('x' || substr(md5({held}), 1, 16))::bit(64)::bigint::numeric"
    return f"SELECT count(*) || ':' || coalesce(sum({hashed}), 0) FROM {quote_table(table)} t"


def _duckdb_fingerprint(table: str, column: str | None) -> str:
    """The same on DuckDB, each row or value as JSON (its text form of a row cannot tell NULL
    from 'NULL')."""
    value = "to_json(t)" if column is None else f"to_json(t.{quote_ident(column)})"
    held = f"coalesce({value}::varchar, '\\N')"
    hashed = f"md5_number_lower({held})"
    return f"SELECT count(*) || ':' || coalesce(sum({hashed}), 0) FROM {quote_table(table)} t"


POSTGRES = EngineFacts(
    name="PostgreSQL",
    dialect="postgres",
    row_identity=("tableoid", "ctid"),  # a ctid is unique within one partition only
    savepoints=True,
    lint_rules=True,
    images_need_types=False,
    triggers=True,
    folds_unquoted=True,
    keeps_column_numbers=True,
    drops_constraints=True,
    drops_columns_unindexed_now=True,
    row_json=_postgres_row_json,
    not_null_name=_postgres_not_null_name,
    fingerprint=_postgres_fingerprint,
    image_set=_postgres_image_set,
    image_exact=_POSTGRES_IMAGE_EXACT,
    unrestored=_postgres_unrestored,
    relabelled="""
        SELECT format('%L (now %s)', r.label, coalesce(quote_literal(e.enumlabel), 'gone'))
        FROM json_each_text({members}::json) AS r(oid, label)
        LEFT JOIN pg_catalog.pg_enum e ON e.oid = r.oid::oid
        WHERE e.enumlabel IS DISTINCT FROM r.label""",
    temporary_name=r"pg_temp_[0-9]+\..*",  # (a schema named pg_... is the system's)
    returning_old_new_since=180000,
    flush_counts_since=150000,
    create_database_strategy_since=150000,
    file_copy_clone_since=180000,
)

DUCKDB = EngineFacts(
    name="DuckDB",
    dialect="duckdb",
    row_identity=("rowid",),
    savepoints=False,
    lint_rules=False,
    images_need_types=True,
    triggers=False,
    folds_unquoted=False,
    keeps_column_numbers=False,
    drops_constraints=False,
    drops_columns_unindexed_now=False,
    row_json=_duckdb_row_json,
    not_null_name=_duckdb_not_null_name,
    fingerprint=_duckdb_fingerprint,
    image_set=_duckdb_image_set,
    image_exact="x.exact",
    blocking_indexes=(
        "SELECT schema_name, index_name, sql FROM duckdb_indexes() "
        "WHERE database_name = current_database() AND schema_name || '.' || table_name = {table}"
    ),
)

ENGINES: Mapping[str, EngineFacts] = {facts.dialect: facts for facts in (POSTGRES, DUCKDB)}


def engine_facts(dialect: str) -> EngineFacts:
    """The facts of the engine a dialect name (``Target.dialect``, an undo record's) names."""
    try:
        return ENGINES[dialect]
    except KeyError:
        raise TargetError(f"goex knows no database engine called {dialect!r}") from None
