"""goex's own connection to the real PostgreSQL server behind the proxy: read a libpq connection
string, connect (TCP or a unix socket, TLS as ``sslmode`` says), authenticate (trust, cleartext,
MD5, SCRAM-SHA-256), read the startup up to ReadyForQuery; and send a CancelRequest later.

Parameters missing from the connection string come from the environment as libpq's do (PGHOST,
PGPORT, PGUSER, PGPASSWORD, PGSSLMODE, ...). Without a host, the unix socket in the first of
/run/postgresql, /var/run/postgresql and /tmp that has one, else localhost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import hashlib
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import scramp  # type: ignore[import-untyped]
from psycopg.conninfo import conninfo_to_dict

from core.errors import TargetError
from goexdb.proxy import messages

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql", "/tmp")
CANCEL_TIMEOUT = 10.0  # seconds a cancel may take when connect_timeout does not say
_LIBPQ = ("host", "hostaddr", "port", "user", "password", "sslmode", "sslrootcert", "sslcert")
_ENVIRONMENT = {name: "PG" + name.upper() for name in (*_LIBPQ, "sslkey")}  # PGHOST for host...
_ENVIRONMENT.update(dbname="PGDATABASE", connect_timeout="PGCONNECT_TIMEOUT")
_METHODS = {2: "Kerberos V5", 6: "SCM credential", 7: "GSSAPI", 8: "GSSAPI", 9: "SSPI"}
# Per sslmode, the attempts in order: False plain, True TLS or fail, None TLS if the server agrees.
_PLANS: dict[str, tuple[bool | None, ...]] = {
    "disable": (False,),
    "allow": (False, True),
    "prefer": (None, False),
    "require": (True,),
}


@dataclass(frozen=True)
class Endpoint:
    """How to reach the server: a host name (or a unix socket directory), port, TLS settings."""

    host: str  # a name or address, or a directory starting with "/" (a unix socket)
    port: int = 5432
    hostaddr: str | None = None  # the numeric address to connect to instead of resolving host
    sslmode: str = "prefer"
    tls: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    connect_timeout: float | None = None  # seconds; None waits as long as the system does
    display: str = ""  # how messages name the server

    @property
    def unix_socket(self) -> str | None:
        if self.hostaddr or not self.host.startswith("/"):
            return None
        return f"{self.host}/.s.PGSQL.{self.port}"


@dataclass
class Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    parameters: dict[str, str]  # every ParameterStatus of the startup, in order
    pid: int  # BackendKeyData
    key: int
    endpoint: Endpoint


class _Failure(Exception):
    """One attempt failed; ``retry`` when another attempt (with or without TLS) may do better."""

    def __init__(self, reason: str, *, retry: bool = False, tls: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.tls = tls


async def connect_upstream(conninfo: str, settings: Mapping[str, str], *, display: str) -> Upstream:
    """Connect and authenticate as ``conninfo`` says, sending the client's ``settings`` in the
    startup packet; a ``TargetError`` that names ``display`` (never the password) if it fails."""
    params = _parameters(conninfo, display)
    endpoint = _endpoint(params, display)
    user = params.get("user") or getpass.getuser()
    password = params.get("password")
    startup = {"user": user, "database": params.get("dbname") or user}
    startup.update((k, v) for k, v in settings.items() if k not in ("user", "database"))
    plan = (False,) if endpoint.unix_socket else _PLANS.get(endpoint.sslmode, (True,))
    for number, want in enumerate(plan):
        try:
            async with asyncio.timeout(endpoint.connect_timeout):
                reader, writer, tls = await _open(endpoint, want)
                try:
                    found = await _startup(reader, writer, startup, password)
                except BaseException as exc:
                    writer.close()
                    if isinstance(exc, _Failure):
                        exc.tls = tls
                    raise
            return Upstream(reader, writer, *found, endpoint=endpoint)
        except _Failure as failure:
            later = plan[number + 1 :]
            if not (failure.retry and later and later[0] is not failure.tls):
                raise _target(display, failure.reason) from failure
        except TimeoutError as exc:
            raise _target(display, f"timed out after {endpoint.connect_timeout:g} s") from exc
        except (OSError, EOFError, messages.ProtocolError, ValueError) as exc:
            raise _target(display, _reason(exc)) from exc
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


async def cancel(endpoint: Endpoint, pid: int, key: int) -> None:
    """Ask the server to cancel what backend ``pid`` runs, on a new connection (over TLS when
    sslmode requires it, or prefers it and the server agrees)."""
    want = {"disable": False, "allow": False, "prefer": None}.get(endpoint.sslmode, True)
    try:
        async with asyncio.timeout(endpoint.connect_timeout or CANCEL_TIMEOUT):
            reader, writer, _ = await _open(endpoint, False if endpoint.unix_socket else want)
            try:
                writer.write(messages.cancel_request(pid, key))
                await writer.drain()
                await reader.read()  # the server closes once it has passed the request on
            finally:
                writer.close()
    except _Failure as failure:
        raise _cancel_error(endpoint, failure.reason) from failure
    except TimeoutError as exc:
        raise _cancel_error(endpoint, "timed out") from exc
    except OSError as exc:
        raise _cancel_error(endpoint, _reason(exc)) from exc


# -- the connection string ---------------------------------------------------------------------


def _parameters(conninfo: str, display: str) -> dict[str, str]:
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:  # its text may quote the string, password and all
        raise _target(display, "the connection string is not valid") from exc
    params = {k: str(v) for k, v in given.items() if v is not None and str(v) != ""}
    for name, variable in _ENVIRONMENT.items():
        if name not in params and os.environ.get(variable):
            params[name] = os.environ[variable]
    return params


def _endpoint(params: Mapping[str, str], display: str) -> Endpoint:
    hostaddr = params.get("hostaddr", "").split(",")[0].strip() or None
    try:
        port = int(params.get("port", "5432").split(",")[0] or "5432")
        timeout = int(params.get("connect_timeout", "0"))
    except ValueError as exc:
        raise _target(display, "port and connect_timeout must be whole numbers") from exc
    host = params.get("host", "").split(",")[0].strip()
    if not host:
        host = hostaddr or _default_host(port)
    sslmode = params.get("sslmode", "prefer")
    if sslmode not in SSLMODES:
        raise _target(display, f"sslmode must be one of {', '.join(SSLMODES)}, not {sslmode!r}")
    endpoint = Endpoint(
        host,
        port,
        hostaddr,
        sslmode,
        connect_timeout=max(timeout, 2) if timeout > 0 else None,  # libpq's minimum is 2 s
        display=display,
    )
    if sslmode == "disable" or endpoint.unix_socket:
        return endpoint
    return dataclasses.replace(endpoint, tls=_client_tls(sslmode, params, display))


def _default_host(port: int) -> str:
    for directory in SOCKET_DIRS:
        if os.path.exists(f"{directory}/.s.PGSQL.{port}"):
            return directory
    return "localhost"


def _client_tls(sslmode: str, params: Mapping[str, str], display: str) -> ssl.SSLContext:
    """As libpq: the server's certificate is checked when a root certificate file exists (or
    sslmode is verify-ca / verify-full, which need one); its name only with verify-full."""
    home = Path.home() / ".postgresql"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["postgresql"])
    context.check_hostname = sslmode == "verify-full"
    root = params.get("sslrootcert", str(home / "root.crt"))
    try:
        if root == "system":
            if sslmode != "verify-full":
                raise _target(display, "sslrootcert=system needs sslmode=verify-full")
            context.load_default_certs()
        elif os.path.exists(root):
            context.load_verify_locations(cafile=root)
        elif sslmode.startswith("verify"):
            raise _target(display, f"the root certificate file {root} does not exist")
        else:
            context.verify_mode = ssl.CERT_NONE
        cert = params.get("sslcert", str(home / "postgresql.crt"))
        if os.path.exists(cert):
            key = params.get("sslkey", str(home / "postgresql.key"))
            context.load_cert_chain(cert, key, password=b"")
    except (OSError, ValueError) as exc:
        raise _target(display, f"the TLS certificates cannot be loaded ({_reason(exc)})") from exc
    return context


# -- connecting --------------------------------------------------------------------------------


async def _open(
    endpoint: Endpoint, want: bool | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
    """A connection, over TLS if ``want`` (True: or fail; None: if the server agrees)."""
    sock = await _socket(endpoint)
    try:
        if endpoint.unix_socket:
            reader, writer = await asyncio.open_unix_connection(sock=sock)
            return reader, writer, False
        if want is False or endpoint.tls is None:
            reader, writer = await asyncio.open_connection(sock=sock)
            return reader, writer, False
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, messages.ssl_request())
        # One byte straight from the socket: anything the server sent after it goes through
        # the TLS handshake and breaks it, instead of being read as if it had come encrypted.
        answer = await loop.sock_recv(sock, 1)
        if answer == b"S":
            try:
                reader, writer = await asyncio.open_connection(
                    sock=sock, ssl=endpoint.tls, server_hostname=endpoint.host
                )
            except ssl.SSLError as exc:
                raise _Failure(_reason(exc), retry=True, tls=True) from exc
            return reader, writer, True
        if answer == b"N" and want is None:
            reader, writer = await asyncio.open_connection(sock=sock)
            return reader, writer, False
        if answer == b"N":
            raise _Failure(f"the server does not accept TLS (sslmode={endpoint.sslmode})")
        if not answer:
            raise _Failure("the server closed the connection")
        raise _Failure(f"the server answered the TLS request with {answer!r}")
    except BaseException:
        sock.close()
        raise


async def _socket(endpoint: Endpoint) -> socket.socket:
    loop = asyncio.get_running_loop()
    where = endpoint.unix_socket or f"{endpoint.hostaddr or endpoint.host}:{endpoint.port}"
    targets: list[tuple[int, Any]] = [(socket.AF_UNIX, endpoint.unix_socket)]
    if not endpoint.unix_socket:
        name = endpoint.hostaddr or endpoint.host
        try:
            found = await loop.getaddrinfo(name, endpoint.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise _Failure(f"{_reason(exc)} ({name})") from exc
        targets = [(family, address) for family, _, _, _, address in found]
    failure: OSError = OSError("no address to connect to")
    for family, address in targets:  # each address the name resolves to, as libpq does
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock
    raise _Failure(f"{_reason(failure)} ({where})") from failure


async def _startup(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    startup: Mapping[str, str],
    password: str | None,
) -> tuple[dict[str, str], int, int]:
    """Send the startup packet, authenticate, and read up to ReadyForQuery."""
    writer.write(messages.startup(startup))
    await writer.drain()
    user = startup["user"]
    parameters: dict[str, str] = {}
    pid = key = 0
    scram: Any = None  # a scramp.ScramClient once SCRAM has begun
    while True:
        message = await messages.read_message(reader)
        if message.type == b"R":
            code = messages.authentication_code(message)
            if code == 0:
                if scram is not None and scram.stage != 4:  # 4: the server's signature checked
                    raise _Failure("the server ended SCRAM authentication early")
                continue
            if code in (3, 5, 10) and password is None:
                raise _Failure("the server asks for a password and none is configured")
            try:
                scram = await _answer(writer, code, message.body[4:], user, password or "", scram)
            except scramp.ScramException as exc:
                raise _Failure(f"SCRAM authentication failed ({exc})") from exc
        elif message.type == b"S":
            name, at = messages.cstring(message.body)
            parameters[name] = messages.cstring(message.body, at)[0]
        elif message.type == b"K":
            pid, key = messages.key_data(message)
        elif message.type == b"Z":
            return parameters, pid, key
        elif message.type == b"E":
            fields = messages.error_fields(message)
            raise _Failure(fields.get("M", "the server refused the connection"), retry=True)
        elif message.type not in (b"N", b"v"):  # a notice; NegotiateProtocolVersion
            raise _Failure(f"the server sent an unexpected {message.type!r} message at startup")


async def _answer(
    writer: asyncio.StreamWriter, code: int, data: bytes, user: str, password: str, scram: Any
) -> Any:
    """Answer one authentication request; the SCRAM client, once there is one."""
    if code == 3:
        writer.write(messages.password(password.encode() + b"\0"))
    elif code == 5:
        writer.write(messages.password(_md5(user, password, data[:4]) + b"\0"))
    elif code == 10:
        scram = _scram_client(data, user, password, writer)
        first = scram.get_client_first().encode()
        writer.write(messages.sasl_initial(scram.mechanism_name, first))
    elif code == 11 and scram is not None:
        scram.set_server_first(data.decode())
        writer.write(messages.password(scram.get_client_final().encode()))
    elif code == 12 and scram is not None:
        scram.set_server_final(data.decode())  # raises unless the server knew the password
    else:
        method = _METHODS.get(code, f"method {code}")
        raise _Failure(f"the server asks for {method} authentication, which goex lacks")
    await writer.drain()
    return scram


def _md5(user: str, password: str, salt: bytes) -> bytes:
    inner = hashlib.md5((password + user).encode()).hexdigest()
    return b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode()


def _scram_client(data: bytes, user: str, password: str, writer: asyncio.StreamWriter) -> Any:
    offered = [m.decode() for m in data.split(b"\0") if m]
    usable = [m for m in offered if m in ("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS")]
    if not usable:
        raise _Failure(f"the server offers only {', '.join(offered)}, which goex lacks")
    ssl_object = writer.get_extra_info("ssl_object")
    binding = None if ssl_object is None else ("tls-server-end-point", ssl_object)
    if binding is None:
        usable = [m for m in usable if not m.endswith("-PLUS")]
    return scramp.ScramClient(usable, user, password, channel_binding=binding)


# -- errors ------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno)  # "Connection refused", not asyncio's "Connect call failed"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        return "the server closed the connection during startup"
    if isinstance(exc, messages.ProtocolError):
        return f"the server broke the protocol ({exc})"
    return f"the server sent a malformed message ({exc})"


def _target(display: str, reason: str) -> TargetError:
    return TargetError(f"cannot connect to PostgreSQL at {display}: {reason}")


def _cancel_error(endpoint: Endpoint, reason: str) -> TargetError:
    where = endpoint.display or endpoint.unix_socket or f"{endpoint.host}:{endpoint.port}"
    return TargetError(f"cannot send a cancel request to PostgreSQL at {where}: {reason}")
