"""PostgreSQL's own reading of a statement: pglast, which wraps libpg_query, the server's parser
(PostgreSQL 18), so what goex classified is what the server will run.

``read`` gives a statement's kind by PostgreSQL's parse tree, with what policy needs of it (the
functions it calls, the columns it names, the tables it writes, whether a write has a WHERE).
``goexdb.sql.classify`` uses it two ways: where sqlglot reads a statement too, the two kinds
must agree, or the statement is refused; where sqlglot cannot read a statement PostgreSQL
parses, this reading classifies it alone (it then has no sqlglot tree: no row images, no lint).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import parser

from core.errors import StatementDenied
from goexdb.sql.kinds import SYSTEM_SCHEMAS, StatementKind

K = StatementKind

# The kind of each top-level statement node goex can run or names a refusal for; any other node
# is UNKNOWN, and refused.
_KINDS: dict[str, StatementKind] = {
    **dict.fromkeys(("SelectStmt", "ExplainStmt"), K.READ),
    **dict.fromkeys(("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"), K.DML),
    **dict.fromkeys(
        (
            "CreateStmt",
            "CreateTableAsStmt",
            "IndexStmt",
            "AlterTableStmt",
            "RenameStmt",
            "CommentStmt",
            "ViewStmt",
            "CreateSeqStmt",
            "AlterSeqStmt",
            "CreateSchemaStmt",
            "CreateEnumStmt",
            "AlterEnumStmt",
            "CompositeTypeStmt",
            "TruncateStmt",
            "DropStmt",
        ),
        K.DDL,
    ),
    **dict.fromkeys(
        (
            "CreateFunctionStmt",
            "AlterFunctionStmt",
            "CreateTrigStmt",
            "DoStmt",
            "RuleStmt",
            "CreateExtensionStmt",
            "CreateDomainStmt",
            "CallStmt",
        ),
        K.CODE,
    ),
    "TransactionStmt": K.TRANSACTION,
    **dict.fromkeys(
        ("VariableSetStmt", "VariableShowStmt", "DiscardStmt", "ListenStmt", "UnlistenStmt"),
        K.SESSION,
    ),
    **dict.fromkeys(("CopyStmt", "NotifyStmt", "LoadStmt"), K.EXTERNAL),
    **dict.fromkeys(
        ("GrantStmt", "GrantRoleStmt", "CreateRoleStmt", "AlterRoleStmt", "DropRoleStmt"),
        K.PRIVILEGE,
    ),
    **dict.fromkeys(
        (
            "VacuumStmt",
            "ClusterStmt",
            "ReindexStmt",
            "CreatedbStmt",
            "DropdbStmt",
            "AlterSystemStmt",
            "CheckPointStmt",
            "CreateTableSpaceStmt",
            "DropTableSpaceStmt",
        ),
        K.NON_TRANSACTIONAL,
    ),
}
_WRITES = ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt")
# What DROP may remove (the rest: functions, triggers, extensions, ... are code); what COMMENT
# may describe without writing a catalog every database shares.
_SCHEMA_OBJECTS = frozenset(
    f"OBJECT_{name}"
    for name in ("TABLE", "INDEX", "VIEW", "MATVIEW", "SEQUENCE", "SCHEMA", "TYPE", "COLUMN")
)
# What RENAME may rename as DDL (the rest: roles, databases, functions, ... are not the data's)
_RENAMED = _SCHEMA_OBJECTS | {"OBJECT_TABCONSTRAINT", "OBJECT_ATTRIBUTE"}


@dataclass(frozen=True)
class Reading:
    """One statement as PostgreSQL's parser reads it."""

    node: str  # the top-level node's type: "InsertStmt", "CreateStmt", ...
    kind: StatementKind
    functions: tuple[str, ...]  # every function called, in lower case, unqualified
    columns: tuple[str, ...]  # every column named, as written ("t.a", "a")
    written: tuple[str, ...]  # the tables its INSERT/UPDATE/DELETE/MERGE write
    has_where: bool | None  # whether each UPDATE and DELETE has a WHERE; None without any
    renamed: str | None = None  # what a RenameStmt renames: "OBJECT_TABLE", "OBJECT_COLUMN", ...

    @property
    def destroys(self) -> bool:
        """DROP or TRUNCATE."""
        return self.node in ("DropStmt", "TruncateStmt")


def read(sql: str) -> Reading | None:
    """PostgreSQL's reading of one statement; None if PostgreSQL cannot parse it; refused if
    PostgreSQL reads several statements there (goex's split would then differ from the
    server's)."""
    return _read(sql)


@functools.lru_cache(maxsize=1024)
def _read(sql: str) -> Reading | None:
    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except (parser.ParseError, RecursionError, ValueError):
        return None
    statements = tree.get("stmts") or []
    if len(statements) != 1:
        raise StatementDenied(
            f"PostgreSQL reads {len(statements)} statements where goex split one; refused",
            statement=sql,
            rule="db.split-mismatch",
        )
    ((node, body),) = statements[0]["stmt"].items()
    nodes = list(_walk(body))
    writes = [(name, n) for name, n in nodes if name in _WRITES]
    if node in _WRITES:
        writes.append((node, body))
    written = tuple(dict.fromkeys(_table(n["relation"]) for _, n in writes if "relation" in n))
    filtered = [("whereClause" in n) for name, n in writes if name in ("UpdateStmt", "DeleteStmt")]
    return Reading(
        node,
        _kind(node, body, writes, written),
        tuple(dict.fromkeys(_function(n) for name, n in nodes if name == "FuncCall")),
        tuple(dict.fromkeys(_column(n) for name, n in nodes if name == "ColumnRef")),
        written,
        all(filtered) if filtered else None,
        body.get("renameType") if node == "RenameStmt" else None,
    )


def syntax_error(sql: str) -> tuple[int, str] | None:
    """Where PostgreSQL's parser stops reading ``sql`` (an offset into it) and the token it
    found there ("" when the statement ended too early); None if it parses."""
    try:
        parser.parse_sql(sql)
    except parser.ParseError as exc:
        found = re.search(r'at or near "(.*)"$', str(exc.args[0]))
        offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        if found is None or offset is None or not 0 <= offset < len(sql):
            return len(sql.rstrip()), ""
        return offset, found[1]
    return None


def _kind(
    node: str, body: dict[str, Any], writes: list[tuple[str, Any]], written: tuple[str, ...]
) -> StatementKind:
    kind = _KINDS.get(node, K.UNKNOWN)
    if node == "ExplainStmt":
        analyze = any(_option(o) == "analyze" for o in body.get("options") or [])
        return K.UNKNOWN if analyze else K.READ
    if node == "SelectStmt" and "intoClause" in body:
        return K.DDL  # SELECT ... INTO creates a table
    if kind is K.READ and writes:
        return K.DML  # a data-modifying CTE
    if kind is K.DML and any(_system_catalog(table) for table in written):
        return K.SYSTEM_CATALOG
    if node == "RenameStmt" and body.get("renameType") not in _RENAMED:
        return K.UNKNOWN
    if node == "DropStmt" and body.get("removeType") not in _SCHEMA_OBJECTS:
        return K.CODE
    if node == "CommentStmt" and body.get("objtype") not in _SCHEMA_OBJECTS:
        return K.SYSTEM_CATALOG
    if node in ("IndexStmt", "DropStmt") and body.get("concurrent"):
        return K.NON_TRANSACTIONAL
    return kind


def _system_catalog(table: str) -> bool:
    """A system catalog, named with its schema or, unqualified, by its ``pg_`` name (the
    search path always holds pg_catalog)."""
    schema, _, name = table.rpartition(".")
    return schema.lower() in SYSTEM_SCHEMAS or (not schema and name.lower().startswith("pg_"))


def _walk(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every node under ``value`` as (type, fields), depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                if key[:1].isupper() and isinstance(inner, dict):
                    yield key, inner
                stack.append(inner)


def _strings(items: list[Any]) -> list[str]:
    return [i["String"]["sval"] for i in items if "String" in i]


def _function(call: dict[str, Any]) -> str:
    return _strings(call.get("funcname") or [])[-1].lower()


def _column(ref: dict[str, Any]) -> str:
    return ".".join(_strings(ref.get("fields") or [])) or "*"


def _table(relation: dict[str, Any]) -> str:
    return ".".join(p for p in (relation.get("schemaname"), relation.get("relname")) if p)


def _option(definition: dict[str, Any]) -> str:
    return str((definition.get("DefElem") or {}).get("defname") or "").lower()
