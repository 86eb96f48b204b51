"""The kinds of statement goex tells apart, which of them a held transaction may run, and why
each other kind is refused.

``classify`` gives every statement one ``StatementKind``; leading keywords decide first for the
kinds goex never runs (``LEADING_KEYWORDS``), whatever sqlglot makes of the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class StatementKind(StrEnum):
    READ = "read"
    DML = "dml"
    DDL = "ddl"
    TRANSACTION = "transaction_control"
    NON_TRANSACTIONAL = "non_transactional"
    SESSION = "session_changing"
    EXTERNAL = "external_access"
    CODE = "code_definition"
    PRIVILEGE = "privilege_change"
    SYSTEM_CATALOG = "system_catalog_write"
    UNKNOWN = "unknown"


# Schemas of the system's own catalogs: a write there is no data goex can measure or undo.
SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})

# Kinds a held transaction may execute; every other kind is refused before anything runs.
RUNNABLE = frozenset({StatementKind.READ, StatementKind.DML, StatementKind.DDL})

# Non-transactional statements that touch only the database they run in, so a clone may run
# them outside its transaction; the rest (ALTER SYSTEM, CREATE DATABASE, tablespaces,
# CHECKPOINT) act on the whole server and are refused even there.
CLONE_ONLY_VERBS = frozenset({"vacuum", "create index", "drop index", "reindex", "cluster"})

DENIAL: Mapping[StatementKind, tuple[str, str]] = {
    StatementKind.TRANSACTION: (
        "db.transaction-control",
        "goex owns the transaction, so transaction control is never executed",
    ),
    StatementKind.NON_TRANSACTIONAL: (
        "db.non-transactional",
        "it cannot run inside a transaction block; use clone mode for it",
    ),
    StatementKind.SESSION: (
        "db.session-change",
        "it changes the session outside the action's transaction",
    ),
    StatementKind.EXTERNAL: (
        "db.external-access",
        "it reads or writes outside the database (files, programs, extensions)",
    ),
    StatementKind.CODE: (
        "db.code-definition",
        "it defines server-side code (a function, procedure, trigger, rule, extension, ...) "
        "whose body goex cannot inspect",
    ),
    StatementKind.PRIVILEGE: (
        "db.privilege-change",
        "it changes roles or privileges, which the catalog diff does not measure",
    ),
    StatementKind.SYSTEM_CATALOG: (
        "db.system-catalog",
        "it writes a system catalog (roles, settings, ...), which goex can neither measure nor "
        "undo",
    ),
    StatementKind.UNKNOWN: (
        "db.unknown-statement",
        "goex does not recognise this kind of statement, and denies what it cannot classify",
    ),
}

# Leading keywords -> kind, longest match first. Used for sqlglot's Command fallback and misreads.
LEADING_KEYWORDS: Mapping[tuple[str, ...], StatementKind] = {
    ("begin",): StatementKind.TRANSACTION,
    ("start", "transaction"): StatementKind.TRANSACTION,
    ("commit",): StatementKind.TRANSACTION,
    ("end",): StatementKind.TRANSACTION,
    ("rollback",): StatementKind.TRANSACTION,
    ("abort",): StatementKind.TRANSACTION,
    ("savepoint",): StatementKind.TRANSACTION,
    ("release",): StatementKind.TRANSACTION,
    ("prepare", "transaction"): StatementKind.TRANSACTION,
    ("set", "transaction"): StatementKind.TRANSACTION,
    ("set", "session"): StatementKind.SESSION,
    ("set",): StatementKind.SESSION,
    ("reset",): StatementKind.SESSION,
    ("discard",): StatementKind.SESSION,
    ("pragma",): StatementKind.SESSION,
    ("use",): StatementKind.SESSION,
    ("listen",): StatementKind.SESSION,
    ("unlisten",): StatementKind.SESSION,
    ("notify",): StatementKind.EXTERNAL,
    ("load",): StatementKind.EXTERNAL,
    ("install",): StatementKind.EXTERNAL,
    ("update", "extensions"): StatementKind.EXTERNAL,
    ("attach",): StatementKind.EXTERNAL,
    ("detach",): StatementKind.EXTERNAL,
    ("export",): StatementKind.EXTERNAL,
    ("import",): StatementKind.EXTERNAL,
    ("copy",): StatementKind.EXTERNAL,
    ("vacuum",): StatementKind.NON_TRANSACTIONAL,
    ("checkpoint",): StatementKind.NON_TRANSACTIONAL,
    ("force", "checkpoint"): StatementKind.NON_TRANSACTIONAL,
    ("alter", "system"): StatementKind.NON_TRANSACTIONAL,
    ("create", "database"): StatementKind.NON_TRANSACTIONAL,
    ("drop", "database"): StatementKind.NON_TRANSACTIONAL,
    ("create", "tablespace"): StatementKind.NON_TRANSACTIONAL,
    ("drop", "tablespace"): StatementKind.NON_TRANSACTIONAL,
    ("reindex",): StatementKind.NON_TRANSACTIONAL,
    ("cluster",): StatementKind.NON_TRANSACTIONAL,
}
