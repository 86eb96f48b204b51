"""goex-review as a real server process, a client that signs in to it like a browser does (a
cookie jar, the page's CSRF token), and the actions it is shown: file actions kept or held by
real goex-fs processes, database actions held by real goex-db processes."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from core.web.passwords import hash_password
from tests.processes import Running, start

REVIEW = "core.web"
USER, PASSWORD = "alice", "alice-password-7f3e"
SIGN_IN = re.compile(r"sign in once with (\S+)/login\?token=(\S+)")


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str]
    url: str

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.body)
        assert found, self.body[:2000]
        return found.group(1)


@dataclass
class Client:
    """An HTTP client with a cookie jar: what a browser does, without the rendering."""

    base: str
    jar: CookieJar = field(default_factory=CookieJar)

    def get(self, path: str, **headers: str) -> Reply:
        return self._send(path, None, headers)

    def post(
        self, path: str, form: list[tuple[str, str]] | dict[str, str], **headers: str
    ) -> Reply:
        pairs = list(form.items()) if isinstance(form, dict) else form
        return self._send(path, urllib.parse.urlencode(pairs).encode(), headers)

    def sign_in(self, user: str = USER, password: str = PASSWORD, token: str = "") -> Reply:
        form = {"user": user, "password": password, "token": token}
        return self.post("/login", form)

    def _send(self, path: str, data: bytes | None, headers: dict[str, str]) -> Reply:
        headers = {"Accept": "text/html", **{k.replace("_", "-"): v for k, v in headers.items()}}
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        try:
            with opener.open(request, timeout=60) as response:
                body = response.read().decode()
                return Reply(response.status, body, dict(response.headers), response.url)
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode(), dict(error.headers), error.url)


@dataclass
class Review:
    running: Running
    base: str
    token: str

    def client(self) -> Client:
        return Client(self.base)

    def signed_in(self) -> Client:
        client = self.client()
        reply = client.sign_in()
        assert reply.status == 200 and reply.url.endswith("/"), reply.body[:500]
        return client


def write_secrets(config_home: Path, text: str) -> None:
    path = config_home / "goex" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


def serve(*args: str) -> Review:
    running = start(REVIEW, "--listen", "127.0.0.1:0", *args)
    found = running.read_err_until(SIGN_IN, timeout=60)
    return Review(running, found.group(1), found.group(2))


@pytest.fixture
def review_args() -> list[str]:
    """What the review server is started with besides --listen (a test's -C projects)."""
    return []


@pytest.fixture
def review(isolated_environment: dict[str, Path], review_args: list[str]) -> Iterator[Review]:
    write_secrets(
        isolated_environment["XDG_CONFIG_HOME"],
        f'[review.users]\n{USER} = "{hash_password(PASSWORD)}"\n',
    )
    server = serve(*review_args)
    try:
        yield server
    finally:
        server.running.proc.terminate()
        print(server.running.finish(timeout=30)[2])  # the server's log, shown on a failure
