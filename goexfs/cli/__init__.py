"""goex-fs: run an agent's shell command sandboxed against a staged copy of a directory, see what
it changed, then decide — here, by policy, by a judge model, or by a person from elsewhere.

Thin: each command parses its flags, calls the library (``goexfs.session``, ``core.lifecycle``)
and renders with ``goexfs.render``. The commands are listed here, in the order ``--help`` shows
them. Exit codes (``core.errors.ExitCode``): 0 committed / done, 1 error, 2 usage, 3 rolled
back, 4 rejected by policy, 5 kept staged, 130 interrupted (rolled back).
"""

from core.action import Kind
from core.cli import add_journal_commands, new_app, run_app
from goexfs.cli import decide, run, upkeep
from goexfs.cli.options import existing_journal, root_of
from goexfs.render import View

COMMANDS = (
    ("run", run.run_command),
    ("undo", run.undo_command),
    ("approve", decide.approve_command),
    ("reject", decide.reject_command),
    ("list", decide.list_command),
    ("diff", decide.diff_command),
    ("commit", decide.commit_command),
    ("rollback", decide.rollback_command),
    ("recover", upkeep.recover_command),
    ("gc", upkeep.gc_command),
)
app = new_app(
    "goex-fs",
    "Run an agent's shell command sandboxed against a staged copy of a directory, see what it "
    "changed, then commit, roll back or keep it staged. Exit codes: 0 committed, 1 error, "
    "2 usage, 3 rolled back, 4 rejected by policy, 5 kept staged, 130 interrupted.",
    COMMANDS,
)
add_journal_commands(
    app, Kind.FS, existing_journal, lambda d: str(root_of(d)), "--dir", View, target_short="-C"
)


def main() -> None:
    run_app(app)
