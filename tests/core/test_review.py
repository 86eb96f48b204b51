from __future__ import annotations

import io
import json
import os
import pty
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from core.action import Action, Kind, Status, Verdict
from core.config import ModelConfig
from core.errors import StateError, UsageError
from core.llm import Model
from core.policy import Severity, Violation
from core.redact import Redactor
from core.review import ASK_CHOICES, JUDGE_SYSTEM, Mode, Review, TerminalPrompter, decide
from tests.fake_llm import FakeLLM

EFFECTS = {"tables": {"public.users": {"updated": 3}}, "schema": []}
ERROR = Violation("db.max-rows", Severity.ERROR, "3000 rows changed in users (limit 1000)")
WARNING = Violation("db.no-where", Severity.WARNING, "UPDATE without WHERE")
FAST = {"retry-after-ms": "10"}


def staged(code: str = "UPDATE users SET active = true WHERE id < 4", **kwargs: Any) -> Action:
    action = Action(
        Kind.DB, "postgresql://app@db/prod", code, prompt="activate users 1-3", **kwargs
    )
    action.advance(Status.STAGED)
    action.bind(EFFECTS)
    return action


def review(*violations: Violation, action: Action | None = None) -> Review:
    return Review(action or staged(), EFFECTS, list(violations))


class ScriptedPrompter:
    """An interactive channel that answers from a script and records what it was asked."""

    def __init__(self, *answers: str, interactive: bool = True) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []
        self._interactive = interactive

    def interactive(self) -> bool:
        return self._interactive

    def choose(self, question: str, choices: Mapping[str, str]) -> str:
        assert choices == ASK_CHOICES
        self.questions.append(question)
        return self.answers.pop(0)


def judge(fake: FakeLLM, redactor: Redactor | None = None) -> Model:
    config = ModelConfig(base_url=fake.base_url, timeout=10.0, max_retries=0)
    return Model(config, redactor or Redactor(), name="judge-model")


def verdict_reply(verdict: str, reason: str = "the effects match the request") -> str:
    body = json.dumps({"verdict": verdict, "reason": reason})
    return f"Looking at the effects:\n```json\n{body}\n```"


# -- modes decided in advance ------------------------------------------------------------------


def test_decision_is_bound_to_the_action_digest() -> None:
    r = review()
    decision = decide(Mode.COMMIT, r)
    assert decision.digest == r.action.digest
    r.action.decide(decision)  # accepted: it was made on what is bound
    assert r.action.decision is decision


def test_unmeasured_action_cannot_be_reviewed() -> None:
    action = Action(Kind.DB, "duckdb:x", "SELECT 1")
    with pytest.raises(StateError, match="no measured effects"):
        decide(Mode.COMMIT, Review(action, {}, []))


def test_commit() -> None:
    decision = decide(Mode.COMMIT, review(WARNING))
    assert (decision.by, decision.verdict, decision.reason) == (
        "flag",
        Verdict.COMMIT,
        "--decide commit",
    )


def test_rollback() -> None:
    for violations in ((), (ERROR,)):
        decision = decide(Mode.ROLLBACK, review(*violations))
        assert (decision.by, decision.verdict) == ("flag", Verdict.ROLLBACK)


@pytest.mark.parametrize("mode", [Mode.COMMIT, Mode.POLICY, Mode.LLM])
def test_policy_errors_reject_in_every_automatic_mode(mode: Mode, fake_llm: FakeLLM) -> None:
    decision = decide(mode, review(WARNING, ERROR), judge=judge(fake_llm))
    assert (decision.by, decision.verdict) == ("policy", Verdict.REJECT)
    assert "db.max-rows" in decision.reason
    assert fake_llm.requests == []  # the judge is not even asked


REVIEW = Violation("fs.review-deletes", Severity.REVIEW, "deletes notes.txt")


def test_keep() -> None:
    for violations in ((), (ERROR,), (REVIEW,)):
        decision = decide(Mode.KEEP, review(*violations))
        assert (decision.by, decision.verdict, decision.reason) == (
            "flag",
            Verdict.KEEP,
            "--decide keep",
        )


@pytest.mark.parametrize("mode", [Mode.COMMIT, Mode.POLICY, Mode.LLM])
def test_findings_that_need_a_person_keep_it_staged(mode: Mode, fake_llm: FakeLLM) -> None:
    decision = decide(mode, review(WARNING, REVIEW), judge=judge(fake_llm))
    assert (decision.by, decision.verdict) == ("policy", Verdict.KEEP)
    assert decision.reason == "needs a person to review: fs.review-deletes"
    assert fake_llm.requests == []
    # errors still win: rejected, not kept
    assert decide(mode, review(REVIEW, ERROR), judge=judge(fake_llm)).verdict is Verdict.REJECT


def test_a_person_at_the_prompt_may_accept_what_needs_one() -> None:
    decision = decide(Mode.ASK, review(REVIEW), prompter=ScriptedPrompter("c"))
    assert (decision.by, decision.verdict) == ("user", Verdict.COMMIT)


def test_policy_mode() -> None:
    decision = decide(Mode.POLICY, review(WARNING))
    assert (decision.by, decision.verdict, decision.reason) == (
        "policy",
        Verdict.COMMIT,
        "no policy violations",
    )


# -- ask ---------------------------------------------------------------------------------------


def test_ask_without_a_terminal_rolls_back() -> None:
    prompter = ScriptedPrompter(interactive=False)
    decision = decide(Mode.ASK, review(), prompter=prompter)
    assert (decision.by, decision.verdict) == ("no-terminal", Verdict.ROLLBACK)
    assert "no terminal" in decision.reason and "--decide" in decision.reason
    assert prompter.questions == []


def test_ask_default_prompter_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("c\n"))  # not a terminal
    decision = decide(Mode.ASK, review())
    assert decision.verdict is Verdict.ROLLBACK and decision.by == "no-terminal"


def test_ask_details_then_commit() -> None:
    shown: list[bool] = []
    prompter = ScriptedPrompter("d", "c")
    decision = decide(
        Mode.ASK, review(), prompter=prompter, show_details=lambda: shown.append(True)
    )
    assert shown == [True]
    assert (decision.by, decision.verdict) == ("user", Verdict.COMMIT)
    assert decision.reason == "chose commit at the prompt"
    assert prompter.questions == ["Apply these effects?"] * 2


def test_ask_details_without_a_renderer() -> None:
    decision = decide(Mode.ASK, review(), prompter=ScriptedPrompter("d", "d", "r"))
    assert decision.verdict is Verdict.ROLLBACK


def test_ask_keep_staged() -> None:
    decision = decide(Mode.ASK, review(), prompter=ScriptedPrompter("k"))
    assert (decision.verdict, decision.reason) == (Verdict.KEEP, "chose keep staged at the prompt")


def test_ask_a_person_may_override_policy() -> None:
    prompter = ScriptedPrompter("c")
    decision = decide(Mode.ASK, review(ERROR), prompter=prompter)
    assert decision.verdict is Verdict.COMMIT
    assert prompter.questions == ["Policy found errors. Apply these effects anyway?"]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A real pseudo-terminal as stdin; what the test writes to the returned fd is typed."""
    typed, seen = pty.openpty()
    monkeypatch.setattr("sys.stdin", os.fdopen(seen, "r"))
    yield typed
    os.close(typed)
    sys.stdin.close()


def test_terminal_prompter_reads_until_a_valid_choice(
    terminal: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.write(terminal, b"x\n\nYes\nCommit\n")
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    prompter = TerminalPrompter()
    assert not prompter.interactive()  # stderr is no terminal here
    assert prompter.choose("Apply?", ASK_CHOICES) == "c"
    assert err.getvalue().count("Apply? [c]ommit [r]ollback [d]etails [k]eep staged") == 4


def test_terminal_prompter_end_of_input_rolls_back(
    terminal: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.write(terminal, b"maybe\n\x04")  # a line, then Ctrl-D
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert TerminalPrompter().choose("Apply?", ASK_CHOICES) == "r"


def test_a_signal_another_thread_takes_still_interrupts_the_prompt(
    terminal: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT goes to any thread of a process; when a library's thread takes it, a prompt
    waiting for a line must still be interrupted (it used to wait until a line was typed: here
    one is typed after 5 s, and the interrupt must come before it)."""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    typed: list[bool] = []
    interrupted = threading.Event()

    def interrupt_then_type() -> None:
        time.sleep(0.3)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # this thread takes it
        if not interrupted.wait(5):
            typed.append(True)
            os.write(terminal, b"c\n")

    other = threading.Thread(target=interrupt_then_type)
    other.start()
    with pytest.raises(KeyboardInterrupt):
        TerminalPrompter().choose("Apply?", ASK_CHOICES)
    interrupted.set()
    other.join()
    assert typed == []  # interrupted while it waited, not once a line came


# -- llm judge ---------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", [Verdict.COMMIT, Verdict.ROLLBACK])
def test_llm_judge(fake_llm: FakeLLM, verdict: Verdict) -> None:
    fake_llm.reply(verdict_reply(verdict.value.upper(), "three users, as asked"))
    r = review(WARNING)
    decision = decide(Mode.LLM, r, judge=judge(fake_llm))
    assert (decision.by, decision.verdict) == ("llm:judge-model", verdict)
    assert decision.reason == "three users, as asked"
    assert decision.digest == r.action.digest

    (request,) = fake_llm.requests
    system, user = (m["content"] for m in request.messages)
    assert system == JUDGE_SYSTEM
    shown = json.loads(user)
    assert shown == {
        "request": "activate users 1-3",
        "code": "UPDATE users SET active = true WHERE id < 4",
        "effects": EFFECTS,
        "warnings": [WARNING.to_json()],
    }
    assert request.json["model"] == "judge-model"


def test_llm_judge_without_a_reason(fake_llm: FakeLLM) -> None:
    fake_llm.reply('```json\n{"verdict": "commit"}\n```')
    decision = decide(Mode.LLM, review(), judge=judge(fake_llm))
    assert (decision.verdict, decision.reason) == (Verdict.COMMIT, "no reason given")


def test_llm_mode_needs_a_judge() -> None:
    with pytest.raises(UsageError, match="--decide llm needs a model"):
        decide(Mode.LLM, review())


@pytest.mark.parametrize(
    "reply",
    [
        "Sure, commit it!",
        "```json\nnot json\n```",
        '```json\n{"reason": "no verdict"}\n```',
        '```json\n{"verdict": "approve"}\n```',
        '```json\n{"verdict": "reject", "reason": "bad"}\n```',
        '```json\n{"verdict": "keep"}\n```',
        '```json\n["commit"]\n```',
        '```json\n"commit"\n```',
        '```json\n{"verdict": "commit"}\n```\n```json\n{"verdict": "rollback"}\n```',
        '```sql\n{"verdict": "commit"}\n```',
    ],
)
def test_judge_garbage_rolls_back(fake_llm: FakeLLM, reply: str) -> None:
    fake_llm.reply(reply)
    decision = decide(Mode.LLM, review(), judge=judge(fake_llm))
    assert (decision.by, decision.verdict) == ("llm:judge-model", Verdict.ROLLBACK)
    assert "so rolled back" in decision.reason


def test_judge_unavailable_rolls_back(fake_llm: FakeLLM) -> None:
    fake_llm.fail(500, headers=FAST)
    decision = decide(Mode.LLM, review(), judge=judge(fake_llm))
    assert decision.verdict is Verdict.ROLLBACK
    assert "the judge model failed" in decision.reason and "HTTP 500" in decision.reason


def test_judge_request_and_reason_are_redacted(fake_llm: FakeLLM) -> None:
    secret = "s3cret-Passw0rd-123"
    redactor = Redactor({"GOEX_SECRET_DB_PASSWORD": secret})
    action = staged(code=f"ALTER ROLE app PASSWORD '{secret}'")
    action.prompt = f"set the app password to {secret}"
    effects = {"roles": {"app": {"password": secret}}, "note": f"pw {secret}"}
    action.bind(effects)
    fake_llm.reply(verdict_reply("commit", f"the password {secret} was set"))
    decision = decide(Mode.LLM, Review(action, effects, []), judge=judge(fake_llm, redactor))

    received = fake_llm.received_bytes()
    assert secret.encode() not in received
    assert b"[REDACTED:GOEX_SECRET_DB_PASSWORD]" in received
    assert secret not in decision.reason
    assert decision.verdict is Verdict.COMMIT
