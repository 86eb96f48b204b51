"""What a lint rule sees: one parsed statement, its keywords, and what the file did before it.

sqlglot parses many migration statements as a generic ``Command`` (``REINDEX``, ``ALTER DOMAIN``,
``ALTER TYPE ... ADD VALUE``, ``ALTER TABLE ... DETACH PARTITION``, ...). Rules read those from
``words``: the statement's tokens from the dialect tokenizer, so text inside string literals,
dollar-quoted bodies, quoted identifiers and comments is never mistaken for a keyword.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from goexdb.sql import Piece, Statement

DIALECT = "postgres"
NEWEST = (99, 0)  # the server version assumed when none is given: every newer behaviour

# Token types whose text is data or a quoted name, never a keyword.
_NOT_KEYWORDS = frozenset(
    {
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.BIT_STRING,
        TokenType.HEX_STRING,
        TokenType.BYTE_STRING,
        TokenType.UNICODE_STRING,
        TokenType.IDENTIFIER,
        TokenType.NUMBER,
    }
)


@dataclass(frozen=True)
class Word:
    """A token as written. ``keyword`` is set (upper-cased) for keywords and bare names; string
    literals, numbers and quoted identifiers never match a keyword."""

    text: str
    quoted: bool  # a quoted identifier
    keyword: str | None


@dataclass
class FileState:
    """What the statements before the current one did, as far as the rules care."""

    path: str
    statements: int = 0  # how many statements the file has (known before the rules run)
    transaction_at: tuple[int, int] | None = None  # where an explicit BEGIN opened, if open
    created_tables: set[str] = field(default_factory=set)
    not_valid_constraints: set[str] = field(default_factory=set)
    dropped_constraints: set[str] = field(default_factory=set)  # DROP CONSTRAINT IF EXISTS
    lock_timeout: bool = False
    statement_timeout: bool = False
    timeout_reported: bool = False


@dataclass(frozen=True)
class Context:
    statement: Statement
    piece: Piece
    words: tuple[Word, ...]
    state: FileState
    server_version: tuple[int, int] = NEWEST

    @property
    def tree(self) -> exp.Expr | None:
        return self.statement.ast

    @property
    def command(self) -> bool:
        """sqlglot could not model the statement and kept it as a generic Command."""
        return isinstance(self.statement.ast, exp.Command) or self.statement.ast is None

    @cached_property
    def keywords(self) -> list[str]:
        """The statement's words as keywords, "" where a word is a literal or quoted name."""
        return [w.keyword or "" for w in self.words]

    @cached_property
    def actions(self) -> list[exp.Expr]:
        """The actions of an ``ALTER TABLE`` on an existing table (empty otherwise)."""
        if altered_table(self) is None:
            return []
        assert self.tree is not None
        return list(self.tree.args.get("actions") or [])

    @cached_property
    def column_types(self) -> list[tuple[exp.Expr, exp.DataType]]:
        """(column definition or ALTER COLUMN, type) for every column a CREATE TABLE or ALTER
        TABLE defines or retypes, array element types included."""
        tree = self.tree
        found: list[tuple[exp.Expr, exp.DataType]] = []
        if isinstance(tree, exp.Create | exp.Alter):
            for column in tree.find_all(exp.ColumnDef):
                kind = column.args.get("kind")
                if isinstance(kind, exp.DataType):
                    found.extend((column, t) for t in kind.find_all(exp.DataType))
            for change in tree.find_all(exp.AlterColumn):
                dtype = change.args.get("dtype")
                if isinstance(dtype, exp.DataType):
                    found.extend((change, t) for t in dtype.find_all(exp.DataType))
        return found

    def starts_with(self, *keywords: str) -> bool:
        return self.keywords[: len(keywords)] == list(keywords)

    def has_sequence(self, *keywords: str) -> bool:
        """Whether the keywords appear next to each other, in order, anywhere in the statement."""
        words = self.keywords
        n = len(keywords)
        return any(words[i : i + n] == list(keywords) for i in range(len(words) - n + 1))

    def in_transaction(self) -> bool:
        return self.state.transaction_at is not None

    def created_here(self, table: exp.Table | None) -> bool:
        """The table was created earlier in the same file, so it is new and empty."""
        return table is not None and table_name(table) in self.state.created_tables


def table_name(table: exp.Table) -> str:
    """A table's name as PostgreSQL resolves it, for comparing within a file (no schema
    search: ``public.t`` and ``t`` count as different)."""
    parts = [p for p in (table.args.get("db"), table.this) if isinstance(p, exp.Identifier)]
    return ".".join(p.this if p.quoted else p.this.lower() for p in parts)


def words_of(piece: Piece) -> tuple[Word, ...]:
    """The statement's words. A COMMAND token (``REINDEX``, ``DO``, ...) makes the tokenizer
    swallow the rest of the statement as one string, which is tokenized again here."""
    found: list[Word] = []
    tokens: list[Token] = list(piece.tokens)
    for i, token in enumerate(tokens):
        if token.token_type is TokenType.COMMAND:
            found.append(_word(token))
            found.extend(_rest_of_command(piece, token, tokens[i + 1 :]))
            break
        found.append(_word(token))
    return tuple(found)


def _word(token: Token) -> Word:
    keyword = token.text.upper() if token.token_type not in _NOT_KEYWORDS else None
    return Word(token.text, token.token_type is TokenType.IDENTIFIER, keyword)


def _rest_of_command(piece: Piece, command: Token, rest: list[Token]) -> list[Word]:
    offset = command.end + 1 - piece.start
    text = piece.sql[offset:]
    try:
        tokens = Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return [_word(token) for token in rest]
    return [_word(token) for token in tokens if token.token_type is not TokenType.SEMICOLON]


def altered_table(ctx: Context) -> exp.Table | None:
    """The table of an ``ALTER TABLE`` that sqlglot parsed, unless it was created in this file
    (a new, empty table takes no lock worth worrying about and has no old readers)."""
    tree = ctx.tree
    if not isinstance(tree, exp.Alter) or str(tree.args.get("kind") or "").upper() != "TABLE":
        return None
    table = tree.this
    if not isinstance(table, exp.Table) or ctx.created_here(table):
        return None
    return table


def alter_actions(ctx: Context) -> list[exp.Expr]:
    """The actions of an ``ALTER TABLE`` on an existing table (empty otherwise)."""
    return ctx.actions


def added_columns(ctx: Context) -> list[exp.ColumnDef]:
    return [a for a in alter_actions(ctx) if isinstance(a, exp.ColumnDef)]


def added_constraints(ctx: Context) -> list[exp.Expr]:
    """The constraints of ``ADD CONSTRAINT`` / ``ADD PRIMARY KEY`` actions (the inner
    ``CheckColumnConstraint``, ``ForeignKey``, ``UniqueColumnConstraint``, ``PrimaryKey``)."""
    found: list[exp.Expr] = []
    for action in alter_actions(ctx):
        if not isinstance(action, exp.AddConstraint):
            continue
        for item in action.expressions:
            found.extend(item.expressions if isinstance(item, exp.Constraint) else [item])
    return found


def column_constraints(column: exp.ColumnDef) -> list[exp.Expr]:
    """The kinds of a column's constraints (``NotNullColumnConstraint``, ``Reference``, ...)."""
    return [c.args["kind"] for c in column.args.get("constraints") or [] if c.args.get("kind")]


def type_name(dtype: exp.DataType) -> str:
    """sqlglot's name of the type, lower-case, without parameters: ``int`` for int/integer/int4,
    ``smallint`` for int2, ``bpchar``, ``varchar``; a type sqlglot does not know by its own
    name (``serial8``)."""
    if dtype.this == exp.DType.USERDEFINED:
        return str(dtype.args.get("kind") or "").lower()
    this = dtype.this  # a type sqlglot keeps as text (oid, regclass) has no enum member
    return (this if isinstance(this, str) else str(this.name)).lower()


def begins(ctx: Context) -> bool:
    """BEGIN / START TRANSACTION (sqlglot reads the latter as an alias)."""
    return isinstance(ctx.tree, exp.Transaction) or ctx.starts_with("START", "TRANSACTION")


def ends(ctx: Context) -> bool:
    """COMMIT / END / ROLLBACK / ABORT — not ROLLBACK TO SAVEPOINT."""
    tree = ctx.tree
    if isinstance(tree, exp.Rollback) and tree.args.get("savepoint"):
        return False
    return isinstance(tree, exp.Commit | exp.Rollback) or ctx.starts_with("ABORT")
