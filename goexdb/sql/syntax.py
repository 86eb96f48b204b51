"""How a statement that does not parse is told: where, near what and, when the parser says so
plainly, what was expected (``SyntaxProblem``), from sqlglot's error or PostgreSQL's own."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError
from sqlglot.tokenizer_core import Token, TokenType

from goexdb.sql import postgres
from goexdb.sql.split import SyntaxProblem


def postgres_problem(sql: str, *, line: int = 1, column: int = 1) -> SyntaxProblem:
    """The syntax error PostgreSQL's parser meets in ``sql`` (which sqlglot read)."""
    offset, near = postgres.syntax_error(sql) or (0, sql)
    return SyntaxProblem.at(sql, offset, near, line=line, column=column)


def syntax_problem(
    sql: str, dialect: str, exc: Exception, *, line: int = 1, column: int = 1
) -> SyntaxProblem:
    """The syntax error sqlglot met parsing ``sql`` (``exc``: its ParseError, TokenError or
    TypeError), in goex's words: where, near what and, when sqlglot says so plainly, what was
    expected; never the parser's internals (its messages can name its own classes)."""
    errors = exc.errors if isinstance(exc, ParseError) else []
    found = _error_token(sql, errors[0]) if errors else None
    if found is not None:
        offset, text = found
        expected = _expected(str(errors[0].get("description") or ""))
        return SyntaxProblem.at(sql, offset, text, expected, line=line, column=column)
    offset, text = _last_token_read(sql, dialect)
    return SyntaxProblem.at(sql, offset, text, line=line, column=column)


def _error_token(sql: str, error: dict[str, Any]) -> tuple[int, str] | None:
    """Where the token a parse error names starts, and its text: sqlglot gives the line and
    column where the token ends; None when they do not point at its text."""
    end_line, end_column, text = error.get("line"), error.get("col"), error.get("highlight")
    if not isinstance(end_line, int) or not isinstance(end_column, int) or end_line < 1:
        return None
    if not text:  # no token: the statement ended where more was needed
        return len(sql.rstrip()), ""
    line_start = 0
    for _ in range(end_line - 1):
        line_start = sql.find("\n", line_start) + 1
        if line_start == 0:
            return None
    start = line_start + end_column - len(text)
    return (start, str(text)) if start >= 0 and sql.startswith(str(text), start) else None


def _expected(description: str) -> str | None:
    """What sqlglot says it expected (``Expecting )``, ``Expected table name but got ...``),
    when it says so in plain words."""
    found = re.match(r"Expect(?:ing|ed) (.+)", description)
    if found is None:
        return None
    what = re.split(r" but got | for |, got | or encountered ", found[1])[0].rstrip(". ")
    if not what or len(what) > 40 or "<" in what or "sqlglot" in what.lower():
        return None
    return f'expected "{what}"' if len(what) == 1 else f"expected {what}"


def _last_token_read(sql: str, dialect: str) -> tuple[int, str]:
    """Where a parse that failed without saying where (a TypeError inside sqlglot) stopped: the
    last token its parser read; the statement's start if even that is unknown."""
    engine = Dialect.get_or_raise(dialect)
    parser = engine.parser()
    with contextlib.suppress(Exception):  # the failure met already; only where it stood matters
        parser.parse(engine.tokenize(sql), sql)
    token = getattr(parser, "_prev", None)
    if isinstance(token, Token) and token.token_type is not TokenType.SENTINEL:
        return token.start, sql[token.start : token.end + 1]
    return 0, sql
