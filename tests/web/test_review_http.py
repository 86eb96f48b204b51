"""goex-review over HTTP, as an attacker and as a careless client would use it: who may sign in,
what a forged or replayed decision does, what the pages let through. Every refusal is checked
against what matters — the action still waiting, the directory or table unchanged."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.action import Kind
from core.errors import ConfigError
from core.journal import Journal, default_path
from core.secrets import SecretStore
from core.web.passwords import verify
from tests.processes import run, until
from tests.web.actions import FS, hold_fs, keep_fs, project, table
from tests.web.conftest import REVIEW, Review, serve, write_secrets


def pending(action_id: str) -> bool:
    with Journal(default_path(Kind.DB)) as journal:
        waiting = journal.waiting_for(action_id)
        return waiting is not None and waiting.answer is None


def decide(client_csrf: str, digest: str, verdict: str, **extra: str) -> dict[str, str]:
    return {"csrf": client_csrf, "digest": digest, "verdict": verdict, **extra}


def test_nothing_is_shown_or_decided_before_signing_in(review: Review, tmp_path: Path) -> None:
    kept = keep_fs(project(tmp_path / "p"), "echo changed > notes.txt")
    client = review.client()
    assert client.get("/").url.endswith("/login")  # a browser is sent to sign in
    assert kept.action_id not in client.get("/").body
    answer = client.get(f"/actions/{kept.action_id}", Accept="application/json")
    assert answer.status == 401
    posted = client.post(f"/actions/{kept.action_id}/decide", decide("x", kept.digest, "approve"))
    assert posted.status == 401
    assert pending(kept.action_id)
    assert (tmp_path / "p" / "notes.txt").read_text() == "first\nsecond\n"


def test_sign_in_by_password_and_by_the_one_time_token(review: Review) -> None:
    assert review.client().sign_in(password="wrong password").status == 403
    assert review.client().sign_in(user="mallory").status == 403
    assert review.signed_in().get("/").status == 200
    first = review.client()
    assert first.sign_in(user="", password="", token=review.token).url.endswith("/")
    again = review.client().sign_in(user="", password="", token=review.token)
    assert again.status == 403  # good once
    assert "Sign-in failed" in again.body


def test_guessing_passwords_is_cut_off(review: Review) -> None:
    client = review.client()
    for _ in range(10):
        assert client.sign_in(password="guess").status == 403
    assert client.sign_in().status == 403  # even the right password, for a while


def test_a_forged_or_cross_site_post_changes_nothing(review: Review, tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    kept = keep_fs(root, "echo changed > notes.txt")
    client = review.signed_in()
    page = client.get(f"/actions/{kept.action_id}")
    csrf = page.csrf()
    forged = client.post(
        f"/actions/{kept.action_id}/decide", decide("x" * 43, kept.digest, "approve")
    )
    assert forged.status == 403
    missing = client.post(
        f"/actions/{kept.action_id}/decide", {"digest": kept.digest, "verdict": "approve"}
    )
    assert missing.status == 403
    cross = client.post(
        f"/actions/{kept.action_id}/decide",
        decide(csrf, kept.digest, "approve"),
        Origin="http://evil.example",
    )
    assert cross.status == 403
    assert pending(kept.action_id)
    assert (root / "notes.txt").read_text() == "first\nsecond\n"
    # a session's token is not another's
    other = review.signed_in()
    stolen = other.post(f"/actions/{kept.action_id}/decide", decide(csrf, kept.digest, "approve"))
    assert stolen.status == 403
    assert pending(kept.action_id)


def test_a_stale_digest_is_refused_and_a_decision_is_single_use(
    review: Review, tmp_path: Path
) -> None:
    root = project(tmp_path / "p")
    kept = keep_fs(root, "echo changed > notes.txt")
    client = review.signed_in()
    csrf = client.get("/").csrf()
    stale = client.post(f"/actions/{kept.action_id}/decide", decide(csrf, "0" * 64, "approve"))
    assert "changed since the page was shown" in stale.body
    assert pending(kept.action_id)
    assert (root / "notes.txt").read_text() == "first\nsecond\n"
    done = client.post(f"/actions/{kept.action_id}/decide", decide(csrf, kept.digest, "approve"))
    assert "committed" in done.body, done.body
    assert (root / "notes.txt").read_text() == "changed\n"
    replay = client.post(f"/actions/{kept.action_id}/decide", decide(csrf, kept.digest, "reject"))
    assert "refused" in replay.body and "not waiting" in replay.body
    assert (root / "notes.txt").read_text() == "changed\n"
    shown = run(FS, "show", kept.action_id, "-C", str(root), "--format", "json")
    assert '"by": "person:alice@goex-review from 127.0.0.1"' in shown.stdout


def test_a_held_action_learns_the_page_s_decision(review: Review, tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    held = hold_fs(root, "echo changed > notes.txt")
    client = review.signed_in()
    assert held.action_id in client.get("/queue/rows").body
    page = client.get(f"/actions/{held.action_id}")
    reply = client.post(
        f"/actions/{held.action_id}/decide",
        decide(page.csrf(), held.digest, "reject", reason="not today"),
    )
    assert "rejected" in reply.body
    code, _, _ = held.running.finish(timeout=60)
    assert code == 4  # rejected, by the process that held it
    assert (root / "notes.txt").read_text() == "first\nsecond\n"
    assert "not today" in client.get(f"/actions/{held.action_id}").body


def test_every_response_carries_the_security_headers(review: Review) -> None:
    client = review.client()
    for reply in (client.get("/login"), client.get("/static/review.js"), client.get("/nope")):
        policy = reply.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert reply.headers["x-frame-options"] == "DENY"
    signed = review.signed_in()
    cookie = next(iter(signed.jar))
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite", "").lower() == "strict"


def test_another_host_name_is_refused(review: Review) -> None:
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 gets nothing."""
    assert review.client().get("/login", Host="evil.example").status == 400


def test_hostile_strings_are_escaped_and_secrets_masked(
    review: Review, tmp_path: Path, pg_dsn: str, isolated_environment: dict[str, Path]
) -> None:
    root = project(tmp_path / "p")
    hostile = "<script>alert(1)</script>"
    kept = keep_fs(root, f"echo '{hostile}' > '<img src=x onerror=alert(2)>.txt'")
    rows = table(pg_dsn)
    held = rows.hold(f"UPDATE {rows.name} SET v = '{hostile}' WHERE id = 1")
    client = review.signed_in()
    for path in ("/", f"/actions/{kept.action_id}", f"/actions/{held.action_id}", "/history"):
        body = client.get(path).body
        assert "<script>alert" not in body and "<img src=x" not in body, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/actions/{held.action_id}").body
    client.post(
        f"/actions/{held.action_id}/decide",
        decide(client.get("/").csrf(), held.digest, "reject"),
    )
    assert held.running.finish(timeout=60)[0] == 4


def test_a_secret_value_never_reaches_a_page(
    review: Review, tmp_path: Path, isolated_environment: dict[str, Path]
) -> None:
    """The secret is injected into the command's environment; what it wrote is masked."""
    secret = "s3cr3t-value-9a8b7c6d"
    config = isolated_environment["XDG_CONFIG_HOME"]
    text = (config / "goex" / "secrets.toml").read_text()
    write_secrets(config, f'API_TOKEN = "{secret}"\n' + text)
    root = project(tmp_path / "p")
    kept = keep_fs(
        root, 'echo "$GOEX_SECRET_API_TOKEN" > leaked.txt; echo "$GOEX_SECRET_API_TOKEN"'
    )
    server = serve()  # the fixture's server read the secrets file before the secret was added
    try:
        client = server.signed_in()
        body = client.get(f"/actions/{kept.action_id}").body
        assert "leaked.txt" in body
        assert secret not in body
    finally:
        server.running.proc.terminate()
        server.running.finish(timeout=30)


def test_serving_beyond_loopback_needs_tls() -> None:
    done = subprocess.run(
        [sys.executable, "-m", REVIEW, "--listen", "0.0.0.0:8765"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "only over HTTPS" in done.stderr


def test_hash_password_prints_a_line_the_secrets_file_takes(
    isolated_environment: dict[str, Path],
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", REVIEW, "hash-password", "bob"],
        input="bob-password-1234\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "bob-password-1234" not in done.stdout
    write_secrets(isolated_environment["XDG_CONFIG_HOME"], "[review.users]\n" + done.stdout)
    stored = SecretStore.load().review_users()["bob"]
    assert verify("bob-password-1234", stored) and not verify("bob-password-1235", stored)
    write_secrets(isolated_environment["XDG_CONFIG_HOME"], '[review.users]\nbob = "plain"\n')
    with pytest.raises(ConfigError, match="scrypt hash"):
        SecretStore.load()


def test_the_queue_lists_what_waits_with_its_time_left(review: Review, tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    kept = keep_fs(root, "echo a > a.txt")
    held = hold_fs(root, "echo b > b.txt")
    client = review.signed_in()
    rows = client.get("/queue/rows").body
    assert kept.action_id in rows and held.action_id in rows
    assert "kept until decided" in rows
    assert re.search(r"<td>1[45] min</td>", rows)  # [review] timeout, 900 s by default
    until(lambda: held.action_id in client.get("/history?status=pending").body, what="pending")
    client.post(
        f"/actions/{held.action_id}/decide", decide(client.get("/").csrf(), held.digest, "reject")
    )
    held.running.finish(timeout=60)
    assert held.action_id not in client.get("/queue/rows").body
    assert held.action_id in client.get("/history?status=rejected").body
    assert held.action_id not in client.get("/history?status=committed").body


def test_paths_cannot_narrow_a_database_action(review: Review, pg_dsn: str) -> None:
    rows = table(pg_dsn)
    held = rows.hold(f"UPDATE {rows.name} SET v = 'x' WHERE id = 1")
    client = review.signed_in()
    form = decide(client.get("/").csrf(), held.digest, "approve", path="public")
    assert "approved as a whole" in client.post(f"/actions/{held.action_id}/decide", form).body
    assert pending(held.action_id)
    form = decide(client.get("/").csrf(), held.digest, "reject")
    client.post(f"/actions/{held.action_id}/decide", form)
    assert held.running.finish(timeout=60)[0] == 4
    assert rows.rows()[0] == (1, "value 1")
