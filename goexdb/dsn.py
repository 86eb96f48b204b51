"""Database targets: ``postgresql://`` URLs, libpq ``key=value`` strings, and ``duckdb:PATH``.

``parse_dsn`` never validates by connecting (that is the backend's job) and never lets a password
into anything printable: ``Target.display`` has it removed, ``Target.secrets`` lists it for the
Redactor, and ``repr`` hides the connection string.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from core.errors import TargetError

DSN_ENV = ("GOEX_DSN", "DATABASE_URL")


class Engine(StrEnum):
    POSTGRES = "postgres"
    DUCKDB = "duckdb"


@dataclass(frozen=True)
class Target:
    engine: Engine
    display: str
    conninfo: str = field(repr=False, default="")
    path: Path | None = None
    secrets: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def dialect(self) -> str:
        return self.engine.value


def parse_dsn(dsn: str | None, environ: Mapping[str, str] | None = None) -> Target:
    environ = os.environ if environ is None else environ
    if not dsn:
        dsn = next((environ[name] for name in DSN_ENV if environ.get(name)), None)
    if not dsn:
        raise TargetError("no database given: pass --dsn or set GOEX_DSN or DATABASE_URL")
    dsn = dsn.strip()
    secrets = {}
    if environ.get("PGPASSWORD"):
        secrets["PGPASSWORD"] = environ["PGPASSWORD"]
    if dsn.startswith("duckdb:"):
        return _duckdb(dsn.removeprefix("duckdb:"))
    if dsn.startswith(("postgresql://", "postgres://")):
        return _url(dsn, secrets)
    if "=" in dsn:
        return _keyvalue(dsn, secrets)
    raise TargetError(
        "the DSN is neither a postgresql:// URL, a libpq key=value string, nor duckdb:PATH"
    )


def _duckdb(raw: str) -> Target:
    raw = raw.removeprefix("//") if raw.startswith("///") else raw
    if not raw or raw == ":memory:":
        raise TargetError("duckdb: needs a database file path, e.g. duckdb:shop.duckdb")
    path = Path(raw).expanduser().absolute()
    if path.is_dir():
        raise TargetError(f"duckdb path {path} is a directory, not a database file")
    return Target(Engine.DUCKDB, f"duckdb:{path}", path=path)


def _url(dsn: str, secrets: dict[str, str]) -> Target:
    try:
        parts = urlsplit(dsn)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise TargetError(f"the PostgreSQL URL is malformed: {exc}") from None
    del port
    if parts.password:
        secrets["DSN_PASSWORD"] = unquote(parts.password)
    netloc = parts.netloc.rpartition("@")
    userinfo, host = (netloc[0], netloc[2]) if netloc[1] else ("", netloc[2])
    user = userinfo.partition(":")[0]
    display = urlunsplit(
        (parts.scheme, f"{user}@{host}" if user else host, parts.path, parts.query, "")
    )
    display = re.sub(r"(?i)([?&](?:ssl)?password=)[^&]*", r"\1[REDACTED]", display)
    for key, value in re.findall(r"(?i)(?:^|&)((?:ssl)?password)=([^&]*)", parts.query):
        secrets[f"DSN_{key.upper()}"] = unquote(value)
    return Target(Engine.POSTGRES, display, conninfo=dsn, secrets=secrets)


_SECRET_KEYS = ("password", "sslpassword")
_PAIR = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")


def _keyvalue(dsn: str, secrets: dict[str, str]) -> Target:
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(dsn):
        match = _PAIR.match(dsn, pos)
        if not match:
            if dsn[pos:].strip():
                # Never quote the string back: the malformed part may be a password.
                raise TargetError(f"the libpq connection string is malformed at character {pos}")
            break
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        pairs.append((key, value))
        pos = match.end()
    if not pairs:
        raise TargetError("the libpq connection string has no key=value pairs")
    display = " ".join(f"{k}={_quote(v)}" for k, v in pairs if k not in _SECRET_KEYS)
    for key, value in pairs:
        if key in _SECRET_KEYS and value:
            secrets[f"DSN_{key.upper()}"] = value
    return Target(Engine.POSTGRES, display, conninfo=dsn, secrets=secrets)


def _quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
