"""Who may use goex-review, and that every change of state comes from its own page.

A person signs in with a user of the secrets file (``[review.users]``, scrypt hashes) or with
the one-time token printed when the server starts (good once, for one sign-in). A signed-in
browser holds an unguessable session cookie (HttpOnly, SameSite=Strict) that names a session
kept only in the server's memory, with its own CSRF token: every form that changes state carries
it, and a POST whose token or Origin does not match is refused. Failed sign-ins from one address
are slowed down, then refused for a while.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from core.web.passwords import verify

SESSION_COOKIE = "goex_review"
SESSION_IDLE = 8 * 3600.0  # seconds a session lasts without a request
FAILURES_ALLOWED = 10  # failed sign-ins from one address per FAILURE_WINDOW
FAILURE_WINDOW = 300.0
TOKEN_USER = "token"  # who signed in with the one-time token


@dataclass
class Session:
    user: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = field(default_factory=time.monotonic)


class Gate:
    """The sign-in check and the sessions it opened (see the module docstring)."""

    def __init__(self, users: dict[str, str], token: str | None) -> None:
        self._users = users
        self._token = token
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @property
    def token_left(self) -> bool:
        return self._token is not None

    def sign_in(self, user: str, password: str, token: str, address: str) -> str | None:
        """A new session's cookie value, or None (and the failure counted against
        ``address``)."""
        with self._lock:
            now = time.monotonic()
            recent = [t for t in self._failures.get(address, []) if now - t < FAILURE_WINDOW]
            self._failures[address] = recent
            if len(recent) >= FAILURES_ALLOWED:
                return None
            who = self._check(user, password, token)
            if who is None:
                recent.append(now)
                return None
            cookie = secrets.token_urlsafe(32)
            self._sessions[cookie] = Session(who)
            return cookie

    def _check(self, user: str, password: str, token: str) -> str | None:
        if token:
            if self._token is None or not secrets.compare_digest(token, self._token):
                return None
            self._token = None  # good once
            return TOKEN_USER
        stored = self._users.get(user)
        if stored is None:
            verify(password, DUMMY_HASH)  # as slow as a real check: names cannot be probed
            return None
        return user if verify(password, stored) else None

    def session(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        with self._lock:
            found = self._sessions.get(cookie)
            now = time.monotonic()
            if found is None or now - found.seen > SESSION_IDLE:
                self._sessions.pop(cookie, None)
                return None
            found.seen = now
            return found

    def sign_out(self, cookie: str | None) -> None:
        with self._lock:
            self._sessions.pop(cookie or "", None)


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and secrets.compare_digest(session.csrf, str(sent))


DUMMY_HASH = "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
