"""How a client proves who it is to the proxy: SCRAM-SHA-256 against the users of the secrets
file's ``[proxy.users]`` (each a password, or a verifier as PostgreSQL keeps it in pg_authid), or
trust; and the TLS context the proxy serves with.

The server side of SCRAM is done here (RFC 5802 / 7677, as PostgreSQL does it): scramp's server
refuses the empty user name libpq sends in its first message, so scramp only derives the keys
of a password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import ssl
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import scramp  # type: ignore[import-untyped]

from core.errors import ConfigError
from goexdb.proxy import messages

MECHANISM = "SCRAM-SHA-256"
ITERATIONS = 4096  # PostgreSQL's default scram_iterations
MAX_AUTH_MESSAGE = 65_535  # what a client not yet authenticated may send at once (as PostgreSQL)
AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 0, 10, 11, 12
_MOCK_SECRET = secrets.token_bytes(32)  # salts for unknown users: stable per name, unguessable


class ClientRefused(Exception):
    """The client did not authenticate; it has been told so (if it was still there to hear)."""


@dataclass(frozen=True)
class Verifier:
    """What the server keeps of a SCRAM-SHA-256 password."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes


async def authenticate_client(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    user: str,
    users: Mapping[str, str],
    *,
    trust: bool,
) -> None:
    """Authenticate the client that logged in as ``user``, up to AuthenticationOk; on failure
    send it an ErrorResponse (28P01) and raise ``ClientRefused``. An unknown user (or none
    configured) goes through the same exchange, against a verifier no password matches."""
    if trust:
        writer.write(messages.authentication(AUTH_OK))
        await writer.drain()
        return
    value = users.get(user)
    try:
        target = _mock(user) if value is None else verifier(value)
    except ConfigError:  # an entry the secrets file's own check let through: nobody gets in
        target, value = _mock(user), None
    try:
        signature = await _exchange(reader, writer, target)
    except (EOFError, OSError, ValueError, struct.error, messages.ProtocolError):
        signature = None  # EOFError: the client left; the others: a malformed message
    if signature is None or value is None:
        await _refuse(writer, user)
    writer.write(
        messages.authentication(AUTH_SASL_FINAL, b"v=" + base64.b64encode(signature))
        + messages.authentication(AUTH_OK)
    )
    await writer.drain()


def verifier(value: str) -> Verifier:
    """The verifier of a ``[proxy.users]`` value: one in pg_authid's form,
    ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, or one made from a password
    (once per password and process; a ``ConfigError`` if the first form is malformed)."""
    if value.startswith(MECHANISM + "$"):
        return _parse(value)
    return _derive(value)


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The proxy's TLS context (TLS 1.2 or later) with its certificate chain and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["postgresql"])  # what libpq 17+ asks for
    try:
        context.load_cert_chain(cert, key, password=b"")  # an encrypted key fails, never prompts
    except ssl.SSLError as exc:
        raise ConfigError(
            f"cannot load the proxy's TLS certificate {cert} with key {key}: {exc.reason or exc}",
            path=str(cert),
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot load the proxy's TLS certificate {cert} with key {key}: {exc.strerror or exc}",
            path=str(cert),
        ) from exc
    return context


# -- the exchange ------------------------------------------------------------------------------


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: Verifier
) -> bytes | None:
    """Run SCRAM up to the client's proof: the ServerSignature if the proof holds, else None."""
    writer.write(messages.authentication(AUTH_SASL, MECHANISM.encode() + b"\0\0"))
    await writer.drain()
    initial = await _sasl_message(reader)
    mechanism, at = messages.cstring(initial.body)
    (length,) = struct.unpack_from("!i", initial.body, at)
    data = initial.body[at + 4 :]
    if mechanism != MECHANISM or length != len(data):
        return None
    header, bare, client_nonce = _client_first(data.decode("utf-8"))
    nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
    salt = base64.b64encode(target.salt).decode()
    server_first = f"r={nonce},s={salt},i={target.iterations}"
    writer.write(messages.authentication(AUTH_SASL_CONTINUE, server_first.encode()))
    await writer.drain()
    final = (await _sasl_message(reader)).body.decode("utf-8")
    without_proof, _, proof_text = final.rpartition(",p=")
    attributes = without_proof.split(",")
    if len(attributes) < 2 or attributes[0] != "c=" + base64.b64encode(header).decode():
        return None
    if attributes[1] != "r=" + nonce:
        return None
    proof = base64.b64decode(proof_text, validate=True)
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(target.stored_key, auth_message, "sha256")
    if len(proof) != len(signature):
        return None
    client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
    if not hmac.compare_digest(hashlib.sha256(client_key).digest(), target.stored_key):
        return None
    return hmac.digest(target.server_key, auth_message, "sha256")


async def _sasl_message(reader: asyncio.StreamReader) -> messages.Message:
    message = await messages.read_message(reader, MAX_AUTH_MESSAGE)
    if message.type != b"p":
        raise messages.ProtocolError(f"a {message.type!r} message during authentication")
    return message


def _client_first(text: str) -> tuple[bytes, str, str]:
    """The GS2 header, the bare message and the client's nonce of a client-first-message.

    The user name in it is ignored (libpq sends none): the startup packet's is the one."""
    flag, authzid, bare = text.split(",", 2)
    if flag not in ("n", "y") or authzid:  # "p=": channel binding, which was not offered
        raise ValueError("an unsupported GS2 header")
    fields = bare.split(",")
    if len(fields) < 2 or not fields[0].startswith("n=") or not fields[1].startswith("r="):
        raise ValueError("a malformed client-first-message")
    client_nonce = fields[1][2:]
    if not client_nonce or not all(0x21 <= ord(c) <= 0x7E for c in client_nonce):
        raise ValueError("a malformed nonce")
    return f"{flag},,".encode(), bare, client_nonce


async def _refuse(writer: asyncio.StreamWriter, user: str) -> NoReturn:
    message = f'password authentication failed for user "{user}"'
    try:
        writer.write(messages.error("28P01", message, severity="FATAL"))
        await writer.drain()
    except OSError:
        pass  # the client has gone: nobody left to tell
    raise ClientRefused(message)


# -- verifiers ---------------------------------------------------------------------------------


def _parse(value: str) -> Verifier:
    try:
        _, parameters, keys = value.split("$")
        iterations, salt = parameters.split(":")
        stored_key, server_key = keys.split(":")
        found = Verifier(
            int(iterations),
            base64.b64decode(salt, validate=True),
            base64.b64decode(stored_key, validate=True),
            base64.b64decode(server_key, validate=True),
        )
    except (ValueError, binascii.Error) as exc:
        raise _malformed() from exc
    if found.iterations < 1 or not found.salt or len(found.stored_key) != 32:
        raise _malformed()
    if len(found.server_key) != 32:
        raise _malformed()
    return found


def _malformed() -> ConfigError:
    return ConfigError(
        "a [proxy.users] value that starts with SCRAM-SHA-256$ must be a verifier as "
        "PostgreSQL writes it: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
    )


@functools.lru_cache(maxsize=256)
def _derive(password: str) -> Verifier:
    try:
        salt, stored_key, server_key, iterations = scramp.ScramMechanism(MECHANISM).make_auth_info(
            password, iteration_count=ITERATIONS
        )
    except scramp.ScramException:  # SASLprep refuses it: then the raw bytes, as libpq does
        salt = secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        iterations = ITERATIONS
    return Verifier(int(iterations), bytes(salt), bytes(stored_key), bytes(server_key))


def _mock(user: str) -> Verifier:
    """A verifier for a user with none: the same salt for the same name, so a client cannot
    tell it from a real one; keys that no proof matches."""
    salt = hashlib.sha256(_MOCK_SECRET + user.encode()).digest()[:16]
    return Verifier(ITERATIONS, salt, secrets.token_bytes(32), secrets.token_bytes(32))
