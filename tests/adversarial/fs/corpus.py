"""The adversarial file-action corpus: one shell script per case, a header that says what it
tries and what must happen, then the command goex-fs runs.

::

    # tries: write through a symlink planted before staging that points outside
    # expect: contained                contained | rejected | refused
    # message: Read-only file system   where the message must appear (see below)
    # decide: commit                   optional; the agent's own choice (default commit)
    # exit: 0                          optional; default from expect and decide (_default_exit)
    # plant: symlink escape {{outside}}/sentinel.txt   optional, repeatable: set-up before staging
    # absent: {{secret}}               optional, repeatable: text goex must never print
    # after: escape symlink {{outside}}/sentinel.txt   optional, repeatable: the real dir after
    # timeout: 5                       optional: goex-fs --timeout
    # disk: 8                          optional: the project lives on a tmpfs of this many MiB
    # env: GOEX_SECRET_ADV={{secret}}  optional, repeatable: goex's own environment
    # socket: /run/goex-adv-{{id}}.sock optional, repeatable: a listening unix socket on the
    #                                  host (``@name``: abstract) that nobody may connect to
    # requires: process-cap            optional: run only where goex can cap processes (a fork
    #                                  bomb without the cap would take the machine down)
    # backends: overlay                optional: the staging backends to run on (default: all;
    #                                  a case about a limit, not the backend, runs on one)
    echo pwned > escape

* **contained**: the command runs; whatever it attempts is stopped by the sandbox (the message
  is in the command's output, as the evidence of what stopped it) or stays in the staged copy;
  goex then does what ``decide`` says.
* **rejected**: the command runs and is measured; a policy rule rejects it (exit 4; the message is
  in the violations), whatever the agent chose.
* **refused**: goex stops with one ``error: ...`` line holding the message (exit 1).

``plant`` lines build the project before staging: ``file REL TEXT``, ``dir REL``,
``symlink REL TARGET``, ``hardlink REL OUTSIDE-NAME`` (a hard link to a file of the outside
directory), ``mode REL OCTAL``. ``after`` lines check the real directory once goex is done:
``REL symlink TARGET``, ``REL file TEXT``, ``REL missing``.

Macros, in the header and the body: ``{{root}}`` (the project's absolute path), ``{{outside}}``
(a sibling directory of sentinel files), ``{{home}}`` (goex's $HOME, with a sentinel),
``{{secret}}`` (a value planted in secret files; ``{{secret_hex}}`` in hex), ``{{id}}`` (unique
to the run), ``{{byte XX}}`` (one raw byte, for names that
are not UTF-8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).parent
# Staging backends the corpus runs on: one entry per backend once goex-fs has more than the
# copy backend (``[fs] backend``, set through GOEX_FS_BACKEND; a --backend flag would go in
# goex_fs_argv).
BACKENDS = ("copy", "overlay")
EXPECTATIONS = ("contained", "rejected", "refused")
DECISIONS = ("commit", "rollback", "policy")
PLANTS = ("file", "dir", "symlink", "hardlink", "mode")
REQUIREMENTS = ("process-cap",)
AFTERS = ("symlink", "file", "missing")

_HEADER = re.compile(rb"^# ([a-z]+): ?(.*)$")
_MACRO = re.compile(rb"\{\{(root|outside|home|secret_hex|secret|id|byte ([0-9a-fA-F]{2}))\}\}")


@dataclass(frozen=True)
class Places:
    """What the macros stand for in one run."""

    root: Path
    outside: Path
    home: Path
    secret: str
    id: str  # unique to the run, for names on the host (sockets)

    def expand(self, text: bytes) -> bytes:
        values = {
            b"root": str(self.root).encode(),
            b"outside": str(self.outside).encode(),
            b"home": str(self.home).encode(),
            b"secret": self.secret.encode(),
            b"secret_hex": self.secret.encode().hex().encode(),
            b"id": self.id.encode(),
        }

        def one(match: re.Match[bytes]) -> bytes:
            if match.group(2) is not None:
                return bytes.fromhex(match.group(2).decode())
            return values[match.group(1)]

        return _MACRO.sub(one, text)


@dataclass(frozen=True)
class Case:
    name: str
    tries: str
    expect: str
    message: str
    decide: str
    exit_code: int
    plant: tuple[bytes, ...] = ()
    absent: tuple[bytes, ...] = ()
    after: tuple[bytes, ...] = ()
    env: tuple[bytes, ...] = ()
    sockets: tuple[bytes, ...] = ()
    requires: tuple[str, ...] = ()
    timeout: float | None = None
    disk_mib: int | None = None
    backends: tuple[str, ...] = BACKENDS
    body: bytes = field(default=b"", repr=False)


class CorpusError(ValueError):
    pass


def parse_case(path: Path) -> Case:
    header: dict[str, list[bytes]] = {}
    lines = path.read_bytes().split(b"\n")
    body_start = len(lines)
    for number, line in enumerate(lines):
        match = _HEADER.match(line)
        if match is None:
            body_start = number
            break
        header.setdefault(match.group(1).decode(), []).append(match.group(2).strip())
    body = b"\n".join(lines[body_start:]).strip()

    def one(key: str, default: str | None = None) -> str:
        values = header.pop(key, [] if default is None else [default.encode()])
        if len(values) != 1 or not values[0]:
            raise CorpusError(f"{path.name}: exactly one non-empty '# {key}:' line is needed")
        return values[0].decode()

    tries, expect, message = one("tries"), one("expect"), one("message")
    decide = one("decide", "commit")
    exit_code = int(one("exit", str(_default_exit(expect, decide))))
    timeout = float(one("timeout")) if "timeout" in header else None
    disk = int(one("disk")) if "disk" in header else None
    plant = tuple(header.pop("plant", []))
    absent = tuple(header.pop("absent", []))
    after = tuple(header.pop("after", []))
    env = tuple(header.pop("env", []))
    sockets = tuple(header.pop("socket", []))
    requires = tuple(r.decode() for r in header.pop("requires", []))
    backends = tuple(one("backends").split()) if "backends" in header else BACKENDS
    if not backends or not set(backends) <= set(BACKENDS):
        raise CorpusError(f"{path.name}: backends must be among {BACKENDS}")
    if not set(requires) <= set(REQUIREMENTS):
        raise CorpusError(f"{path.name}: requires must be among {REQUIREMENTS}")
    if header:
        raise CorpusError(f"{path.name}: unknown header line(s) {sorted(header)}")
    if expect not in EXPECTATIONS:
        raise CorpusError(f"{path.name}: expect must be one of {EXPECTATIONS}")
    if decide not in DECISIONS:
        raise CorpusError(f"{path.name}: decide must be one of {DECISIONS}")
    for line in plant:
        if line.split(b" ", 1)[0].decode() not in PLANTS:
            raise CorpusError(f"{path.name}: plant must start with one of {PLANTS}")
    for line in after:
        words = _MACRO.sub(b"M", line).split(b" ")
        if len(words) < 2 or words[1].decode() not in AFTERS:
            raise CorpusError(f"{path.name}: after must read 'REL {'|'.join(AFTERS)} ...'")
    if not body:
        raise CorpusError(f"{path.name}: no command after the header")
    return Case(
        path.stem,
        tries,
        expect,
        message,
        decide,
        exit_code,
        plant,
        absent,
        after,
        env,
        sockets,
        requires,
        timeout,
        disk,
        backends,
        body,
    )


def _default_exit(expect: str, decide: str) -> int:
    """Refused: 1 (an error). Rejected: 4. Contained: 0 committed, 3 rolled back, 0 by policy
    (nothing for a rule to object to)."""
    if expect == "refused":
        return 1
    if expect == "rejected":
        return 4
    return 3 if decide == "rollback" else 0


def load_cases(directory: Path = CORPUS) -> list[Case]:
    return [parse_case(path) for path in sorted(directory.glob("*.sh"))]
