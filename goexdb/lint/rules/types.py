"""Rules for column types that cause trouble later: overflow, time zones, padding, lengths."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from core.policy import Severity
from goexdb.lint.base import Problem, Rule, RuleInfo
from goexdb.lint.context import Context, type_name

# sqlglot's type names (see context.type_name): int covers integer and int4, smallint int2.
_INT = frozenset({"int", "serial", "serial4"})
_SMALLINT = frozenset({"smallint", "smallserial", "serial2"})
_SERIAL = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})
_CHAR = frozenset({"char", "nchar", "bpchar"})


def _columns_of(ctx: Context, names: frozenset[str]) -> Iterator[tuple[exp.Expr, str]]:
    for column, dtype in ctx.column_types:
        name = type_name(dtype)
        if name in names:
            yield column, name


BAN_CHAR_FIELD = RuleInfo(
    "ban-char-field",
    Severity.WARNING,
    "char(n) pads values with spaces and is no faster than text",
    "use text (with a CHECK on length if needed) or varchar",
)


def ban_char_field(ctx: Context) -> Iterator[Problem]:
    for column, name in _columns_of(ctx, _CHAR):
        yield f"column {column.name} is {name}", column


PREFER_BIGINT_OVER_INT = RuleInfo(
    "prefer-bigint-over-int",
    Severity.WARNING,
    "a 32-bit integer key or counter overflows at about 2.1 billion",
    "use bigint (or bigserial / an identity column on bigint)",
)


def prefer_bigint_over_int(ctx: Context) -> Iterator[Problem]:
    for column, name in _columns_of(ctx, _INT):
        yield f"column {column.name} is {name}, which overflows at 2^31", column


PREFER_BIGINT_OVER_SMALLINT = RuleInfo(
    "prefer-bigint-over-smallint",
    Severity.WARNING,
    "a 16-bit integer overflows at 32,767",
    "use bigint",
)


def prefer_bigint_over_smallint(ctx: Context) -> Iterator[Problem]:
    for column, name in _columns_of(ctx, _SMALLINT):
        yield f"column {column.name} is {name}, which overflows at 2^15", column


PREFER_IDENTITY = RuleInfo(
    "prefer-identity",
    Severity.WARNING,
    "serial types create a separately owned sequence with awkward permissions and copying",
    "use bigint GENERATED ALWAYS AS IDENTITY",
)


def prefer_identity(ctx: Context) -> Iterator[Problem]:
    for column, name in _columns_of(ctx, _SERIAL):
        yield f"column {column.name} is {name}", column


PREFER_TEXT_FIELD = RuleInfo(
    "prefer-text-field",
    Severity.WARNING,
    "varchar(n) needs an ACCESS EXCLUSIVE lock (and maybe a rewrite) to change its length",
    "use text with a CHECK (length(col) <= n) constraint, which can be changed NOT VALID",
)


def prefer_text_field(ctx: Context) -> Iterator[Problem]:
    for column, dtype in ctx.column_types:
        if type_name(dtype) == "varchar" and dtype.expressions:
            yield f"column {column.name} is {dtype.sql(dialect='postgres').lower()}", column


PREFER_TIMESTAMPTZ = RuleInfo(
    "prefer-timestamptz",
    Severity.WARNING,
    "timestamp without time zone stores wall-clock times whose meaning depends on the reader",
    "use timestamptz (timestamp with time zone)",
)


def prefer_timestamptz(ctx: Context) -> Iterator[Problem]:
    for column, dtype in ctx.column_types:
        if type_name(dtype) == "timestamp":
            yield f"column {column.name} is timestamp without time zone", column


RULES: tuple[Rule, ...] = (
    Rule(BAN_CHAR_FIELD, ban_char_field),
    Rule(PREFER_BIGINT_OVER_INT, prefer_bigint_over_int),
    Rule(PREFER_BIGINT_OVER_SMALLINT, prefer_bigint_over_smallint),
    Rule(PREFER_IDENTITY, prefer_identity),
    Rule(PREFER_TEXT_FIELD, prefer_text_field),
    Rule(PREFER_TIMESTAMPTZ, prefer_timestamptz),
)
