"""goex-db dry-run: migrations run for real, measured statement by statement, and never kept.

::

    report = dry_run([Path("migrations")], parse_dsn(dsn), load_config())
    print(render(report, "sarif"))

The files (``goexdb.migrations.discover`` order) run one of two ways, and the target database is
unchanged afterwards either way:

* **transaction** (the default): one transaction, always rolled back, with a savepoint per file,
  so a file that fails is rolled back to its savepoint and the next file still runs (PostgreSQL;
  DuckDB has no savepoints, so there the first failure ends the run);
* **clone** (``clone=True``, or automatically when a file holds a statement that cannot run in a
  transaction block, such as ``CREATE INDEX CONCURRENTLY``): each file runs in its own
  transaction, committed on a clone that is dropped afterwards, as a migration tool would.

Each statement gets its duration, rows affected, schema changes, the locks it took (each with how
long it would be held until its file's transaction ends), the tables it rewrote, and its error
with file, line and column. (In one transaction a lock an earlier file already holds is not
taken again, so it is reported on that earlier file only; on a clone every file starts afresh.)

The static lint findings join the measured ones: an ACCESS EXCLUSIVE
lock held longer than ``lint.max_exclusive_lock_ms`` on a table of more than
``lint.large_table_rows`` rows, and a rewrite of such a table.

What a dry-run will not run: transaction control and session settings in a file are skipped (goex
owns the transaction; the file's own ``BEGIN``/``COMMIT`` are noted, not executed), and what goex
never runs (external access, server-wide statements, unknown statements, denied functions)
refuses the whole file before any of it runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.config import Capture, Config
from core.errors import GoexError, StatementError
from core.policy import blocking, evaluate
from goexdb.backends.base import Backend
from goexdb.clone import Clone, Progress, make_clone
from goexdb.dsn import Target
from goexdb.effects import Effects
from goexdb.held import open_backend
from goexdb.lint.base import RuleInfo
from goexdb.lint.catalogue import (
    DRY_RUN_REFUSED,
    LARGE_TABLE_REWRITE,
    LONG_EXCLUSIVE_LOCK,
    MIGRATION_ERROR,
    SYNTAX_ERROR,
)
from goexdb.lint.engine import LintOptions, lint_sql
from goexdb.migrations.discover import discover
from goexdb.reports.model import FileReport, Finding, Report, StatementReport
from goexdb.rules import BEFORE_RUNNING, Outcome
from goexdb.sql import Piece, Statement, StatementKind, classify, pieces

SKIPPED = frozenset({StatementKind.TRANSACTION, StatementKind.SESSION})
# Beyond what an action may run: ALTER TYPE (enum values), which the rolled-back transaction or
# the clone contain; and, only if the operator allows it (``db.dry_run_code``), code
# definitions, whose bodies goex cannot inspect (a plpgsql body can EXECUTE anything once a
# later statement calls it). Privileges stay refused: GRANT of a role acts on the whole server.
_TYPE_VERBS = frozenset({"alter type"})
_ACCESS_EXCLUSIVE = "AccessExclusiveLock"


@dataclass
class Migration:
    """One file: its statements as written (``pieces``) and as classified, and its report."""

    path: Path
    report: FileReport
    sql: str = ""
    pieces: list[Piece] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    @property
    def needs_clone(self) -> bool:
        return any(s.kind is StatementKind.NON_TRANSACTIONAL for s in self.statements)


def dry_run(
    paths: Sequence[Path],
    target: Target,
    config: Config,
    *,
    clone: bool = False,
    tag: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Run the migrations under ``paths`` against ``target`` without keeping any of it."""
    migrations = [_read(path, target.dialect) for path in discover(paths)]
    on_clone = clone or any(m.needs_clone for m in migrations)
    copy: Clone | None = None
    run_on = target
    if on_clone:
        copy = make_clone(target, tag or f"dryrun_{time.time_ns() % 10**12}", progress)
        run_on = copy.target
    try:
        backend = open_backend(run_on, replace(config.db, capture=Capture.COUNTS))
        try:
            report = _Runner(backend, config, on_clone).run(migrations)
        finally:
            backend.rollback()
            backend.close()
    finally:
        if copy is not None:
            copy.drop()
    report.target = target.display
    if copy is not None:
        report.strategy = f"clone ({copy.strategy}), dropped afterwards"
        report.notes.insert(0, f"cloned in {copy.seconds:.2f} s: {copy.reason}")
        if not clone:
            report.notes.insert(
                0, "ran on a clone: a file holds a statement that cannot run in a transaction block"
            )
    else:
        report.strategy = "one transaction, rolled back (a savepoint per file)"
    return report


def _read(path: Path, dialect: str) -> Migration:
    try:
        sql = path.read_text(encoding="utf-8")
        found = pieces(sql, dialect)
        statements = [classify(piece.sql, dialect) for piece in found]
    except (OSError, UnicodeDecodeError, GoexError) as exc:
        message = exc.message if isinstance(exc, GoexError) else str(exc)
        error = Finding(
            SYNTAX_ERROR.id, SYNTAX_ERROR.severity, str(path), 1, 1, message, SYNTAX_ERROR.help
        )
        return Migration(path, FileReport(str(path), [], error=error))
    return Migration(path, FileReport(str(path), []), sql, found, statements)


class _Runner:
    def __init__(self, backend: Backend, config: Config, on_clone: bool) -> None:
        self.backend = backend
        self.config = config
        self.on_clone = on_clone
        version = backend.server_version
        self.options = LintOptions.from_config(
            config.lint, (version // 10000, 0) if version else None
        )
        self.sizes = backend.table_sizes()
        self.savepoints = backend.facts.savepoints  # DuckDB has none
        self.notes: list[str] = []

    def run(self, migrations: list[Migration]) -> Report:
        if not self.on_clone:  # one transaction for every file, rolled back at the end
            self.backend.begin([s for m in migrations for s in m.statements if self._runs(s)])
        stopped = False
        for index, migration in enumerate(migrations):
            if migration.report.error is None:
                migration.report = self._lint(migration)
            if stopped:
                self.notes.append(f"{migration.path}: not run, an earlier migration failed")
            elif migration.report.error is None and self._allowed(migration):
                stopped = not self._run_file(migration, f"goex_file_{index}")
        return Report("dry-run", [m.report for m in migrations], notes=self.notes)

    def _lint(self, migration: Migration) -> FileReport:
        """The static findings (PostgreSQL's rules), one statement report per piece."""
        path = str(migration.path)
        if self.backend.facts.lint_rules:
            report = lint_sql(migration.sql, path, self.options)
            if len(report.statements) == len(migration.pieces):
                return report
        statements = [
            StatementReport(piece.sql, piece.line, piece.column, statement.kind.value)
            for piece, statement in zip(migration.pieces, migration.statements, strict=True)
        ]
        return FileReport(path, statements)

    def _runs(self, statement: Statement) -> bool:
        if statement.runs_on_clone if self.on_clone else statement.runnable:
            return True
        if statement.kind is StatementKind.UNKNOWN and statement.verb in _TYPE_VERBS:
            return True
        return statement.kind is StatementKind.CODE and self.config.db.dry_run_code

    def _allowed(self, migration: Migration) -> bool:
        """Refuse the whole file, before any of it runs, if goex would not run one statement."""
        for piece, statement, report in self._each(migration):
            if statement.kind in SKIPPED:
                self.notes.append(
                    f"{migration.path}:{piece.line}: {statement.verb.upper()} skipped, goex runs "
                    "each file in a transaction of its own"
                )
            elif not self._runs(statement):
                denial = statement.denial()
                return self._refuse(migration, piece, report, denial.message)
        runs = [s for s in migration.statements if self._runs(s)]
        refused = blocking(evaluate(BEFORE_RUNNING, Outcome(runs, Effects()), self.config.policy))
        if refused:
            piece, _, report = next(self._each(migration))
            return self._refuse(migration, piece, report, refused[0].message)
        return True

    def _refuse(
        self, migration: Migration, piece: Piece, report: StatementReport, message: str
    ) -> bool:
        report.error = message
        migration.report.error = self._finding(DRY_RUN_REFUSED, migration, piece, message)
        return False

    def _each(self, migration: Migration) -> zip[tuple[Piece, Statement, StatementReport]]:
        return zip(migration.pieces, migration.statements, migration.report.statements, strict=True)

    def _run_file(self, migration: Migration, savepoint: str) -> bool:
        """Run one file; False when it failed in a way that ends the run."""
        backend = self.backend
        if self.on_clone:
            backend.begin([s for s in migration.statements if self._runs(s)])
        elif self.savepoints:
            backend.savepoint(savepoint)
        started: list[tuple[StatementReport, float]] = []
        file_start = time.perf_counter()
        failed = False
        for piece, statement, report in self._each(migration):
            if statement.kind in SKIPPED:
                continue
            start = time.perf_counter()
            try:
                backend.mark([statement])
                result = backend.execute(statement)
                effects = backend.measure()
            except StatementError as exc:
                report.error = exc.message
                report.duration_ms = (time.perf_counter() - start) * 1000
                migration.report.error = self._error(migration, piece, exc)
                failed = True
                break
            report.duration_ms = (time.perf_counter() - start) * 1000
            report.rowcount = result.rowcount
            report.schema_changes = [c.to_json() for c in effects.schema_changes]
            report.rewrites = list(effects.rewrites)
            report.locks = [  # a bare oid: a transient relation a rewrite made and dropped
                {"relation": k["relation"], "mode": k["mode"]}
                for k in effects.locks
                if not k["relation"].isdigit()
            ]
            started.append((report, start))
        end = time.perf_counter()
        migration.report.duration_ms = (end - file_start) * 1000
        for report, start in started:
            for lock in report.locks:
                lock["held_ms"] = round((end - start) * 1000, 1)
        self._measured_rules(migration)
        if self.on_clone:
            (backend.rollback if failed else backend.commit)()
            return True
        if failed and not self.savepoints:
            self.notes.append("DuckDB has no savepoints: the run stopped at the first failure")
            return False
        if failed:
            backend.rollback_to(savepoint)
        return True

    def _measured_rules(self, migration: Migration) -> None:
        lint = self.config.lint
        disabled = self.options.disabled
        for piece, _, report in self._each(migration):
            for lock in report.locks:
                rows = self.sizes.get(lock["relation"], 0)
                if (
                    LONG_EXCLUSIVE_LOCK.id not in disabled
                    and lock["mode"] == _ACCESS_EXCLUSIVE
                    and lock["held_ms"] > lint.max_exclusive_lock_ms
                    and rows > lint.large_table_rows
                ):
                    report.findings.append(
                        self._finding(
                            LONG_EXCLUSIVE_LOCK,
                            migration,
                            piece,
                            f"ACCESS EXCLUSIVE on {lock['relation']} (~{rows} rows) would be "
                            f"held {lock['held_ms']:.0f} ms, over "
                            f"{lint.max_exclusive_lock_ms} ms",
                        )
                    )
            for table in report.rewrites:
                rows = self.sizes.get(table, 0)
                if LARGE_TABLE_REWRITE.id not in disabled and rows > lint.large_table_rows:
                    report.findings.append(
                        self._finding(
                            LARGE_TABLE_REWRITE,
                            migration,
                            piece,
                            f"rewrites all of {table} (~{rows} rows, over {lint.large_table_rows})",
                        )
                    )

    def _finding(self, info: RuleInfo, migration: Migration, piece: Piece, message: str) -> Finding:
        return Finding(
            info.id,
            self.options.grade(info),
            str(migration.path),
            piece.line,
            piece.column,
            message,
            info.help,
        )

    def _error(self, migration: Migration, piece: Piece, exc: StatementError) -> Finding:
        line, column = piece.line, piece.column
        if exc.position:  # where in the statement the server points
            before = piece.sql[: exc.position - 1]
            line += before.count("\n")
            column = len(before) - before.rfind("\n") if "\n" in before else column + len(before)
        return Finding(
            MIGRATION_ERROR.id,
            MIGRATION_ERROR.severity,
            str(migration.path),
            line,
            column,
            exc.message,
            MIGRATION_ERROR.help,
        )
