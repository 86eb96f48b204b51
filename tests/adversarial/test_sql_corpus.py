"""Every case of the adversarial SQL corpus (tests/adversarial/sql/) through ``goex-db run
--sql-file``, against a real PostgreSQL database and a real DuckDB file.

Each case asserts what its header says must happen (refused, neutralised or harmless), that
the message is one clear line, and that the database — as another connection sees it — and a
scratch directory are exactly as they were.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import goexdb
from core.action import Kind, Status
from core.errors import StatementDenied
from core.journal import Journal, default_path
from goexdb.sql import Statement, StatementKind
from tests.adversarial import fingerprint
from tests.adversarial.conftest import GoexDb
from tests.adversarial.corpus import BACKENDS, EXPECTATIONS, Case, load_cases

CASES = load_cases()
MINIMUM_CASES = 60


def test_the_corpus_covers_the_ground() -> None:
    assert len(CASES) >= MINIMUM_CASES
    assert set(Counter(c.expect for c in CASES)) == set(EXPECTATIONS)
    for backend in BACKENDS:
        assert sum(backend in c.backends for c in CASES) >= 20, backend


def _statuses() -> list[list[Status]]:
    path = default_path(Kind.DB)
    if not path.exists():
        return []
    with Journal(path) as journal:
        return [[s for s, _ in a.history] for a in journal.recent(Kind.DB, 5)]


@pytest.mark.parametrize(
    ("case", "backend"),
    [pytest.param(c, b, id=f"{c.name}-{b}") for c in CASES for b in c.backends],
)
def test_case(
    case: Case, backend: str, request: pytest.FixtureRequest, tmp_path: Path, goex_db_here: GoexDb
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if backend == "postgres":
        dsn = request.getfixturevalue("corpus_pg")

        def state() -> fingerprint.Fingerprint:
            return fingerprint.postgres(dsn)

    else:
        path = request.getfixturevalue("corpus_duckdb")
        dsn = f"duckdb:{path}"

        def state() -> fingerprint.Fingerprint:
            return fingerprint.duckdb_file(path)

    sql_file = tmp_path / "case.sql"
    sql_file.write_bytes(case.sql(scratch))
    before = state()

    run = goex_db_here(
        "run",
        "--dsn",
        dsn,
        "--sql-file",
        str(sql_file),
        "--decide",
        case.decide,
        "--format",
        "json",
    )

    assert "Traceback" not in run.err
    assert run.code == case.exit_code, f"{case.tries}: {run.err or run.out[:2000]}"
    if case.expect == "refused":
        assert run.out == ""
        assert run.err.startswith("error: ") and run.err.count("\n") == 1, run.err
        assert case.message in run.err
        for history in _statuses():  # journaled (or not, for a usage error) but never staged
            assert Status.STAGED not in history
    else:
        report = json.loads(run.out)
        assert report["status"] == {
            ("harmless", "commit"): "committed",
            ("harmless", "rollback"): "rolled_back",
            ("neutralised", "rollback"): "rolled_back",
        }.get((case.expect, case.decide), "rejected")
        assert run.err == ""
        assert case.message in json.dumps([report["decision"], report["violations"]])
        tables = report["effects"]["tables"]
        for measured in case.measured:
            (name,) = [t for t in tables if t.rpartition(".")[2] == measured.table]
            assert tables[name][measured.column] == measured.rows, tables
        for part in case.survives:  # what rollback cannot undo is shown as such
            notes = report["effects"]["side_effects"]
            assert any(part.rstrip("s") in note for note in notes), notes
    after = state()
    for part in case.survives:
        assert after.pop(part) != before.pop(part)
    assert after == before
    assert fingerprint.files(scratch) == []


def test_duckdb_refuses_a_statement_type_its_module_cannot_name(corpus_duckdb: Path) -> None:
    """Found by the corpus: for UPDATE EXTENSIONS the duckdb module raised ValueError ("29 is
    not a valid StatementType") from goex's cross-check, a traceback instead of a refusal.
    Staged here as goex once classified it (DML), past the keyword table that now names it."""
    before = fingerprint.duckdb_file(corpus_duckdb)
    misread = Statement("UPDATE EXTENSIONS", StatementKind.DML, "update", None)
    with goexdb.connect(f"duckdb:{corpus_duckdb}") as db, pytest.raises(StatementDenied) as info:
        db.hold([misread])
    assert info.value.rule == "db.classification-mismatch"
    assert fingerprint.duckdb_file(corpus_duckdb) == before
