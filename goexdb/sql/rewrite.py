"""SQL rewrites the backends run to take row images: a statement with more RETURNING, and the
rows an UPDATE or DELETE is about to change, read by its own FROM/WHERE before it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from sqlglot import exp

from goexdb.engines import EngineFacts
from goexdb.sql.classify import Statement

UNREPEATABLE_ROWS = (
    "an UPDATE whose rows are chosen by a volatile function, a LIMIT or a sample cannot have "
    "its rows read again before it runs, so it has no row images"
)


def with_returning(statement: Statement, *expressions: str) -> str:
    """The statement's own text with expressions appended to its RETURNING clause (or a new
    one). Appending to the text keeps the statement exactly as the agent wrote it; RETURNING is
    the last clause of every DML statement that has one."""
    joiner = ", " if statement.has_returning else " RETURNING "
    return statement.sql.rstrip().rstrip(";") + joiner + ", ".join(expressions)


def preselect(
    statement: Statement, facts: EngineFacts, select: Callable[[str], Sequence[str]], lock: bool
) -> str | None:
    """``SELECT <row identity>, <select(alias)> FROM <target and the statement's FROM/USING>
    WHERE ...``: the rows an UPDATE or DELETE is about to change, read (and locked) before it
    runs, each named by the engine's ``row_identity`` (a ctid names a row within one partition
    only: PostgreSQL's is the table's oid and the ctid)."""
    tree = statement.ast
    table = statement.image_target
    if not isinstance(tree, exp.Update | exp.Delete) or table is None:
        return None
    dialect = facts.dialect
    name = row_reference(table, dialect)
    # The statement's FROM/USING first and the target last, as the statement joins them: a
    # LATERAL there (an undo's images) is then joined before the target, which DuckDB
    # otherwise plans as a product of every row with every image.
    others = tree.args.get("from_") or tree.args.get("using")
    relations = [others.this] if isinstance(others, exp.From) else list(others or [])
    first, *rest = [*relations, table]
    query = exp.select(
        *(f"{name}.{column}" for column in facts.row_identity), *select(name), dialect=dialect
    )
    query = query.from_(first.copy())
    for relation in rest:
        query = query.join(relation.copy(), join_type="cross")
    where = tree.args.get("where")
    if where is not None:
        query = query.where(where.this.copy())
    if tree.args.get("with_") is not None:
        query.set("with_", tree.args["with_"].copy())
    sql = query.sql(dialect=dialect)
    return f"{sql} FOR UPDATE OF {name}" if lock else sql


@functools.lru_cache(maxsize=512)
def matched_row_ids(statement: Statement, facts: EngineFacts) -> str | None:
    """``SELECT <row id> FROM ... WHERE ...``: the rows an UPDATE or DELETE is about to change
    (a row once per join match), built once per statement."""
    return preselect(statement, facts, lambda alias: (), lock=False)


def row_reference(table: exp.Table, dialect: str) -> str:
    """How the statement's own text names the target's row: its alias, or its name as written
    (quoted if it was, so a mixed-case name is not folded)."""
    alias = table.args.get("alias")
    identifier = alias.this if isinstance(alias, exp.TableAlias) and alias.this else table.this
    return str(identifier.sql(dialect=dialect))
