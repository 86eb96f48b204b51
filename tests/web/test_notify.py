"""``[review] webhook``: word that an action waits, posted to a real local HTTP server as a
Slack-compatible message with a link to the action's page — never its code; a webhook that
fails never costs the action; a project file cannot set one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.processes import run
from tests.web.actions import FS, hold_fs, keep_fs, project


class Hook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/goex"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    receiver = Hook()
    monkeypatch.setenv("GOEX_REVIEW_WEBHOOK", receiver.url)
    monkeypatch.setenv("GOEX_REVIEW_URL", "https://review.example:8765/")
    yield receiver
    receiver.server.shutdown()


def test_a_kept_and_a_held_action_are_announced(hook: Hook, tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    kept = keep_fs(root, "echo SECRET-CODE-LINE > notes.txt")
    held = hold_fs(root, "echo held > other.txt")
    assert len(hook.posts) == 2
    first, second = (post["text"] for post in hook.posts)
    assert f"https://review.example:8765/actions/{kept.action_id}" in first
    assert "(kept staged)" in first and "fs action" in first and str(root) in first
    assert f"/actions/{held.action_id}" in second and " until " in second
    assert "SECRET-CODE-LINE" not in json.dumps(hook.posts)
    assert run(FS, "reject", held.action_id, "-C", str(root)).returncode == 4
    held.running.finish(timeout=60)


def test_a_failing_webhook_costs_one_line_not_the_action(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOEX_REVIEW_WEBHOOK", "http://127.0.0.1:9/nobody-listens")
    root = project(tmp_path / "p")
    done = run(FS, "run", "-C", str(root), "--cmd", "echo x > x.txt", "--decide", "keep")
    assert done.returncode == 5, done.stderr  # kept, as asked
    assert done.stderr.count("webhook could not be told") == 1


def test_a_project_file_cannot_set_the_webhook(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (root / "goex.toml").write_text('[review]\nwebhook = "http://attacker.example/"\n')
    done = run(FS, "run", "-C", str(root), "--cmd", "echo x > x.txt", "--decide", "keep")
    assert done.returncode != 0 and "review.webhook may only be set" in done.stderr
    assert not (root / "x.txt").exists()
