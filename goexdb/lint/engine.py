"""Run the rules over a migration file: one pass, statement by statement.

Each statement is split with positions (``statements.pieces``), parsed once (``classify``), and
shown to every enabled rule together with what the file did before it (``FileState``). A
statement that does not parse gets a ``syntax-error`` finding and the next one is still checked.
A ``-- goex:ignore rule[, rule...]`` comment directly above a statement silences those rules for
it alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from core.config import LintConfig
from core.errors import ConfigError, StatementError, UsageError
from core.policy import Severity
from goexdb.lint.base import RuleInfo
from goexdb.lint.catalogue import NOT_LINTED, SYNTAX_ERROR, catalogue
from goexdb.lint.context import (
    DIALECT,
    NEWEST,
    Context,
    FileState,
    begins,
    ends,
    table_name,
    words_of,
)
from goexdb.lint.rules import FILE_RULES, STATEMENT_RULES
from goexdb.reports.model import FileReport, Finding, StatementReport
from goexdb.sql import (
    Piece,
    StatementKind,
    classify,
    pieces,
    postgres_problem,
    syntax_problem,
)

_IGNORE = re.compile(r"--[ \t]*goex:ignore[ \t]+([a-z0-9-]+(?:[ \t]*,[ \t]*[a-z0-9-]+)*)", re.I)


@dataclass(frozen=True)
class LintOptions:
    """Which rules run and at what severity, and the server the migrations are meant for."""

    disabled: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    server_version: tuple[int, int] = NEWEST

    @classmethod
    def from_config(
        cls, config: LintConfig, server_version: tuple[int, int] | None = None
    ) -> LintOptions:
        """Options from ``[lint]``; a rule id the catalogue does not know is a ConfigError."""
        known = {info.id for info in catalogue()}
        for key, ids in (("lint.disable", config.disable), ("lint.severity", config.severity)):
            unknown = sorted(set(ids) - known)
            if unknown:
                raise ConfigError(
                    f"{key} names unknown lint rule(s): {', '.join(unknown)}", key=key
                )
        # core.config keeps the levels as the strings "error" / "warning".
        severity = {
            k: Severity.ERROR if v == "error" else Severity.WARNING
            for k, v in config.severity.items()
        }
        return cls(frozenset(config.disable), severity, server_version or NEWEST)

    def grade(self, info: RuleInfo) -> Severity:
        return self.severity.get(info.id, info.severity)


def lint_file(path: Path, options: LintOptions | None = None) -> FileReport:
    """Lint one migration file. A file that is not UTF-8 is a syntax error; one that cannot be
    read at all is a usage error."""
    try:
        sql = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read migration {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        problem = f"the file is not UTF-8 (byte {exc.start})"
        error = _finding(SYNTAX_ERROR, options or LintOptions(), str(path), 1, 1, problem)
        return FileReport(str(path), [], error=error)
    return lint_sql(sql, str(path), options)


def lint_sql(sql: str, path: str = "<sql>", options: LintOptions | None = None) -> FileReport:
    """Lint one migration's text, reported as coming from ``path``.

    The report has one ``StatementReport`` per ``statements.pieces(sql, "postgres")`` piece, in
    the same order, so dry-run can fill in what it measures for each statement in place."""
    options = options or LintOptions()
    try:
        found = pieces(sql, DIALECT)
    except StatementError as exc:
        return FileReport(path, [], error=_finding(SYNTAX_ERROR, options, path, 1, 1, str(exc)))
    state = FileState(path, statements=len(found))
    reports = [_lint_statement(piece, state, options) for piece in found]
    if reports:
        # A file rule's finding points at a statement; that statement's goex:ignore applies.
        ignored = {(p.line, p.column): _ignored(p.leading) for p in found}
        for file_rule in FILE_RULES:
            if file_rule.info.id in options.disabled:
                continue
            for message, line, column in file_rule.check(state):
                finding = _finding(file_rule.info, options, path, line, column, message)
                _report(reports[-1], finding, ignored.get((line, column), set()))
    return FileReport(path, reports)


def _lint_statement(piece: Piece, state: FileState, options: LintOptions) -> StatementReport:
    ignored = _ignored(piece.leading)
    report = StatementReport(piece.sql, piece.line, piece.column, StatementKind.UNKNOWN.value, [])
    try:
        statement = classify(piece.sql, DIALECT)
    except StatementError:
        if SYNTAX_ERROR.id not in options.disabled:
            line, column, problem = _parse_error(piece)
            finding = _finding(SYNTAX_ERROR, options, state.path, line, column, problem)
            _report(report, finding, ignored)
        return report
    report.kind = statement.kind.value
    if statement.postgres is not None and NOT_LINTED.id not in options.disabled:
        finding = _finding(NOT_LINTED, options, state.path, piece.line, piece.column, _UNREAD)
        _report(report, finding, ignored)
    ctx = Context(statement, piece, words_of(piece), state, options.server_version)
    for rule in STATEMENT_RULES:
        if rule.info.id in options.disabled:
            continue
        for seen in rule.check(ctx):
            message, node = seen if isinstance(seen, tuple) else (seen, None)
            line, column = _position(piece, node)
            finding = _finding(rule.info, options, state.path, line, column, message)
            if finding not in report.findings and finding not in report.suppressed:
                _report(report, finding, ignored)
    _advance(ctx)
    return report


_UNREAD = (
    "PostgreSQL's parser accepts this statement but goex's linter cannot read it, so only the "
    "rules that read tokens checked it"
)


def _report(report: StatementReport, finding: Finding, ignored: set[str]) -> None:
    """A finding silenced by goex:ignore is kept apart, not dropped: the report still shows a
    reviewer what the migration's author (perhaps an agent) chose to silence."""
    (report.suppressed if finding.rule in ignored else report.findings).append(finding)


def _position(piece: Piece, node: exp.Expr | None) -> tuple[int, int]:
    """Where in the file a node of the statement's tree starts (its first identifier, whose
    offset sqlglot keeps), or where the statement starts."""
    identifier = node if isinstance(node, exp.Identifier) else node and node.find(exp.Identifier)
    start = identifier.meta.get("start") if identifier is not None else None
    if not isinstance(start, int) or not 0 <= start < len(piece.sql):
        return piece.line, piece.column
    newlines = piece.sql.count("\n", 0, start)
    if newlines == 0:
        return piece.line, piece.column + start
    return piece.line + newlines, start - piece.sql.rfind("\n", 0, start)


def _finding(
    info: RuleInfo, options: LintOptions, path: str, line: int, column: int, message: str
) -> Finding:
    return Finding(info.id, options.grade(info), path, line, column, message, info.help)


def _ignored(leading: str) -> set[str]:
    """Rule ids named by ``-- goex:ignore`` comments directly above a statement."""
    ids: set[str] = set()
    for match in _IGNORE.finditer(leading):
        ids.update(part.strip().lower() for part in match[1].split(",") if part.strip())
    return ids


def _parse_error(piece: Piece) -> tuple[int, int, str]:
    """Where in the file a statement stops parsing, and why."""
    try:
        sqlglot.parse(piece.sql, read=DIALECT)
    except (ParseError, TokenError, TypeError) as exc:  # TypeError: on some garbage
        problem = syntax_problem(piece.sql, DIALECT, exc, line=piece.line, column=piece.column)
        return problem.line, problem.column, str(problem)
    except RecursionError:
        return piece.line, piece.column, "the statement nests too deeply to parse"
    problem = postgres_problem(piece.sql, line=piece.line, column=piece.column)
    return problem.line, problem.column, str(problem)


def _advance(ctx: Context) -> None:
    """Record what the statement did that later rules depend on."""
    state, tree = ctx.state, ctx.tree
    if begins(ctx):
        state.transaction_at = state.transaction_at or (ctx.piece.line, ctx.piece.column)
    elif ends(ctx):
        state.transaction_at = None
    if isinstance(tree, exp.Create) and str(tree.args.get("kind")).upper() == "TABLE":
        table = tree.find(exp.Table)
        if table is not None:
            state.created_tables.add(table_name(table))
    if isinstance(tree, exp.Set):
        for name in _set_names(tree):
            if name == "lock_timeout":
                state.lock_timeout = True
            elif name == "statement_timeout":
                state.statement_timeout = True
    if isinstance(tree, exp.Alter):
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.AddConstraint) and tree.args.get("not_valid"):
                state.not_valid_constraints.update(
                    c.name.lower() for c in action.expressions if isinstance(c, exp.Constraint)
                )
            if (
                isinstance(action, exp.Drop)
                and str(action.args.get("kind")).upper() == "CONSTRAINT"
                and action.args.get("exists")
            ):
                state.dropped_constraints.update(t.name.lower() for t in action.expressions)
                state.dropped_constraints.update(
                    t.name.lower() for t in action.args.get("tables") or []
                )


def _set_names(tree: exp.Set) -> Iterable[str]:
    for item in tree.expressions:
        target = item.this
        if isinstance(target, exp.EQ) and isinstance(target.this, exp.Column):
            yield target.this.name.lower()
