"""How the proxy refuses a statement: the server itself raises goex's error in its place (a
``DO`` block), so the transaction fails exactly as PostgreSQL fails it for any error, and in the
extended protocol the server then skips to the next Sync, as the proxy does with the client's
messages. And the verdicts on what a client may send that no statement text shows."""

from __future__ import annotations

import secrets

from goexdb.proxy import messages as m
from goexdb.proxy.statements import RESERVED, Role, Verdict

REFUSED_STATE = "42501"  # insufficient_privilege: what a refused statement gets

EMPTY = Verdict(Role.READ, "")
SEVERAL = Verdict(
    Role.REFUSED,
    "-- (an Execute of a Parse of several statements)",
    rule="db.several-statements",
    reason="a prepared statement holds one statement",
)
UNSEEN = Verdict(
    Role.REFUSED,
    "-- (an Execute of a statement goex did not see prepared)",
    rule="db.unknown-statement",
    reason="this portal's statement was not prepared through goex, so goex cannot judge it",
)


RESERVED_NAME = Verdict(
    Role.REFUSED,
    "-- (a prepared statement or portal named like goex's own)",
    rule="db.goex-names",
    reason=RESERVED,
)


def raising(verdict: Verdict) -> bytes:
    """Parse, Bind and Execute of a statement that raises the refusal (unnamed: nothing the
    client named is touched; after the error the server skips the rest up to Sync)."""
    text = _literal(f"goex: {verdict.reason} [{verdict.rule}]")
    tag = f"$goex_{secrets.token_hex(8)}$"  # the reason quotes the client: no fixed tag
    body = f"BEGIN RAISE EXCEPTION USING ERRCODE = '{REFUSED_STATE}', MESSAGE = {text}; END"
    return m.parse("", f"DO {tag} {body} {tag}") + m.bind("", "") + m.execute("")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
