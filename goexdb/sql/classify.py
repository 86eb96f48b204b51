"""Classify SQL before anything runs (invariant 1).

Each statement of a script (``split``) is parsed alone and given a ``StatementKind``. sqlglot
falls back to a generic ``Command`` for many statements and misreads a few (``SAVEPOINT x`` parses
as an alias, ``CHECKPOINT`` as a column): those are classified by their leading keywords. What is
still not recognised is ``UNKNOWN``, and unknown statements are denied, never guessed.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from core.errors import StatementDenied, StatementError
from goexdb.sql import postgres
from goexdb.sql.agree import agree
from goexdb.sql.kinds import (
    CLONE_ONLY_VERBS,
    DENIAL,
    LEADING_KEYWORDS,
    RUNNABLE,
    SYSTEM_SCHEMAS,
    StatementKind,
)
from goexdb.sql.postgres import Reading
from goexdb.sql.split import oid_arrays_as_text, pieces, tokenize
from goexdb.sql.syntax import syntax_problem

logging.getLogger("sqlglot").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Statement:
    sql: str
    kind: StatementKind
    verb: str
    ast: exp.Expr | None
    tables_written: tuple[str, ...] = ()
    has_where: bool | None = None
    # PostgreSQL's own reading, where sqlglot could not parse a statement PostgreSQL parses
    postgres: Reading | None = None

    @property
    def has_returning(self) -> bool:
        return self.ast is not None and self.ast.args.get("returning") is not None

    @functools.cached_property
    def image_target(self) -> exp.Table | None:
        """The one table a top-level INSERT/UPDATE/DELETE/MERGE writes, when row images can be
        taken with RETURNING; None for reads, DDL, and writes hidden in CTEs."""
        if not isinstance(self.ast, exp.Insert | exp.Update | exp.Delete | exp.Merge):
            return None
        targets = list(_write_targets(self.ast))
        return targets[0] if len(targets) == 1 else None

    @functools.cached_property
    def functions_called(self) -> tuple[str, ...]:
        """The names, in lower case, of every function the statement calls, FROM included."""
        if self.ast is None:
            return self.postgres.functions if self.postgres else ()
        names = (
            call.name if isinstance(call, exp.Anonymous) else call.sql_name()
            for call in self.ast.find_all(exp.Func)
        )
        return tuple(dict.fromkeys(name.lower() for name in names))

    @functools.cached_property
    def columns_named(self) -> tuple[str, ...]:
        """Every column the statement names, as written (``t.a``, ``a``)."""
        if self.ast is None:
            return self.postgres.columns if self.postgres else ()
        found = (
            f"{c.table}.{c.name}" if c.table else c.name for c in self.ast.find_all(exp.Column)
        )
        return tuple(dict.fromkeys(found))

    @property
    def truncates(self) -> bool:
        if self.ast is None:
            return self.postgres is not None and self.postgres.node == "TruncateStmt"
        return isinstance(self.ast, exp.TruncateTable)

    @property
    def destroys(self) -> bool:
        """DROP or TRUNCATE."""
        if self.ast is None:
            return self.postgres is not None and self.postgres.destroys
        return isinstance(self.ast, exp.Drop | exp.TruncateTable)

    @functools.cached_property
    def chooses_rows_unrepeatably(self) -> bool:
        """Whether the rows an UPDATE or DELETE changes could be other rows when its own
        FROM/WHERE is read again (a volatile function, a LIMIT or a sample decides them), so
        that its rows cannot be read before it runs for their images."""
        if self.ast is None:
            return False
        parts = [self.ast.args.get(k) for k in ("where", "from_", "using", "with_")]
        return any(
            isinstance(node, exp.Rand | exp.Uuid | exp.Limit | exp.TableSample)
            or (isinstance(node, exp.Anonymous) and node.name.lower() in VOLATILE_FUNCTIONS)
            for part in parts
            if isinstance(part, exp.Expr)
            for node in part.walk()
        )

    @functools.cached_property
    def names_old_or_new(self) -> bool:
        """Whether the statement names a relation (or aliases one) old or new, which PostgreSQL
        18's RETURNING then means by old and new instead of the row before and after."""
        if self.ast is None:
            return False
        tables = list(self.ast.find_all(exp.Table))
        names = [t.alias_or_name for t in tables] + [t.this.name for t in tables if t.this]
        names += [alias.name for alias in self.ast.find_all(exp.TableAlias)]
        return any(name.lower() in ("old", "new") for name in names)

    @property
    def is_upsert(self) -> bool:
        """MERGE, or INSERT ... ON CONFLICT: one statement that may insert or replace rows."""
        return isinstance(self.ast, exp.Merge) or (
            isinstance(self.ast, exp.Insert) and self.ast.args.get("conflict") is not None
        )

    @property
    def runnable(self) -> bool:
        return self.kind in RUNNABLE

    @property
    def runs_on_clone(self) -> bool:
        """Runnable on a clone: held in its transaction, or run outside it when it must be."""
        return self.runnable or (
            self.kind is StatementKind.NON_TRANSACTIONAL and self.verb in CLONE_ONLY_VERBS
        )

    def denial(self) -> StatementDenied:
        rule, why = DENIAL[self.kind]
        if self.kind is StatementKind.NON_TRANSACTIONAL and not self.runs_on_clone:
            why = (
                "it cannot run inside a transaction block and acts on the whole server, so "
                "even clone mode refuses it"
            )
        return StatementDenied(
            f"statement {self.verb.upper()} was refused: {why}", statement=self.sql, rule=rule
        )


_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)

# Functions that answer differently at each call (or each statement), besides random() and
# the uuid functions sqlglot knows by name.
VOLATILE_FUNCTIONS = frozenset(
    {
        "setseed",
        "uuidv4",
        "uuidv7",
        "random_uuid",
        "nextval",
        "clock_timestamp",
        "statement_timestamp",
        "timeofday",
    }
)


def classify(sql: str, dialect: str, *, line: int = 1, column: int = 1) -> Statement:
    """Parse one statement and give it a kind; several statements in one string raise.

    Leading keywords that name a kind goex never runs (BEGIN, SET, COPY, VACUUM, ...) decide
    first, whatever sqlglot makes of the rest: a refusal never depends on a parser's fallback.
    A syntax error names its line and column counted from ``line`` and ``column``, where the
    statement starts in its script.
    """
    words = _leading_words(sql, dialect, line, column)
    verb = " ".join(words[:2]) if words[:1] in (["create"], ["drop"], ["alter"]) else words[0]
    keyword_kind = _keyword_kind(words)
    if words[0] == "explain":
        # EXPLAIN only plans; EXPLAIN ANALYZE runs the statement, whatever it is.
        if re.search(r"\banaly[sz]e\b", sql, re.IGNORECASE):
            return Statement(sql, StatementKind.UNKNOWN, verb, None)
        return Statement(sql, StatementKind.READ, verb, _explained_statement(sql, dialect))
    reading = postgres.read(sql) if dialect == "postgres" else None
    try:
        parsed = _parsed(sql, dialect)
    except (ParseError, TokenError, TypeError, RecursionError) as exc:
        # sqlglot's parser raises a TypeError on some garbage (``0?``) and recurses once per
        # nesting level: both are still failures to parse, not crashes.
        if keyword_kind is not None or reading is not None:
            return _read_by_postgres(sql, verb, keyword_kind, reading)
        problem = (
            "it is nested too deeply for goex to analyse"
            if isinstance(exc, RecursionError)
            else syntax_problem(sql, dialect, exc, line=line, column=column)
        )
        raise StatementError(f"the SQL could not be parsed: {problem}", statement=sql) from None
    if len(parsed) != 1:
        raise StatementError("one statement was expected here, several were found", statement=sql)
    tree = parsed[0]
    kind = keyword_kind or _kind_of(tree)
    if kind is StatementKind.DML and _writes_system_catalog(tree):
        kind = StatementKind.SYSTEM_CATALOG
    if dialect == "postgres":
        agree(sql, verb, kind, tree, reading, line, column)
    written = _tables_written(tree, dialect) if kind is StatementKind.DML else ()
    where = _has_where(tree) if kind is StatementKind.DML else None
    return Statement(sql, kind, verb, tree, written, where)


def _read_by_postgres(
    sql: str, verb: str, keyword_kind: StatementKind | None, reading: Reading | None
) -> Statement:
    """A statement sqlglot cannot parse: its leading keywords' kind (one goex never runs) or
    else PostgreSQL's reading of it."""
    if keyword_kind is not None or reading is None:
        return Statement(sql, keyword_kind or StatementKind.UNKNOWN, verb, None)
    return Statement(
        sql, reading.kind, verb, None, reading.written, reading.has_where, postgres=reading
    )


def _parsed(sql: str, dialect: str) -> list[exp.Expr]:
    """sqlglot's trees of ``sql``. sqlglot cannot read an array of an object identifier type
    (``$1::oid[]``, ``regtype[]``, as asyncpg's type introspection casts): such a statement is
    read with ``text[]`` in their place, a cast's type being nothing its kind, tables or
    functions depend on; the statement keeps its own text."""
    try:
        return [e for e in sqlglot.parse(sql, read=dialect) if e is not None]
    except ParseError:
        readable = oid_arrays_as_text(sql, dialect)
        if readable is None:
            raise
        return [e for e in sqlglot.parse(readable, read=dialect) if e is not None]


def parse_script(sql: str, dialect: str) -> list[Statement]:
    """Split and classify a script. A script up to ``CACHED_SCRIPT_CHARS`` long is classified
    once per process: classification is a pure function of the text and the dialect, and an
    agent often stages the same SQL again (its statements and their trees are shared, so
    nothing may change a ``Statement.ast`` in place; copy it first)."""
    if len(sql) <= CACHED_SCRIPT_CHARS:
        return list(_parse_script_cached(sql, dialect))
    return list(_parse_script(sql, dialect))


CACHED_SCRIPT_CHARS = 65_536


def _parse_script(sql: str, dialect: str) -> tuple[Statement, ...]:
    statements = tuple(
        classify(piece.sql, dialect, line=piece.line, column=piece.column)
        for piece in pieces(sql, dialect)
    )
    if not statements:
        raise StatementError("the SQL has no statements")
    return statements


_parse_script_cached = functools.lru_cache(maxsize=512)(_parse_script)


def _explained_statement(sql: str, dialect: str) -> exp.Expr | None:
    """The statement an EXPLAIN plans, parsed, so policy can read the functions it names."""
    inner = re.sub(r"^\s*explain\s*(\([^)]*\))?\s*(verbose\s+)?", "", sql, flags=re.I)
    try:
        return sqlglot.parse_one(inner, read=dialect)
    except (ParseError, TokenError, TypeError, RecursionError):
        return None


def _leading_words(sql: str, dialect: str, line: int, column: int) -> list[str]:
    # A COMMAND token swallows the rest of its statement ("PREPARE" + "TRANSACTION 'x'"),
    # so split token texts into words.
    tokens = tokenize(sql, dialect, line, column, statement=sql)
    words = [word for t in tokens[:3] for word in t.text.lower().split()]
    return words[:3] or [""]


def _keyword_kind(words: list[str]) -> StatementKind | None:
    for length in (2, 1):
        kind = LEADING_KEYWORDS.get(tuple(words[:length]))
        if kind is not None:
            return kind
    return None


# What CREATE and DROP may make or remove: data and its structure. Everything else that can be
# created (functions, procedures, triggers, rules, extensions, macros, secrets, roles, ...) is
# code or privilege that the catalog diff cannot show and undo cannot take back.
SCHEMA_OBJECTS = frozenset({"TABLE", "INDEX", "VIEW", "SEQUENCE", "SCHEMA", "TYPE"})


def _kind_of(tree: exp.Expr) -> StatementKind:
    if isinstance(tree, exp.Transaction | exp.Commit | exp.Rollback):
        return StatementKind.TRANSACTION
    if isinstance(tree, exp.Command):
        return StatementKind.UNKNOWN
    if isinstance(tree, exp.Set | exp.Pragma | exp.Use):
        return StatementKind.SESSION
    if isinstance(tree, exp.Copy):
        return StatementKind.EXTERNAL
    if isinstance(tree, exp.Grant | exp.Revoke):
        return StatementKind.PRIVILEGE
    if isinstance(tree, exp.Create | exp.Drop) and (
        str(tree.args.get("kind") or "").upper() not in SCHEMA_OBJECTS
    ):
        return StatementKind.CODE
    if isinstance(tree, exp.Comment) and (
        str(tree.args.get("kind") or "").upper() not in SCHEMA_OBJECTS | {"COLUMN"}
    ):  # COMMENT ON DATABASE writes a catalog shared by every database, unmeasured
        return StatementKind.SYSTEM_CATALOG
    if isinstance(tree, exp.Create | exp.Drop | exp.Alter | exp.TruncateTable | exp.Comment):
        if tree.args.get("concurrently"):
            return StatementKind.NON_TRANSACTIONAL
        return StatementKind.DDL
    if tree.find(exp.Insert, exp.Update, exp.Delete, exp.Merge):
        return StatementKind.DML
    if isinstance(tree, exp.Select) and tree.args.get("into"):
        return StatementKind.DDL
    if isinstance(tree, exp.Query | exp.Values | exp.Describe | exp.Show):
        return StatementKind.READ
    return StatementKind.UNKNOWN


def _tables_written(tree: exp.Expr, dialect: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(qualified(table, dialect) for table in _write_targets(tree)))


def _write_targets(tree: exp.Expr) -> Iterator[exp.Table]:
    """The table each INSERT, UPDATE, DELETE or MERGE in a statement writes. A MERGE's own
    WHEN ... THEN UPDATE / INSERT clauses name none: they write the MERGE's target."""
    for node in tree.find_all(*_WRITES):
        target = node.this
        table = target if isinstance(target, exp.Table) else None
        if table is None and isinstance(target, exp.Expr):
            table = target.find(exp.Table)
        if table is not None:
            yield table


# PostgreSQL searches pg_catalog before the search_path, so an unqualified pg_* name may be one.


def _writes_system_catalog(tree: exp.Expr) -> bool:
    """Whether a DML statement writes a system catalog (``UPDATE pg_authid``, ``UPDATE
    pg_settings``): the per-table statistics goex measures with leave those out."""
    for table in _write_targets(tree):
        schema, name = table.db.lower(), table.name.lower()
        if schema in SYSTEM_SCHEMAS or (not schema and name.startswith("pg_")):
            return True
    return False


def qualified(table: exp.Table, dialect: str) -> str:
    """``schema.table`` as SQL, quoted as written (``public."Acct"``, ``acct``): fit to hand
    back to the database to resolve, which folds and searches exactly as for the statement."""
    if table.args.get("alias") is None:  # (a copy of the tree costs more than the SQL)
        return table.sql(dialect=dialect)
    bare = table.copy()
    bare.set("alias", None)
    return bare.sql(dialect=dialect)


def _has_where(tree: exp.Expr) -> bool | None:
    """Whether every UPDATE and DELETE in the statement has a WHERE, those in a CTE too
    (``WITH d AS (DELETE FROM t RETURNING *) SELECT ...`` deletes every row); None without any.
    A MERGE's rows are chosen by its ON clause, except those of a ``WHEN NOT MATCHED BY SOURCE``
    without a condition of its own that updates or deletes: every other row of the target."""
    writes = [
        w for w in tree.find_all(exp.Update, exp.Delete) if not isinstance(w.parent, exp.When)
    ]
    whens = list(tree.find_all(exp.When))
    if not writes and not whens:
        return None
    everything_else = [
        w
        for w in whens
        if w.args.get("source") and w.args.get("condition") is None and _changes_rows(w)
    ]
    return not everything_else and all(node.args.get("where") is not None for node in writes)


def _changes_rows(when: exp.When) -> bool:
    """A MERGE action that updates or deletes (not one that inserts or does nothing)."""
    then = when.args.get("then")
    return isinstance(then, exp.Update) or (isinstance(then, exp.Var) and then.name == "DELETE")
