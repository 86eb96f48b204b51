"""PostgreSQL's wire protocol (version 3.0) as the proxy needs it: reading and writing framed
messages on asyncio streams, and building and reading the few messages the proxy itself makes
or looks into. Everything else is relayed as the bytes it came as.

A message is a type byte and a big-endian length that counts itself and the body; the startup
packet (and SSLRequest, CancelRequest, GSSENCRequest) has no type byte.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PROTOCOL_3_0 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_MESSAGE = 1 << 30  # PostgreSQL's own limit on a message's length
MAX_STARTUP = 10_000  # and on a startup packet's

_INT = struct.Struct("!i")
_SHORT = struct.Struct("!h")
_HEADER = struct.Struct("!ci")


class ProtocolError(Exception):
    """The peer broke the protocol (a length out of range, a message where none may be)."""


@dataclass(frozen=True, slots=True)
class Message:
    type: bytes  # one byte: b"Q", b"P", ...; b"" for a startup-phase packet
    body: bytes
    framed: bytes = b""  # the message as it came, when it came framed

    @property
    def raw(self) -> bytes:
        if self.framed:
            return self.framed
        return (
            frame(self.type, self.body) if self.type else _INT.pack(len(self.body) + 4) + self.body
        )


def frame(kind: bytes, body: bytes = b"") -> bytes:
    return _HEADER.pack(kind, len(body) + 4) + body


async def read_message(reader: asyncio.StreamReader, limit: int = MAX_MESSAGE) -> Message:
    """The next message; ``limit`` caps its length (a client not yet authenticated gets less)."""
    header = await reader.readexactly(5)
    kind, length = _HEADER.unpack(header)
    if not 4 <= length <= limit:
        raise ProtocolError(f"a message of length {length}")
    return Message(kind, await reader.readexactly(length - 4) if length > 4 else b"")


class Framer:
    """The messages of a stream, as many at once as have arrived: one read for a pipeline of
    them, each kept as the bytes it came as, to be relayed unchanged."""

    CHUNK = 1 << 16

    def __init__(self, reader: asyncio.StreamReader, limit: int = MAX_MESSAGE) -> None:
        self._reader = reader
        self._limit = limit
        # What arrived and is not yet split: most reads end on a whole message, and are split
        # as they came; a message that comes in parts grows in a bytearray (in linear time).
        self._buffer: bytes | bytearray = b""

    async def batch(self) -> list[Message]:
        """The next messages (at least one); IncompleteReadError when the stream ends."""
        while not (found := self._split()):
            chunk = await self._reader.read(self.CHUNK)
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(self._buffer), None)
            if not self._buffer:
                self._buffer = chunk
            else:
                if isinstance(self._buffer, bytes):
                    self._buffer = bytearray(self._buffer)
                self._buffer += chunk
        return found

    def _split(self) -> list[Message]:
        buffer, found, at = self._buffer, [], 0
        size = len(buffer)
        while size - at >= 5:
            (length,) = _INT.unpack_from(buffer, at + 1)
            if not 4 <= length <= self._limit:
                raise ProtocolError(f"a message of length {length}")
            end = at + 1 + length
            if end > size:
                break
            framed = bytes(buffer[at:end])  # (of bytes, the whole of them is not copied)
            found.append(Message(framed[:1], framed[5:], framed))
            at = end
        if at:
            self._buffer = buffer[at:]
        return found


async def read_startup(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """A startup-phase packet: its code (protocol version or request) and what follows it."""
    (length,) = _INT.unpack(await reader.readexactly(4))
    if not 8 <= length <= MAX_STARTUP:
        raise ProtocolError(f"a startup packet of length {length}")
    body = await reader.readexactly(length - 4)
    return _INT.unpack_from(body)[0], body[4:]


# -- reading bodies ----------------------------------------------------------------------------


def cstring(body: bytes, at: int = 0) -> tuple[str, int]:
    """The NUL-terminated string at ``at`` and the offset after it."""
    end = body.index(b"\0", at)
    return body[at:end].decode("utf-8", "replace"), end + 1


def startup_parameters(rest: bytes) -> dict[str, str]:
    parameters: dict[str, str] = {}
    at = 0
    while at < len(rest) and rest[at] != 0:
        name, at = cstring(rest, at)
        value, at = cstring(rest, at)
        parameters[name] = value
    return parameters


def query_text(message: Message) -> str:
    """A Query's SQL."""
    return cstring(message.body)[0]


def parse_fields(message: Message) -> tuple[str, str]:
    """A Parse's statement name and SQL."""
    name, at = cstring(message.body)
    return name, cstring(message.body, at)[0]


def with_sql(message: Message, sql: str) -> Message:
    """A Parse with other SQL: the same name and parameter types."""
    name, at = cstring(message.body)
    rest = message.body[message.body.index(b"\0", at) + 1 :]
    return Message(b"P", _cstr(name) + _cstr(sql) + rest)


NO_DATA = frame(b"n")


def bind_names(message: Message) -> tuple[str, str]:
    """A Bind's portal name and statement name."""
    portal, at = cstring(message.body)
    return portal, cstring(message.body, at)[0]


def execute_portal(message: Message) -> str:
    return cstring(message.body)[0]


def target_of(message: Message) -> tuple[bytes, str]:
    """A Describe's or Close's kind (``b"S"`` statement, ``b"P"`` portal) and name."""
    return message.body[:1], cstring(message.body, 1)[0]


def error_fields(message: Message) -> dict[str, str]:
    """An ErrorResponse's or NoticeResponse's fields by their code letter."""
    fields: dict[str, str] = {}
    at = 0
    body = message.body
    while at < len(body) and body[at] != 0:
        code = chr(body[at])
        value, at = cstring(body, at + 1)
        fields[code] = value
    return fields


def command_tag(message: Message) -> str:
    return cstring(message.body)[0]


def row_count(tag: str) -> int | None:
    """The rows a CommandComplete's tag reports (``INSERT 0 5`` → 5), if it reports any."""
    last = tag.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() and " " in tag else None


def data_row(message: Message) -> list[bytes | None]:
    (count,) = _SHORT.unpack_from(message.body)
    values: list[bytes | None] = []
    at = 2
    for _ in range(count):
        (size,) = _INT.unpack_from(message.body, at)
        at += 4
        if size < 0:
            values.append(None)
        else:
            values.append(message.body[at : at + size])
            at += size
    return values


def authentication_code(message: Message) -> int:
    return int(_INT.unpack_from(message.body)[0])


# -- building ----------------------------------------------------------------------------------


def _cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def startup(parameters: Mapping[str, str]) -> bytes:
    body = _INT.pack(PROTOCOL_3_0) + b"".join(_cstr(k) + _cstr(v) for k, v in parameters.items())
    return _INT.pack(len(body) + 5) + body + b"\0"


def ssl_request() -> bytes:
    return _INT.pack(8) + _INT.pack(SSL_REQUEST)


def cancel_request(pid: int, key: int) -> bytes:
    return _INT.pack(16) + _INT.pack(CANCEL_REQUEST) + _INT.pack(pid) + _INT.pack(key)


def query(sql: str) -> bytes:
    return frame(b"Q", _cstr(sql))


def parse_body(name: str, sql: str) -> bytes:
    return _cstr(name) + _cstr(sql) + _SHORT.pack(0)


def parse(name: str, sql: str) -> bytes:
    return frame(b"P", parse_body(name, sql))


def bind_body(portal: str, statement: str, params: tuple[str, ...] = ()) -> bytes:
    """A Bind with text parameters, all results as text."""
    values = b"".join(_INT.pack(len(v.encode())) + v.encode() for v in params)
    head = _cstr(portal) + _cstr(statement) + _SHORT.pack(0) + _SHORT.pack(len(params))
    return head + values + _SHORT.pack(0)


def bind(portal: str, statement: str, params: tuple[str, ...] = ()) -> bytes:
    return frame(b"B", bind_body(portal, statement, params))


def execute_body(portal: str = "", limit: int = 0) -> bytes:
    return _cstr(portal) + _INT.pack(limit)


def execute(portal: str = "", limit: int = 0) -> bytes:
    return frame(b"E", execute_body(portal, limit))


def as_extended(statements: list[str]) -> list[Message]:
    """A simple query's statements as the extended messages that mean the same: Parse, Bind,
    Describe and Execute of each (unnamed, all rows, as text), then Sync."""
    batch: list[Message] = []
    for sql in statements:
        batch += [
            Message(b"P", parse_body("", sql)),
            Message(b"B", bind_body("", "")),
            Message(b"D", b"P\0"),
            Message(b"E", execute_body("", 0)),
        ]
    return [*batch, Message(b"S", b"")]


def close(kind: bytes, name: str) -> bytes:
    """Close a statement (``b"S"``) or a portal (``b"P"``)."""
    return frame(b"C", kind + _cstr(name))


def flush() -> bytes:
    return frame(b"H")


def sync() -> bytes:
    return frame(b"S")


def ready(status: bytes) -> bytes:
    return frame(b"Z", status)


def complete(tag: str) -> bytes:
    return frame(b"C", _cstr(tag))


def authentication(code: int, data: bytes = b"") -> bytes:
    return frame(b"R", _INT.pack(code) + data)


def password(data: bytes) -> bytes:
    return frame(b"p", data)


def sasl_initial(mechanism: str, data: bytes) -> bytes:
    return frame(b"p", _cstr(mechanism) + _INT.pack(len(data)) + data)


def parameter_status(name: str, value: str) -> bytes:
    return frame(b"S", _cstr(name) + _cstr(value))


def backend_key(pid: int, key: int) -> bytes:
    return frame(b"K", _INT.pack(pid) + _INT.pack(key))


def negotiate_version(minor: int, unrecognised: Iterable[str]) -> bytes:
    names = list(unrecognised)
    return frame(b"v", _INT.pack(minor) + _INT.pack(len(names)) + b"".join(map(_cstr, names)))


def error(sqlstate: str, message: str, *, severity: str = "ERROR", detail: str = "") -> bytes:
    fields = [("S", severity), ("V", severity), ("C", sqlstate), ("M", message)]
    if detail:
        fields.append(("D", detail))
    return frame(b"E", b"".join(code.encode() + _cstr(v) for code, v in fields) + b"\0")


def notice(message: str) -> bytes:
    fields = [("S", "NOTICE"), ("V", "NOTICE"), ("C", "00000"), ("M", message)]
    return frame(b"N", b"".join(code.encode() + _cstr(v) for code, v in fields) + b"\0")


def cancel_target(rest: bytes) -> tuple[int, int]:
    """A CancelRequest's process id and secret key."""
    return _INT.unpack_from(rest)[0], _INT.unpack_from(rest, 4)[0]


def key_data(message: Message) -> tuple[int, int]:
    return _INT.unpack_from(message.body)[0], _INT.unpack_from(message.body, 4)[0]
