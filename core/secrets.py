"""Symbolic credentials: the model sees names, only the execution sees values (invariant 3).

Secrets come from two places:

* environment variables named ``GOEX_SECRET_<NAME>``;
* ``~/.config/goex/secrets.toml`` (refused unless it is a regular file of mode 0600 owned by
  the current user), as top-level ``name = "value"`` pairs or a ``[secrets]`` table.

Both appear to the model as ``$GOEX_SECRET_<NAME>``: it may write that reference into a command
or SQL, and goex injects the value only where the action executes (the sandbox environment, a
connection parameter). Every value is also registered with the ``Redactor``, so it is masked
wherever it shows up in output.

The same file's ``[proxy.users]`` table holds who may log in to ``goex-db proxy``: ``name =
"password"``, or ``name = "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"`` (a
verifier as PostgreSQL keeps it in pg_authid, so the password itself need not be stored). These
are no secrets the model may name or an action receives; they are only masked like them.
Its ``[review.users]`` table holds who may log in to ``goex-review``: ``name = "scrypt$..."``,
a hash only (``goex-review hash-password`` prints one), never the password.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from core.redact import MIN_SECRET_LENGTH, Redactor

PREFIX = "GOEX_SECRET_"
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_REFERENCE = re.compile(r"\$\{?(GOEX_SECRET_[A-Z0-9_]+)\}?")
_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_KEY = r"[A-Za-z0-9+/]{43}="  # 32 bytes
_SCRAM_VERIFIER = re.compile(rf"SCRAM-SHA-256\$[1-9][0-9]*:(?=[A-Za-z0-9+/]){_B64}\${_KEY}:{_KEY}")
_MD5_VERIFIER = re.compile(r"md5[0-9a-f]{32}")
_SCRYPT_HASH = re.compile(r"scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")


def default_secrets_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "goex" / "secrets.toml"


@dataclass(frozen=True)
class SecretStore:
    """The secrets goex holds, keyed by their full symbolic name (``GOEX_SECRET_X``)."""

    _values: Mapping[str, str] = field(default_factory=dict, repr=False)
    _proxy_users: Mapping[str, str] = field(default_factory=dict, repr=False)
    _review_users: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, file: Path | None = None
    ) -> SecretStore:
        environ = os.environ if environ is None else environ
        values: dict[str, str] = {}
        proxy_users: dict[str, str] = {}
        review_users: dict[str, str] = {}
        path = default_secrets_file() if file is None else file
        if path.exists():
            values, proxy_users, review_users = _read_file(path)
        for key, value in environ.items():
            if key.startswith(PREFIX) and len(key) > len(PREFIX):
                values[key] = value
        for key, value in values.items():
            if len(value) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"secret {key} is shorter than {MIN_SECRET_LENGTH} characters and could not "
                    "be masked reliably; use a real value",
                    key=key,
                )
        for user, value in proxy_users.items():
            if len(value) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"the password of proxy user {user!r} is shorter than {MIN_SECRET_LENGTH} "
                    "characters and could not be masked reliably; use a real one",
                    path=str(path),
                    key=user,
                )
        return cls(values, proxy_users, review_users)

    @property
    def names(self) -> list[str]:
        return sorted(self._values)

    def references(self) -> list[str]:
        """What the model is told: ``$GOEX_SECRET_X`` for each secret, never a value."""
        return [f"${name}" for name in self.names]

    def describe_for_model(self) -> str:
        if not self._values:
            return "No credentials are available."
        refs = ", ".join(self.references())
        return (
            "Credentials are available only by name, as environment variables that are set "
            f"when the action runs: {refs}. Refer to them by name; never ask for their values."
        )

    def environment(self) -> dict[str, str]:
        """The name → value pairs to inject into the environment of an executing action."""
        return dict(self._values)

    def referenced(self, code: str) -> list[str]:
        """Names of the secrets that code refers to (unknown references are left out)."""
        return sorted({m for m in _REFERENCE.findall(code) if m in self._values})

    def value(self, name: str) -> str:
        key = name if name.startswith(PREFIX) else PREFIX + name.upper()
        try:
            return self._values[key]
        except KeyError:
            raise ConfigError(f"no secret named {key} is configured", key=key) from None

    def proxy_users(self) -> dict[str, str]:
        """Who may log in to ``goex-db proxy``: user name → password or SCRAM verifier."""
        return dict(self._proxy_users)

    def review_users(self) -> dict[str, str]:
        """Who may log in to ``goex-review``: user name → scrypt hash of the password."""
        return dict(self._review_users)

    def redactor(self) -> Redactor:
        redactor = Redactor(self._values)
        for user, value in self._proxy_users.items():
            redactor.add(f"PROXY_USER_{user}", value)
        return redactor


def _read_file(path: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The secrets (by symbolic name), the proxy's users and the review page's users of a
    secrets file."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secrets file {path}: {exc.strerror}", path=str(path)
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"secrets file {path} is not a regular file", path=str(path))
    if info.st_mode & 0o077:
        raise ConfigError(
            f"secrets file {path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run: chmod 600 {path}",
            path=str(path),
        )
    if info.st_uid != os.geteuid():
        raise ConfigError(f"secrets file {path} is not owned by you", path=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"secrets file {path} is not valid TOML: {exc}", path=str(path)) from exc
    table = data.get("secrets", data)
    proxy, review = (data.get(name) for name in ("proxy", "review"))
    values: dict[str, str] = {}
    for name, value in table.items():
        if table is data and name in ("proxy", "review") and isinstance(value, dict):
            continue  # the [proxy] or [review] table, not a secret
        key = name.upper()
        if not isinstance(value, str) or not _NAME.match(key):
            raise ConfigError(
                f"secrets file {path}: {name!r} must be a name of letters, digits and _ "
                "with a string value",
                path=str(path),
                key=name,
            )
        values[key if key.startswith(PREFIX) else PREFIX + key] = value
    return (
        values,
        _proxy_users(path, _users_table(path, "proxy", proxy)),
        _review_users(path, _users_table(path, "review", review)),
    )


def _users_table(path: Path, section: str, data: object) -> dict[str, object]:
    """The ``[<section>.users]`` table of a secrets file (empty when there is none; a string
    of that name is a secret)."""
    if not isinstance(data, dict):
        return {}
    if set(data) - {"users"}:
        raise ConfigError(
            f"secrets file {path}: [{section}] holds only a users table, not "
            f"{', '.join(sorted(set(data) - {'users'}))}",
            path=str(path),
        )
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise ConfigError(
            f'secrets file {path}: {section}.users must be a table of name = "value" pairs',
            path=str(path),
        )
    return table


def _review_users(path: Path, table: Mapping[str, object]) -> dict[str, str]:
    users: dict[str, str] = {}
    for user, value in table.items():
        if not isinstance(value, str) or not user or not _SCRYPT_HASH.fullmatch(value):
            raise ConfigError(
                f"secrets file {path}: review user {user!r} must have a scrypt hash of the "
                "password (goex-review hash-password prints one), never the password",
                path=str(path),
                key=user,
            )
        users[user] = value
    return users


def _proxy_users(path: Path, table: Mapping[str, object]) -> dict[str, str]:
    users: dict[str, str] = {}
    for user, value in table.items():
        if not isinstance(value, str) or not user:
            raise ConfigError(
                f"secrets file {path}: proxy user {user!r} must have a string value, a password "
                "or a SCRAM-SHA-256 verifier",
                path=str(path),
                key=user,
            )
        if value.startswith("SCRAM-SHA-256$") and not _SCRAM_VERIFIER.fullmatch(value):
            raise ConfigError(
                f"secrets file {path}: proxy user {user!r} has a malformed verifier; PostgreSQL "
                "writes SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>",
                path=str(path),
                key=user,
            )
        if _MD5_VERIFIER.fullmatch(value):
            raise ConfigError(
                f"secrets file {path}: proxy user {user!r} has an MD5 hash, which SCRAM cannot "
                "use; give the password or a SCRAM-SHA-256 verifier",
                path=str(path),
                key=user,
            )
        users[user] = value
    return users
