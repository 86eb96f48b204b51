"""Rules for transaction boundaries written into a migration file."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from core.policy import Severity
from goexdb.lint.base import FileRule, Rule, RuleInfo
from goexdb.lint.context import Context, FileState, begins, ends

TRANSACTION_NESTING = RuleInfo(
    "transaction-nesting",
    Severity.ERROR,
    "BEGIN inside an open transaction, or COMMIT/ROLLBACK with none open: PostgreSQL has no "
    "nested transactions, so the file's boundaries are not what they look like",
    "remove the extra BEGIN/COMMIT; use one transaction per file (or per migration tool)",
)


def transaction_nesting(ctx: Context) -> Iterator[str]:
    if begins(ctx) and ctx.in_transaction():
        yield "BEGIN inside a transaction that is already open does not nest"
    elif ends(ctx) and not ctx.in_transaction():
        yield "this ends a transaction the file did not begin (the migration tool's, if any)"


BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION = RuleInfo(
    "ban-concurrent-index-creation-in-transaction",
    Severity.ERROR,
    "CREATE INDEX CONCURRENTLY cannot run inside a transaction block",
    "move it out of BEGIN ... COMMIT, into a migration of its own",
)


def ban_concurrent_index_creation_in_transaction(ctx: Context) -> Iterator[str]:
    tree = ctx.tree
    if isinstance(tree, exp.Create) and tree.args.get("concurrently") and ctx.in_transaction():
        yield "CREATE INDEX CONCURRENTLY fails inside BEGIN ... COMMIT"


BAN_UNCOMMITTED_TRANSACTION = RuleInfo(
    "ban-uncommitted-transaction",
    Severity.ERROR,
    "a BEGIN without a COMMIT: the migration seems to succeed but its changes are rolled back",
    "end the transaction with COMMIT",
)


def ban_uncommitted_transaction(state: FileState) -> Iterator[tuple[str, int, int]]:
    if state.transaction_at is not None:
        line, column = state.transaction_at
        yield "the transaction begun here is never committed", line, column


RULES: tuple[Rule, ...] = (
    Rule(TRANSACTION_NESTING, transaction_nesting),
    Rule(
        BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION, ban_concurrent_index_creation_in_transaction
    ),
)
FILE_RULES: tuple[FileRule, ...] = (
    FileRule(BAN_UNCOMMITTED_TRANSACTION, ban_uncommitted_transaction),
)
