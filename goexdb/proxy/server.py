"""The proxy's listeners: accept a client (TCP and, when asked, a unix socket), negotiate TLS,
authenticate it, connect it to its own upstream session with goex's credentials, and hand the
pair to a ``ProxySession``. A CancelRequest is forwarded to the server with the upstream key
that the client's key stands for. SIGTERM and SIGINT stop the proxy: every held transaction is
rolled back (the upstream connections close) and its client told.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.action import Decision, Kind, Verdict
from core.errors import GoexError, TargetError, UsageError
from core.journal import Journal, default_path
from goexdb.proxy import messages as m
from goexdb.proxy.action import ProxyContext
from goexdb.proxy.clientauth import ClientRefused, authenticate_client
from goexdb.proxy.pending import Client
from goexdb.proxy.session import ProxySession
from goexdb.proxy.upstream import Upstream, cancel, connect_upstream

MIN_VERSION = 15  # pg_stat_force_next_flush(): each transaction's counts start at zero
STARTUP_TIMEOUT = 30.0  # seconds a client has to start up and authenticate
STOP_TIMEOUT = 10.0  # seconds the sessions have to end once the proxy stops
SOCKET_NAME = ".s.PGSQL.{port}"
_NOT_PASSED = ("user", "database", "replication", "options")


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 6543
    socket_dir: Path | None = None
    tls: ssl.SSLContext | None = None
    trust_socket: bool = False  # clients on the unix socket need no password


class Proxy:
    def __init__(
        self,
        context: ProxyContext,
        conninfo: str,
        database: str,
        users: Mapping[str, str],
        listen: Listen,
    ) -> None:
        self.context = context
        self.conninfo = conninfo
        self.database = database
        self.users = users
        self.listen = listen
        self.sessions: set[ProxySession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._keys: dict[tuple[int, int], Upstream] = {}
        self._servers: list[asyncio.Server] = []
        self._stopped = asyncio.Event()
        self._why = "stopped"

    async def start(self) -> list[str]:
        """Listen; where (for the log line)."""
        where = f"{self.listen.host}:{self.listen.port}"
        try:
            tcp = await asyncio.start_server(self._tcp, self.listen.host, self.listen.port)
            self._servers.append(tcp)
            if self.listen.socket_dir is not None:
                path = self.listen.socket_dir / SOCKET_NAME.format(port=self.listen.port)
                where = str(path)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                unix = await asyncio.start_unix_server(self._unix, str(path))
                os.chmod(path, 0o777)  # as PostgreSQL's: who may connect is the login's business
                self._servers.append(unix)
        except OSError as exc:
            raise UsageError(f"goex-db proxy cannot listen on {where}: {exc.strerror}") from exc
        return [
            f"{s.getsockname()[0]}:{s.getsockname()[1]}"
            if s.family != socket.AF_UNIX
            else s.getsockname()
            for server in self._servers
            for s in server.sockets
        ]

    async def serve_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signal.Signals(signum).name)
        await self._stopped.wait()
        for server in self._servers:
            server.close()
        why = f"goex: the proxy stopped ({self._why}); the transaction was rolled back"
        for session in list(self.sessions):
            session.stop(why)
        await asyncio.to_thread(_answer_waiting, self.sessions, self._why)
        deadline = asyncio.get_running_loop().time() + STOP_TIMEOUT
        while self.sessions and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._tasks):  # a session stuck past the timeout
            task.cancel()

    def stop(self, why: str = "stopped") -> None:
        self._why = why
        self._stopped.set()

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        await self._client(reader, writer, f"{peer[0]}:{peer[1]}" if peer else "tcp", unix=False)

    async def _unix(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._client(reader, writer, "unix socket", unix=True)

    async def _client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        *,
        unix: bool,
    ) -> None:
        session: ProxySession | None = None
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            try:
                started = await asyncio.wait_for(
                    self._start(reader, writer, address, unix=unix), STARTUP_TIMEOUT
                )
            except (ClientRefused, asyncio.IncompleteReadError, OSError, TimeoutError):
                return
            except (m.ProtocolError, ValueError, UnicodeDecodeError) as exc:
                writer.write(
                    m.error("08P01", f"goex: invalid startup packet: {exc}", severity="FATAL")
                )
                return
            if started is None:
                return
            client, upstream = started
            session = ProxySession(self.context, client, reader, writer, upstream)
            self.sessions.add(session)
            try:
                await session.serve()
            except Exception as exc:  # one client's trouble: said in a line, the proxy goes on
                print(f"goex-db proxy: the session of {address} ended: {exc!r}", file=sys.stderr)
        finally:
            if session is not None:
                self.sessions.discard(session)
                self._keys = {k: u for k, u in self._keys.items() if u is not session.upstream}
                session.upstream.writer.close()
            with contextlib.suppress(Exception):
                writer.close()
            self._tasks.discard(task)

    async def _start(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        *,
        unix: bool,
    ) -> tuple[Client, Upstream] | None:
        code, rest = await m.read_startup(reader)
        while code in (m.SSL_REQUEST, m.GSSENC_REQUEST):
            if code == m.SSL_REQUEST and self.listen.tls is not None and not unix:
                if getattr(reader, "_buffer", b""):  # sent before the handshake: not TLS's
                    raise m.ProtocolError("bytes arrived before the TLS handshake")
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.listen.tls)
            else:
                writer.write(b"N")
            code, rest = await m.read_startup(reader)
        if code == m.CANCEL_REQUEST:
            await self._cancel(*m.cancel_target(rest))
            return None
        if code >> 16 != 3:
            self._fatal(writer, "0A000", f"goex: unsupported frontend protocol {code >> 16}")
            return None
        parameters = m.startup_parameters(rest)
        unrecognised = [k for k in parameters if k.startswith("_pq_.")]
        if code & 0xFFFF or unrecognised:
            writer.write(m.negotiate_version(0, unrecognised))
        user = parameters.get("user", "")
        await authenticate_client(
            reader, writer, user, self.users, trust=unix and self.listen.trust_socket
        )
        refusal = self._refused_startup(parameters)
        if refusal is not None:
            self._fatal(writer, *refusal)
            return None
        settings = {
            k: v
            for k, v in parameters.items()
            if k not in _NOT_PASSED and not k.startswith("_pq_.")
        }
        try:
            upstream = await connect_upstream(self.conninfo, settings, display=self.context.target)
            _check_version(upstream, self.context.target)
            await _limit(upstream, self.context.limits)
        except (GoexError, ConnectionError) as exc:
            message = exc.message if isinstance(exc, GoexError) else str(exc)
            self._fatal(writer, "08001", f"goex: {message}")
            return None
        for name, value in upstream.parameters.items():
            writer.write(m.parameter_status(name, value))
        key = (secrets.randbits(31), secrets.randbits(31))
        self._keys[key] = upstream
        writer.write(m.backend_key(*key))
        writer.write(m.ready(b"I"))
        client = Client(address, user, upstream.parameters.get("application_name", ""))
        return client, upstream

    def _refused_startup(self, parameters: Mapping[str, str]) -> tuple[str, str] | None:
        """Why the startup parameters are refused (SQLSTATE, message), if they are."""
        if parameters.get("replication", "false").lower() not in ("false", "0", "off", "no"):
            return "42501", "goex: replication connections are not proxied"
        if parameters.get("options", "").strip():
            return "42501", "goex: startup options (-c ...) are refused; use SET for what may pass"
        database = parameters.get("database") or parameters.get("user", "")
        if database != self.database:
            return "3D000", f'goex: this proxy serves database "{self.database}" only'
        for name, value in parameters.items():
            if name in _NOT_PASSED or name.startswith("_pq_."):
                continue
            if not self.context.judge.allows_setting(name, value):
                return "42501", f"goex: the startup parameter {name}={value} is refused"
        return None

    async def _cancel(self, pid: int, key: int) -> None:
        upstream = self._keys.get((pid, key))
        if upstream is not None:  # an unknown key is ignored, as by the server
            with contextlib.suppress(GoexError, OSError):
                await cancel(upstream.endpoint, upstream.pid, upstream.key)

    @staticmethod
    def _fatal(writer: asyncio.StreamWriter, sqlstate: str, message: str) -> None:
        writer.write(m.error(sqlstate, message, severity="FATAL"))


async def _limit(upstream: Upstream, limits: Mapping[str, float]) -> None:
    """goex's own limits on the session, which a client may lower and not raise."""
    sql = "; ".join(f"SET {name} = '{int(ms)}ms'" for name, ms in limits.items())
    upstream.writer.write(m.query(sql))
    while True:
        message = await m.read_message(upstream.reader)
        if message.type == b"E":
            raise TargetError(f"goex could not set its limits: {m.error_fields(message).get('M')}")
        if message.type == b"Z":
            return


def _check_version(upstream: Upstream, display: str) -> None:
    """goex measures a transaction's rows with counts flushed as it ends: PostgreSQL 15+."""
    version = upstream.parameters.get("server_version", "")
    major = version.split(".", 1)[0].split()[0] if version else ""
    if not major.isdigit() or int(major) < MIN_VERSION:
        upstream.writer.close()
        found = version or "unknown"
        raise TargetError(f"goex-db proxy needs PostgreSQL {MIN_VERSION}+; {display} is {found}")


def _answer_waiting(sessions: set[ProxySession], why: str) -> None:
    """Actions waiting for a person when the proxy stops: answered with a rollback, which the
    waiting pipeline carries out and journals."""
    waiting = [s.deciding for s in list(sessions) if s.deciding is not None]
    if not waiting:
        return
    with Journal(default_path(Kind.DB)) as journal:
        for action in waiting:
            if action.digest and journal.waiting_for(action.id) is not None:
                decision = Decision(
                    "signal", Verdict.ROLLBACK, f"the proxy stopped ({why})", action.digest
                )
                with contextlib.suppress(GoexError):
                    journal.answer(action.id, decision)
