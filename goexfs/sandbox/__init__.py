"""Running the agent's command against a staged tree, confined and bounded.

* ``bwrap`` — the bubblewrap sandbox: what the command can reach, its environment, its output;
* ``limits`` — what it can consume: a file-size limit and a process cap.
"""

from goexfs.sandbox.bwrap import SandboxResult, bwrap_argv, find_bwrap, run_command
from goexfs.sandbox.limits import limited_command, process_cap

__all__ = [
    "SandboxResult",
    "bwrap_argv",
    "find_bwrap",
    "limited_command",
    "process_cap",
    "run_command",
]
