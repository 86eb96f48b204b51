"""What the proxy does with one statement a client sends, decided before it reaches the server:
the same classifier and policy as ``goex-db run`` (``goexdb.sql``, ``goexdb.rules``), with what
only a proxy sees — the client's transaction control, its session settings and COPY over the
connection — told apart first.

``judge(sql)`` gives one ``Verdict`` per statement; a verdict with a ``refusal`` never runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from fnmatch import fnmatch

from sqlglot import exp

from core.errors import StatementError
from core.policy import PolicySettings, blocking, evaluate
from goexdb.effects import Effects
from goexdb.engines import POSTGRES
from goexdb.rules import BEFORE_RUNNING, Outcome
from goexdb.sql import Statement, StatementKind, classify, pieces

DIALECT = POSTGRES.dialect


RESERVED = "names starting goex_ (and the portal goex) are goex's own on this connection"


class Role(Enum):
    READ = "read"  # runs; changes nothing (a query, a session setting goex allows)
    WRITE = "write"  # runs inside the action goex holds open
    BEGIN = "begin"
    COMMIT = "commit"
    ROLLBACK = "rollback"
    SAVEPOINT = "savepoint"  # SAVEPOINT, RELEASE, ROLLBACK TO: relayed, the server keeps them
    FORGET = "forget"  # DEALLOCATE ALL, DISCARD ...: the session's prepared statements go
    REFUSED = "refused"


@dataclass(frozen=True)
class Verdict:
    role: Role
    sql: str
    statement: Statement | None = None  # classified, for a READ or WRITE goex parsed
    rule: str = ""
    reason: str = ""  # why refused: one sentence

    @property
    def writes(self) -> bool:
        return self.role is Role.WRITE


# Functions that never write (what sqlglot names them): a query calling only these is a read;
# one that calls any other function is held and measured like a write.
PURE_FUNCTIONS = frozenset(
    {
        *("count", "sum", "avg", "min", "max", "coalesce", "nullif", "greatest", "least"),
        *("lower", "upper", "length", "abs", "round", "floor", "ceil", "concat", "substring"),
        *("trim", "cast", "current_timestamp", "current_date", "currenttimestamp", "now"),
        *("currentdate", "version", "current_schema", "current_database", "current_user"),
        *("session_user", "format_type", "array_agg", "string_agg", "json_agg", "jsonb_agg"),
        *("row_number", "rank", "dense_rank", "to_char", "date_trunc", "extract"),
        *("current_schemas", "current_setting", "array_position", "quote_ident", "unnest"),
        *("obj_description", "col_description", "shobj_description", "array_length"),
        *("and", "or", "not", "case", "if", "in", "between", "like", "ilike", "array"),
    }
)
# The catalog's own readers (what drivers, ORMs and migration tools introspect with).
PURE_PATTERNS = ("pg_get_*", "pg_*_is_visible", "to_reg*", "has_*_privilege")

# Session settings a client may change, and the values they may take (None: any).
_SETTINGS: dict[str, frozenset[str] | None] = {
    "application_name": None,
    "datestyle": None,
    "timezone": None,
    "intervalstyle": None,
    "extra_float_digits": None,
    "search_path": None,
    "bytea_output": None,
    "client_min_messages": None,
    # goex reads the SQL it is sent as UTF-8, as the server does: no other encoding
    "client_encoding": frozenset({"utf8", "utf-8", "unicode", "sql_ascii"}),
    # off would make the server read backslashes in strings unlike goex's parser
    "standard_conforming_strings": frozenset({"on", "true", "1", "yes"}),
}
_TIMEOUTS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}
_SET = re.compile(
    r"^\s*set\s+(?:(?:session|local)\s+)?(?P<name>time\s+zone|names|[a-z_][a-z0-9_.]*)"
    r"(?:\s*(?:=|\bto\b)\s*|\s+)(?P<value>.*?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_RESET = re.compile(r"^\s*reset\s+(?P<name>time\s+zone|[a-z_][a-z0-9_.]*)\s*;?\s*$", re.I)
_ALIASES = {"names": "client_encoding", "time zone": "timezone"}
# A search path's entry: a plain name, a double-quoted one, or a string of one (no quote inside)
_PATH_ENTRY = re.compile(r"""\s*(?:([a-z_][a-z0-9_$]*)|"([^"]*)"|'([^'"]*)')\s*""", re.I)


class Judge:
    """The verdicts on a text under one policy and goex's own timeouts (milliseconds, which a
    client may lower and not raise); a text judged before is not judged again (a prepared or
    repeated statement costs a dictionary lookup)."""

    CACHED = 4096

    def __init__(self, policy: PolicySettings, limits: dict[str, float]) -> None:
        self.policy = policy
        self.limits = limits
        self._seen: dict[str, tuple[Verdict, ...]] = {}

    def __call__(self, sql: str) -> tuple[Verdict, ...]:
        verdicts = self._seen.get(sql)
        if verdicts is not None:
            return verdicts
        shape = _shape(sql)
        if shape is not None and (alike := self._seen.get(shape)) is not None:
            # a query like one judged before, but for its numbers: the same verdict, this text
            text = _single(sql)
            statement = alike[0].statement
            statement = replace(statement, sql=text) if statement is not None else None
            verdicts = (replace(alike[0], sql=text, statement=statement),)
        else:
            verdicts = self._judged(sql)
            single = len(verdicts) == 1 and verdicts[0].sql == _single(sql)
            if shape is not None and single and verdicts[0].role is Role.READ:
                self._remember(shape, verdicts)  # a write is judged (and imaged) as written
        self._remember(sql, verdicts)
        return verdicts

    def _remember(self, key: str, verdicts: tuple[Verdict, ...]) -> None:
        self._seen[key] = verdicts
        if len(self._seen) > self.CACHED:
            del self._seen[next(iter(self._seen))]

    def _judged(self, sql: str) -> tuple[Verdict, ...]:
        """One verdict per statement; text goex cannot read is one refused verdict."""
        try:
            found = pieces(sql, DIALECT)
        except StatementError as exc:
            return (Verdict(Role.REFUSED, sql, rule="db.unreadable", reason=exc.message),)
        verdicts = []
        for piece in found:
            try:
                statement = classify(piece.sql, DIALECT, line=piece.line, column=piece.column)
            except StatementError as exc:
                verdicts.append(
                    Verdict(Role.REFUSED, piece.sql, rule="db.syntax", reason=exc.message)
                )
                continue
            verdicts.append(_verdict(statement, self.policy, self.limits))
        return tuple(verdicts)

    def allows_setting(self, name: str, value: str) -> bool:
        """Whether a startup parameter may be passed to the server (the same rules as SET)."""
        quoted = value.replace("'", "''")
        verdicts = self(f"SET {name} = '{quoted}'")
        return len(verdicts) == 1 and verdicts[0].role is Role.READ


# A text goex may judge by its shape, its numbers aside: no quote, comment, dollar sign or
# backslash (where a digit could mean something else), not a setting (whose number is judged).
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
_PLAIN = re.compile(r"[^'\"$\\;]*;?\s*", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_UNSHAPED = ("set", "reset")


def _shape(sql: str) -> str | None:
    """The text with every number as 0 (a key for the verdict cache), when numbers cannot
    change the verdict; None otherwise."""
    if not _PLAIN.fullmatch(sql) or "--" in sql or "/*" in sql:
        return None
    words = sql.split(None, 1)
    if not words or words[0].lower() in _UNSHAPED:
        return None
    return "\0shape:" + _NUMBER.sub("0", sql)


def _single(sql: str) -> str:
    """One statement's text as the splitter gives it (no trailing semicolon or space)."""
    text = sql.strip()
    return text[:-1].rstrip() if text.endswith(";") else text


def _verdict(statement: Statement, policy: PolicySettings, limits: dict[str, float]) -> Verdict:
    sql, kind = statement.sql, statement.kind
    words = sql.split(None, 3)
    first = words[0].lower() if words else ""
    second = words[1].lower().rstrip(";") if len(words) > 1 else ""
    if kind is StatementKind.TRANSACTION:
        return _control(statement, first, second)
    if first == "deallocate":
        target = sql.split()[-1].strip('";').lower()
        if target.startswith("goex_"):
            return Verdict(Role.REFUSED, sql, statement, "db.goex-names", RESERVED)
        return Verdict(Role.FORGET if target == "all" else Role.READ, sql, statement)
    if first == "discard" and second in ("plans", "sequences"):
        return Verdict(Role.READ, sql, statement)
    if first == "show":
        return Verdict(Role.READ, sql, statement)
    if kind is StatementKind.SESSION:
        return _setting(statement, limits)
    if first == "copy" and kind is StatementKind.EXTERNAL:
        copy = _copy(statement)
        if copy is not None:
            refused = _refused_by_policy(statement, policy)
            return refused or copy
    if not statement.runnable:
        denial = statement.denial()
        return Verdict(Role.REFUSED, sql, statement, denial.rule or "", denial.message)
    if "set_config" in statement.functions_called and _settings_called(statement, limits):
        policy = replace(policy, deny_functions=_without("set_config", policy.deny_functions))
    refused = _refused_by_policy(statement, policy)
    if refused is not None:
        return refused
    role = Role.READ if kind is StatementKind.READ else Role.WRITE
    if any(not _pure(name) for name in statement.functions_called):  # it may write: held
        role = Role.WRITE
    return Verdict(role, sql, statement)


def _without(name: str, patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p for p in patterns if p != name)


def _pure(name: str) -> bool:
    return name in PURE_FUNCTIONS or any(fnmatch(name, p) for p in PURE_PATTERNS)


def _settings_called(statement: Statement, limits: dict[str, float]) -> bool:
    """Whether every set_config() the statement calls sets a setting a client may change, to
    a literal value it may take; or sets jit, to any value (asyncpg turns it off, then back,
    around its type introspection: it only chooses how queries are planned)."""
    tree = statement.ast
    found = tree.find_all(exp.Anonymous) if tree is not None else iter(())
    calls = [f for f in found if f.name.lower() == "set_config"]
    for call in calls:
        args = call.expressions
        if len(args) != 3 or not _is_text(args[0]):
            return False
        name = args[0].name.lower()
        if name == "jit":
            continue
        if not _is_text(args[1]) or _setting_refusal(name, args[1].name, limits) is not None:
            return False
    return bool(calls)


def _is_text(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def _control(statement: Statement, first: str, second: str) -> Verdict:
    sql = statement.sql
    if first in ("begin", "start"):
        return Verdict(Role.BEGIN, sql, statement)
    if first == "set":  # SET TRANSACTION ...: the transaction's own characteristics
        return Verdict(Role.READ, sql, statement)
    chained = re.search(r"\band\s+chain\b", sql, re.I) and not re.search(
        r"\bno\s+chain\b", sql, re.I
    )
    if first in ("commit", "end") and second not in ("prepared",) and not chained:
        return Verdict(Role.COMMIT, sql, statement)
    if first in ("rollback", "abort") and second not in ("to", "prepared") and not chained:
        return Verdict(Role.ROLLBACK, sql, statement)
    if first in ("savepoint", "release") or (first == "rollback" and second == "to"):
        return Verdict(Role.SAVEPOINT, sql, statement)
    return Verdict(
        Role.REFUSED,
        sql,
        statement,
        "db.transaction-control",
        f"{first.upper()} {second.upper()} would let the transaction outlive goex's decision "
        "(two-phase commit is not proxied)",
    )


def moves_search_path(statement: Statement) -> bool:
    """Whether a statement goex lets through sets or resets the search path (by SET, RESET or
    set_config)."""
    found = _SET.match(statement.sql) or _RESET.match(statement.sql)
    if found is not None:
        return found["name"].lower() == "search_path"
    calls = statement.ast.find_all(exp.Anonymous) if statement.ast is not None else iter(())
    return any(
        call.name.lower() == "set_config"
        and bool(call.expressions)
        and call.expressions[0].name.lower() == "search_path"
        for call in calls
    )


def _setting(statement: Statement, limits: dict[str, float]) -> Verdict:
    found = _SET.match(statement.sql) or _RESET.match(statement.sql)
    if found is None:
        return _refused_setting(statement, "this kind of session change")
    name = " ".join(found["name"].lower().split())
    refusal = _setting_refusal(_ALIASES.get(name, name), found.groupdict().get("value"), limits)
    if refusal is not None:
        return _refused_setting(statement, refusal)
    return Verdict(Role.READ, statement.sql, statement)


def _setting_refusal(name: str, value: str | None, limits: dict[str, float]) -> str | None:
    """What is refused about setting ``name`` to ``value`` (None: RESET), if anything."""
    if name in _TIMEOUTS:
        if value is None:
            return f"RESET {name}, which would lift goex's limit"
        limit = limits.get(name)
        wanted = _milliseconds(value)
        # (below 1 ms, PostgreSQL rounds it to 0: no limit)
        if limit is not None and (wanted is None or not 1 <= wanted <= limit):
            return f"{name} = {value}: only a value up to goex's {limit:g} ms passes"
        return None
    if name not in _SETTINGS:
        return f"setting {name}"
    if name == "search_path" and value is not None:
        schemas = _search_path(value)
        if schemas is None:
            return f"search_path = {value}: goex reads a path of plain names only, quoted or not"
        first = schemas.index("pg_catalog") if "pg_catalog" in schemas else 0
        if any(schema != "pg_temp" for schema in schemas[:first]):  # (never for functions)
            return (
                f"search_path = {value}: a schema before pg_catalog would be searched first for "
                "the functions goex's own queries on the session call"
            )
    digits = (value or "1").strip("'\" ")
    if name == "extra_float_digits" and not (digits.lstrip("+").isdigit() and int(digits) >= 1):
        return f"extra_float_digits = {value}: below 1 rounds the floats goex reads as row images"
    allowed = _SETTINGS[name]
    if value is not None and allowed is not None and value.strip("'\" ").lower() not in allowed:
        return f"{name} = {value}"
    return None


def _search_path(value: str) -> list[str] | None:
    """The schemas a search path names, as PostgreSQL reads them, where each is a plain name,
    double-quoted or in a string of its own; None for anything else (a dollar-quoted or escaped
    string, a name with a comma), which goex does not try to read."""
    schemas = []
    for part in value.split(","):
        found = _PATH_ENTRY.fullmatch(part)
        if found is None:
            return None
        bare, quoted, text = found.groups()
        schemas.append(bare.lower() if bare is not None else quoted if quoted is not None else text)
    return schemas


def _refused_setting(statement: Statement, what: str) -> Verdict:
    return Verdict(
        Role.REFUSED,
        statement.sql,
        statement,
        "db.session-change",
        f"{what} is refused: through goex a client may change only its encoding (UTF-8), date "
        "and time styles, time zone, application_name, extra_float_digits, search_path and "
        "lower timeouts",
    )


def _milliseconds(value: str) -> float | None:
    found = re.fullmatch(r"'?\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*'?", value.strip(), re.I)
    if found is None:
        return None
    return float(found[1]) * _UNITS[(found[2] or "ms").lower()]


def _copy(statement: Statement) -> Verdict | None:
    """COPY over the connection: FROM STDIN writes (its rows are inserts), TO STDOUT reads.
    COPY to or from a file or a program stays refused (None)."""
    copy = statement.ast
    if not isinstance(copy, exp.Copy):
        return None
    files = copy.args.get("files") or []
    if len(files) != 1 or not isinstance(files[0], exp.Identifier) or files[0].quoted:
        return None
    over = files[0].name.lower()
    if over != ("stdin" if copy.args.get("kind") else "stdout"):
        return None
    if over == "stdout" and any(isinstance(n, _WRITES) for n in copy.walk()):
        return None  # COPY (a query that writes) TO STDOUT
    reads = over == "stdout" and all(_pure(name) for name in statement.functions_called)
    return Verdict(Role.READ if reads else Role.WRITE, statement.sql, statement)


def _refused_by_policy(statement: Statement, policy: PolicySettings) -> Verdict | None:
    refused = blocking(evaluate(BEFORE_RUNNING, Outcome([statement], Effects()), policy))
    if not refused:
        return None
    return Verdict(
        Role.REFUSED, statement.sql, statement, refused[0].rule, f"refused: {refused[0].message}"
    )
