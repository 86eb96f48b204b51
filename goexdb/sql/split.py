"""Split a script into its statements, before anything is parsed or run (invariant 1).

A script is split with the dialect's own sqlglot tokenizer, so quotes, ``$$`` bodies and comments
never split a statement: only a top-level semicolon ends one. Text the database could read
differently from goex is refused first: a NUL byte, text that is not UTF-8, and identifiers
spelled with unicode escapes.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from core.errors import StatementDenied, StatementError


@dataclass(frozen=True)
class Piece:
    """One statement of a script as written, with where it starts (1-based line and column) and
    ``leading``: the text between the previous statement and this one (its comments), which is
    where a ``-- goex:ignore`` comment for it lives."""

    sql: str
    line: int
    column: int
    start: int
    leading: str
    tokens: tuple[Token, ...]


def split(sql: str, dialect: str) -> list[str]:
    """The statements of a script, as text, split on top-level semicolons only."""
    return [piece.sql for piece in pieces(sql, dialect)]


def pieces(sql: str, dialect: str) -> list[Piece]:
    """The statements of a script with their positions and tokens, split on top-level
    semicolons only (the dialect's tokenizer, so quotes, ``$$`` bodies and comments never
    split a statement).

    Text that the database could read differently from goex is refused first (``_check_text``,
    ``_refuse_escaped_identifiers``)."""
    _check_text(sql)
    tokens = tokenize(sql, dialect)
    _refuse_escaped_identifiers(tokens, sql)
    newlines = [match.start() for match in re.finditer("\n", sql)]
    found: list[Piece] = []
    current: list[Token] = []
    previous_end = 0

    def close() -> None:
        nonlocal previous_end
        start, end = current[0].start, current[-1].end + 1
        line = bisect.bisect_left(newlines, start)
        column = start - (newlines[line - 1] if line else -1)
        found.append(
            Piece(sql[start:end], line + 1, column, start, sql[previous_end:start], tuple(current))
        )
        previous_end = end
        current.clear()

    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            if current:
                close()
            continue
        current.append(token)
    if current:
        close()
    return found


def tokenize(
    sql: str, dialect: str, line: int = 1, column: int = 1, statement: str | None = None
) -> list[Token]:
    """The dialect's tokens of ``sql``. Text it cannot read (a quote, ``$$`` body or comment
    that is never closed) is a syntax error that names where it starts, counted from ``line``
    and ``column`` (where ``sql`` starts in its script)."""
    tokenizer = Dialect.get_or_raise(dialect).tokenizer()
    try:
        return tokenizer.tokenize(sql)
    except TokenError as exc:
        offset, closing = _unreadable(sql, exc, tokenizer.tokens)
        detail = f"the closing {closing} is missing" if closing else None
        problem = SyntaxProblem.at(sql, offset, sql[offset:], detail, line=line, column=column)
        raise StatementError(
            f"the SQL could not be parsed: {problem}", statement=statement
        ) from None


# sqlglot's tokenizer says where the text it could not close starts ("Missing ' from 1:7": the
# line, then the offset) in the error it raises first, which its TokenError is raised over.
_MISSING = re.compile(r"Missing (?P<closing>\S+) from \d+:(?P<offset>\d+)")


def _unreadable(sql: str, exc: TokenError, read: Sequence[Token]) -> tuple[int, str | None]:
    """Where the text the tokenizer failed on starts, and what would have closed it if known:
    from the tokenizer's first error, else just after the last token it read."""
    first = exc.__cause__ or exc.__context__
    found = _MISSING.fullmatch(str(first)) if isinstance(first, TokenError) else None
    if found is not None and int(found["offset"]) < len(sql):
        return int(found["offset"]), found["closing"]
    offset = read[-1].end + 1 if read else 0
    while offset < len(sql) and sql[offset].isspace():
        offset += 1
    return offset, "*/" if sql.startswith("/*", offset) else None


def position(sql: str, offset: int, line: int = 1, column: int = 1) -> tuple[int, int]:
    """The 1-based line and column of ``sql[offset]``, when ``sql`` starts at ``line`` and
    ``column`` of its script."""
    newlines = sql.count("\n", 0, offset)
    if not newlines:
        return line, column + offset
    return line + newlines, offset - sql.rfind("\n", 0, offset)


@dataclass(frozen=True)
class SyntaxProblem:
    """Where a statement stops being SQL goex can read: the 1-based line and column in its
    script, the text found there ("" when the statement ended too early) and, when known, what
    would have made it readable. ``str()`` is the one sentence every SQL syntax error is told
    in: ``syntax error at line 2, column 7, near "FROM"``."""

    line: int
    column: int
    near: str
    detail: str | None = None

    @classmethod
    def at(
        cls,
        sql: str,
        offset: int,
        near: str,
        detail: str | None = None,
        *,
        line: int = 1,
        column: int = 1,
    ) -> SyntaxProblem:
        """The problem at ``sql[offset]``, ``near`` being the text from there, when ``sql``
        starts at ``line`` and ``column`` of its script."""
        shown = near.strip().split("\n", 1)[0]
        if len(shown) > _NEAR_CHARS:
            shown = shown[:_NEAR_CHARS] + "..."
        if not shown:  # nothing there: the statement ended too early
            offset = len(sql.rstrip())
        return cls(*position(sql, offset, line, column), shown, detail)

    def __str__(self) -> str:
        where = (
            f'line {self.line}, column {self.column}, near "{self.near}"'
            if self.near
            else f"the end of the statement (line {self.line}, column {self.column})"
        )
        return f"syntax error at {where}" + (f" ({self.detail})" if self.detail else "")


_NEAR_CHARS = 30


def _check_text(sql: str) -> None:
    """No NUL byte (libpq ends the statement at the first one, so the server would run a prefix
    of what goex classified: ``... --\\0\\nWHERE id = 1`` would lose its WHERE) and nothing
    that is not UTF-8 (a lone surrogate from undecodable input)."""
    if "\x00" in sql:
        raise StatementError(
            "the SQL contains a NUL byte, where PostgreSQL would stop reading the statement, "
            "so goex refuses it"
        )
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StatementError(
            f"the SQL is not valid UTF-8 text (at character {exc.start})"
        ) from None


def _refuse_escaped_identifiers(tokens: Sequence[Token], sql: str) -> None:
    """PostgreSQL reads ``U&"pg_read_fil\\0065"`` as the identifier pg_read_file; sqlglot reads
    ``U & "..."``. A name spelled with escapes could hide a denied function or an EXPLAIN
    option from every check, so such identifiers are refused. The rest of a statement sqlglot
    reads as a command (``EXPLAIN ...``, ``CALL ...``) arrives as one raw text token, searched as
    text."""
    found = any(
        command.token_type is TokenType.COMMAND
        and rest.token_type is TokenType.STRING
        and _ESCAPED_IDENTIFIER.search(rest.text)
        for command, rest in itertools.pairwise(tokens)
    ) or any(
        u.text.lower() == "u"
        and amp.token_type is TokenType.AMP
        and ident.token_type is TokenType.IDENTIFIER
        and u.end + 1 == amp.start
        and amp.end + 1 == ident.start
        for u, amp, ident in zip(tokens, tokens[1:], tokens[2:], strict=False)
    )
    if found:
        raise StatementDenied(
            'a unicode-escaped identifier (U&"...") was refused: it can spell a name '
            "goex would deny without showing it",
            statement=sql,
            rule="db.escaped-identifier",
        )


_ESCAPED_IDENTIFIER = re.compile(r'\bu&"', re.IGNORECASE)


def oid_arrays_as_text(sql: str, dialect: str) -> str | None:
    """``sql`` with ``text`` for each array of an object identifier type (``oid[]``,
    ``regclass[]``, ...), which sqlglot cannot read; None when it has none."""
    tokens = tokenize(sql, dialect)
    spans = [
        (token.start, token.end + 1)
        for token, opening, closing in zip(tokens, tokens[1:], tokens[2:], strict=False)
        if token.token_type is TokenType.OBJECT_IDENTIFIER
        and opening.token_type is TokenType.L_BRACKET
        and closing.token_type is TokenType.R_BRACKET
    ]
    for start, end in reversed(spans):
        sql = sql[:start] + "text" + sql[end:]
    return sql if spans else None
