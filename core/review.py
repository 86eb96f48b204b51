"""Review: after the effects are measured, decide commit, rollback, reject or keep staged.

Modes (``--decide``):

* ``ask`` — show the effects and ask on the terminal: commit, rollback, show details, keep
  staged. Without a terminal it falls back to rollback and says so.
* ``commit`` / ``rollback`` — decided in advance by the caller.
* ``keep`` — keep the work staged, to decide later (a side that cannot keep rolls back).
* ``policy`` — commit only when no rule found an error.
* ``llm`` — a judge model sees the prompt, the code and the measured effects (redacted) and
  returns a verdict with a reason.
* ``person`` — the action waits, held, until a person records a decision from another process
  (``goex-db approve`` / ``reject``, ``goex-fs approve`` / ``reject``) or ``[review] timeout``
  passes and it is rolled back (``core.lifecycle`` waits on the journal).

Policy errors reject the action in every mode but ``ask``, where the person at goex's own
terminal sees them and decides (a decision from elsewhere could come from anyone who can run
``approve``, the agent included):
the agent choosing ``--decide commit`` cannot talk its way past policy. Findings of severity
``review`` (a deletion, a binary change) need a person: the automatic modes keep the action
staged for one instead of committing it. Every decision is bound to
the digest of the code and effects it was made on (invariant 5).
"""

from __future__ import annotations

import json
import os
import select
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.action import Action, Decision, Mode, Verdict
from core.errors import LLMError, StateError, UsageError
from core.llm import Model, extract_code_block
from core.policy import Violation, blocking, needing_person


class Prompter(Protocol):
    """Where ``ask`` asks: the terminal, or any other interactive channel."""

    def interactive(self) -> bool: ...

    def choose(self, question: str, choices: Mapping[str, str]) -> str: ...


LOOK_SECONDS = 0.2  # how often a read from the terminal lets Python run a signal handler


def read_line(fd: int) -> str:
    """A line typed on the terminal (canonical mode gives one per read), or "" at its end.

    Never one blocking read: Ctrl-C's SIGINT goes to any thread of the process, and when a
    library's thread (DuckDB's, a driver's) takes it, the main thread's read is not interrupted
    and Python would run the handler — and roll back — only once a line is typed. Waiting in
    short selects lets the handler run within LOOK_SECONDS."""
    while not select.select([fd], [], [], LOOK_SECONDS)[0]:
        pass
    try:
        return os.read(fd, 65536).decode(errors="replace")
    except OSError:  # EIO: the terminal went away
        return ""


class TerminalPrompter:
    def interactive(self) -> bool:
        return sys.stdin.isatty() and sys.stderr.isatty()

    def choose(self, question: str, choices: Mapping[str, str]) -> str:
        menu = " ".join(f"[{key}]{label[len(key) :]}" for key, label in choices.items())
        while True:
            sys.stderr.write(f"{question} {menu} ")
            sys.stderr.flush()
            answer = read_line(sys.stdin.fileno())
            if not answer:  # end of input: the person is gone
                return "r"
            answer = answer.strip().lower()[:1]
            if answer in choices:
                return answer


@dataclass(frozen=True)
class Review:
    """What a reviewer is shown: the action (digest bound), its effects and policy findings."""

    action: Action
    effects: Mapping[str, Any]
    violations: Sequence[Violation]

    def digest(self) -> str:
        if self.action.digest is None:
            raise StateError(f"action {self.action.id} has no measured effects to review")
        return self.action.digest


JUDGE_SYSTEM = (
    "You review what an AI agent's action actually did before it is made permanent. You see the "
    "user's request, the code the agent ran, and the effects goex measured (rows changed per "
    "table, schema changes, files changed). Commit only if the effects match the request and "
    "nothing beyond it was changed; otherwise roll back. Answer with exactly one ```json block: "
    '{"verdict": "commit" or "rollback", "reason": "<one sentence>"}.'
)

ASK_CHOICES = {"c": "commit", "r": "rollback", "d": "details", "k": "keep staged"}


def decide(
    mode: Mode,
    review: Review,
    *,
    judge: Model | None = None,
    prompter: Prompter | None = None,
    show_details: Callable[[], None] | None = None,
    wait: Callable[[], Decision] | None = None,
) -> Decision:
    """The decision of ``mode`` on what ``review`` shows; ``wait`` gives a person's (``person``:
    the caller waits for one recorded in the journal)."""
    digest = review.digest()
    errors = blocking(review.violations)

    def made(by: str, verdict: Verdict, reason: str) -> Decision:
        return Decision(by=by, verdict=verdict, reason=reason, digest=digest)

    if mode is Mode.ROLLBACK:
        return made("flag", Verdict.ROLLBACK, "--decide rollback")
    if mode is Mode.KEEP:
        return made("flag", Verdict.KEEP, "--decide keep")
    if mode is Mode.ASK:
        return _ask(review, prompter or TerminalPrompter(), show_details, made)
    if errors:
        rules = ", ".join(sorted({v.rule for v in errors}))
        return made("policy", Verdict.REJECT, f"policy violations: {rules}")
    if mode is Mode.PERSON:
        if wait is None:
            raise UsageError("--decide person needs a journal to wait on a person's decision")
        return wait()
    if person := needing_person(review.violations):
        rules = ", ".join(sorted({v.rule for v in person}))
        return made("policy", Verdict.KEEP, f"needs a person to review: {rules}")
    if mode is Mode.COMMIT:
        return made("flag", Verdict.COMMIT, "--decide commit")
    if mode is Mode.POLICY:
        return made("policy", Verdict.COMMIT, "no policy violations")
    if mode is Mode.LLM:
        if judge is None:
            raise UsageError("--decide llm needs a model; set OPENAI_API_KEY")
        return _judge(judge, review, made)
    raise UsageError(f"unknown decide mode {mode!r}")  # pragma: no cover - StrEnum is closed


def _ask(
    review: Review,
    prompter: Prompter,
    show_details: Callable[[], None] | None,
    made: Callable[[str, Verdict, str], Decision],
) -> Decision:
    if not prompter.interactive():
        return made(
            "no-terminal",
            Verdict.ROLLBACK,
            "no terminal to ask on, so rolled back; choose with --decide",
        )
    question = "Apply these effects?"
    if blocking(review.violations):
        question = "Policy found errors. Apply these effects anyway?"
    while True:
        answer = prompter.choose(question, ASK_CHOICES)
        if answer == "d":
            if show_details is not None:
                show_details()
            continue
        verdict = {"c": Verdict.COMMIT, "r": Verdict.ROLLBACK, "k": Verdict.KEEP}[answer]
        return made("user", verdict, f"chose {ASK_CHOICES[answer]} at the prompt")


def _judge(judge: Model, review: Review, made: Callable[[str, Verdict, str], Decision]) -> Decision:
    action = review.action
    request = {
        "request": action.prompt or "(no prompt: the agent supplied the code directly)",
        "code": action.code,
        "effects": review.effects,
        "warnings": [v.to_json() for v in review.violations],
    }
    by = f"llm:{judge.name}"
    try:
        reply = judge.chat(JUDGE_SYSTEM, json.dumps(request, indent=2, default=str))
        verdict_data = json.loads(extract_code_block(reply, "json"))
        verdict = Verdict(str(verdict_data["verdict"]).lower())
        reason = str(verdict_data.get("reason") or "no reason given")
        if verdict not in (Verdict.COMMIT, Verdict.ROLLBACK):
            raise ValueError(verdict)
    except LLMError as exc:
        return made(by, Verdict.ROLLBACK, f"the judge model failed ({exc}), so rolled back")
    except (ValueError, KeyError, TypeError, AttributeError):
        return made(by, Verdict.ROLLBACK, "the judge gave no valid verdict, so rolled back")
    return made(by, verdict, judge.redactor.redact(reason))
