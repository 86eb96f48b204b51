"""goex-db: run agent SQL in a held-open transaction or on a clone, show what it did, then
decide — here, by policy, by a judge model, or by a person from elsewhere.

Thin: each command parses its flags, calls the library (``goexdb.session``, ``core.lifecycle``)
and renders with ``goexdb.render``. The commands are listed here, in the order ``--help`` shows
them.
"""

from core.action import Kind
from core.cli import add_journal_commands, new_app, run_app
from core.journal import default_path
from goexdb.cli import decide, lint, proxy, run
from goexdb.dsn import parse_dsn
from goexdb.render import View

COMMANDS = (
    ("run", run.run_command),
    ("undo", run.undo_command),
    ("approve", decide.approve_command),
    ("reject", decide.reject_command),
    ("list", decide.list_command),
    ("diff", decide.diff_command),
    ("commit", decide.commit_command),
    ("rollback", decide.rollback_command),
    ("gc", decide.gc_command),
    ("lint", lint.lint_command),
    ("dry-run", lint.dry_run_command),
    ("proxy", proxy.proxy_command),
)
app = new_app(
    "goex-db",
    "Run agent-written SQL in a held-open transaction, measure its effects, then commit or "
    "roll back. Exit codes: 0 committed, 1 error, 2 usage, 3 rolled back, 4 rejected by "
    "policy, 5 kept staged, 130 interrupted (rolled back).",
    COMMANDS,
)
add_journal_commands(
    app, Kind.DB, lambda _: default_path(Kind.DB), lambda dsn: parse_dsn(dsn).display, "--dsn", View
)


def main() -> None:
    run_app(app)
