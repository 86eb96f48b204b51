"""The compensating statements for an action's rows (``goexdb.undo`` plans the whole undo).

Every statement is *guarded*: it names rows by their after-images (or, for a re-insert, requires
their keys to be free), so it changes a row only if the row is still as the action left it, and
must change as many rows as it has images. A statement's rows are undone set by set
(``undo_set``; ``undo_keyless_set`` for a table without a key), the images travelling as
literals (the engine's ``image_set``), with a check before each set listing the rows that
changed since when a guard came up short. After everything, ``check_restored`` lists the rows
not back exactly as they were (a trigger can rewrite a row a compensating statement writes).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from goexdb.effects import StatementImages, TableColumns, row_images
from goexdb.engines import engine_facts, quote_ident, quote_literal, quote_table
from goexdb.image_text import columns_of, hashable, key_of, key_texts, same_keys
from goexdb.undoplan import Check, Guard, Restored, UndoPlan


class Dialect:
    """How one engine turns a JSON row image back into a row (its ``EngineFacts``), with the
    column types of each table where the engine's images need them; ``query`` reads the
    database the undo runs on, where the plan needs more of it (``blocking_indexes``)."""

    def __init__(
        self,
        dialect: str,
        columns: Callable[[str], TableColumns],
        query: Callable[[str], Sequence[Sequence[Any]]] | None = None,
    ) -> None:
        self.facts = engine_facts(dialect)
        self.columns = functools.cache(columns)
        self.query = query

    def blocking_indexes(self, table: str) -> list[tuple[str, str, str]]:
        """The indexes of ``table`` the engine will not alter it past (``EngineFacts``), each
        its schema, its name and the SQL that makes it; none where nothing reads the database."""
        sql = self.facts.blocking_indexes
        if sql is None or self.query is None:
            return []
        found = self.query(sql.format(table=quote_literal(table)))
        return [(str(schema), str(name), str(made)) for schema, name, made in found]

    def all_columns(self, table: str, columns: Sequence[str]) -> bool:
        """Whether ``columns`` (an image's) are every column of the table now, in order: none
        added since the image was read, none dropped."""
        return tuple(self.columns(table).types) == tuple(columns)

    def types_of(self, table: str) -> dict[str, str]:
        return self.columns(table).types if self.facts.images_need_types else {}

    def row_json(self, alias: str, table: str, image: str) -> str:
        """The row as JSON over the image's own columns, so a column added later (by this very
        action, say) does not make an unchanged row look changed."""
        return self.facts.row_json(alias, list(json.loads(image)), self.types_of(table))


def check_restored(
    out: UndoPlan, d: Dialect, statements: list[StatementImages], *, as_left: bool = False
) -> None:
    """Check, once the rows are written back, that every row is as it was before the action
    (its before-image in the first statement that changed it): a trigger firing on the
    compensating statements may have rewritten one (a ``last_update`` column), and then the
    undo is not exact. The check is run once the plan has run (``UndoPlan.restored``), unless
    ``as_left``: the action changed the schema, which the plan puts back after the rows, so the
    check is a statement of the plan before it; images whose columns the tables no longer all
    have (renamed or dropped after the image was taken) cannot be checked and are left out."""
    by_table: dict[str, list[StatementImages]] = {}
    for images in statements:
        if images.key and images.images:
            by_table.setdefault(images.table, []).append(images)
    alike: dict[tuple[str, tuple[str, ...]], list[str]] = {}  # (table, columns) -> befores
    for table, changed in by_table.items():
        if len(changed) == 1:  # one statement's rows: each key once, every image's columns
            befores = [row.before for row in changed[0].images if row.before is not None]
            if befores:
                alike[(table, columns_of(befores[0]))] = befores
            continue
        first: dict[Any, str | None] = {}  # key -> image (None: inserted)
        for images in changed:
            for row in images.images:
                image = row.before if row.before is not None else row.after
                if image is not None:
                    first.setdefault(hashable(key_of(image, images.key)), row.before)
        for before in filter(None, first.values()):
            alike.setdefault((table, columns_of(before)), []).append(before)
    keys = {images.table: images.key for images in statements if images.key}
    for (table, columns), befores in alike.items():
        if not as_left:  # once the plan ran
            query = functools.partial(_listed, d, table, columns, keys[table], befores)
            out.restored.append(Restored(table, query))
        elif set(columns) <= set(d.columns(table).types):
            out.checks.append(Check(len(out.statements), table, "inexact"))
            listed = _restored(d, table, columns, keys[table])
            _emit(out, d, table, [(b, b) for b in befores], listed)


def _listed(
    d: Dialect, table: str, columns: tuple[str, ...], key: list[str], befores: list[str]
) -> tuple[str, list[str]]:
    """The query of the rows not restored exactly and the texts it binds, made when it is run:
    the engine's faster one where it has one, else through ``image_set`` (binding none)."""
    if d.facts.unrestored is not None:
        types = d.columns(table).types
        keyed = {c: types.get(c, "") for c in key}
        texts = key_texts(befores, key)
        read = () if d.all_columns(table, columns) else columns  # (none: the whole row)
        if (fast := d.facts.unrestored(table, read, keyed, befores, texts)) is not None:
            return fast
    rows = d.facts.image_set(
        table, [(b, b) for b in befores], _types(d, table, befores[0]), 0, True
    )
    return _restored(d, table, columns, key)(rows, ""), []


def _restored(
    d: Dialect, table: str, columns: tuple[str, ...], key: list[str]
) -> Callable[[str, str], str]:
    """The check of rows restored: each image's exact text beside its row's text now."""
    now = d.facts.row_json("t", list(columns), d.types_of(table))
    of_row = f"(SELECT {now} FROM {quote_table(table)} AS t WHERE {_key_match(key)})"
    exact = d.facts.image_exact
    return lambda rows, _: (
        f"SELECT {exact}, n.now FROM {rows} LEFT JOIN LATERAL {of_row} AS n(now) ON true "
        f"WHERE n.now IS DISTINCT FROM {exact}"
    )


def undo_set(out: UndoPlan, d: Dialect, images: StatementImages, *, listing: bool) -> None:
    """One statement's rows undone set by set (PostgreSQL): first a check lists the rows not as
    the action left them; then one UPDATE puts rows back, one DELETE removes what it added
    (or moved to another key), a check lists the keys taken again, and one INSERT re-inserts
    what it removed. The images travel as one JSON array per statement, each element an image
    to read the row from and the exact text the row must have. Without ``listing``, no check:
    the guards alone see a row changed since (``UndoPlan.listing``)."""
    table, key, written = images.table, images.key, d.columns(images.table)
    kept = [*key, *written.always_identity]  # an UPDATE cannot put these back
    put: list[tuple[str, str]] = []
    gone: list[tuple[str, str]] = []
    back: list[tuple[str, str]] = []
    for (before, after), same in zip(images.images, same_keys(images.images, kept), strict=True):
        if same and before and after:
            put.append((before, after))
            continue
        if after:
            gone.append((after, after))
        if before:
            back.append((before, before))
    some = next(i for row in images.images for i in (row.before, row.after) if i)
    columns = [c for c in columns_of(some) if c not in written.generated]
    # its own images known only where the images have every column of the table, in order: a
    # column added since the commit is in none of them, and the undo's must hold it (read back)
    whole = d.all_columns(table, columns_of(some))
    # The key is the same (put needs it so), so not set again; but where nothing else may be
    # written, it is set to itself: a delete and re-insert would fire the foreign keys' actions
    # (and where nothing at all may be written, it is done all the same)
    sets = [c for c in columns if c not in kept] or [
        c for c in key if c in columns and c not in written.always_identity
    ]
    if put and not sets:  # nothing an UPDATE may write: delete and re-insert instead
        gone, back = gone + [(a, a) for _, a in put], back + [(b, b) for b, _ in put]
        put = []
    t, match, exact = quote_table(table), _key_match(key), d.facts.image_exact
    as_left = f"{match} AND {d.row_json('t', table, some)} = {exact}"
    taken = f"EXISTS (SELECT 1 FROM {t} AS t WHERE {match})"
    values = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in sets)
    insert, overriding = _insert(table, columns, written)
    if listing and (put or gone):
        out.checks.append(Check(len(out.statements), table, "changed"))
        _emit(
            out,
            d,
            table,
            [(a, a) for _, a in put] + gone,
            lambda rows, _: (
                f"SELECT {exact} FROM {rows} WHERE NOT EXISTS "
                f"(SELECT 1 FROM {t} AS t WHERE {as_left})"
            ),
        )
    if put:
        out.guards.append(Guard(len(out.statements), table, len(put)))
        _emit(
            out,
            d,
            table,
            put,
            lambda rows, _: f"UPDATE {t} AS t SET {values} FROM {rows} WHERE {as_left}",
        )
        if whole:
            _knows(out, images, ((after, before) for before, after in put))
    if gone:
        out.guards.append(Guard(len(out.statements), table, len(gone)))
        _emit(
            out,
            d,
            table,
            gone,
            lambda rows, _: f"DELETE FROM {t} AS t USING {rows} WHERE {as_left}",
        )
        if whole:
            _knows(out, images, ((after, None) for after, _ in gone))
    if back:
        if listing:
            out.checks.append(Check(len(out.statements), table, "changed"))
            _emit(out, d, table, back, lambda rows, _: f"SELECT {exact} FROM {rows} WHERE {taken}")
        out.guards.append(Guard(len(out.statements), table, len(back)))
        _emit(
            out,
            d,
            table,
            back,
            lambda rows, how: insert(f"{rows} WHERE NOT {taken}", how),
            overriding,
            exact=False,
        )
        if whole:
            _knows(out, images, ((None, before) for before, _ in back))


def _knows(
    out: UndoPlan, images: StatementImages, pairs: Iterable[tuple[str | None, str | None]]
) -> None:
    """The images (before, after) of the statement just added, if its guard holds
    (``UndoPlan.known``)."""
    known = StatementImages(0, images.table, images.key, row_images(pairs))
    out.known[out.statements[-1]] = known


def undo_keyless_set(out: UndoPlan, d: Dialect, images: StatementImages, *, listing: bool) -> None:
    """One statement's rows of a table without a key undone set by set: one DELETE removes,
    for each image of a row as the action left it, one row that has exactly that text (as many
    as there are such images: rows alike are interchangeable), then one INSERT re-inserts the
    rows as they were. With ``listing``, a check first lists the images with fewer such rows
    than they need."""
    table, written = images.table, d.columns(images.table)
    gone = [(row.after, row.after) for row in images.images if row.after]
    back = [(row.before, row.before) for row in images.images if row.before]
    some = next(i for row in images.images for i in (row.before, row.after) if i)
    columns = [c for c in columns_of(some) if c not in written.generated]
    t, now = quote_table(table), d.row_json("t", table, some)
    row_id = ", ".join(f"t.{c}" for c in d.facts.row_identity)
    ids = ", ".join(f"m.id{i}" for i in range(len(d.facts.row_identity)))
    named = ", ".join(f"t.{c} AS id{i}" for i, c in enumerate(d.facts.row_identity))
    exact = d.facts.image_exact

    def wanted(rows: str) -> str:  # each image text, and how many rows must have it
        return f"SELECT {exact} AS exact, count(*) AS wanted FROM {rows} GROUP BY 1"

    def alike(rows: str) -> str:  # the rows with an image's text, numbered
        return (
            f"SELECT {named}, n.wanted, row_number() OVER (PARTITION BY n.exact "
            f"ORDER BY {row_id}) AS k FROM {t} AS t JOIN ({wanted(rows)}) AS n ON {now} = n.exact"
        )

    if gone:
        if listing:
            out.checks.append(Check(len(out.statements), table, "changed"))
            _emit(
                out,
                d,
                table,
                gone,
                lambda rows, _: (
                    f"SELECT n.exact FROM ({wanted(rows)}) AS n WHERE n.wanted > "
                    f"(SELECT count(*) FROM {t} AS t WHERE {now} = n.exact)"
                ),
            )
        out.guards.append(Guard(len(out.statements), table, len(gone)))
        _emit(
            out,
            d,
            table,
            gone,
            lambda rows, _: (
                f"DELETE FROM {t} AS t WHERE ({row_id}) IN "
                f"(SELECT {ids} FROM ({alike(rows)}) AS m WHERE m.k <= m.wanted)"
            ),
        )
    if back:
        insert, overriding = _insert(table, columns, written)
        out.guards.append(Guard(len(out.statements), table, len(back)))
        _emit(out, d, table, back, lambda rows, how: insert(rows, how), overriding, exact=False)
        if d.facts.triggers:  # (a trigger may rewrite them)
            out.reinserted.setdefault(table, []).extend(image for image, _ in back)


def _emit(
    out: UndoPlan,
    d: Dialect,
    table: str,
    pairs: Sequence[tuple[str, str]],
    build: Callable[[str, str], str],
    overriding: str = "",
    *,
    exact: bool = True,
) -> None:
    """Add the statement ``build(rows, overriding)`` makes around its rows (the engine's
    ``image_set`` of the pairs; ``exact``: whether it reads each image's exact text beside its
    row) and its OVERRIDING clause, if any (``_add``); the classifier may also read it without
    the images (``UndoPlan.light``), and it is shown with them described (``UndoPlan.shown``)."""
    types = _types(d, table, pairs[0][0])  # (a statement's images share their columns)
    image_set = d.facts.image_set
    out.light[len(out.statements)] = build(image_set(table, (), types, 0, exact), "")
    shown = image_set(table, (), types, len(pairs), exact)
    out.shown[len(out.statements)] = build(shown, overriding)
    _add(out, build, image_set(table, pairs, types, 0, exact), overriding)


def _types(d: Dialect, table: str, image: str) -> dict[str, str]:
    """The column types an image's columns are read back with, where the engine needs them."""
    read = columns_of(image)
    return {c: kind for c, kind in d.types_of(table).items() if c in read}


def _add(out: UndoPlan, build: Callable[[str, str], str], rows: str, overriding: str) -> None:
    """Add ``build(rows, overriding)``; what the classifier reads instead, where there is an
    OVERRIDING clause, is the same without the clause it cannot parse."""
    if overriding:
        out.readable[len(out.statements)] = build(rows, "")
    out.statements.append(build(rows, overriding))


def _insert(
    table: str, columns: list[str], written: TableColumns
) -> tuple[Callable[[str, str], str], str]:
    """An INSERT of a source's rows ``s`` into the columns, as ``build(source, overriding)``,
    and the OVERRIDING SYSTEM VALUE clause it needs (an identity column GENERATED ALWAYS)."""
    names = ", ".join(quote_ident(c) for c in columns)
    picked = ", ".join(f"s.{quote_ident(c)}" for c in columns)
    overriding = " OVERRIDING SYSTEM VALUE" if written.always_identity & set(columns) else ""
    into = f"INSERT INTO {quote_table(table)} ({names})"
    return (lambda source, how: f"{into}{how} SELECT {picked} FROM {source}"), overriding


def _key_match(key: list[str]) -> str:
    return " AND ".join(f"t.{quote_ident(c)} = s.{quote_ident(c)}" for c in key)
