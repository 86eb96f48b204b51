"""What a proxied transaction did, measured from inside it at its end, on the held connection:
rows per table (from the transaction's statistics and locks, ``queries.HELD``), row images
(``images``; the rows cascades and triggers changed by ``Cascaded``, as ``goex-db run`` reads
them, its queries sent from a thread of its own), sequences, advisory locks, and after DDL the
schema changes and rewrites."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import Any

from sqlglot import exp

from core.errors import ExecutionError
from goexdb.backends.base import TEMPORARY_ALTER, TEMPORARY_RULE, altered
from goexdb.backends.postgres import lossy, queries
from goexdb.backends.postgres.cascaded import Cascaded
from goexdb.backends.postgres.holdings import Holdings
from goexdb.catalog import Catalog, diff_catalog
from goexdb.effects import Effects, ImageBudget, StatementImages
from goexdb.engines import POSTGRES
from goexdb.proxy import messages as m
from goexdb.proxy.images import tie, written_by
from goexdb.proxy.own import UNANSWERED, Own, Skipped
from goexdb.proxy.pending import Counts, Pending, savepoint_of
from goexdb.proxy.routing import Sink, failed
from goexdb.proxy.statements import Role, Verdict, moves_search_path
from goexdb.renames import renamed_since
from goexdb.sql import StatementKind, qualified

DIALECT = POSTGRES.dialect
# The transaction's locks, counts, sequences and advisory locks (``queries.HELD``), and the
# request that its counts be flushed as it ends, so that the next transaction's start at zero.
# With them, the schema, name, primary key, inheritance and columns whose values an image may
# not keep (``queries.TABLE``) of each table written with images
# ($1: a JSON list of the names as written), and the client's settings that shaped the images'
# text, in the same round trip.
MEASURE = f"""
    SELECT ({queries.HELD}), pg_stat_force_next_flush(), ({queries.SETTINGS}),
           (SELECT coalesce(json_agg(json_build_array(x, t.a, t.b, t.c, t.d, t.e)), '[]')
            FROM json_array_elements_text($1::json) AS x
            LEFT JOIN LATERAL ({queries.TABLE.replace("$1", "x")}) AS t(a, b, c, d, e) ON true)
"""


async def measure(
    own: Own, pending: Pending, max_images: int, cascaded: Cascaded | None = None
) -> Effects:
    """``cascaded``: where images are taken, how to read the rows no statement reported."""
    try:
        # each statement's tables as later renames named them: the names the end resolves
        def at_end(written: str, index: int) -> str:
            later = [v.statement for v in pending.statements[index + 1 :] if v.statement]
            return renamed_since(written, later, DIALECT) if pending.catalog else written

        ends = {i: at_end(written_by(pending.statements[i]), i) for i in pending.imaged}
        rows = await own.rows("goex_measure", MEASURE, (json.dumps(sorted(set(ends.values()))),))
        held = Holdings.read(json.loads((rows[0][0] or b"[]").decode()))
        effects = Effects()
        explained: dict[str, int] = {}
        for index, (verdict, tag) in enumerate(zip(pending.statements, pending.tags, strict=True)):
            count = m.row_count(tag or "")
            if verdict.statement is None or not count or index in pending.undone:
                continue
            for written in _written(verdict):
                name = held.named(at_end(written, index))
                if name is not None:
                    explained[name] = explained.get(name, 0) + count
        counts = _less(_less(held.counts, pending.baseline), pending.discounted)
        held.note(effects, counts, explained)
        effects.locks = [
            {"relation": relation, "mode": mode, "statement": "(the transaction)"}
            for relation, mode in held.locks
        ]
        budget = ImageBudget(max_images)
        effects.settings = json.loads(rows[0][2] or b"{}")
        tables = {r[0]: tuple(r[1:]) for r in json.loads(rows[0][3] or b"[]")}
        kept = [i for i, v in enumerate(pending.statements) if v.statement is not None]
        for index in sorted(pending.imaged):  # its place among the action's statements
            images = pending.images.get(index, [])
            tied = tie(pending.statements[index], kept.index(index), pending.tags[index], images)
            tied.maybe = frozenset(pending.maybe.get(index, ()))
            budget.spend(tied.with_table(tables, ends[index]))
            effects.images.append(tied)
        for index, emptied in sorted(pending.emptied.items()):  # a TRUNCATE's, read before it
            for table in emptied:
                table.statement = kept.index(index)
                budget.spend(table)
                effects.images.append(table)
        read = pending.imaged | pending.undone | set(pending.emptied)
        for index, verdict in enumerate(pending.statements):  # wrote, but left no images
            if index not in read and _writes_rows(verdict):
                what = ", ".join(_written(verdict))
                unimaged = StatementImages(kept.index(index), what, [])
                unimaged.missing = f"{verdict.sql.split()[0].upper()} {what} left no row images"
                effects.images.append(unimaged)
        ddl = pending.catalog is not None
        when = "after a DDL statement" if ddl else "by the transaction"
        pending.watch.beyond(held.catalog_writes, when)
        effects.schema_changes = pending.watch.changes([] if ddl else effects.locks)
        if pending.catalog is not None:
            after, filenodes = await read_catalog(own)
            effects.schema_changes[:0] = diff_catalog(pending.catalog, after)
            effects.rewrites = queries.rewritten(pending.filenodes, filenodes)
        if cascaded is not None and any(t.by_cascade_or_trigger for t in effects.tables.values()):
            exclusive = {name for name, mode in held.locks if mode == "AccessExclusiveLock"}
            await asyncio.to_thread(cascaded.image, effects, held.roots, exclusive, budget)
        if (asked := lossy.asked(effects)) is not None:
            lossy.note(effects, (await own.rows("goex_kept", lossy.KEPT, asked))[0])
    except UNANSWERED as exc:
        raise ExecutionError(f"goex could not measure the transaction: {exc}") from exc
    return effects


class Bridged:
    """goex's own queries on the held connection for code that reads from another thread (and
    waits there while the event loop sends them): rows as tuples of ``str``. Each is prepared
    once (its name from its text) and closed by ``done``: they name tables, which a long-lived
    connection would otherwise keep prepared by the thousand."""

    def __init__(self, own: Own, loop: asyncio.AbstractEventLoop) -> None:
        self._own, self._loop = own, loop
        self._names: set[str] = set()

    def __call__(self, sql: str, *params: str) -> list[tuple[Any, ...]]:
        name = "goex_q" + hashlib.sha256(sql.encode()).hexdigest()[:20]
        self._names.add(name)
        ran = asyncio.run_coroutine_threadsafe(self._own.rows(name, sql, params), self._loop)
        return [tuple(None if v is None else v.decode() for v in row) for row in ran.result()]

    def done(self) -> None:
        """On the event loop: close what was prepared."""
        self._own.deallocate(self._names)
        self._names.clear()


async def at_savepoint(own: Own, pending: Pending, sql: str, ran: Sink) -> None:
    """Around a SAVEPOINT or ROLLBACK TO in a transaction that wrote (``ran``: its Execute,
    sent): the row counts there, so that what a ROLLBACK TO took back is not counted (nor
    imaged) as the action's. Read once it ran: a ROLLBACK TO may end a failed state."""
    found = savepoint_of(sql)
    if found is None:
        return
    what, name = found
    with contextlib.suppress(*UNANSWERED):  # failed: said so (skipped: it did nothing)
        if failed(await own.answer(ran)):
            return
        if what == "release":
            pending.release(name)
            return
        counts = await counts_now(own)
        (pending.savepoint if what == "savepoint" else pending.rolled_back_to)(name, counts)


async def after_ddl(own: Own, pending: Pending, ran: Sink) -> None:
    """Once a DDL statement ran (``ran``: its Execute, sent): the catalog rows written so far,
    which are DDL's, against which later statements' are read (``Pending.written_catalogs``)."""
    with contextlib.suppress(*UNANSWERED):  # failed: said so
        if not failed(await own.answer(ran)):
            pending.watch.writes = await catalog_writes(own)


async def counts_now(own: Own) -> Counts:
    """Rows inserted, updated and deleted per table, as the transaction's statistics hold them."""
    rows = await own.rows("goex_counts", queries.BASELINE)
    return {r[0]: (r[1], r[2], r[3]) for r in json.loads(rows[0][0] or b"[]")}


async def catalog_writes(own: Own) -> int:
    """The rows of the catalogs DDL writes the transaction has written (with the baseline's)."""
    rows = await own.rows("goex_catalog_writes", queries.CATALOG_WRITES)
    return int(rows[0][0] or 0)


async def read_catalog(own: Own) -> tuple[Catalog, list[tuple[Any, ...]]]:
    """The catalog of user tables and their file nodes, read in the held transaction."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for name, query in (
        ("goex_columns", queries.COLUMNS),
        ("goex_indexes", queries.INDEXES),
        ("goex_constraints", queries.CONSTRAINTS),
        ("goex_filenodes", queries.FILENODES),
    ):
        rows = await own.rows(name, query)
        found[query] = [tuple(v.decode() if v is not None else None for v in r) for r in rows]
    catalog = queries.read_catalog(lambda query: found[query])
    return catalog, found[queries.FILENODES]


def _less(counts: Counts, taken: Counts) -> Counts:
    """The transaction's counts without the rows ROLLBACK TO took back."""
    less = {}
    for table, now in counts.items():
        back = taken.get(table, (0, 0, 0))
        ins, upd, dele = (max(n - b, 0) for n, b in zip(now, back, strict=True))
        less[table] = (ins, upd, dele)
    return less


def _writes_rows(verdict: Verdict) -> bool:
    statement = verdict.statement
    kind = statement.kind if statement is not None else StatementKind.READ
    return verdict.writes and kind not in (StatementKind.READ, StatementKind.DDL)


def _written(verdict: Verdict) -> tuple[str, ...]:
    statement = verdict.statement
    assert statement is not None
    copy = statement.ast
    if isinstance(copy, exp.Copy):  # FROM STDIN writes its table, TO STDOUT writes nothing
        target = copy.this.this if isinstance(copy.this, exp.Schema) else copy.this
        written = copy.args.get("kind") and isinstance(target, exp.Table)
        return (target.sql(dialect=DIALECT),) if written else ()
    return statement.tables_written


# The proxy names the tables of a transaction's row images by the search path at its end
SEARCH_PATH_HELD = (
    "the search path may not change in a transaction that has written: goex names the tables "
    "its row images are of by the path at its end"
)


async def refused_now(own: Own, verdict: Verdict, *, held: bool) -> Verdict | None:
    """goex's refusal of a statement it lets through, but not here: one changing the search
    path in a transaction that has written (``held``); an ALTER of a temporary relation."""
    statement = verdict.statement
    if held and statement is not None and moves_search_path(statement):
        return Verdict(Role.REFUSED, verdict.sql, statement, "db.session-change", SEARCH_PATH_HELD)
    return await temporary_altered(own, verdict) if verdict.role is Role.WRITE else None


async def temporary_altered(own: Own, verdict: Verdict) -> Verdict | None:
    """goex's refusal of an ALTER of a temporary relation (``backends.base.TEMPORARY_ALTER``),
    or of one it could not tell is not (its query failed); None for any other statement, or
    one the server will skip (an error came before it)."""
    table = altered(verdict.statement) if verdict.statement is not None else None
    if table is None:
        return None
    refusal = Verdict(Role.REFUSED, verdict.sql, verdict.statement, TEMPORARY_RULE, TEMPORARY_ALTER)
    try:
        rows = await own.rows("goex_temporary", queries.TEMPORARY, (qualified(table, "postgres"),))
    except Skipped:
        return None
    except UNANSWERED:
        return refusal
    return refusal if rows and rows[0][0] == b"t" else None
