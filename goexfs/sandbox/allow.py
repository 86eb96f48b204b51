"""Which hosts a sandboxed command may reach (``--allow-host HOST[:PORT]``, ``[fs]
allow_hosts``) and how a review tells what it asked for: the allow-list's side of goex's proxy
(``goexfs.sandbox.network``).

A host is a host name or an IP address, checked before anything else: the proxy never connects
to, records or shows anything else (no escape sequences, no 60 kB names). ``HOST`` allows its
ports 443 and 80, ``HOST:PORT`` that port only; names match exactly, case aside.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import UsageError

PROXY_PORT = 3128
PROXY_URL = f"http://127.0.0.1:{PROXY_PORT}"
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ADDRESS = re.compile(r"[0-9a-f:.]{2,45}")
DEFAULT_PORTS = (443, 80)


def is_host(name: str) -> bool:
    """A host name (labels of letters, digits and inner hyphens, 253 characters at most) or an
    IPv4/IPv6 address, lower-case: nothing else is ever matched, connected to or recorded."""
    if not name or len(name) > 253:
        return False
    if _ADDRESS.fullmatch(name):
        return True
    return all(_LABEL.fullmatch(label) for label in name.removesuffix(".").split("."))


@dataclass(frozen=True)
class AllowedHost:
    host: str
    port: int | None  # None: 443 and 80

    @classmethod
    def parse(cls, text: str) -> AllowedHost:
        """``HOST`` or ``HOST:PORT`` (``[v6]:PORT``); anything else is a usage error."""
        value = text.strip()
        host, port = value, None
        if match := re.fullmatch(r"(\[[^\]]+\]|[^:]+):(\d{1,5})", value):
            host, port = match.group(1), int(match.group(2))
        host = host.strip("[]").lower().rstrip(".")
        if not is_host(host) or (port is not None and not 0 < port < 65536):
            raise UsageError(
                f"--allow-host takes HOST or HOST:PORT (like pypi.org or 127.0.0.1:8080), "
                f"not {text!r}"
            )
        return cls(host, port)

    def allows(self, host: str, port: int) -> bool:
        return host == self.host and (
            port in DEFAULT_PORTS if self.port is None else port == self.port
        )


NO_NETWORK = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Could not resolve host|"
    r"Name or service not known|getaddrinfo failed|ENETUNREACH|EAI_AGAIN",
)


def network_lines(network: Sequence[dict[str, Any]]) -> list[str]:
    """The hosts the command asked for, one line each, for a review."""
    lines = []
    for e in network:
        verdict = "allowed" if e["allowed"] else "denied"
        detail = f"{e['connections']} connection(s)"
        if e["allowed"]:
            detail += f", {e['sent']} bytes sent, {e['received']} bytes received"
        if e.get("error"):
            detail += f"; {e['error']}"
        lines.append(f"{allow_flag(e['host'], e['port'])}  {verdict}: {detail}")
    return lines


def network_hint(exit_status: int, network: Sequence[dict[str, Any]], stderr: str) -> str | None:
    """One line for a failed command that met the missing network: a host it asked the proxy
    for and was denied, or (a tool that ignores HTTP_PROXY) no network at all."""
    if exit_status == 0:
        return None
    denied = [e for e in network if not e["allowed"]]
    if denied:
        flags = " ".join(f"--allow-host {allow_flag(e['host'], e['port'])}" for e in denied)
        return f"network is off; `{flags}` would allow it"
    if NO_NETWORK.search(stderr):
        return (
            "network is off (the sandbox has none); `--allow-host HOST` lets the command reach "
            f"HOST through goex's proxy at {PROXY_URL}, for tools that honour HTTP(S)_PROXY"
        )
    return None


def allow_flag(host: str, port: int) -> str:
    """What ``--allow-host`` takes to allow host:port."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port in DEFAULT_PORTS else f"{shown}:{port}"
