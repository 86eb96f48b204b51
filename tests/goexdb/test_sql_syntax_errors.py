"""A SQL syntax error is one sentence that names where it is (line, column, the text there),
never a parser's internals (sqlglot's class names, its "Required keyword" wording)."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot.errors import ParseError

from core.errors import StatementError
from goexdb.sql import SyntaxProblem, classify, parse_script, pieces, syntax_problem

INTERNALS = re.compile(r"<class|sqlglot|Required keyword|tokeni[sz]", re.IGNORECASE)


@pytest.mark.parametrize("dialect", ["postgres", "duckdb"])
@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT a,\n  b * FROM t", 'syntax error at line 2, column 7, near "FROM"'),
        ("UPDATE SET WHERE", 'syntax error at line 1, column 12, near "WHERE"'),
        ("SELECT * FROM t WHERE a = = 1", 'syntax error at line 1, column 27, near "="'),
        ("SELECT (1", 'syntax error at line 1, column 9, near "1" (expected ")")'),
        ("DELETE FROM", 'syntax error at line 1, column 8, near "FROM" (expected table name)'),
        ("0?", 'syntax error at line 1, column 2, near "?"'),
        (
            "SELECT 'abc",
            "syntax error at line 1, column 8, near \"'abc\" (the closing ' is missing)",
        ),
        ("SELECT 1 /* no end", 'line 1, column 10, near "/* no end" (the closing */ is missing)'),
    ],
)
def test_a_syntax_error_names_line_column_and_the_text_there(
    sql: str, message: str, dialect: str
) -> None:
    with pytest.raises(StatementError) as raised:
        parse_script(sql, dialect)
    text = raised.value.message
    assert text.startswith("the SQL could not be parsed: syntax error at ")
    assert text.endswith(message)
    assert not INTERNALS.search(text), text
    assert "\n" not in text


def test_the_position_is_counted_in_the_script_not_the_statement() -> None:
    script = "SELECT 1;\n-- the second statement:\nSELECT x,\n  y * FROM t;\nSELECT 3"
    with pytest.raises(StatementError, match=r'at line 4, column 7, near "FROM"$'):
        parse_script(script, "postgres")
    with pytest.raises(StatementError, match=r"at line 1, column 18, near \"'abc\""):
        parse_script("SELECT 1; SELECT 'abc", "duckdb")


def test_classify_counts_from_where_the_statement_starts() -> None:
    with pytest.raises(StatementError, match=r'at line 7, column 19, near "WHERE"$'):
        classify("SELECT * FROM t WHERE", "postgres", line=7, column=3)
    with pytest.raises(StatementError, match=r'at line 8, column 7, near "FROM"$'):
        classify("SELECT a,\n  b * FROM t", "postgres", line=7, column=3)


def test_an_unclosed_quote_is_a_syntax_error_in_classify_too() -> None:
    # Before, classify() on such text let the tokenizer's own exception through.
    with pytest.raises(
        StatementError, match=r"line 1, column 8, near \"\$\$x\" \(the closing \$\$"
    ):
        classify("SELECT $$x", "postgres")
    with pytest.raises(StatementError, match='the closing " is missing'):
        pieces('SELECT "abc', "postgres")


def test_a_statement_cut_short_points_at_its_last_token() -> None:
    with pytest.raises(StatementError) as raised:
        parse_script("INSERT INTO t VALUES (1,", "postgres")
    assert raised.value.message.endswith('line 1, column 24, near "," (expected ")")')


def test_the_problem_is_also_given_as_fields_for_reports_that_show_them_apart() -> None:
    sql = "SELECT a,\n  b * FROM t"
    with pytest.raises(ParseError) as raised:
        sqlglot.parse(sql, read="postgres")
    problem = syntax_problem(sql, "postgres", raised.value, line=10, column=5)
    assert problem == SyntaxProblem(11, 7, "FROM")
    assert str(problem) == 'syntax error at line 11, column 7, near "FROM"'
