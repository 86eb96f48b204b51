"""goex's SQL layer: split a script (``split``), classify each statement (``classify``), and the
rewrites the backends run to take row images (``rewrite``). Nothing here talks to a database.
"""

from goexdb.sql.classify import (
    CACHED_SCRIPT_CHARS,
    SCHEMA_OBJECTS,
    VOLATILE_FUNCTIONS,
    Statement,
    classify,
    parse_script,
    qualified,
)
from goexdb.sql.kinds import CLONE_ONLY_VERBS, DENIAL, RUNNABLE, SYSTEM_SCHEMAS, StatementKind
from goexdb.sql.rewrite import (
    UNREPEATABLE_ROWS,
    matched_row_ids,
    preselect,
    row_reference,
    with_returning,
)
from goexdb.sql.split import Piece, SyntaxProblem, pieces, split
from goexdb.sql.syntax import postgres_problem, syntax_problem

__all__ = [
    "CACHED_SCRIPT_CHARS",
    "CLONE_ONLY_VERBS",
    "DENIAL",
    "RUNNABLE",
    "SCHEMA_OBJECTS",
    "SYSTEM_SCHEMAS",
    "UNREPEATABLE_ROWS",
    "VOLATILE_FUNCTIONS",
    "Piece",
    "Statement",
    "StatementKind",
    "SyntaxProblem",
    "classify",
    "matched_row_ids",
    "parse_script",
    "pieces",
    "postgres_problem",
    "preselect",
    "qualified",
    "row_reference",
    "split",
    "syntax_problem",
    "with_returning",
]
