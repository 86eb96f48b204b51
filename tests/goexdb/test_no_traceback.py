"""No input ends in a traceback: lint, the classifier and dry-run read a corpus of valid
PostgreSQL 18 statements (``corpus/postgres18.sql``, written for these tests) and mutations of
them, and answer with findings, a classification or goex's one-sentence error — never another
exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import Config
from core.errors import GoexError
from goexdb.dsn import parse_dsn
from goexdb.lint.engine import lint_sql
from goexdb.migrations import dry_run
from goexdb.sql import parse_script
from goexdb.sql.split import split

CORPUS = (Path(__file__).parent / "corpus" / "postgres18.sql").read_text(encoding="utf-8")
STATEMENTS = split(CORPUS, "postgres")
TOKENS = ["(", ")", ";", "'", '"', "$$", "::", ",", "--", "/*", "oid", "regclass", "AS", "ON"]


def read_everywhere(sql: str) -> None:
    """Lint and classify ``sql``: findings or goex's error, nothing else."""
    for finding in lint_sql(sql, "corpus.sql").findings():
        assert finding.line >= 1 and finding.message
    try:
        parse_script(sql, "postgres")
    except GoexError as exc:
        assert exc.message and "\n" not in exc.message.strip()


def test_the_corpus_is_read_statement_by_statement_and_whole() -> None:
    assert len(STATEMENTS) == 97  # split as PostgreSQL would: not on semicolons in bodies
    read_everywhere(CORPUS)
    for statement in STATEMENTS:
        read_everywhere(statement)


def test_valid_postgresql_18_is_never_a_syntax_error_nor_unparseable() -> None:
    """PostgreSQL's own parser reads the corpus, so lint finds no syntax error in it and the
    classifier classifies every statement (sqlglot cannot read some: a VIRTUAL column, a
    function's ``timestamp with time zone`` argument, OVERRIDING SYSTEM VALUE)."""
    findings = lint_sql(CORPUS, "corpus.sql").findings()
    assert [f for f in findings if f.rule == "syntax-error"] == []
    assert len(parse_script(CORPUS, "postgres")) == 97


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(STATEMENTS))
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["cut", "drop", "insert", "swap"]))
    if how == "cut":
        return text[:at]
    if how == "drop":
        return text[:at] + text[at + draw(st.integers(1, 12)) :]
    if how == "insert":
        return text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
    return text[at:] + text[:at]


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_mutated_statements_get_findings_or_an_error_never_a_traceback(sql: str) -> None:
    read_everywhere(sql)


def test_dry_run_of_the_corpus_reports_every_statement(pg_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for number, statement in enumerate(STATEMENTS, 1):
        (folder / f"{number:04d}.sql").write_text(statement + ";\n", encoding="utf-8")
    report = dry_run([folder], parse_dsn(pg_dsn), Config())
    assert len(report.files) == len(STATEMENTS)
