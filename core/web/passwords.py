"""The review page's passwords, kept only as scrypt hashes in the secrets file
(``[review.users]``, ``name = "scrypt$<log2 n>$<r>$<p>$<salt>$<hash>"``, base64 without padding):
``goex-review hash-password`` prints one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

LOG2_N, R, P = 15, 8, 1  # 32 MiB of memory per check: costly to guess, cheap for one login
_HASH = re.compile(
    r"scrypt\$(1[0-9]|20)\$([1-9][0-9]?)\$([1-9])\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{43})"
)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, LOG2_N, R, P)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(key)}"


def well_formed(stored: str) -> bool:
    return _HASH.fullmatch(stored) is not None


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (in constant time)."""
    match = _HASH.fullmatch(stored)
    if match is None:
        return False
    log2_n, r, p, salt, key = match.groups()
    derived = _derive(password, _unb64(salt), int(log2_n), int(r), int(p))
    return hmac.compare_digest(derived, _unb64(key))


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * r * n, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
