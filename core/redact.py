"""Masking of secrets before anything reaches the model, a screen or the journal.

Two layers:

* known values — every secret goex holds (``GOEX_SECRET_*``, the secrets file, a DSN password)
  is registered with a ``Redactor`` and replaced by ``[REDACTED:NAME]`` wherever it shows up,
  also in its URL-quoted and base64 forms;
* shapes — values that look like credentials even though goex was never told about them
  (API-key prefixes, private-key blocks, JWTs, passwords in URLs and ``password=`` pairs) are
  replaced by ``[REDACTED]``.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

MASK = "[REDACTED]"
_SCALARS = frozenset({int, float, bool, type(None)})
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words; they are refused at load time
MIN_SHAPE_LENGTH = 7  # the shortest text a shape matches ("a://:x@"): shorter ones are skipped
CACHED = 65_536  # texts remembered redacted (a staged action's images, redacted at every step)
CACHED_LENGTH = 4_096  # longer texts are redacted anew each time, never kept

# Each pattern's group 'v' is the part that gets masked; with it, the strings one of which any
# text it matches contains (case-folded where the pattern ignores case): a text without any of
# them is not scanned (a long text, an undo's SQL say, costs a substring search, not a scan).
_SHAPES: tuple[tuple[re.Pattern[str], tuple[str, ...], bool], ...] = tuple(
    (re.compile(p, re.DOTALL), needles, lower)
    for p, needles, lower in (
        # a whole block, or a truncated one up to the end (one pattern: a BEGIN without an END
        # is then scanned once, not once per BEGIN)
        (
            r"(?P<v>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*))",
            ("-----BEGIN ",),
            False,
        ),
        (r"\b(?P<v>sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,})", ("sk-",), False),  # OpenAI, Anthropic
        (r"\b(?P<v>gh[pousr]_[A-Za-z0-9]{30,})", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
        (r"\b(?P<v>github_pat_[A-Za-z0-9_]{30,})", ("github_pat_",), False),
        (r"\b(?P<v>(?:AKIA|ASIA)[0-9A-Z]{16})\b", ("AKIA", "ASIA"), False),  # AWS access key id
        (r"\b(?P<v>xox[abposr]-[A-Za-z0-9\-]{10,})", ("xox",), False),  # Slack
        (r"\b(?P<v>AIza[0-9A-Za-z_\-]{35})", ("AIza",), False),  # Google API key
        (r"\b(?P<v>(?:sk|rk)_live_[0-9A-Za-z]{16,})", ("_live_",), False),  # Stripe
        (r"\b(?P<v>glpat-[0-9A-Za-z_\-]{20,})", ("glpat-",), False),  # GitLab
        (  # JWT
            r"\b(?P<v>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})",
            ("eyJ",),
            False,
        ),
        (r"(?i)\bbearer\s+(?P<v>[A-Za-z0-9_\-.=+/]{16,})", ("bearer",), True),
        # scheme://user:password@host — the password only. The scheme is tried only where a run
        # of scheme characters starts, and taken whole (possessive): a long run of letters costs
        # linear time, not quadratic (a 10 MB statement took hours).
        (
            r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*+://[^\s:/@]*:(?P<v>[^\s@/]+)@",
            ("://",),
            False,
        ),
        # password=..., "api_key": "...", PGPASSWORD=..., aws_secret_access_key = ...
        (
            r"(?i)(?:passw(?:or)?d(?:_[a-z0-9]{1,4})?|(?<![a-z])(?-i:(?!PWD))pwd|secret(?:_?key)?"
            r"|api_?key|access_?token|auth_?token"
            r"|secret_access_key)[\"']?\s*[=:]\s*[\"']?(?P<v>[^\s\"',;&]{4,})",
            ("passw", "pwd", "secret", "api", "token"),
            True,
        ),
    )
)


class Redactor:
    """Replaces registered secret values and secret-looking shapes in text and JSON data."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._known: dict[str, str] = {}
        self._longest_first: list[str] = []  # so a secret that contains another is masked whole
        self._cached = functools.lru_cache(maxsize=CACHED)(self._redact)
        for name, value in (secrets or {}).items():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Register a secret value (and its quoted and base64 forms) under a symbolic name."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        label = f"[REDACTED:{name}]"
        for form in _forms(value):
            self._known.setdefault(form, label)
        self._longest_first = sorted(self._known, key=len, reverse=True)
        self._cached.cache_clear()

    @property
    def names(self) -> list[str]:
        return sorted({label[len("[REDACTED:") : -1] for label in self._known.values()})

    def redact(self, text: str) -> str:
        """``text`` with every registered secret and every secret-looking shape masked."""
        return self._cached(text) if len(text) <= CACHED_LENGTH else self._redact(text)

    def _redact(self, text: str) -> str:
        for value in self._longest_first:
            if value in text:
                text = text.replace(value, self._known[value])
        if len(text) >= MIN_SHAPE_LENGTH:
            lowered = text.casefold()
            for pattern, needles, lower in _SHAPES:
                if any(needle in (lowered if lower else text) for needle in needles):
                    text = pattern.sub(_mask_group, text)
                    lowered = text.casefold()
        return text

    def redact_obj(self, obj: Any) -> Any:
        """Redact every string inside JSON-like data (dict keys included)."""
        kind = type(obj)  # the JSON types first, by their exact type: the ABC checks cost more
        if kind is str:
            return self.redact(obj)
        if kind in _SCALARS:
            return obj
        if kind is dict or isinstance(obj, Mapping):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in obj.items()}
        if kind is list or isinstance(obj, list | tuple):
            return [self.redact_obj(v) for v in obj]
        if isinstance(obj, str):  # a subclass of str
            return self.redact(obj)
        return obj

    def leaks(self, text: str) -> list[str]:
        """Names of the registered secrets whose value (in any form) occurs in text."""
        return sorted({self._known[v][len("[REDACTED:") : -1] for v in self._known if v in text})


def _forms(value: str) -> Iterable[str]:
    yield value
    quoted = quote(value, safe="")
    if quoted != value:
        yield quoted
    yield base64.b64encode(value.encode()).decode().rstrip("=")
    yield base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _mask_group(match: re.Match[str]) -> str:
    if match.group("v").startswith("[REDACTED"):  # already masked under its secret's name
        return match.group(0)
    start, end = match.span("v")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + MASK + whole[end - offset :]


_DEFAULT = Redactor()


def redact_text(text: str) -> str:
    """Mask secret-looking shapes only (no registered values)."""
    return _DEFAULT.redact(text)


_KV_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact_target(target: str) -> str:
    """A target (DSN, URL, path) with any password removed, fit to journal and display."""
    target = _KV_PASSWORD.sub(lambda m: m.group(1) + MASK, target)
    return redact_text(target)
